"""What a user's script (router or transformer) may do: RestrictedPython compile, guards,
builtins, readable errors.

The worker process compiles and runs scripts with this policy; the process boundary, rlimits
and deadlines (see ``worker`` and ``pool``) are the second wall around it.
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Callable, Iterator
from types import CodeType, TracebackType
from typing import Any
from weakref import WeakSet

from RestrictedPython import RestrictingNodeTransformer, compile_restricted_exec
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    raise_,
    safe_builtins,
    safer_getattr,
)

from ccr.errors import CcrError
from ccr.sandbox.facades import guarded_import
from ccr.sandbox.views import sandbox_isinstance

#: How much of an error message or of printed output travels back to the server.
MAX_ERROR_CHARS = 300
MAX_OUTPUT_CHARS = 4000
#: The longest route string a script may return.
MAX_ROUTE_CHARS = 200

_REFUSED_EXCEPTIONS = ("BaseException", "SystemExit", "KeyboardInterrupt", "GeneratorExit")
#: Attribute names refused on top of RestrictedPython's own list (``type.mro()`` reaches
#: ``object`` and ``BaseException``; nothing a router needs).
_REFUSED_ATTRIBUTES = frozenset({"mro"})


class ScriptError(CcrError):
    """A script problem already phrased for the user (``custom_router.py:3: ...``)."""


def guarded_getattr(obj: Any, name: str, default: Any = raise_) -> Any:
    """``getattr`` for scripts: no ``_names``, no frame/code internals, no ``str.format``."""
    if type(name) is str and name in _REFUSED_ATTRIBUTES:
        raise AttributeError(f'"{name}" is not available in router scripts')
    return safer_getattr(obj, name, default)


def guarded_hasattr(obj: Any, name: str) -> bool:
    """``hasattr`` through the same guard: refused names simply are not there."""
    try:
        guarded_getattr(obj, name)
    except (AttributeError, NotImplementedError):
        return False
    return True


_INPLACE_OPS: dict[str, Callable[[Any, Any], Any]] = {
    "+=": operator.iadd,
    "-=": operator.isub,
    "*=": operator.imul,
    "/=": operator.itruediv,
    "//=": operator.ifloordiv,
    "%=": operator.imod,
    "**=": operator.ipow,
    "<<=": operator.ilshift,
    ">>=": operator.irshift,
    "&=": operator.iand,
    "|=": operator.ior,
    "^=": operator.ixor,
    "@=": operator.imatmul,
}


def inplace_var(op: str, target: Any, value: Any) -> Any:
    """``x += y`` and friends (RestrictedPython rewrites them to ``_inplacevar_``)."""
    try:
        fn = _INPLACE_OPS[op]
    except KeyError:
        raise SyntaxError(f"operator {op} is not supported") from None
    return fn(target, value)


def _apply(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return fn(*args, **kwargs)


def _build_builtins() -> dict[str, Any]:
    builtins = {
        name: value
        for name, value in safe_builtins.items()
        if name not in _REFUSED_EXCEPTIONS and not name.startswith("_getattr")
    }
    builtins.update(
        {
            "len": len, "min": min, "max": max, "sum": sum, "any": any, "all": all,
            "sorted": sorted, "reversed": reversed, "enumerate": enumerate, "zip": zip,
            "range": range, "map": map, "filter": filter, "iter": iter, "next": next,
            "str": str, "int": int, "float": float, "bool": bool, "list": list,
            "dict": dict, "tuple": tuple, "set": set, "frozenset": frozenset,
            "abs": abs, "round": round,
            "isinstance": sandbox_isinstance,
            "getattr": guarded_getattr,
            "hasattr": guarded_hasattr,
            "RecursionError": RecursionError,
            "StopIteration": StopIteration,
            "__import__": guarded_import,
        }
    )
    return builtins


BUILTINS: dict[str, Any] = _build_builtins()

_BASE_GLOBALS: dict[str, Any] = {
    "__builtins__": BUILTINS,
    "__name__": "custom_router",
    "__metaclass__": type,
    "_getattr_": guarded_getattr,
    "_write_": full_write_guard,
    "_getitem_": operator.getitem,
    "_getiter_": iter,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": inplace_var,
    "_apply_": _apply,
}


class OutputCollector:
    """Collects what one call prints, across all functions, up to a cap."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self._parts: list[str] = []
        self._size = 0
        self._limit = limit
        self.truncated = False

    def write(self, text: str) -> None:
        if self._size >= self._limit:
            self.truncated = True
            return
        text = str(text)
        room = self._limit - self._size
        if len(text) > room:
            text = text[:room]
            self.truncated = True
        self._parts.append(text)
        self._size += len(text)

    def printed(self) -> str:
        """What was printed so far (the ``printed`` name in RestrictedPython)."""
        return "".join(self._parts)

    def text(self) -> str:
        out = "".join(self._parts)
        return out + "\n… (output truncated)" if self.truncated else out

    def scope(self, _getattr: Any = None) -> _ScopePrinter:
        """``_print_``: RestrictedPython asks for one printer per function scope."""
        return _ScopePrinter(self)


class _ScopePrinter:
    """The ``_print`` object of one scope; ``printed`` reads everything printed so far."""

    __slots__ = ("_collector",)

    def __init__(self, collector: OutputCollector) -> None:
        self._collector = collector

    def write(self, text: str) -> None:
        self._collector.write(text)

    def __call__(self) -> str:
        return self._collector.printed()

    def _call_print(self, *objects: Any, **kwargs: Any) -> None:
        if kwargs.get("file") is None:
            kwargs["file"] = self
        else:
            guarded_getattr(kwargs["file"], "write")
        print(*objects, **kwargs)


def new_globals(output: OutputCollector) -> dict[str, Any]:
    """A fresh module namespace: nothing a call stores in it outlives the call."""
    namespace = dict(_BASE_GLOBALS)
    namespace["_print_"] = output.scope
    return namespace


def transformer_globals(output: OutputCollector) -> tuple[dict[str, Any], WeakSet[type]]:
    """A fresh namespace for a transformer file, and the set of classes its code creates.

    A transformer is a class whose methods keep values on ``self``, which RestrictedPython's
    write guard refuses for every object it does not know. Instances of classes the file
    itself defines (with ``class``: recorded as they are built) may be written to; any other
    object keeps the usual guard.
    """
    classes: WeakSet[type] = WeakSet()
    build_class = BUILTINS["__build_class__"]

    def record_class(func: Any, name: str, *bases: Any, **kwargs: Any) -> Any:
        cls = build_class(func, name, *bases, **kwargs)
        if isinstance(cls, type):
            classes.add(cls)
        return cls

    def write_guard(ob: Any) -> Any:
        if type(ob) in classes:
            return ob
        return full_write_guard(ob)

    namespace = dict(_BASE_GLOBALS)
    namespace["__builtins__"] = {**BUILTINS, "__build_class__": record_class}
    namespace["__name__"] = "custom_transformer"
    namespace["_write_"] = write_guard
    namespace["_print_"] = output.scope
    return namespace, classes


_YIELD_IN_TRY = (
    "yield inside a try with a finally or a bare except is not supported (that cleanup would "
    "run when the generator is collected, after the call)"
)
#: Nodes that open a scope of their own: a ``yield`` in them belongs to another generator.
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.ClassDef)


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's checks, plus one: no script code may run when a generator is closed.

    Closing a suspended generator (done by the garbage collector, at any later moment) raises
    ``GeneratorExit`` where it waits; only a ``finally`` or a bare ``except`` around that
    ``yield`` runs code then (``GeneratorExit`` itself is not among a script's builtins, and a
    script cannot define ``__del__``), so such a ``yield`` is refused at compile time.
    """

    def visit_Try(self, node: ast.Try) -> Any:
        guarded: list[ast.AST] = []
        if node.finalbody:
            guarded = [*node.body, *node.handlers, *node.orelse]
        elif any(handler.type is None for handler in node.handlers):
            guarded = list(node.body)
        found = next(_yields(guarded), None)
        if found is not None:
            self.error(found, _YIELD_IN_TRY)
        return super().visit_Try(node)


def _yields(nodes: list[ast.AST]) -> Iterator[ast.AST]:
    """The ``yield`` and ``yield from`` expressions in ``nodes``, outside nested scopes."""
    stack = list(reversed(nodes))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Yield | ast.YieldFrom):
            yield node
        elif not isinstance(node, _SCOPES):
            stack.extend(reversed(list(ast.iter_child_nodes(node))))


_LINE_ERROR = re.compile(r"^Line (\d+): (.*)$", re.DOTALL)


def compile_script(source: str, filename: str) -> CodeType:
    """Compile restricted code or raise :class:`ScriptError` naming file and line."""
    try:
        result = compile_restricted_exec(source, filename=filename, policy=_Policy)
    except RecursionError:
        raise ScriptError(
            f"{filename}: SyntaxError: the script is nested too deeply to compile"
        ) from None
    except MemoryError:
        raise ScriptError(f"{filename}: SyntaxError: the script is too big to compile") from None
    except BaseException as exc:  # the compiler can fail in odd ways on hostile input
        raise ScriptError(
            truncate(f"{filename}: SyntaxError: {type(exc).__name__}: {exc}")
        ) from None
    if result.errors or result.code is None:
        errors = list(result.errors) or ["the script could not be compiled"]
        first = _phrase_compile_error(errors[0], filename)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ScriptError(truncate(first + more))
    return result.code


def _phrase_compile_error(error: str, filename: str) -> str:
    match = _LINE_ERROR.match(error)
    where, text = (f"{filename}:{match.group(1)}", match.group(2)) if match else (filename, error)
    if text.startswith(("AsyncFunctionDef", "Await", "AsyncFor", "AsyncWith")):
        text = "async def is not supported: define a plain def router(req, config)"
    if not re.match(r"^\w*Error: ", text):
        text = f"SyntaxError: {text}"
    return f"{where}: {text}"


def truncate(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def script_line(tb: TracebackType | None, filename: str) -> int | None:
    """The line of the innermost traceback frame that belongs to the script."""
    line = None
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def describe_exception(exc: BaseException, filename: str) -> str:
    """``custom_router.py:12: ZeroDivisionError: division by zero`` (no host frames or paths)."""
    line = script_line(exc.__traceback__, filename)
    where = f"{filename}:{line}" if line is not None else filename
    try:
        message = str(exc)
    except Exception:  # an exception whose message cannot even be rendered
        message = ""
    message = message[: MAX_ERROR_CHARS * 2]
    kind = type(exc).__name__
    return truncate(f"{where}: {kind}: {message}" if message else f"{where}: {kind}")


def check_route(value: Any, filename: str) -> str | None:
    """None when ``value`` may be passed back as a route, else the error to report."""
    if value is None:
        return None
    if type(value) is not str:
        return (
            f'{filename}: router() must return "provider,model" or None, '
            f"got {type(value).__name__}"
        )
    if len(value) > MAX_ROUTE_CHARS:
        return (
            f'{filename}: router() must return "provider,model" or None, '
            f"got a str of {len(value)} characters (at most {MAX_ROUTE_CHARS})"
        )
    return None

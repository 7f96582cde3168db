"""Inside a sandbox worker: find a transformer file's class and run one round of its hooks.

Every round trip gets fresh module globals and a fresh instance for every hook call, so nothing
a transformer keeps on ``self`` or in module variables outlives a call: what must last across
the calls of one request goes in ``ctx.state``, which travels as JSON with every round trip.
Results are JSON-encoded here, under the call's deadline, because encoding a script's objects
can run script code (``dict`` subclasses with their own ``items``).
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import FrameType
from typing import Any
from weakref import WeakSet

from ccr.sandbox.policy import ScriptError

#: The hook methods a transformer class may define, in the order they are documented.
HOOKS = ("transform_request", "transform_response", "transform_chunk", "end_stream")
#: How big a hook's JSON result and ``ctx.state`` may be.
MAX_VALUE_BYTES = 64 * 1024 * 1024
MAX_STATE_BYTES = 1024 * 1024
#: How deeply they may nest and how many JSON values they may hold (counted as commas plus
#: opening brackets, see :func:`json_values_bound`): the server decodes them on its own, deeper,
#: stack and builds a Python object for every value (an empty ``{}`` is three bytes of JSON and
#: some 70 bytes of memory), so their size alone does not bound what they cost it.
MAX_DEPTH = 256
MAX_VALUES = 1_000_000
#: Frames the JSON encoder itself takes, on top of one per level of nesting.
_ENCODER_FRAMES = 8
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$")
_JSON = json.JSONEncoder(allow_nan=False, separators=(",", ":"))


class HookProblem(ScriptError):
    """A transformer broke the hook contract; the message is phrased for its author."""


class HookContext:
    """``ctx`` as a transformer sees it: no API keys, no URLs, only what it may act on."""

    __slots__ = ("model", "provider", "state", "stream")

    def __init__(self, provider: str, model: str, stream: bool, state: dict[str, Any]) -> None:
        self.provider = provider
        self.model = model
        self.stream = stream
        self.state = state

    def __guarded_setattr__(self, name: str, value: Any) -> None:
        if name != "state" or type(value) is not dict:
            raise TypeError("ctx is read-only; keep per-request values in the ctx.state dict")
        self.state = value

    def __guarded_delattr__(self, name: str) -> None:
        raise TypeError("ctx is read-only; keep per-request values in the ctx.state dict")

    def __repr__(self) -> str:
        return (f"ctx(provider={self.provider!r}, model={self.model!r}, stream={self.stream!r}, "
                f"state={self.state!r})")


def find_class(namespace: Mapping[str, Any], classes: WeakSet[type], filename: str) -> type:
    """The one class the file defines with a ``name``: the transformer."""
    found = [
        value for value in namespace.values()
        if isinstance(value, type) and value in classes and isinstance(
            getattr(value, "name", None), str)
    ]
    leaves = [c for c in found if not any(o is not c and issubclass(o, c) for o in found)]
    if not leaves:
        raise HookProblem(
            f'{filename}: no transformer class: define one with a name, e.g. class '
            f'MyTransformer: name = "my-transformer", and hooks such as transform_request'
        )
    if len(leaves) > 1:
        names = ", ".join(sorted(c.__name__ for c in leaves))
        raise HookProblem(f"{filename}: more than one transformer class ({names}): keep one "
                          "per file")
    return leaves[0]


def describe_class(cls: type, filename: str, options: str) -> dict[str, Any]:
    """Check the class once at load: its name, its hooks, and that the options suit it."""
    name = getattr(cls, "name", None)
    if type(name) is not str or not _NAME.match(name):
        raise HookProblem(
            f"{filename}: {cls.__name__}.name must be 1-64 letters, digits, '-', '_', '.' or "
            f"':' (starting with a letter or digit), got {str(name)[:80]!r}"
        )
    hooks = [hook for hook in HOOKS if callable(getattr(cls, hook, None))]
    if not hooks:
        raise HookProblem(f"{filename}: {cls.__name__} defines none of the hooks "
                          f"({', '.join(HOOKS)})")
    _instance(cls, options)
    return {"name": name, "hooks": hooks}


def run_hooks(cls: type, filename: str, msg: Mapping[str, Any]) -> dict[str, Any]:
    """One round trip: ``request``/``response`` (one dict) or ``chunks`` (a batch, then
    ``end_stream`` when ``end`` is set). Returns the JSON texts of the value and the state."""
    ctx_data = msg.get("ctx")
    ctx_data = ctx_data if isinstance(ctx_data, dict) else {}
    state = msg.get("state")
    ctx = HookContext(
        str(ctx_data.get("provider", "")), str(ctx_data.get("model", "")),
        ctx_data.get("stream") is True, state if type(state) is dict else {},
    )
    options = str(msg.get("options") or "{}")
    hook = msg.get("hook")
    data = msg.get("data")
    value: Any
    if hook in ("request", "response"):
        method = f"transform_{hook}"
        value = getattr(_instance(cls, options), method)(data, ctx)
        if type(value) is not dict:
            raise HookProblem(f"{_where(cls, method, filename)}: {method} must return the "
                              f"{hook} (a dict), got {_kind(value)}")
    elif hook == "chunks":
        value = _chunks(cls, filename, options, data if isinstance(data, list) else [], ctx,
                        end=msg.get("end") is True)
    else:
        raise HookProblem(f"{filename}: unknown hook {str(hook)[:40]!r}")
    if type(ctx.state) is not dict:
        raise HookProblem(f"{filename}: ctx.state must stay a dict")
    raw_value = _encode(value, f"{filename}: the {hook} result", MAX_VALUE_BYTES)
    raw_state = _encode(ctx.state, f"{filename}: ctx.state", MAX_STATE_BYTES)
    return {"raw": {"value": raw_value, "state": raw_state}}


def _chunks(cls: type, filename: str, options: str, chunks: list[Any], ctx: HookContext, *,
            end: bool) -> list[Any]:
    out: list[Any] = []
    transform = getattr(cls, "transform_chunk", None)
    if callable(transform):
        where = _where(cls, "transform_chunk", filename)
        for chunk in chunks:
            out += _as_chunks(_instance(cls, options).transform_chunk(chunk, ctx), where,
                              "transform_chunk")
    else:
        out += chunks
    if end and callable(getattr(cls, "end_stream", None)):
        flushed = _instance(cls, options).end_stream(ctx)
        if flushed is not None:
            out += _as_chunks(flushed, _where(cls, "end_stream", filename), "end_stream")
    return out


def _as_chunks(value: Any, where: str, method: str) -> list[Any]:
    if type(value) is dict:
        return [value]
    if type(value) in (list, tuple) and all(type(c) is dict for c in value):
        return list(value)
    raise HookProblem(f"{where}: {method} must return a list of chunk dicts (or one dict), "
                      f"got {_kind(value)}")


def _instance(cls: type, options: str) -> Any:
    """A fresh instance built with its own copy of the options; ``self.options`` is always
    there, whether or not the class defines ``__init__``."""
    fresh = json.loads(options)
    init: Callable[..., Any] | None = getattr(cls, "__init__", None)
    instance = cls() if init is object.__init__ else cls(fresh)
    if "options" not in getattr(instance, "__dict__", {"options": None}):
        instance.__dict__["options"] = fresh
    return instance


def _where(cls: type, method: str, filename: str) -> str:
    code = getattr(getattr(cls, method, None), "__code__", None)
    line = getattr(code, "co_firstlineno", None)
    return f"{filename}:{line}" if isinstance(line, int) else filename


def _kind(value: Any) -> str:
    if type(value) in (list, tuple):
        kinds = sorted({type(v).__name__ for v in value if type(v) is not dict})
        return f"a {type(value).__name__} holding {', '.join(kinds)}"
    return type(value).__name__


def json_values_bound(text: str | bytes) -> int:
    """Commas plus opening brackets, a fast count over the raw text: never less than the number
    of values in it (each one after the first in an array or object follows a comma); arrays and
    objects count twice, and commas and brackets inside strings count too."""
    if isinstance(text, str):
        return text.count(",") + text.count("[") + text.count("{") + 1
    return text.count(b",") + text.count(b"[") + text.count(b"{") + 1


def _encode(value: Any, what: str, limit: int) -> bytes:
    try:
        with _nesting_limit(MAX_DEPTH):
            text = _JSON.encode(value)
    except RecursionError:
        raise HookProblem(f"{what} nests more than {MAX_DEPTH} levels deep") from None
    except (TypeError, ValueError) as exc:
        raise HookProblem(f"{what} is not JSON data ({str(exc)[:120]})") from None
    if len(text) > limit:
        raise HookProblem(f"{what} is too big ({len(text)} bytes, at most {limit})")
    if len(text) > MAX_VALUES and json_values_bound(text) > MAX_VALUES:
        raise HookProblem(f"{what} holds too many JSON values (at most {MAX_VALUES})")
    return text.encode()


@contextmanager
def _nesting_limit(levels: int) -> Iterator[None]:
    """Lower the recursion limit to ``levels`` frames past the current one for a while."""
    depth = 0
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(min(old, depth + levels + _ENCODER_FRAMES))
    try:
        yield
    finally:
        sys.setrecursionlimit(old)

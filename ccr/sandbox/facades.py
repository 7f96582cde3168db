"""The few modules a script may import, each handed out as a facade of chosen members.

Real modules are never given to a script: on Python 3.11 ``datetime.sys``, ``re.enum`` and
``json.codecs`` lead to ``os`` and to the real builtins. A facade has no ``__name__`` either, so
``from json import decoder`` cannot fall back to ``sys.modules["json.decoder"]``.
"""

from __future__ import annotations

import datetime as _datetime
import json as _json
import math as _math
import random as _random
import re as _re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ccr.sandbox.views import unwrap


class ModuleFacade:
    """A read-only namespace that looks like a module to ``import`` and attribute access."""

    __slots__ = ("_label", "_members")

    def __init__(self, label: str, members: Mapping[str, Any]) -> None:
        self._label = label
        self._members = MappingProxyType(dict(members))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._members[name]
        except KeyError:
            allowed = ", ".join(sorted(self._members))
            raise AttributeError(
                f"module {self._label!r} has no attribute {name!r} here (allowed: {allowed})"
            ) from None

    def __repr__(self) -> str:
        return f"<module {self._label!r} (sandboxed)>"

    def __guarded_setattr__(self, *_args: Any) -> None:
        raise TypeError(f"module {self._label!r} is read-only")

    __guarded_delattr__ = __guarded_setattr__


def _json_loads(s: str | bytes) -> Any:
    """``json.loads`` without hooks or decoder classes."""
    return _json.loads(s)


def _json_dumps(
    obj: Any,
    *,
    indent: int | str | None = None,
    sort_keys: bool = False,
    ensure_ascii: bool = True,
    separators: tuple[str, str] | None = None,
) -> str:
    """``json.dumps`` that understands the read-only views and takes no encoder classes."""
    return _json.dumps(
        obj,
        indent=indent,
        sort_keys=sort_keys,
        ensure_ascii=ensure_ascii,
        separators=separators,
        default=_view_to_json,
    )


_json_loads.__name__ = _json_loads.__qualname__ = "loads"
_json_dumps.__name__ = _json_dumps.__qualname__ = "dumps"


def _view_to_json(obj: Any) -> Any:
    plain = unwrap(obj)
    if plain is obj:
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
    return plain


def _re_members() -> dict[str, Any]:
    members: dict[str, Any] = {
        name: getattr(_re, name)
        for name in (
            "match", "search", "fullmatch", "findall", "finditer", "sub", "subn", "split",
            "compile", "escape", "error",
        )
    }
    # Plain ints rather than RegexFlag members: the enum class is one more object graph.
    for name in ("I", "IGNORECASE", "M", "MULTILINE", "S", "DOTALL", "X", "VERBOSE", "A", "ASCII"):
        members[name] = int(getattr(_re, name))
    return members


def _random_members() -> dict[str, Any]:
    # A private generator, and no seed()/setstate(): one call cannot steer the next one's draws.
    rng = _random.Random()
    names = ("random", "uniform", "randint", "randrange", "choice", "choices", "sample",
             "shuffle", "gauss")
    return {name: getattr(rng, name) for name in names}


def _math_members() -> dict[str, Any]:
    return {name: getattr(_math, name) for name in dir(_math) if not name.startswith("_")}


def _datetime_members() -> dict[str, Any]:
    names = ("datetime", "date", "time", "timedelta", "timezone", "MINYEAR", "MAXYEAR")
    return {name: getattr(_datetime, name) for name in names}


FACADES: Mapping[str, ModuleFacade] = MappingProxyType({
    "datetime": ModuleFacade("datetime", _datetime_members()),
    "json": ModuleFacade("json", {
        "loads": _json_loads, "dumps": _json_dumps, "JSONDecodeError": _json.JSONDecodeError,
    }),
    "math": ModuleFacade("math", _math_members()),
    "random": ModuleFacade("random", _random_members()),
    "re": ModuleFacade("re", _re_members()),
})

ALLOWED_MODULES = ", ".join(sorted(FACADES))


def guarded_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Any = (),
    level: int = 0,
) -> ModuleFacade:
    """``__import__`` for scripts: the allowlisted facades, nothing else."""
    if level != 0:
        raise ImportError("relative imports are not supported in router scripts")
    facade = FACADES.get(name) if type(name) is str else None
    if facade is None:
        raise ImportError(f"{name!r} may not be imported (allowed: {ALLOWED_MODULES})")
    return facade

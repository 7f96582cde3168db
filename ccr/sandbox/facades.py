"""The few modules a script may import, each handed out as a facade of chosen members.

Real modules are never given to a script: on Python 3.11 ``datetime.sys``, ``re.enum`` and
``json.codecs`` lead to ``os`` and to the real builtins. A facade has no ``__name__`` either, so
``from json import decoder`` cannot fall back to ``sys.modules["json.decoder"]``.
"""

from __future__ import annotations

import datetime as _datetime
import json as _json
import math as _math
import os as _os
import random as _random
import re as _re
import sys
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


#: The generator behind the ``random`` facade: private to the worker, reseeded for every call.
_RNG = _random.Random()


def reseed_random() -> None:
    """Seed the ``random`` facade afresh from the OS.

    Called before every script run: a Mersenne Twister's next draws follow from 624 of its
    outputs, so without this one call could predict the draws of the next (another session's).
    """
    _RNG.seed(int.from_bytes(_os.urandom(32)))


def _random_members() -> dict[str, Any]:
    # No seed()/setstate()/getstate(): a script cannot steer or save the generator's state.
    names = ("random", "uniform", "randint", "randrange", "choice", "choices", "sample",
             "shuffle", "gauss")
    return {name: getattr(_RNG, name) for name in names}


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
#: Modules the C code behind a facade imports for itself (``datetime.strftime`` imports ``time``).
#: CPython's ``PyImport_Import`` calls the running script's ``__import__`` with an empty *list*
#: as ``fromlist`` (an ``import`` statement passes None or a tuple), ignores what it returns and
#: takes the module from ``sys.modules``: the script itself never gets hold of it.
_INTERNAL_IMPORTS = frozenset({"time", "_strptime"})


def guarded_import(
    name: str,
    globals: Mapping[str, Any] | None = None,
    locals: Mapping[str, Any] | None = None,
    fromlist: Any = (),
    level: int = 0,
) -> ModuleFacade | None:
    """``__import__`` for scripts: the allowlisted facades, nothing else."""
    if type(fromlist) is list and not fromlist and name in _INTERNAL_IMPORTS and level == 0:
        return None
    if level != 0:
        raise ImportError("relative imports are not supported in router scripts")
    facade = FACADES.get(name) if type(name) is str else None
    if facade is None:
        raise ImportError(f"{name!r} may not be imported (allowed: {ALLOWED_MODULES})")
    return facade


#: ``re`` keeps up to 512 compiled patterns and as many replacement templates for the life of the
#: process, ``_strptime`` the regexes of recent formats. Patterns made from request text would
#: stay behind for the calls after the one that made them, and a hostile call could fill the
#: worker's memory that way: past this many characters of cached patterns, or as soon as a
#: pattern is a script's ``str`` subclass (its class keeps the call's globals alive), the caches
#: are emptied.
CACHED_PATTERN_CHARS = 64 * 1024
_PATTERN_CACHES = ("_cache", "_cache2")
_TEMPLATE_CACHES = ("_compile_repl", "_compile_template")


def _pattern_caches() -> list[dict[Any, Any]]:
    """re's pattern caches and _strptime's (every value a compiled pattern)."""
    caches = [getattr(_re, name, None) for name in _PATTERN_CACHES]
    caches.append(getattr(sys.modules.get("_strptime"), "_regex_cache", None))
    return [cache for cache in caches if isinstance(cache, dict)]


def _cost(cache: dict[Any, Any], limit: int) -> int:
    """The characters of the cached patterns; past ``limit`` if any key is not plain data."""
    if not all(_plain(key) for key in cache):
        return limit + 1
    return sum(len(getattr(pattern, "pattern", None) or "") for pattern in cache.values())


def _plain(key: Any) -> bool:
    """re's keys are ``(type(pattern), pattern, flags)``, _strptime's the format."""
    if type(key) is tuple:
        return all(_plain(part) for part in key)
    return key is str or key is bytes or type(key) in (str, bytes, int)


class CacheKeeper:
    """Empties the module-level caches the facades fill, after each call, when they hold much.

    Made once the modules are loaded (the caches are found then); cheap to run when nothing new
    was compiled, the usual case once a script has run once.
    """

    def __init__(self, limit: int = CACHED_PATTERN_CHARS) -> None:
        self._limit = limit
        self._caches = _pattern_caches()
        self._templates: list[Any] = [
            cached for cached in (getattr(_re, name, None) for name in _TEMPLATE_CACHES)
            if cached is not None and callable(getattr(cached, "cache_info", None))
        ]
        #: The pattern caches' sizes and newest keys when last measured.
        self._seen = [(0, None) for _ in self._caches]

    def tidy(self) -> None:
        for cached in self._templates:
            if cached.cache_info().currsize:
                cached.cache_clear()
        for cache, (size, newest) in zip(self._caches, self._seen, strict=True):
            if len(cache) != size or next(reversed(cache), None) is not newest:
                break
        else:
            return
        if sum(_cost(cache, self._limit) for cache in self._caches) > self._limit:
            _re.purge()
            for cache in self._caches:
                cache.clear()
        self._seen = [(len(cache), next(reversed(cache), None)) for cache in self._caches]

"""Name → transformer class, shared by the built-ins and user transformers.

Built-ins register themselves exactly as a user class would (see :mod:`ccr.transformers.builtin`),
so the core exercises its own extension point.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.errors import ConfigError
from ccr.transformers.base import Transformer

_REGISTRY: dict[str, type[Transformer]] = {}


def register(cls: type[Transformer]) -> type[Transformer]:
    """Class decorator: make ``cls`` available under ``cls.name`` (case-insensitive)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    _REGISTRY[cls.name.lower()] = cls
    return cls


def lookup(name: str) -> type[Transformer] | None:
    _ensure_builtins()
    return _REGISTRY.get(name.lower())


def names() -> list[str]:
    _ensure_builtins()
    return sorted({cls.name for cls in _REGISTRY.values()})


def instantiate(entry: Any, *, key_path: str) -> Transformer:
    """One ``use`` entry (``"name"`` or ``["name", {options}]``) to a transformer instance."""
    if isinstance(entry, str):
        name, options = entry, {}
    elif (
        isinstance(entry, list)
        and len(entry) in (1, 2)
        and isinstance(entry[0], str)
        and (len(entry) == 1 or isinstance(entry[1], Mapping))
    ):
        name, options = entry[0], (entry[1] if len(entry) == 2 else {})
    else:
        raise ConfigError(
            'expected a transformer name or ["name", {options}], got ' + repr(entry)[:80],
            path=key_path,
        )
    cls = lookup(name)
    if cls is None:
        raise ConfigError(
            f"unknown transformer {name!r} (available: {', '.join(names())})", path=key_path
        )
    try:
        return cls(options)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"bad options for transformer {name!r}: {exc}", path=key_path) from None


_builtins_loaded = False


def _ensure_builtins() -> None:
    global _builtins_loaded
    if not _builtins_loaded:
        _builtins_loaded = True
        import ccr.transformers.builtin  # noqa: F401  (registers on import)

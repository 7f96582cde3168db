"""The transformer catalog: name → factory, for built-ins and user transformers alike.

Built-ins add themselves to :data:`BUILTINS` with :func:`register`, the same call a config's own
(sandboxed) transformers go through when :func:`catalog_for` adds them to that config's
catalog, so the core exercises its own extension point. A name the config defines replaces the
built-in of that name for that config only.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Mapping
from typing import Any

from ccr.errors import ConfigError
from ccr.transformers.base import Transformer

#: Makes a transformer from its options (a built-in class is one).
Factory = Callable[[Mapping[str, Any]], Transformer]


class Catalog:
    """Transformer factories by lower-cased name, falling back to a parent catalog."""

    def __init__(self, parent: Catalog | None = None) -> None:
        self._factories: dict[str, tuple[str, Factory]] = {}
        self._parent = parent

    def add(self, name: str, factory: Factory) -> None:
        if not name:
            raise ValueError("a transformer needs a name")
        self._factories[name.lower()] = (name, factory)

    def get(self, name: str) -> Factory | None:
        found = self._factories.get(name.lower())
        if found is not None:
            return found[1]
        return self._parent.get(name) if self._parent is not None else None

    def names(self) -> list[str]:
        own = {shown for shown, _ in self._factories.values()}
        inherited = set(self._parent.names()) if self._parent is not None else set()
        return sorted(own | inherited, key=str.lower)

    def create(self, entry: Any, *, key_path: str) -> Transformer:
        """One ``use`` entry (``"name"`` or ``["name", {options}]``) to a transformer."""
        options: Mapping[str, Any]
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
        factory = self.get(name)
        if factory is None:
            raise ConfigError(
                f"unknown transformer {name!r} (available: {', '.join(self.names())})",
                path=key_path,
            )
        try:
            return factory(options)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"bad options for transformer {name!r}: {exc}",
                              path=key_path) from None


#: Each built-in transformer (lower-cased name) and the module under
#: :mod:`ccr.transformers.builtin` that registers it: a config imports only the modules its
#: chains name (``tests/test_transformer_registry.py`` keeps this in step with the modules).
BUILTIN_MODULES: dict[str, str] = {
    "anthropic": "anthropic",
    "cerebras": "cerebras",
    "cleancache": "cleancache",
    "customparams": "customparams",
    "deepseek": "deepseek",
    "enhancetool": "enhancetool",
    "extrathinktag": "extrathinktag",
    "forcereasoning": "forcereasoning",
    "gemini": "gemini",
    "groq": "groq",
    "maxcompletiontokens": "maxcompletiontokens",
    "maxtoken": "maxtoken",
    "openai": "openai",
    "openai-responses": "openai_responses",
    "openrouter": "openrouter",
    "reasoning": "reasoning",
    "sampling": "sampling",
    "streamoptions": "streamoptions",
    "texttoolcalls": "texttoolcalls",
    "tooluse": "tooluse",
    "vercel": "vercel",
    "vertex-claude": "vertex",
    "vertex-gemini": "vertex",
    "vertex-openai": "vertex",
}


class _Builtins(Catalog):
    """The built-in catalog: a built-in's module is imported when its name is first asked
    for, every module when all names are (a listing, or an unknown name's error)."""

    _all_loaded = False

    def _load(self, name: str) -> None:
        module = BUILTIN_MODULES.get(name.lower())
        if module is not None:
            importlib.import_module(f"ccr.transformers.builtin.{module}")

    def _load_all(self) -> None:
        if not self._all_loaded:
            self._all_loaded = True
            import ccr.transformers.builtin as package

            for found in pkgutil.iter_modules(package.__path__):
                if not found.name.startswith("_"):
                    importlib.import_module(f"{package.__name__}.{found.name}")

    def get(self, name: str) -> Factory | None:
        found = super().get(name)
        if found is None:
            self._load(name)
            found = super().get(name)
        if found is None and not self._all_loaded:
            self._load_all()  # a built-in missing from BUILTIN_MODULES is still found
            found = super().get(name)
        return found

    def names(self) -> list[str]:
        self._load_all()
        return super().names()


BUILTINS: Catalog = _Builtins()


def register(cls: type[Transformer]) -> type[Transformer]:
    """Class decorator: make ``cls`` available under ``cls.name`` (case-insensitive)."""
    if not cls.name:
        raise ValueError(f"{cls.__name__} has no name")
    BUILTINS.add(cls.name, cls)
    return cls


def lookup(name: str) -> Factory | None:
    """The built-in factory called ``name``, or None."""
    return BUILTINS.get(name)


def names() -> list[str]:
    return BUILTINS.names()


def instantiate(entry: Any, *, key_path: str) -> Transformer:
    """A built-in transformer from one ``use`` entry (raises ConfigError)."""
    return BUILTINS.create(entry, key_path=key_path)

"""The validated, immutable shape of a ccr configuration.

Everything downstream (routing, transformers, server) reads these objects, never the raw JSON,
so a loaded :class:`Config` is known to be consistent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccr.config.resilience import Resilience

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3456
DEFAULT_LONG_CONTEXT_THRESHOLD = 60000
DEFAULT_API_TIMEOUT_MS = 600_000

#: Router slots that hold a ``provider,model`` route, in the order the rules consult them.
ROUTE_SLOTS = ("default", "background", "think", "longContext", "webSearch", "image")


@dataclass(frozen=True)
class Provider:
    name: str
    api_base_url: str
    models: tuple[str, ...]
    api_key: str | None = None
    #: CCR's ``transformer`` object as written: ``{"use": [...], "<model>": {"use": [...]}}``.
    transformer: dict[str, Any] | None = None
    #: Every key of the provider's pool (``api_key`` may be a list); ``api_key`` is the first.
    api_keys: tuple[str, ...] = field(default=(), repr=False)
    #: Requests this provider serves at once (e.g. 1 for a local model); None: unbounded.
    max_concurrency: int | None = None

    def canonical_model(self, model: str) -> str | None:
        """The configured spelling of ``model`` (matched case-insensitively), or None."""
        want = model.strip().lower()
        for m in self.models:
            if m.lower() == want:
                return m
        return None


@dataclass(frozen=True)
class RouterConfig:
    default: str | None = None
    background: str | None = None
    think: str | None = None
    longContext: str | None = None
    longContextThreshold: int = DEFAULT_LONG_CONTEXT_THRESHOLD
    webSearch: str | None = None
    image: str | None = None

    def slot(self, name: str) -> str | None:
        return getattr(self, name, None) if name in ROUTE_SLOTS else None


@dataclass(frozen=True)
class Config:
    providers: tuple[Provider, ...] = ()
    router: RouterConfig = field(default_factory=RouterConfig)
    apikey: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    log: bool = True
    log_level: str = "info"
    api_timeout_ms: int = DEFAULT_API_TIMEOUT_MS
    proxy_url: str | None = None
    custom_router_path: str | None = None
    non_interactive_mode: bool = False
    #: Fallback lists, retries, cooldowns and limits (see :mod:`ccr.config.resilience`).
    resilience: Resilience = field(default_factory=Resilience)
    #: The whole config after ``$VAR`` substitution (secrets included: never log it).
    raw: dict[str, Any] = field(default_factory=dict, repr=False)
    #: The file it came from; None when running on built-in defaults.
    path: Path | None = None

    def provider(self, name: str) -> Provider | None:
        """The provider called ``name`` (case-insensitive)."""
        want = name.strip().lower()
        for p in self.providers:
            if p.name.lower() == want:
                return p
        return None

    def resolve(self, route: str) -> tuple[Provider, str] | None:
        """``"provider,model"`` to the configured provider and canonical model name, or None."""
        if not isinstance(route, str) or "," not in route:
            return None
        pname, _, model = route.partition(",")
        provider = self.provider(pname)
        if provider is None:
            return None
        canonical = provider.canonical_model(model)
        if canonical is None:
            return None
        return provider, canonical

    def routes(self) -> list[str]:
        """Every configured ``provider,model`` pair, in config order."""
        return [f"{p.name},{m}" for p in self.providers for m in p.models]

    @property
    def has_providers(self) -> bool:
        return bool(self.providers)

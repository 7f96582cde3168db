"""The validated, immutable shape of a ccr configuration.

Everything downstream (routing, transformers, server) reads these objects, never the raw JSON,
so a loaded :class:`Config` is known to be consistent.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

from ccr.config.gateway import GatewaySettings
from ccr.config.records import RecordSettings
from ccr.config.resilience import Resilience
from ccr.config.slots import ROUTE_SLOTS

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 3456
DEFAULT_LONG_CONTEXT_THRESHOLD = 60000
DEFAULT_API_TIMEOUT_MS = 600_000
DEFAULT_CONNECT_TIMEOUT_MS = 10_000
DEFAULT_PING_INTERVAL_MS = 15_000
DEFAULT_SHUTDOWN_TIMEOUT_MS = 10_000
DEFAULT_CUSTOM_ROUTER_TIMEOUT_MS = 100
DEFAULT_CUSTOM_ROUTER_MEMORY_MB = 256
DEFAULT_CUSTOM_ROUTER_WORKERS = 2
DEFAULT_TRANSFORMER_TIMEOUT_MS = 1000
DEFAULT_TRANSFORMER_MEMORY_MB = 512
DEFAULT_TRANSFORMER_WORKERS = 2
MAX_TRANSFORMER_SOURCE_BYTES = 256_000



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
class TransformerEntry:
    """One ``transformers[]`` entry: a user transformer file and its sandbox limits."""

    #: Absolute (a relative path in the config is taken from the config file's folder).
    path: Path
    options: Mapping[str, Any] = field(default_factory=dict)
    #: ``fail`` (the request fails) or ``skip`` (the request goes on without it).
    on_error: str = "fail"
    timeout_ms: int = DEFAULT_TRANSFORMER_TIMEOUT_MS
    memory_mb: int = DEFAULT_TRANSFORMER_MEMORY_MB
    workers: int = DEFAULT_TRANSFORMER_WORKERS


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
    #: The proxy for upstream calls: ``PROXY_URL``, else the proxy environment variables.
    proxy_url: str | None = None
    #: Hosts reached without the proxy (``NO_PROXY``; loopback too when the proxy came from the
    #: environment). ``*`` means every host.
    no_proxy: tuple[str, ...] = ()
    custom_router_path: str | None = None
    non_interactive_mode: bool = False
    connect_timeout_ms: int = DEFAULT_CONNECT_TIMEOUT_MS
    #: Silence inside an upstream stream before it is abandoned; None: ``api_timeout_ms``.
    stream_idle_timeout_ms: int | None = None
    ping_interval_ms: int = DEFAULT_PING_INTERVAL_MS
    shutdown_timeout_ms: int = DEFAULT_SHUTDOWN_TIMEOUT_MS
    custom_router_timeout_ms: int = DEFAULT_CUSTOM_ROUTER_TIMEOUT_MS
    custom_router_memory_mb: int = DEFAULT_CUSTOM_ROUTER_MEMORY_MB
    custom_router_workers: int = DEFAULT_CUSTOM_ROUTER_WORKERS
    #: Server processes sharing the port (``WORKERS``); 0 means one per core.
    workers: int = 1
    custom_router_options: Mapping[str, Any] = field(default_factory=dict)
    transformers: tuple[TransformerEntry, ...] = ()
    force_use_image_agent: bool = False
    #: ``StatusLine`` as written (``ccr statusline`` reads it tolerantly on its fast path).
    status_line: Mapping[str, Any] = field(default_factory=dict)
    #: The ``claude`` executable ``ccr code`` runs (``$CLAUDE_PATH`` overrides it).
    claude_path: str | None = None
    #: Named client keys (``APIKEYS``) are configured: clients must send one of them.
    has_client_keys: bool = False
    #: The team gateway: client keys, budgets, prices, the state store and the ledger.
    gateway: GatewaySettings = field(default_factory=GatewaySettings)
    #: ``RECORD``: write each request to ``<CCR_HOME>/records``.
    record: RecordSettings = field(default_factory=RecordSettings)
    #: ``(key path, message)`` for what ccr ignores: unknown keys, CCR features it lacks.
    warnings: tuple[tuple[str, str], ...] = ()
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

    @property
    def idle_timeout_ms(self) -> int:
        """``STREAM_IDLE_TIMEOUT_MS``, defaulting to ``API_TIMEOUT_MS``."""
        return self.stream_idle_timeout_ms or self.api_timeout_ms

    def proxy_for(self, url: str) -> str | None:
        """The proxy to reach ``url`` through, or None to connect directly."""
        if self.proxy_url is None:
            return None
        from urllib.parse import urlsplit

        try:
            host = (urlsplit(url).hostname or "").lower()
        except ValueError:
            return self.proxy_url
        for entry in self.no_proxy:
            if entry == "*":
                return None
            name = entry.lstrip(".").lower()
            if host == name or host.endswith("." + name):
                return None
        return self.proxy_url

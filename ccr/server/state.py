"""Everything the server derives from a config once, instead of per request.

A :class:`Runtime`'s configuration never changes: a reload builds a new one and swaps it in,
so a request (or an open stream) keeps the runtime it started with.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ccr.config import ROUTE_SLOTS, Config, RouterConfig, script_view
from ccr.context.projects import ProjectLocator
from ccr.context.sessions import SessionStore
from ccr.context.tokens import TokenCounter
from ccr.engine.upstream import Timeouts, Upstream
from ccr.transformers.chain import Chain, build_chains
from ccr.transformers.custom import CustomTransformers, load_custom_transformers

log = logging.getLogger("ccr")


@dataclass
class Runtime:
    config: Config
    chains: dict[tuple[str, str], Chain]
    script_config: dict[str, Any]
    #: The user's router script runner, when ``CUSTOM_ROUTER_PATH`` is set.
    script: Any = None
    #: Requests being served with this runtime (a replaced runtime retires when it reaches 0).
    in_flight: int = 0
    #: The config's own transformers (``"transformers": [{"path": ...}]``) and their sandboxes.
    transformers: CustomTransformers = field(default_factory=CustomTransformers)

    @classmethod
    def build(cls, config: Config) -> Runtime:
        """Raises ConfigError when a transformer name or its options are wrong, or a user
        transformer file cannot be loaded (checked in a sandbox worker). The router script and
        the user transformers' sandboxes are created but not started (see :meth:`start`)."""
        transformers = load_custom_transformers(config)
        return cls(
            config=config,
            chains=build_chains(config, transformers.factories),
            script_config=script_view(config),
            script=make_router_script(config),
            transformers=transformers,
        )

    async def start(self) -> None:
        if self.script is not None:
            await self.script.start()
            if self.script.load_error:
                log.error("router script: %s", self.script.load_error)
        await self.transformers.start()

    async def retire(self, *, poll_s: float = 1.0) -> None:
        """Close once the requests that started on this runtime are done (after a reload)."""
        while self.in_flight > 0:
            await asyncio.sleep(poll_s)
        await self.aclose()

    async def aclose(self) -> None:
        if self.script is not None:
            await self.script.aclose()
        await self.transformers.aclose()

    def router_for(self, override: dict[str, Any] | None) -> RouterConfig:
        """The global Router, or a project/session override of it (whole slots replaced)."""
        if not override:
            return self.config.router
        values: dict[str, Any] = {slot: override.get(slot) or None for slot in ROUTE_SLOTS}
        threshold = override.get("longContextThreshold")
        if isinstance(threshold, int) and not isinstance(threshold, bool) and threshold > 0:
            values["longContextThreshold"] = threshold
        else:
            values["longContextThreshold"] = self.config.router.longContextThreshold
        return dataclasses.replace(self.config.router, **{
            k: (v if isinstance(v, str | int) else None) for k, v in values.items()
        })


def make_router_script(config: Config) -> Any:
    """The sandboxed runner for ``CUSTOM_ROUTER_PATH``; limits come from ``CUSTOM_ROUTER_*``."""
    if not config.custom_router_path:
        return None
    from ccr.sandbox import RouterScript

    raw = config.raw

    def number(key: str, default: float) -> float:
        try:  # validated at load; numeric strings are allowed like other numbers
            value = float(raw[key])
        except (KeyError, TypeError, ValueError):
            return default
        return value if value > 0 else default

    return RouterScript(
        config.custom_router_path,
        timeout_ms=number("CUSTOM_ROUTER_TIMEOUT_MS", 100),
        memory_mb=int(number("CUSTOM_ROUTER_MEMORY_MB", 256)),
        workers=int(number("CUSTOM_ROUTER_WORKERS", 2)),
    )


@dataclass
class Stats:
    started_at: float = field(default_factory=time.time)
    requests: int = 0
    errors: int = 0


@dataclass
class AppState:
    """Process-wide parts that outlive a config reload."""

    runtime: Runtime
    home: Path
    tokens: TokenCounter = field(default_factory=TokenCounter)
    sessions: SessionStore = field(default_factory=SessionStore)
    projects: ProjectLocator | None = None
    upstream: Upstream | None = None
    stats: Stats = field(default_factory=Stats)
    #: Why the last config reload failed (the previous config is still running), else None.
    reload_error: str | None = None
    reloads: int = 0

    def __post_init__(self) -> None:
        if self.projects is None:
            self.projects = ProjectLocator(Path.home() / ".claude" / "projects", self.home)

    @property
    def config(self) -> Config:
        return self.runtime.config

    def make_upstream(self) -> Upstream:
        config = self.config
        return Upstream(Timeouts.of(config), proxy_url=config.proxy_url, no_proxy=config.no_proxy)

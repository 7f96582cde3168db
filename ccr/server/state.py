"""What the server keeps for the life of the process, across config reloads."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from ccr.config import Config
from ccr.context.stores import Stores
from ccr.engine.engine import Engine
from ccr.server.idle_trim import IdleTrim


@dataclass
class Stats:
    started_at: float = field(default_factory=time.time)
    requests: int = 0
    errors: int = 0


@dataclass
class AppState:
    """The running engine (swapped on reload) and the process-wide counters."""

    engine: Engine
    home: Path
    stats: Stats = field(default_factory=Stats)
    #: Returns freed memory to the system once no request is in flight.
    idle: IdleTrim = field(default_factory=IdleTrim)
    #: Why the last config reload failed (the previous config is still running), else None.
    reload_error: str | None = None
    reloads: int = 0

    @property
    def config(self) -> Config:
        return self.engine.config

    @property
    def stores(self) -> Stores:
        return self.engine.stores

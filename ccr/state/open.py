"""Build the configured state store: the one place that knows which backend to use."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from ccr.config.state import StateSettings
from ccr.state.base import StateStore
from ccr.state.failover import FailoverStore
from ccr.state.memory import MemoryStore
from ccr.state.sqlite import SqliteStore


def open_store(settings: StateSettings, *, home: Path, workers: int = 1,
               retry_s: float = 1.0) -> StateStore:
    """The store for ``settings``; call ``await store.start()`` before use.

    Without an explicit kind: memory for one process, SQLite under ``home`` for several
    workers (they must agree on rate limits and session usage too).
    """
    kind = settings.kind or ("sqlite" if workers > 1 else "memory")
    if kind == "memory":
        return MemoryStore()
    if kind == "sqlite":
        return FailoverStore(SqliteStore(settings.sqlite_path(home)),
                             down=(sqlite3.OperationalError,),
                             fail_closed=settings.fail_closed, retry_s=retry_s)
    from ccr.state.redis import REDIS_DOWN, RedisStore  # redis is imported only when used

    assert settings.url is not None
    return FailoverStore(RedisStore(settings.url, prefix=settings.prefix), down=REDIS_DOWN,
                         fail_closed=settings.fail_closed, retry_s=retry_s)

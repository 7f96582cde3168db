"""The state store: what several ccr processes or machines must agree on (memory, SQLite,
Redis behind one interface)."""

from ccr.state.base import StateStore, StateUnavailable, StoreHealth
from ccr.state.failover import FailoverStore
from ccr.state.memory import MemoryStore
from ccr.state.open import open_store
from ccr.state.sqlite import SqliteStore

__all__ = [
    "FailoverStore",
    "MemoryStore",
    "SqliteStore",
    "StateStore",
    "StateUnavailable",
    "StoreHealth",
    "open_store",
]

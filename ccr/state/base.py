"""The state store's one interface: what several ccr processes (or machines) must agree on.

Every backend offers the same five primitives, enough for rate limits (window counters),
concurrency limits (leases), cooldowns, key-pool state and stickiness (values with a TTL),
session usage records (values) and budget counters (numbers that expire with their period).
Values are plain JSON, so every backend stores them the same way.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from ccr.errors import ApiError

#: JSON values as stored: what ``json.dumps`` accepts.
Json = Any


class StateUnavailable(ApiError):
    """The shared store cannot be reached and the config says to fail closed."""

    def __init__(self, backend: str) -> None:
        super().__init__(f"ccr's shared state ({backend}) is unavailable and STATE.fail is "
                         '"closed": requests are refused until it is back', 503,
                         "overloaded_error")


@dataclass
class StoreHealth:
    """What status pages and metrics say about the store."""

    backend: str
    degraded: bool = False
    #: Why it is degraded (the connection error, never a URL with a password).
    error: str | None = None
    #: When it became degraded (epoch seconds), else None.
    since: float | None = None
    #: Operations served from local memory while the shared store was away.
    local_fallbacks: int = 0
    #: How many times the shared store came back after being away.
    recoveries: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "status": "degraded" if self.degraded else "ok",
            "error": self.error,
            "since": self.since,
            "local_fallbacks": self.local_fallbacks,
            "recoveries": self.recoveries,
            **self.extra,
        }


class StateStore(ABC):
    """One async interface, three backends (memory, SQLite, Redis).

    Keys are plain strings chosen by the callers (``rate:alice``, ``cooldown:deepseek``); a
    store may prefix them. ``ttl_s`` of None means "keep until deleted".
    """

    backend: str = "abstract"

    # -- counters in fixed time windows (rate limits) ----------------------------------------

    @abstractmethod
    async def hit(self, key: str, window_s: float, amount: int = 1) -> int:
        """Add ``amount`` to the counter of the current ``window_s``-second window (windows
        start at multiples of ``window_s`` since the epoch, so every process agrees) and
        return the window's new total."""

    # -- concurrency leases --------------------------------------------------------------------

    @abstractmethod
    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        """Take one of ``limit`` slots for ``lease_s`` seconds: a token to release, or None when
        all slots are taken. A slot whose holder died frees itself when its lease runs out."""

    @abstractmethod
    async def release(self, key: str, token: str) -> None:
        """Give a slot back (a no-op for an expired or unknown token)."""

    @abstractmethod
    async def holders(self, key: str) -> int:
        """How many unexpired slots of ``key`` are taken."""

    # -- values with a TTL ---------------------------------------------------------------------

    @abstractmethod
    async def get(self, key: str) -> Json | None:
        """The value stored at ``key``, or None when absent or expired."""

    @abstractmethod
    async def set(self, key: str, value: Json, ttl_s: float | None = None) -> None:
        """Store a JSON value, replacing any previous one."""

    @abstractmethod
    async def delete(self, key: str) -> None:
        """Forget ``key`` (values and numbers alike)."""

    # -- numbers (budget counters, spend) ------------------------------------------------------

    @abstractmethod
    async def add(self, key: str, amount: float, ttl_s: float | None = None) -> float:
        """Add ``amount`` to the number at ``key`` (0 when absent) and return the new total.
        ``ttl_s`` is set when the number is created, so a period's counter expires with it."""

    @abstractmethod
    async def number(self, key: str) -> float:
        """The number at ``key``, 0 when absent or expired."""

    async def add_many(self, items: list[tuple[str, float, float | None]]) -> None:
        """Several :meth:`add` calls (key, amount, ttl_s) in one round trip where the backend
        allows (spend counters after each request)."""
        for key, amount, ttl_s in items:
            await self.add(key, amount, ttl_s)

    async def numbers(self, keys: list[str]) -> list[float]:
        """Several numbers at once (one round trip where the backend allows)."""
        return [await self.number(key) for key in keys]

    # -- life cycle ----------------------------------------------------------------------------

    def health(self) -> StoreHealth:
        return StoreHealth(backend=self.backend)

    async def ping(self) -> None:
        """Raise when the store cannot be reached (used to notice that it is back)."""
        return None

    async def check(self) -> None:
        """Find out now whether the store is reachable, so health is current even without
        traffic (a no-op for stores that cannot go away)."""
        return None

    async def start(self) -> None:
        """Connect (where there is anything to connect to)."""
        return None

    async def aclose(self) -> None:
        """Release connections and background tasks."""
        return None


def window_start(now: float, window_s: float) -> int:
    """The start of the fixed window holding ``now``, in whole milliseconds since the epoch."""
    width = max(int(window_s * 1000), 1)
    return int(now * 1000) // width * width


def now() -> float:
    return time.time()

"""The in-memory store: the default for one process, and the local fallback of the others.

Plain dicts with lazy expiry plus a periodic sweep, so memory stays bounded by what is live.
No locks are needed: every method runs to completion on the event loop without awaiting.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from ccr.protocol import codec
from ccr.state.base import Json, StateStore, now, window_start

#: Sweep expired entries after this many writes (amortised cleanup, no timer task).
_SWEEP_EVERY = 1024


class MemoryStore(StateStore):
    backend = "memory"

    def __init__(self, clock: Callable[[], float] = now) -> None:
        self._clock = clock
        #: key -> (value, expires_at or None): counters as numbers, JSON values as their
        #: encoded bytes (a copy nobody can change, as the shared stores keep them).
        self._values: dict[str, tuple[Any, float | None]] = {}
        #: key -> {token: lease expiry}
        self._leases: dict[str, dict[str, float]] = {}
        self._writes = 0

    def _live(self, key: str) -> tuple[Any, float | None] | None:
        entry = self._values.get(key)
        if entry is None:
            return None
        if entry[1] is not None and entry[1] <= self._clock():
            del self._values[key]
            return None
        return entry

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> None:
        """Drop every expired value and lease."""
        t = self._clock()
        for key in [k for k, (_, exp) in self._values.items() if exp is not None and exp <= t]:
            del self._values[key]
        for key, held in list(self._leases.items()):
            for token in [tok for tok, exp in held.items() if exp <= t]:
                del held[token]
            if not held:
                del self._leases[key]

    async def hit(self, key: str, window_s: float, amount: int = 1) -> int:
        t = self._clock()
        start = window_start(t, window_s)
        wkey = f"{key}@{start}"
        entry = self._live(wkey)
        total = (entry[0] if entry else 0) + amount
        self._values[wkey] = (total, start / 1000 + window_s)
        self._wrote()
        return int(total)

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        t = self._clock()
        held = self._leases.setdefault(key, {})
        for token in [tok for tok, exp in held.items() if exp <= t]:
            del held[token]
        if len(held) >= limit:
            return None
        token = secrets.token_hex(8)
        held[token] = t + lease_s
        return token

    async def release(self, key: str, token: str) -> None:
        held = self._leases.get(key)
        if held is not None:
            held.pop(token, None)
            if not held:
                del self._leases[key]

    async def holders(self, key: str) -> int:
        t = self._clock()
        return sum(1 for exp in self._leases.get(key, {}).values() if exp > t)

    async def get(self, key: str) -> Json | None:
        entry = self._live(key)
        if entry is None:
            return None
        value = entry[0]
        return codec.loads(value) if isinstance(value, bytes) else value

    async def set(self, key: str, value: Json, ttl_s: float | None = None) -> None:
        expires = self._clock() + ttl_s if ttl_s is not None else None
        self._values[key] = (codec.dumps(value), expires)
        self._wrote()

    async def delete(self, key: str) -> None:
        self._values.pop(key, None)
        self._leases.pop(key, None)

    async def add(self, key: str, amount: float, ttl_s: float | None = None) -> float:
        entry = self._live(key)
        if entry is None:
            expires = self._clock() + ttl_s if ttl_s is not None else None
            total = float(amount)
        else:
            expires = entry[1]
            total = float(entry[0]) + amount
        self._values[key] = (total, expires)
        self._wrote()
        return total

    async def number(self, key: str) -> float:
        entry = self._live(key)
        if entry is None:
            return 0.0
        try:
            return float(entry[0])
        except (TypeError, ValueError):
            return 0.0

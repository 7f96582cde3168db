"""Keep serving when the shared store goes away, and notice by itself when it is back.

:class:`FailoverStore` wraps a shared backend (Redis, or SQLite). On a connection error it
marks itself degraded and logs it once, then either answers from a local in-memory store
(``fail: "open"``, the default: limits hold per process instead of across them) or refuses
(``fail: "closed"``, :class:`StateUnavailable`). A background task pings the backend and
switches back when it answers; the local state of the outage is then dropped.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ccr.config.redact import redact_text
from ccr.state.base import Json, StateStore, StateUnavailable, StoreHealth
from ccr.state.memory import MemoryStore

log = logging.getLogger("ccr.state")

T = TypeVar("T")

#: Lease tokens handed out by the local fallback carry this prefix, so release finds them.
_LOCAL = "local:"


class FailoverStore(StateStore):
    def __init__(self, shared: StateStore, *, down: tuple[type[BaseException], ...],
                 fail_closed: bool = False, retry_s: float = 1.0,
                 probe_s: float = 5.0) -> None:
        self.shared = shared
        self.backend = shared.backend
        self._down = down
        self._fail_closed = fail_closed
        self._retry_s = retry_s
        self._local = MemoryStore()
        self._health = StoreHealth(backend=shared.backend)
        self._reconnect: asyncio.Task[None] | None = None
        self._probe_s = probe_s
        self._probe: asyncio.Task[None] | None = None
        self._closed = False

    # -- health --------------------------------------------------------------------------------

    @property
    def degraded(self) -> bool:
        return self._health.degraded

    def health(self) -> StoreHealth:
        h = self._health
        return StoreHealth(backend=h.backend, degraded=h.degraded, error=h.error, since=h.since,
                           local_fallbacks=h.local_fallbacks, recoveries=h.recoveries,
                           extra={"fail": "closed" if self._fail_closed else "open"})

    def _went_down(self, exc: BaseException) -> None:
        if self._health.degraded:
            return
        reason = redact_text(f"{type(exc).__name__}: {exc}")[:300]
        self._health.degraded = True
        self._health.error = reason
        self._health.since = time.time()
        mode = ("refusing requests" if self._fail_closed
                else "serving from this process's memory")
        log.warning("state store %s unavailable (%s): %s until it is back",
                    self.backend, reason, mode)
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.get_running_loop().create_task(self._watch())

    async def _watch(self) -> None:
        while not self._closed:
            await asyncio.sleep(self._retry_s)
            try:
                await self.shared.ping()
            except self._down:
                continue
            except Exception:  # a broken reply still means "not usable yet"
                continue
            outage = time.time() - (self._health.since or time.time())
            self._health.degraded = False
            self._health.error = None
            self._health.since = None
            self._health.recoveries += 1
            self._local = MemoryStore()
            log.warning("state store %s is back after %.1fs: shared state in use again",
                        self.backend, outage)
            return

    async def _run(self, shared: Callable[[StateStore], Awaitable[T]]) -> T:
        if not self._health.degraded:
            try:
                return await shared(self.shared)
            except self._down as exc:
                self._went_down(exc)
        if self._fail_closed:
            raise StateUnavailable(self.backend)
        self._health.local_fallbacks += 1
        return await shared(self._local)

    # -- life cycle ----------------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.shared.start()
        except self._down as exc:
            self._went_down(exc)
        if self._probe_s > 0:
            self._probe = asyncio.get_running_loop().create_task(self._probe_loop())

    async def check(self) -> None:
        if self._health.degraded:
            return  # the reconnect task is already on it
        try:
            await self.shared.ping()
        except self._down as exc:
            self._went_down(exc)

    async def _probe_loop(self) -> None:
        """An idle instance still notices (and reports) a store that went away."""
        while not self._closed:
            await asyncio.sleep(self._probe_s)
            await self.check()

    async def ping(self) -> None:
        await self.shared.ping()

    async def aclose(self) -> None:
        self._closed = True
        for task in (self._reconnect, self._probe):
            if task is not None:
                task.cancel()
                try:
                    await task
                except asyncio.CancelledError:
                    pass
        try:
            await self.shared.aclose()
        except self._down:
            pass

    # -- the primitives ------------------------------------------------------------------------

    async def hit(self, key: str, window_s: float, amount: int = 1) -> int:
        return await self._run(lambda s: s.hit(key, window_s, amount))

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        if not self._health.degraded:
            try:
                return await self.shared.acquire(key, limit, lease_s)
            except self._down as exc:
                self._went_down(exc)
        if self._fail_closed:
            raise StateUnavailable(self.backend)
        self._health.local_fallbacks += 1
        token = await self._local.acquire(key, limit, lease_s)
        return None if token is None else _LOCAL + token

    async def release(self, key: str, token: str) -> None:
        if token.startswith(_LOCAL):
            await self._local.release(key, token[len(_LOCAL):])
            return
        if self._health.degraded:
            return  # the shared lease expires by itself
        try:
            await self.shared.release(key, token)
        except self._down as exc:
            self._went_down(exc)

    async def holders(self, key: str) -> int:
        return await self._run(lambda s: s.holders(key))

    async def get(self, key: str) -> Json | None:
        return await self._run(lambda s: s.get(key))

    async def set(self, key: str, value: Json, ttl_s: float | None = None) -> None:
        await self._run(lambda s: s.set(key, value, ttl_s))

    async def delete(self, key: str) -> None:
        await self._run(lambda s: s.delete(key))

    async def add(self, key: str, amount: float, ttl_s: float | None = None) -> float:
        return await self._run(lambda s: s.add(key, amount, ttl_s))

    async def add_many(self, items: list[tuple[str, float, float | None]]) -> None:
        await self._run(lambda s: s.add_many(items))

    async def number(self, key: str) -> float:
        return await self._run(lambda s: s.number(key))

    async def numbers(self, keys: list[str]) -> list[float]:
        return await self._run(lambda s: s.numbers(keys))



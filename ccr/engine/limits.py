"""Calls to one provider at a time: ``Providers[].max_concurrency``.

A local model that serves one request at a time gets one call at once; the others wait their
turn in arrival order (bounded by a timeout, then :class:`LimitRefused`: a 429
``rate_limit_error`` with ``retry-after``). Client-side limits (``RATE_LIMIT``,
``MAX_CONCURRENT_REQUESTS``) live in the server's gateway, in the shared state store.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from ccr.errors import ApiError


class LimitRefused(ApiError):
    """A request refused by a limit; the client should come back after ``retry_after_s``."""

    def __init__(self, message: str, retry_after_s: float) -> None:
        super().__init__(message, 429, "rate_limit_error")
        self.retry_after_s = retry_after_s
        self.headers.update({"retry-after": str(max(1, math.ceil(retry_after_s))),
                             "x-should-retry": "true"})


class ConcurrencyGate:
    """At most ``limit`` holders at once; up to ``max_queued`` more wait (each at most
    ``timeout_s``) in arrival order; anyone beyond that is refused at once."""

    def __init__(self, limit: int, *, max_queued: int = 0, timeout_s: float = 30.0,
                 what: str = "MAX_CONCURRENT_REQUESTS") -> None:
        self.limit = limit
        self.max_queued = max_queued
        self.timeout_s = timeout_s
        self.what = what
        self.active = 0
        self._waiters: deque[asyncio.Future[None]] = deque()

    @property
    def queued(self) -> int:
        return len(self._waiters)

    async def acquire(self) -> None:
        if self.active < self.limit and not self._waiters:
            self.active += 1
            return
        if len(self._waiters) >= self.max_queued:
            raise self._refusal(f"ccr is already serving {self.active} requests "
                                f"({self.what} is {self.limit})")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        try:
            await asyncio.wait_for(asyncio.shield(waiter), self.timeout_s)
        except TimeoutError:
            if waiter.done() and not waiter.cancelled():
                return  # the slot arrived just as time ran out: keep it
            waiter.cancel()
            raise self._refusal(f"ccr waited {self.timeout_s:g} s for a free slot "
                                f"({self.what} is {self.limit})") from None
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release()  # handed a slot while being cancelled: pass it on
            else:
                waiter.cancel()
            raise
        finally:
            if waiter in self._waiters:
                self._waiters.remove(waiter)

    def release(self) -> None:
        """Hand the slot to the oldest waiter still waiting, or free it."""
        while self._waiters:
            waiter = self._waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes on: ``active`` is unchanged
                return
        self.active = max(0, self.active - 1)

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        await self.acquire()
        try:
            yield
        finally:
            self.release()

    def _refusal(self, why: str) -> LimitRefused:
        retry = max(1.0, min(self.timeout_s, 5.0))
        return LimitRefused(f"{why}; try again in a few seconds", retry)


class ProviderGates:
    """One :class:`ConcurrencyGate` per provider with ``max_concurrency``; calls wait their
    turn (up to ``timeout_s``) rather than being refused."""

    def __init__(self, limits: dict[str, int], *, timeout_s: float = 600.0) -> None:
        self._gates = {name.lower(): ConcurrencyGate(n, max_queued=1 << 30, timeout_s=timeout_s,
                                                     what=f"{name}'s max_concurrency")
                       for name, n in limits.items()}

    def gate(self, provider: str) -> ConcurrencyGate | None:
        return self._gates.get(provider.lower())

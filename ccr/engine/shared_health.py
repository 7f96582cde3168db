"""Cooldowns shared by every ccr instance behind one state store.

Each instance keeps its own :class:`~ccr.engine.health.Health` (fast, no I/O per decision);
this mirrors its cooldowns into the store's :class:`~ccr.state.cooldowns.Cooldowns`, and
before a request reads the others' back, so a provider one instance saw failing is skipped by
all of them. A provider found not cooling is not asked about again for ``recheck_s``, so a
healthy request pays at most one store read per provider per second.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING

from ccr.engine.breaker import Breaker
from ccr.engine.health import Health

if TYPE_CHECKING:  # the server passes its store's; routing alone never opens a store
    from ccr.state.cooldowns import Cooldowns

Clock = Callable[[], float]

#: How long "not cooling" read from the store is trusted before asking again.
RECHECK_S = 1.0


class SharedCooldowns:
    def __init__(self, cooldowns: Cooldowns, *, recheck_s: float = RECHECK_S,
                 clock: Clock = time.monotonic) -> None:
        self.cooldowns = cooldowns
        self.recheck_s = recheck_s
        self.clock = clock
        #: Provider → when the store last said it was not cooling.
        self._clear_until: dict[str, float] = {}
        #: Store id → the local cooldown end already written for it.
        self._pushed: dict[str, float] = {}

    async def pull(self, health: Health, providers: Iterable[str]) -> None:
        """Cool locally whatever another instance put in cooldown."""
        now = self.clock()
        for name in dict.fromkeys(p.lower() for p in providers):
            if self._clear_until.get(name, 0.0) > now:
                continue
            left = await self.cooldowns.remaining(name)
            breaker = health.provider(name).breaker
            if left > 0 and breaker.cooldown_left(health.clock()) < left - 0.5:
                breaker.cool(health.clock(), left, "cooling, seen by another ccr instance")
                self._pushed[name] = breaker.cooling_until or 0.0
            elif left <= 0:
                self._clear_until[name] = now + self.recheck_s

    async def push(self, health: Health, provider: str) -> None:
        """Write this instance's cooldown of ``provider`` to the store, or clear it there once
        it ended early (a probe answered). Key cooldowns stay per instance."""
        await self._sync(health, provider.lower(), health.provider(provider).breaker)

    async def _sync(self, health: Health, target: str, breaker: Breaker) -> None:
        left = breaker.cooldown_left(health.clock())
        if left > 0 and self._pushed.get(target) != breaker.cooling_until:
            await self.cooldowns.start(target, left, breaker.reason or "")
            self._pushed[target] = breaker.cooling_until or 0.0
            self._clear_until.pop(target, None)
        elif left <= 0 and target in self._pushed and breaker.cooling_until is None:
            del self._pushed[target]
            await self.cooldowns.clear(target)

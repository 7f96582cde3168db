"""Each provider's health: its breaker, its key pool, recent errors, latency and load.

The attempt loop asks it which providers and keys may be tried and tells it how each attempt
went; ``ccr status``, the status endpoint and router scripts (``req.providers``) read it. It
is process memory behind this one class, so a shared store can back it later, and it outlives
a config reload (the new engine takes over the old one's :class:`Health`).
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Literal

from ccr.config.resilience import CooldownPolicy
from ccr.engine.breaker import Breaker
from ccr.engine.keys import KeyPool

Clock = Callable[[], float]
ProviderState = Literal["ok", "cooling", "down"]

#: Outcomes older than this no longer count towards the error rate.
RATE_WINDOW_S = 300.0
#: At most this many outcomes and latencies are kept per provider.
RECENT = 200


@dataclass
class ProviderHealth:
    name: str
    policy: CooldownPolicy
    breaker: Breaker
    keys: KeyPool
    #: ``(time, ok)`` of recent attempts.
    outcomes: deque[tuple[float, bool]] = field(default_factory=lambda: deque(maxlen=RECENT))
    #: Seconds to the first byte of recent successful attempts.
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=RECENT))
    in_flight: int = 0
    last_error: str | None = None

    def error_rate(self, now: float) -> float:
        recent = [ok for t, ok in self.outcomes if now - t <= RATE_WINDOW_S]
        if not recent:
            return 0.0
        return round(1 - sum(recent) / len(recent), 3)

    def p50_ms(self) -> float | None:
        if not self.latencies:
            return None
        return round(statistics.median(self.latencies) * 1000, 1)

    def state(self, keys: tuple[str | None, ...], now: float) -> ProviderState:
        """``down``: every key refused; ``cooling``: the provider or all its keys are cooling."""
        pool_keys = keys or (None,)
        if all(self.keys.state(k).revoked is not None for k in pool_keys):
            return "down"
        if not self.breaker.available(now):
            return "cooling"
        if not any(self.keys.usable(k, now) for k in pool_keys):
            return "cooling"
        return "ok"

    def cooldown_left(self, keys: tuple[str | None, ...], now: float) -> float:
        pool_keys = keys or (None,)
        left = max(self.breaker.cooldown_left(now), self.keys.cooldown_left(pool_keys, now))
        return 0.0 if left == float("inf") else left


class Health:
    """Health of every provider by name (case-insensitive), created on first use."""

    def __init__(self, policy: CooldownPolicy | None = None, clock: Clock = time.monotonic) -> None:
        self.policy = policy or CooldownPolicy()
        self.clock = clock
        self._providers: dict[str, ProviderHealth] = {}

    def provider(self, name: str) -> ProviderHealth:
        lowered = name.lower()
        found = self._providers.get(lowered)
        if found is None:
            found = ProviderHealth(name, self.policy, Breaker(self.policy), KeyPool(self.policy))
            self._providers[lowered] = found
        return found

    def adopt(self, policy: CooldownPolicy) -> None:
        """A reloaded config: new thresholds apply, and refused keys get another chance (the
        user may have fixed them without changing them, e.g. by adding credit)."""
        self.policy = policy
        for health in self._providers.values():
            health.policy = policy
            health.breaker.policy = policy
            health.keys.policy = policy
            for state in health.keys.states.values():
                state.revoked = None
                state.breaker.policy = policy

    # -- what attempts report --------------------------------------------------------------

    def started(self, provider: str) -> None:
        self.provider(provider).in_flight += 1

    def ended(self, provider: str) -> None:
        health = self.provider(provider)
        health.in_flight = max(0, health.in_flight - 1)

    def succeeded(self, provider: str, key: str | None, latency_s: float) -> None:
        now = self.clock()
        health = self.provider(provider)
        health.outcomes.append((now, True))
        health.latencies.append(latency_s)
        health.breaker.success(now)
        health.keys.state(key).breaker.success(now)

    def failed_provider(self, provider: str, what: str, *, key: str | None = None,
                        cool_for_s: float | None = None) -> bool:
        """A failure of the provider itself (unreachable, 5xx, broken stream); True when it
        started a cooldown. The key's own probe, if it held one, is released."""
        now = self.clock()
        health = self.provider(provider)
        health.outcomes.append((now, False))
        health.last_error = what
        health.keys.state(key).breaker.release(now)
        return health.breaker.failure(now, cool_for_s=cool_for_s, what=what)

    def failed_key(self, provider: str, key: str | None, what: str, *,
                   cool_for_s: float | None = None) -> bool:
        """A failure that concerns one key (429): cools that key only. The provider's probe,
        if this attempt held it, counts as answered: the provider is reachable."""
        now = self.clock()
        health = self.provider(provider)
        health.outcomes.append((now, False))
        health.last_error = what
        if health.breaker.state(now) == "half_open":
            health.breaker.success(now)
        return health.keys.state(key).breaker.failure(now, cool_for_s=cool_for_s, what=what)

    def refused_key(self, provider: str, key: str | None, status: int) -> None:
        """401/403: the key leaves the rotation."""
        now = self.clock()
        health = self.provider(provider)
        health.outcomes.append((now, False))
        health.last_error = f"key refused with {status}"
        health.keys.revoke(key, status)
        if health.breaker.state(now) == "half_open":
            health.breaker.success(now)

    def answered(self, provider: str, key: str | None) -> None:
        """The provider answered, but refused this request (a 4xx that is the request's own
        fault): it is reachable and the key works, so cooldowns and probes end."""
        now = self.clock()
        health = self.provider(provider)
        health.breaker.success(now)
        health.keys.state(key).breaker.success(now)

    def abandoned(self, provider: str, key: str | None) -> None:
        """An attempt ended with no verdict (the client left): release any probe it held."""
        now = self.clock()
        health = self.provider(provider)
        health.breaker.release(now)
        health.keys.state(key).breaker.release(now)

    # -- what routing and status read ------------------------------------------------------

    def healthy(self, provider: str, keys: tuple[str | None, ...]) -> bool:
        return self.provider(provider).state(keys, self.clock()) == "ok"

    def script_view(self, providers: Iterable[tuple[str, tuple[str | None, ...]]]
                    ) -> dict[str, dict[str, Any]]:
        """``req.providers`` for router scripts: plain JSON, read-only by copy."""
        now = self.clock()
        out: dict[str, dict[str, Any]] = {}
        for name, keys in providers:
            health = self.provider(name)
            out[name] = {
                "healthy": health.state(keys, now) == "ok",
                "cooldown_s": round(health.cooldown_left(keys, now), 1),
                "error_rate": health.error_rate(now),
                "p50_ms": health.p50_ms(),
                "in_flight": health.in_flight,
            }
            out.setdefault(name.lower(), out[name])  # scripts often lower-case route names
        return out

    def status(self, providers: Iterable[tuple[str, tuple[str | None, ...]]]
               ) -> list[dict[str, Any]]:
        """Each provider's health for ``ccr status`` and the status endpoint (keys masked)."""
        now = self.clock()
        out: list[dict[str, Any]] = []
        for name, keys in providers:
            health = self.provider(name)
            state = health.state(keys, now)
            entry: dict[str, Any] = {
                "provider": name,
                "state": state,
                "cooldown_s": round(health.cooldown_left(keys, now), 1),
                "error_rate": health.error_rate(now),
                "p50_ms": health.p50_ms(),
                "in_flight": health.in_flight,
            }
            if state != "ok":
                entry["reason"] = health.breaker.reason or health.last_error
            if keys:
                entry["keys"] = health.keys.describe(keys, now)
            out.append(entry)
        return out

"""A circuit breaker for one provider or one key: ok → cooling → half-open → ok.

Repeated failures (``COOLDOWN.failures`` within ``window_s``), or a 429 that names a wait, cool
it down so requests skip it without calling it. When the cooldown ends a single request is let
through as a probe; its success brings traffic back, its failure cools it again.
"""

from __future__ import annotations

from collections import deque
from typing import Literal

from ccr.config.resilience import CooldownPolicy

BreakerState = Literal["ok", "cooling", "half_open"]

#: A probe that never reports back (its request vanished) stops blocking others after this.
PROBE_LEASE_S = 60.0


class Breaker:
    """Times are the caller's clock (``time.monotonic()`` in the server), so tests drive it."""

    def __init__(self, policy: CooldownPolicy) -> None:
        self.policy = policy
        self.failures: deque[float] = deque()
        self.cooling_until: float | None = None
        self.probe_since: float | None = None
        #: Why it is cooling, for status: ``"3 failures in 60 s"``, ``"429 retry-after 30 s"``.
        self.reason: str | None = None

    def state(self, now: float) -> BreakerState:
        if self.cooling_until is None:
            return "ok"
        return "cooling" if now < self.cooling_until else "half_open"

    def cooldown_left(self, now: float) -> float:
        if self.cooling_until is None:
            return 0.0
        return max(0.0, self.cooling_until - now)

    def available(self, now: float) -> bool:
        """Whether :meth:`acquire` would let a request through now (without claiming a probe)."""
        state = self.state(now)
        if state == "ok":
            return True
        if state == "cooling":
            return False
        return self.probe_since is None or now - self.probe_since >= PROBE_LEASE_S

    def acquire(self, now: float) -> bool:
        """Let one request through? In half-open this claims the single probe."""
        if not self.available(now):
            return False
        if self.state(now) == "half_open":
            self.probe_since = now
        return True

    def release(self, now: float) -> None:
        """The request that held the probe ended without a verdict (e.g. the client left)."""
        self.probe_since = None

    def success(self, now: float) -> None:
        self.failures.clear()
        self.cooling_until = None
        self.probe_since = None
        self.reason = None

    def failure(self, now: float, *, cool_for_s: float | None = None, what: str = "") -> bool:
        """Record a failure; ``cool_for_s`` (a ``retry-after``) cools at once. True when this
        failure started (or extended) a cooldown."""
        policy = self.policy
        probing = self.state(now) == "half_open"
        self.probe_since = None
        self.failures.append(now)
        while self.failures and now - self.failures[0] > policy.window_s:
            self.failures.popleft()
        if cool_for_s is not None and cool_for_s > 0:
            self._cool(now, max(cool_for_s, 0.0), f"{what} retry-after {cool_for_s:g} s".strip())
            return True
        if probing:
            self._cool(now, policy.cooldown_s, f"probe failed ({what})" if what else
                       "probe failed")
            return True
        if len(self.failures) >= policy.failures:
            self._cool(now, policy.cooldown_s,
                       f"{len(self.failures)} failures in {policy.window_s:g} s"
                       + (f" (last: {what})" if what else ""))
            return True
        return False

    def cool(self, now: float, seconds: float, reason: str) -> None:
        """Cool down for ``seconds`` at once (a cooldown learnt elsewhere, e.g. another
        instance)."""
        self._cool(now, seconds, reason)

    def _cool(self, now: float, seconds: float, reason: str) -> None:
        until = now + seconds
        if self.cooling_until is None or self.cooling_until < until or self.cooling_until <= now:
            self.cooling_until = until
        self.failures.clear()
        self.reason = reason

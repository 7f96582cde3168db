"""Which target and key to try next for one request, and when to stop: the attempt loop's
decisions without its I/O.

The engine asks :meth:`AttemptPlan.next` for a :class:`Try` (sleep ``wait_s``, then call) or a
:class:`GiveUp` (answer the client with its error), and reports each call's result back with
:meth:`failed` or :meth:`succeeded`. Health (cooldowns, key pools) is updated on the way, so a
test drives every path with a fake clock and no network.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ccr.config.resilience import RetryPolicy
from ccr.engine.attempts import Attempt, RoutedError, final_error
from ccr.engine.backoff import Budget, retry_wait
from ccr.engine.failures import Failure, Verdict
from ccr.engine.health import Health
from ccr.engine.keys import KeyChoice


@dataclass(frozen=True)
class Target:
    """One ``provider,model`` route with the provider's key pool (``(None,)``: no key)."""

    route: str
    provider: str
    keys: tuple[str | None, ...] = (None,)

    @classmethod
    def of(cls, route: str, keys: Sequence[str] = ()) -> Target:
        return cls(route, route.split(",", 1)[0], tuple(keys) or (None,))


@dataclass(frozen=True)
class Try:
    target: Target
    key: KeyChoice
    #: Sleep this long before calling (a backoff or the server's ``retry-after``).
    wait_s: float
    #: 1 for the first call of the request, 2 for the next, ...
    number: int

    @property
    def key_label(self) -> str | None:
        """The masked key, named in logs only when the provider has a pool of several."""
        return self.key.label if len(self.target.keys) > 1 else None


@dataclass(frozen=True)
class GiveUp:
    error: RoutedError


class AttemptPlan:
    def __init__(self, targets: Sequence[Target], *, retry: RetryPolicy, health: Health,
                 long_context: Target | None = None, budget: Budget | None = None,
                 rng: Callable[[], float] = random.random) -> None:
        self.queue: list[Target] = []
        for target in targets:
            if all(t.route != target.route for t in self.queue):
                self.queue.append(target)
        self.first_route = self.queue[0].route if self.queue else None
        self.retry = retry
        self.health = health
        self.long_context = long_context
        self.budget = budget or Budget(retry.budget_ms / 1000, health.clock)
        self.rng = rng
        self.attempts: list[Attempt] = []
        self.answered_by: Target | None = None
        self._current: Target | None = None
        self._retries = 0
        self._wait = 0.0
        self._excluded: set[int] = set()
        self._tried: set[str] = set()
        self._calls = 0
        self._final: RoutedError | None = None

    # -- what the engine reads -------------------------------------------------------------

    @property
    def calls(self) -> int:
        """Upstream calls made so far (``x-ccr-attempts``)."""
        return self._calls

    @property
    def fell_back(self) -> bool:
        return self.answered_by is not None and self.answered_by.route != self.first_route

    def is_last_target(self, target: Target) -> bool:
        """Whether nothing but ``target`` (its retries and other keys) can follow: no
        fallback left in the list and no long-context route to move to."""
        others = [t for t in self.queue if t.route != target.route and t.route not in self._tried]
        longer = self.long_context
        return not others and (longer is None or longer.route == target.route
                               or longer.route in self._tried)

    def insert_next(self, target: Target) -> None:
        """Try ``target`` before the rest of the list (a router script's ``on_error`` choice)."""
        self.queue = [target, *[t for t in self.queue if t.route != target.route]]
        self._tried.discard(target.route)
        self._current = None

    # -- the loop ----------------------------------------------------------------------------

    def next(self) -> Try | GiveUp:
        if self._final is not None:
            return GiveUp(self._final)
        while True:
            if self._current is None:
                while self.queue and self.queue[0].route in self._tried:
                    self.queue.pop(0)
                if not self.queue:
                    return self._give_up()
                self._current = self.queue.pop(0)
                self._tried.add(self._current.route)
                self._retries, self._wait, self._excluded = 0, 0.0, set()
            target, wait = self._current, self._wait
            if not self.budget.allows(wait):
                return self._give_up(budget_spent=True)
            at = self.health.clock() + wait
            health = self.health.provider(target.provider)
            if not health.breaker.acquire(at):
                left = health.breaker.cooldown_left(at) + wait
                self._skip(target, f"cooling, {left:.0f} s left", cooling_s=left)
                continue
            choice = health.keys.pick(target.keys, at, frozenset(self._excluded))
            if choice is None:
                health.breaker.release(at)
                self._skip_keys(target, at, wait)
                continue
            self._calls += 1
            return Try(target, choice, wait, self._calls)

    def failed(self, attempt: Try, failure: Failure) -> None:
        target, key = attempt.target, attempt.key
        self.attempts.append(Attempt(target.route, attempt.key_label, failure,
                                     waited_s=attempt.wait_s))
        verdict = failure.verdict
        what = failure.describe()
        if verdict is Verdict.TRANSIENT:
            if failure.status == 429:
                self.health.failed_key(target.provider, key.key, what,
                                       cool_for_s=failure.retry_after_s)
            else:
                self.health.failed_provider(target.provider, what, key=key.key,
                                            cool_for_s=failure.retry_after_s
                                            if failure.status in (503, 529) else None)
            self._after_transient(attempt, failure)
        elif verdict is Verdict.BAD_KEY:
            self.health.refused_key(target.provider, key.key, failure.status or 401)
            self._excluded.add(key.position)
            self._wait = 0.0
        elif verdict is Verdict.CONTEXT_TOO_LONG:
            self.health.answered(target.provider, key.key)
            longer = self.long_context
            if longer is not None and longer.route not in self._tried:
                self.insert_next(longer)
            else:
                self._final = final_error(self.attempts)
        else:
            self.health.answered(target.provider, key.key)
            self._final = final_error(self.attempts, fatal=failure)

    def succeeded(self, attempt: Try, latency_s: float) -> None:
        self.health.succeeded(attempt.target.provider, attempt.key.key, latency_s)
        self.attempts.append(Attempt(attempt.target.route, attempt.key_label,
                                     waited_s=attempt.wait_s))
        self.answered_by = attempt.target

    def abandoned(self, attempt: Try) -> None:
        """The call ended with no verdict (the client went away)."""
        self.health.abandoned(attempt.target.provider, attempt.key.key)

    # -- helpers -----------------------------------------------------------------------------

    def _after_transient(self, attempt: Try, failure: Failure) -> None:
        target = attempt.target
        others = [p for p in range(len(target.keys))
                  if p != attempt.key.position and p not in self._excluded]
        now = self.health.clock()
        pool = self.health.provider(target.provider).keys
        if failure.status == 429 and any(pool.usable(target.keys[p], now) for p in others):
            self._excluded.add(attempt.key.position)  # a throttled key: the next key, now
            self._wait = 0.0
            return
        self._retries += 1
        wait = retry_wait(self._retries, failure.retry_after_s, self.retry, self.rng)
        if wait is None:
            self._current = None
            return
        self._excluded = set()
        self._wait = wait

    def _skip(self, target: Target, why: str, *, cooling_s: float | None = None,
              down: bool = False) -> None:
        self.attempts.append(Attempt(target.route, skipped=why, cooling_s=cooling_s, down=down))
        self._current = None

    def _skip_keys(self, target: Target, at: float, wait: float) -> None:
        pool = self.health.provider(target.provider).keys
        live = [k for k in target.keys if pool.state(k).revoked is None]
        if self.attempts and self.attempts[-1].route == target.route and \
                self.attempts[-1].called:
            self._current = None  # its own failures above already say why
            return
        if not live:
            noun = "its key was" if len(target.keys) == 1 else "every key was"
            self._skip(target, f"{noun} refused", down=True)
            return
        left = pool.cooldown_left(target.keys, at)
        if left > 0:
            self._skip(target, f"every key cooling, {left + wait:.0f} s left",
                       cooling_s=left + wait)
        else:
            self._skip(target, "every key throttled", cooling_s=None)

    def _give_up(self, *, budget_spent: bool = False) -> GiveUp:
        if budget_spent and self._current is not None:
            self.attempts.append(Attempt(self._current.route, skipped="time budget spent"))
        self._final = final_error(self.attempts, budget_spent=budget_spent)
        return GiveUp(self._final)

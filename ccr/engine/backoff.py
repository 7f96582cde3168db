"""How long to wait before retrying the same target, and the time budget of one request.

Exponential backoff with jitter spreads the retries of many clients; a server's own
``retry-after`` wins when it is short enough, and a longer one means "try elsewhere now".
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable

from ccr.config.resilience import RetryPolicy

Clock = Callable[[], float]


def backoff_s(retry: int, policy: RetryPolicy, rng: Callable[[], float] = random.random) -> float:
    """The wait before retry number ``retry`` (1 for the first): ``backoff_ms · 2^(retry-1)``,
    jittered to between half and all of it, and never above ``max_retry_wait_ms``."""
    base = policy.backoff_ms / 1000 * (2 ** max(0, retry - 1))
    jittered = base / 2 + rng() * base / 2
    return min(jittered, policy.max_retry_wait_ms / 1000)


def retry_wait(retry: int, retry_after_s: float | None, policy: RetryPolicy,
               rng: Callable[[], float] = random.random) -> float | None:
    """The wait before retrying the same target, or None when it should not be retried: retries
    used up, or the server asked for a wait longer than ``max_retry_wait_ms``."""
    if retry > policy.max_retries:
        return None
    if retry_after_s is not None:
        if retry_after_s > policy.max_retry_wait_ms / 1000:
            return None
        return retry_after_s
    return backoff_s(retry, policy, rng)


class Budget:
    """One request's time for all its attempts together (``RETRY.budget_ms``)."""

    def __init__(self, budget_s: float, clock: Clock = time.monotonic) -> None:
        self.clock = clock
        self.started = clock()
        self.budget_s = budget_s

    @property
    def elapsed_s(self) -> float:
        return self.clock() - self.started

    @property
    def remaining_s(self) -> float:
        return max(0.0, self.budget_s - self.elapsed_s)

    @property
    def spent(self) -> bool:
        return self.remaining_s <= 0

    def allows(self, wait_s: float) -> bool:
        """Whether an attempt that starts after ``wait_s`` still starts within the budget."""
        return wait_s < self.remaining_s

"""The attempt log of one request and the error the client gets when every attempt failed.

The message names what was tried and why each failed, e.g.
``deepseek,deepseek-chat: 429 (retry-after 30 s) → openrouter,x: connection refused``, then
what to do. Transient failures answer 429/529 with ``retry-after`` when it is known; permanent
ones carry ``x-should-retry: false`` so Claude Code prints them at once instead of retrying for
minutes.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from ccr.engine.failures import Failure, Verdict
from ccr.errors import ApiError, error_type_for_status

ARROW = " → "


@dataclass
class Attempt:
    """One target tried (``failure`` None when it answered) or skipped without a call."""

    route: str
    #: The key used, masked (``#2 …abcd``), when the provider has more than one.
    key: str | None = None
    failure: Failure | None = None
    #: Why the target was not called (``cooling, 12 s left``); no upstream call was made.
    skipped: str | None = None
    #: Seconds the target's cooldown has left, when it was skipped for cooling.
    cooling_s: float | None = None
    #: True when the target was skipped because all of its keys were refused.
    down: bool = False
    waited_s: float = 0.0

    @property
    def called(self) -> bool:
        return self.skipped is None

    def describe(self) -> str:
        where = self.route + (f" key {self.key}" if self.key else "")
        if self.skipped is not None:
            return f"{where}: skipped, {self.skipped}"
        if self.failure is None:
            return f"{where}: ok"
        return f"{where}: {self.failure.describe()}"


def describe_attempts(attempts: Sequence[Attempt]) -> str:
    """The whole log on one line, for the request log and error messages."""
    return ARROW.join(a.describe() for a in attempts)


class RoutedError(ApiError):
    """The final failure of a request, with the headers that tell a client whether to retry."""

    def __init__(self, message: str, status: int, error_type: str, *,
                 retry_after_s: float | None = None, should_retry: bool = True) -> None:
        super().__init__(message, status, error_type)
        self.retry_after_s = retry_after_s
        self.should_retry = should_retry
        self.headers["x-should-retry"] = "true" if should_retry else "false"
        if retry_after_s is not None and should_retry:
            self.headers["retry-after"] = str(max(1, math.ceil(retry_after_s)))


@dataclass
class _Summary:
    transient: list[Attempt] = field(default_factory=list)
    cooling: list[Attempt] = field(default_factory=list)
    bad_keys: list[Attempt] = field(default_factory=list)
    unreachable: list[Attempt] = field(default_factory=list)
    too_long: list[Attempt] = field(default_factory=list)
    down: list[Attempt] = field(default_factory=list)


def _summarise(attempts: Sequence[Attempt]) -> _Summary:
    s = _Summary()
    for a in attempts:
        if a.skipped is not None:
            (s.down if a.down else s.cooling).append(a)
            continue
        failure = a.failure
        if failure is None:
            continue
        verdict = failure.verdict
        if verdict is Verdict.BAD_KEY:
            s.bad_keys.append(a)
        elif verdict is Verdict.CONTEXT_TOO_LONG:
            s.too_long.append(a)
        elif failure.kind == "connect":
            s.unreachable.append(a)
        elif verdict is Verdict.TRANSIENT:
            s.transient.append(a)
    return s


def _transient_status(failure: Failure | None) -> int:
    """The status for a transient end: the last failure's, as a client should see it."""
    if failure is None:
        return 429  # nothing was called: every route is cooling down
    if failure.kind == "http" and failure.status is not None:
        if failure.status in (429, 529):
            return failure.status
        return failure.status if failure.status in (500, 502, 503, 504) else 502
    return 504 if failure.kind in ("timeout", "connect_timeout") else 502


def final_error(attempts: Sequence[Attempt], *, fatal: Failure | None = None,
                budget_spent: bool = False) -> RoutedError:
    """The error for a request whose every attempt failed (or whose request was refused)."""
    log = describe_attempts(attempts)
    if fatal is not None:
        status = fatal.status or 400
        message = fatal.message or f"the provider refused the request with {status}"
        if len([a for a in attempts if a.called]) > 1:
            message += f" (tried: {log})"
        return RoutedError(message, status, error_type_for_status(status), should_retry=False)
    s = _summarise(attempts)
    tried = f"ccr tried {log}."
    last = next((a.failure for a in reversed(attempts) if a.failure is not None), None)
    if last is not None and last.message:
        tried += f" Last error: {last.message.rstrip('.')}."
    if s.transient or s.cooling:
        waits = [a.failure.retry_after_s for a in s.transient
                 if a.failure is not None and a.failure.retry_after_s is not None]
        waits += [a.cooling_s for a in s.cooling if a.cooling_s is not None]
        retry_after = min(waits) if waits else None
        status = _transient_status(s.transient[-1].failure if s.transient else None)
        hint = " Every route is throttled, failing or cooling down"
        hint += f"; ccr can try again in {math.ceil(retry_after)} s." if retry_after else "."
        if budget_spent:
            hint += " The retry budget (RETRY.budget_ms) ran out."
        hint += ' Add routes to "fallback", or more keys to a provider\'s "api_key" list.'
        return RoutedError(tried + hint, status, error_type_for_status(status),
                           retry_after_s=retry_after)
    hints: list[str] = []
    if s.bad_keys or s.down:
        providers = sorted({a.route.split(",", 1)[0] for a in [*s.bad_keys, *s.down]})
        hints.append(f"Check the api_key of {', '.join(providers)}: the provider refused it "
                     "(a mistyped key, or an unset or wrong environment variable).")
    if s.unreachable:
        providers = sorted({a.route.split(",", 1)[0] for a in s.unreachable})
        hints.append(f"Nothing answers at the api_base_url of {', '.join(providers)}: "
                     "start it, or fix the URL.")
    if s.too_long:
        hints.append("The conversation is too long for the models tried: set Router.longContext "
                     "to a model with a larger context window, or run /compact.")
    if len({a.route for a in attempts}) <= 1 and not s.down:
        hints.append('Add a "fallback" list to try another provider when this one fails.')
    message = tried + (" " + " ".join(hints) if hints else "")
    status = 400 if s.too_long and not (s.bad_keys or s.unreachable or s.down) else 502
    return RoutedError(message, status, error_type_for_status(status), should_retry=False)

"""Deciding with budgets (parsed in :mod:`ccr.config.budgets`): which used-up budget, if any,
decides a request, and the spend counters it reads.

Checking is a pure function of the budgets, who is asking and what was spent, so the engine
(or a dry run) can call it with numbers from any state store.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from ccr.config.budgets import (
    PERIODS,
    SCOPES,
    Budget,
    Period,
    Scope,
    budget_problems,
    parse_budgets,
)
from ccr.errors import ApiError


@dataclass(frozen=True)
class Who:
    """Whose spending a request counts towards."""

    client: str | None = None
    project: str | None = None
    session: str | None = None


@dataclass(frozen=True)
class Verdict:
    """A budget that is used up, and what it says to do."""

    budget: Budget
    spent: float
    resets_at: datetime

    @property
    def route(self) -> str | None:
        return self.budget.route

    def error(self) -> BudgetExceeded:
        return BudgetExceeded(self)


class BudgetExceeded(ApiError):
    """Anthropic-shaped 429 naming the budget and when it resets (retrying sooner is useless)."""

    def __init__(self, verdict: Verdict) -> None:
        b = verdict.budget
        whose = {"router": "the whole router",
                 "client": f"client {verdict_target(verdict)!r}",
                 "project": f"project {verdict_target(verdict)!r}"}[b.scope]
        reset = verdict.resets_at.strftime("%Y-%m-%dT%H:%M:%SZ")
        super().__init__(
            f"budget {b.name!r} ({whose}, ${b.usd:.2f} per {b.period}) is used up: "
            f"${verdict.spent:.2f} spent; it resets at {reset}", 429, "rate_limit_error")
        self.verdict = verdict
        self.retry_after_s = max(0, int((verdict.resets_at - datetime.now(UTC)).total_seconds()))


def verdict_target(verdict: Verdict) -> str:
    return verdict.budget.target or "?"


# -- periods and counters ------------------------------------------------------------------------

def period_id(period: Period, now: datetime) -> str:
    return now.strftime("d%Y-%m-%d") if period == "day" else now.strftime("m%Y-%m")


def resets_at(period: Period, now: datetime) -> datetime:
    """The start of the next period (UTC midnight, or the first of next month)."""
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "day":
        return start + timedelta(days=1)
    days = calendar.monthrange(start.year, start.month)[1]
    return start.replace(day=1) + timedelta(days=days)


def spend_key(scope: Scope | Literal["session"], target: str | None, period: Period | None,
              now: datetime) -> str:
    """The state-store counter of spending for one scope, target and period."""
    suffix = period_id(period, now) if period else "all"
    return f"spend:{scope}:{target or '*'}:{suffix}"


def _target(budget: Budget, who: Who) -> str | Literal[False] | None:
    """Which target's counter a budget reads for ``who``; False when it does not apply."""
    if budget.scope == "router":
        return None
    actual = who.client if budget.scope == "client" else who.project
    if actual is None:
        return False
    if budget.target is not None and budget.target != actual:
        return False
    return actual


def budget_keys(budgets: Sequence[Budget], who: Who, now: datetime) -> list[str]:
    """The counters :func:`check_budgets` needs for ``who`` (read them in one round trip)."""
    keys: list[str] = []
    for budget in budgets:
        target = _target(budget, who)
        if target is not False:
            keys.append(spend_key(budget.scope, target, budget.period, now))
    return keys


def check_budgets(budgets: Sequence[Budget], who: Who, spent: Mapping[str, float],
                  now: datetime) -> Verdict | None:
    """The budget that decides this request, or None when none is used up.

    A used-up budget that refuses wins over one that reroutes; otherwise the first used-up
    budget in config order decides. ``spent`` maps :func:`spend_key` counters to USD.
    """
    reroute: Verdict | None = None
    for budget in budgets:
        target = _target(budget, who)
        if target is False:
            continue
        used = spent.get(spend_key(budget.scope, target, budget.period, now), 0.0)
        if used < budget.usd:
            continue
        named = budget if budget.target is not None or target is None else Budget(
            budget.name, budget.scope, budget.period, budget.usd, target, budget.route)
        verdict = Verdict(named, used, resets_at(budget.period, now))
        if budget.refuses:
            return verdict
        if reroute is None:
            reroute = verdict
    return reroute


__all__ = ["PERIODS", "SCOPES", "Budget", "BudgetExceeded", "Period", "Scope", "Verdict", "Who",
           "budget_keys", "budget_problems", "check_budgets", "parse_budgets", "period_id",
           "resets_at", "spend_key"]

"""Budgets: a spending limit per client, project or the whole router, per day or month (UTC),
and what to do once it is reached: route to a cheaper ``provider,model``, or refuse.

Checking is a pure function of the budgets, who is asking and what was spent, so the engine
(or a dry run) can call it with numbers from any state store. Config::

    "BUDGETS": [
      {"name": "team", "scope": "router", "period": "month", "usd": 500, "action": "refuse"},
      {"name": "alice-daily", "scope": "client", "client": "alice", "period": "day",
       "usd": 20, "action": {"route": "deepseek,deepseek-chat"}},
      {"name": "per-project", "scope": "project", "period": "day", "usd": 10,
       "action": "refuse"}
    ]

A client or project budget without a name applies to each client (project) on its own. A
client key's own ``"budget": {"period": "day", "usd": 20, "action": ...}`` is the same as a
client budget naming it.
"""

from __future__ import annotations

import calendar
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, cast

from ccr.errors import ApiError

Scope = Literal["client", "project", "router"]
Period = Literal["day", "month"]
SCOPES: tuple[Scope, ...] = ("client", "project", "router")
PERIODS: tuple[Period, ...] = ("day", "month")


@dataclass(frozen=True)
class Budget:
    name: str
    scope: Scope
    period: Period
    usd: float
    #: The client (project) it is for; None means each client (project) separately.
    target: str | None = None
    #: A cheaper ``provider,model`` to route to once reached; None means refuse.
    route: str | None = None

    @property
    def refuses(self) -> bool:
        return self.route is None


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


# -- config ----------------------------------------------------------------------------------

def parse_budgets(raw: Mapping[str, Any]) -> tuple[list[Budget], list[tuple[str, str]]]:
    """``BUDGETS`` and each ``APIKEYS[i].budget``, with every problem found."""
    budgets: list[Budget] = []
    problems: list[tuple[str, str]] = []
    section = raw.get("BUDGETS")
    if section is not None and not isinstance(section, list):
        problems.append(("BUDGETS", "expected a list of budgets like "
                         '{"scope": "client", "period": "day", "usd": 20, "action": "refuse"}'))
    elif isinstance(section, list):
        for i, entry in enumerate(section):
            budget = _budget(entry, f"BUDGETS[{i}]", problems, None)
            if budget is not None:
                budgets.append(budget)
    keys = raw.get("APIKEYS")
    if isinstance(keys, list):
        for i, entry in enumerate(keys):
            if isinstance(entry, Mapping) and entry.get("budget") is not None:
                name = entry.get("name")
                budget = _budget(entry["budget"], f"APIKEYS[{i}].budget", problems,
                                 name if isinstance(name, str) else None)
                if budget is not None:
                    budgets.append(budget)
    return budgets, problems


def _budget(entry: Any, path: str, problems: list[tuple[str, str]],
            client: str | None) -> Budget | None:
    if not isinstance(entry, Mapping):
        problems.append((path, 'expected an object like {"period": "day", "usd": 20, '
                         '"action": "refuse"}'))
        return None
    before = len(problems)
    scope = "client" if client is not None else entry.get("scope", "router")
    if scope not in SCOPES:
        problems.append((f"{path}.scope", f"expected one of {', '.join(SCOPES)}"))
    period = entry.get("period", "day")
    if period not in PERIODS:
        problems.append((f"{path}.period", 'expected "day" or "month" (UTC)'))
    usd = entry.get("usd")
    if isinstance(usd, bool) or not isinstance(usd, int | float) or usd < 0:
        problems.append((f"{path}.usd", "expected the limit in USD (a number, 0 or more)"))
    target = client if client is not None else entry.get(scope) if scope != "router" else None
    if target is not None and (not isinstance(target, str) or not target.strip()):
        problems.append((f"{path}.{scope}", f"expected the {scope}'s name"))
    action = entry.get("action", "refuse")
    route: str | None = None
    if isinstance(action, Mapping) and isinstance(action.get("route"), str) and "," in str(
            action["route"]):
        route = str(action["route"]).strip()
    elif action != "refuse":
        problems.append((f"{path}.action", 'expected "refuse" or {"route": "provider,model"} '
                         "(a cheaper route to use once the budget is reached)"))
    if len(problems) > before:
        return None
    name = entry.get("name")
    if not isinstance(name, str) or not name.strip():
        name = f"{target or scope} {period}ly" if period == "month" else f"{target or scope} daily"
    assert isinstance(usd, int | float)
    return Budget(name=name.strip(), scope=cast(Scope, scope), period=period, usd=float(usd),
                  target=target.strip() if isinstance(target, str) else None, route=route)


def budget_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    return parse_budgets(raw)[1]

"""``BUDGETS`` (and each client key's ``budget``): spending limits per client, project or the
whole router, per day or month (UTC), and what to do once one is reached. Parsed and checked
here; :mod:`ccr.ledger.budgets` decides with them.

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, cast

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

"""Running spend in the state store: what budgets, router scripts (``req.spend``) and the
status line read, shared by every instance that shares the store.

Each priced request adds its cost to counters per session, and per day and month for the
router, its client and its project; counters expire after their period.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from ccr.ledger.budgets import Budget, Period, Verdict, Who, budget_keys, check_budgets, spend_key
from ccr.state.base import StateStore

_TTL_S: dict[Period, float] = {"day": 2 * 86_400, "month": 32 * 86_400}
SESSION_TTL_S = 7 * 86_400


@dataclass(frozen=True)
class Spend:
    """USD spent: this session, and today (UTC) for its project, its client and the router."""

    session: float = 0.0
    project_today: float = 0.0
    client_today: float = 0.0
    router_today: float = 0.0

    def as_dict(self) -> dict[str, float]:
        return {"session": round(self.session, 6), "project_today": round(self.project_today, 6),
                "client_today": round(self.client_today, 6),
                "router_today": round(self.router_today, 6)}


class SpendTracker:
    def __init__(self, store: StateStore, budgets: Sequence[Budget] = ()) -> None:
        self.store = store
        self.budgets = tuple(budgets)

    async def record(self, who: Who, cost: float | None, now: datetime | None = None) -> None:
        """Count one request's cost (nothing to count without a price)."""
        if not cost:
            return
        when = now or datetime.now(UTC)
        items: list[tuple[str, float, float | None]] = []
        if who.session:
            items.append((spend_key("session", who.session, None, when), cost, SESSION_TTL_S))
        for period in ("day", "month"):
            ttl = _TTL_S[period]
            items.append((spend_key("router", None, period, when), cost, ttl))
            if who.client:
                items.append((spend_key("client", who.client, period, when), cost, ttl))
            if who.project:
                items.append((spend_key("project", who.project, period, when), cost, ttl))
        await self.store.add_many(items)

    async def spend(self, who: Who, now: datetime | None = None) -> Spend:
        return (await self.read(who, now))[0]

    async def read(self, who: Who, now: datetime | None = None) -> tuple[Spend, Verdict | None]:
        """The spend ``req.spend`` shows and the deciding budget, in one read of the store."""
        when = now or datetime.now(UTC)
        keys = [
            spend_key("session", who.session, None, when) if who.session else "",
            spend_key("project", who.project, "day", when) if who.project else "",
            spend_key("client", who.client, "day", when) if who.client else "",
            spend_key("router", None, "day", when),
        ]
        wanted = list(dict.fromkeys([k for k in keys if k]
                                    + budget_keys(self.budgets, who, when)))
        found = dict(zip(wanted, await self.store.numbers(wanted), strict=True))
        spend = Spend(*(found.get(k, 0.0) if k else 0.0 for k in keys))
        verdict = check_budgets(self.budgets, who, found, when) if self.budgets else None
        return spend, verdict

    async def check(self, who: Who, now: datetime | None = None) -> Verdict | None:
        """The used-up budget that decides this request, or None (one read of the store)."""
        if not self.budgets:
            return None
        when = now or datetime.now(UTC)
        keys = budget_keys(self.budgets, who, when)
        spent = dict(zip(keys, await self.store.numbers(keys), strict=True))
        return check_budgets(self.budgets, who, spent, when)

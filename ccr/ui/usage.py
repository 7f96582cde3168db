"""Tokens and cost by route, provider, project and day, for the console's Usage page.

The usage ledger (``LEDGER``, on by default) is the source; with it off or unreadable the
request log is (it holds each request's route and token counts, but no project, and it
rotates). The answer says which source it used, so the page can say so.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from ccr.ui.requestlog import all_rows

_TOKEN_FIELDS = ("input", "output", "cache_read")


def price_for(prices: Mapping[str, Any] | None, route: str) -> Mapping[str, Any] | None:
    """A route's price (USD per million tokens), by ``provider,model`` or by model name, as
    ``StatusLine.prices`` is read by ``ccr statusline``."""
    if not isinstance(prices, Mapping) or not route:
        return None
    by_key = {str(k).strip().lower(): v for k, v in prices.items()}
    for key in (route.lower(), route.partition(",")[2].lower()):
        value = by_key.get(key)
        if isinstance(value, Mapping):
            return value
    return None


def _rate(price: Mapping[str, Any], name: str, default: float | None = None) -> float | None:
    value = price.get(name)
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return default


def cost_of(row: Mapping[str, Any], prices: Mapping[str, Any] | None) -> float | None:
    price = price_for(prices, str(row.get("route") or ""))
    if price is None:
        return None
    rate_in = _rate(price, "input")
    rate_out = _rate(price, "output")
    if rate_in is None or rate_out is None:
        return None
    rate_read = _rate(price, "cache_read", rate_in)
    total = (_int(row.get("input")) * rate_in + _int(row.get("output")) * rate_out
             + _int(row.get("cache_read")) * (rate_read or 0.0))
    return total / 1_000_000


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def summarize(rows: Iterable[Mapping[str, Any]], prices: Mapping[str, Any] | None,
              ) -> dict[str, Any]:
    """Totals per route, provider, project and day (requests, tokens, cost where priced)."""
    groups: dict[str, dict[str, dict[str, Any]]] = {
        "route": {}, "provider": {}, "project": {}, "day": {},
    }
    totals = _empty()
    for row in rows:
        route = str(row.get("route") or "")
        if not route:
            continue
        keys = {
            "route": route,
            "provider": route.partition(",")[0],
            "project": str(row.get("project") or ""),
            "day": str(row.get("day") or ""),
        }
        cost = cost_of(row, prices)
        for group, key in keys.items():
            if key:
                _add(groups[group].setdefault(key, _empty()), row, cost)
        _add(totals, row, cost)
    return {
        "totals": totals,
        **{group: [{"key": key, **values} for key, values in sorted(
            table.items(), key=lambda item: item[0] if group == "day" else -item[1]["tokens"])]
           for group, table in groups.items()},
    }


def _empty() -> dict[str, Any]:
    return {"requests": 0, "input": 0, "output": 0, "cache_read": 0, "tokens": 0, "cost": None}


def _add(target: dict[str, Any], row: Mapping[str, Any], cost: float | None) -> None:
    target["requests"] += 1
    for name in _TOKEN_FIELDS:
        target[name] += _int(row.get(name))
    target["tokens"] = target["input"] + target["output"] + target["cache_read"]
    if cost is not None:
        target["cost"] = round((target["cost"] or 0.0) + cost, 6)


#: The groups the Usage page shows, as the ledger names them.
GROUPS = ("route", "provider", "project", "day")


def ledger_store(app_ctx: Any) -> Any:
    """The server's usage ledger store, when it has one that can sum usage (read defensively:
    the ledger is optional and lives with the team gateway)."""
    writer = getattr(getattr(app_ctx, "gateway", None), "ledger", None)
    store = getattr(writer, "store", None)
    return store if callable(getattr(store, "totals", None)) else None


def _from_total(total: Any) -> dict[str, Any]:
    values = total.as_dict() if callable(getattr(total, "as_dict", None)) else dict(total)
    tokens = {name: int(values.get(field) or 0) for name, field in (
        ("input", "input_tokens"), ("output", "output_tokens"),
        ("cache_read", "cache_read_tokens"))}
    return {"key": values.get("key"), "requests": int(values.get("requests") or 0), **tokens,
            "tokens": sum(tokens.values()), "cost": values.get("cost_usd")}


async def from_ledger(store: Any) -> dict[str, Any]:
    """Totals straight from the ledger's own grouping."""
    [total] = await store.totals()
    groups = {}
    for group in GROUPS:
        groups[group] = [_from_total(t) for t in await store.totals(by=group)
                         if t.key not in (None, "")]
    totals = _from_total(total)
    totals.pop("key")
    return {"source": "ledger", "note": None, "priced": True, "totals": totals, **groups}


async def usage(app_ctx: Any, state: Any, log_path: Path) -> dict[str, Any]:
    store = ledger_store(app_ctx)
    note = "No usage ledger (LEDGER is off): "
    if store is not None:
        try:
            return await from_ledger(store)
        except Exception as exc:  # a ledger that is down must not break the page
            note = f"The usage ledger cannot be read now ({type(exc).__name__}): "
    section = state.config.status_line
    prices = section.get("prices") if isinstance(section, Mapping) else None
    rows = await asyncio.to_thread(lambda: list(all_rows(log_path)))
    return {
        "source": "log",
        "note": (note + "these numbers come from the request log ("
                 f"{log_path}), which holds no project and rotates at 10 MB, so older requests "
                 "are not counted."),
        "priced": bool(prices),
        **summarize(rows, prices),
    }

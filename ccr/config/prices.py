"""Prices per ``provider,model``: one table for the ledger, the status line and estimates.

In the config (CCR ignores keys it does not know, so the file stays CCR-compatible)::

    "PRICES": {
        "deepseek,deepseek-chat": {"input": 0.27, "output": 1.10,
                                   "cache_read": 0.07, "cache_write": 0.27},
        "openrouter,*": {"input": 3, "output": 15}
    }

USD per million tokens. ``cache_read``/``cache_write`` default to ``input``. A key
``"provider,*"`` prices every model of a provider. The status line's older
``StatusLine.prices`` is read too, below ``PRICES``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_FIELDS = ("input", "output", "cache_read", "cache_write")


@dataclass(frozen=True)
class Price:
    input: float
    output: float
    cache_read: float
    cache_write: float

    def cost(self, input_tokens: int, output_tokens: int, cache_read_tokens: int = 0,
             cache_write_tokens: int = 0) -> float:
        """USD for these token counts (Anthropic's split: ``input`` excludes cache tokens)."""
        return (input_tokens * self.input + output_tokens * self.output
                + cache_read_tokens * self.cache_read
                + cache_write_tokens * self.cache_write) / 1_000_000


class PriceTable:
    """Lookup by route, case-insensitive on the provider, ``provider,*`` as a fallback."""

    def __init__(self, prices: Mapping[str, Price] | None = None) -> None:
        self._prices = {_norm(k): v for k, v in (prices or {}).items()}

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> PriceTable:
        merged: dict[str, Price] = {}
        status_line = raw.get("StatusLine")
        older = status_line.get("prices") if isinstance(status_line, Mapping) else None
        for section in (older, raw.get("PRICES")):
            if not isinstance(section, Mapping):
                continue
            for route, value in section.items():
                price = _price(value)
                if isinstance(route, str) and price is not None:
                    merged[route] = price
        return cls(merged)

    def __len__(self) -> int:
        return len(self._prices)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, PriceTable) and self._prices == other._prices

    def __hash__(self) -> int:
        return hash(frozenset(self._prices.items()))

    def price(self, route: str | None) -> Price | None:
        if not route:
            return None
        key = _norm(route)
        found = self._prices.get(key)
        if found is None:
            found = self._prices.get(key.partition(",")[0] + ",*")
        return found

    def cost(self, route: str | None, usage: Mapping[str, int]) -> float | None:
        """USD for a ledger row's token counts, or None without a price for ``route``."""
        price = self.price(route)
        if price is None:
            return None
        return price.cost(usage.get("input_tokens", 0), usage.get("output_tokens", 0),
                          usage.get("cache_read_tokens", 0), usage.get("cache_write_tokens", 0))


def _norm(route: str) -> str:
    provider, _, model = route.partition(",")
    return f"{provider.strip().lower()},{model.strip()}"


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if value >= 0 else None


def _price(value: Any) -> Price | None:
    if not isinstance(value, Mapping):
        return None
    rate_in, rate_out = _number(value.get("input")), _number(value.get("output"))
    if rate_in is None or rate_out is None:
        return None
    read = _number(value.get("cache_read"))
    write = _number(value.get("cache_write"))
    return Price(rate_in, rate_out, rate_in if read is None else read,
                 rate_in if write is None else write)


def prices_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Problems with ``PRICES``, as ``(key path, message)``."""
    section = raw.get("PRICES")
    if section is None:
        return []
    if not isinstance(section, Mapping):
        return [("PRICES", 'expected an object like {"deepseek,deepseek-chat": {"input": 0.27, '
                 '"output": 1.10}} (USD per million tokens)')]
    problems: list[tuple[str, str]] = []
    for route, value in section.items():
        path = f"PRICES[{route!r}]"
        provider, comma, model = str(route).partition(",")
        if not comma or not provider.strip() or not model.strip():
            problems.append((path, 'the key must be "provider,model" (or "provider,*")'))
            continue
        if not isinstance(value, Mapping):
            problems.append((path, 'expected {"input": ..., "output": ...} in USD per million '
                             "tokens"))
            continue
        for name in _FIELDS:
            given = value.get(name)
            if given is None and name in ("cache_read", "cache_write"):
                continue
            if _number(given) is None:
                problems.append((f"{path}.{name}", "expected a number of USD per million tokens "
                                 "(0 or more)"))
        unknown = sorted(set(value) - set(_FIELDS))
        if unknown:
            problems.append((path, f"unknown price field(s) {', '.join(map(str, unknown))}; "
                             f"use {', '.join(_FIELDS)}"))
    return problems

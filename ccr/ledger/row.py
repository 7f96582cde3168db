"""One ledger row per ``/v1/messages`` request: who, where it went, what it cost.

Only numbers and names: never a request body, a prompt or a key, so the ledger can be shared
with whoever allocates costs.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Any


@dataclass(frozen=True)
class UsageRow:
    time: float  #: when the request arrived, epoch seconds (UTC)
    client: str | None = None  #: the client key's name (None with a single APIKEY)
    session: str | None = None
    project: str | None = None
    rule: str | None = None  #: which rule (or "script") chose the route
    route: str | None = None  #: "provider,model" that answered (or was tried last)
    provider: str | None = None
    model: str | None = None
    fallback: bool = False  #: answered by a fallback target, not the first choice
    attempts: int = 1  #: upstream attempts, retries and fallbacks included
    input_tokens: int = 0  #: as the provider reported them (Anthropic's split)
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost_usd: float | None = None  #: None when no price is configured for the route
    status: int = 200
    latency_ms: float = 0.0  #: arrival to the last byte sent

    def values(self) -> tuple[Any, ...]:
        """The row in :data:`COLUMNS` order (every field is a flat value)."""
        return _values(self)  # type: ignore[no-any-return]


#: Column names in table order (the same for SQLite and Postgres).
COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(UsageRow))
_values = attrgetter(*COLUMNS)


def token_counts(usage: Mapping[str, Any] | None) -> dict[str, int]:
    """The four token numbers of an Anthropic ``usage`` object; odd values count as 0."""
    numbers = usage if isinstance(usage, Mapping) else {}
    return {
        "input_tokens": _count(numbers.get("input_tokens")),
        "output_tokens": _count(numbers.get("output_tokens")),
        "cache_read_tokens": _count(numbers.get("cache_read_input_tokens")),
        "cache_write_tokens": _count(numbers.get("cache_creation_input_tokens")),
    }


def _count(value: Any) -> int:
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float) and math.isfinite(value):
        return max(int(value), 0)
    return 0

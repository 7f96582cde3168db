"""The team-gateway settings (``STATE``, ``LEDGER``, ``PRICES``, ``BUDGETS``, ``APIKEYS``,
``ADMIN_KEY``, ``METRICS``), checked together so :mod:`ccr.config.validate` needs one hook."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccr.config.budgets import Budget, budget_problems, parse_budgets
from ccr.config.keys import KeySettings, key_problems, key_settings
from ccr.config.ledger import LedgerSettings, ledger_problems, ledger_settings
from ccr.config.prices import PriceTable, prices_problems
from ccr.config.state import StateSettings, state_problems, state_settings

#: How long a request may wait for a ``MAX_CONCURRENT_REQUESTS`` slot before a 429.
DEFAULT_QUEUE_TIMEOUT_MS = 30_000


@dataclass(frozen=True)
class GatewaySettings:
    """The gateway sections as typed values, parsed once when the config loads."""

    keys: KeySettings = field(default_factory=lambda: key_settings({}))
    budgets: tuple[Budget, ...] = ()
    prices: PriceTable = field(default_factory=PriceTable)
    queue_timeout_ms: float = DEFAULT_QUEUE_TIMEOUT_MS
    state: StateSettings = field(default_factory=lambda: state_settings({}))
    ledger: LedgerSettings = field(default_factory=lambda: ledger_settings({}))

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> GatewaySettings:
        """From a config whose gateway sections :func:`gateway_problems` found no fault in."""
        queue_ms = raw.get("QUEUE_TIMEOUT_MS")
        if not (isinstance(queue_ms, int | float) and not isinstance(queue_ms, bool)
                and queue_ms >= 0):
            queue_ms = DEFAULT_QUEUE_TIMEOUT_MS
        return cls(keys=key_settings(raw), budgets=tuple(parse_budgets(raw)[0]),
                   prices=PriceTable.from_config(raw), queue_timeout_ms=queue_ms,
                   state=state_settings(raw), ledger=ledger_settings(raw))


def gateway_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem in the gateway sections, as ``(key path, message)``."""
    return [*state_problems(raw), *ledger_problems(raw), *prices_problems(raw),
            *budget_problems(raw), *key_problems(raw)]

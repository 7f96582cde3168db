"""The team-gateway settings (``STATE``, ``LEDGER``, ``PRICES``, ``BUDGETS``, ``APIKEYS``,
``ADMIN_KEY``, ``METRICS``), checked together so :mod:`ccr.config.validate` needs one hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.config.budgets import budget_problems
from ccr.config.keys import key_problems
from ccr.config.ledger import ledger_problems
from ccr.config.prices import prices_problems
from ccr.config.state import state_problems


def gateway_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every problem in the gateway sections, as ``(key path, message)``."""
    return [*state_problems(raw), *ledger_problems(raw), *prices_problems(raw),
            *budget_problems(raw), *key_problems(raw)]

"""The usage ledger: one row per request, prices, budgets and running spend."""

from ccr.config.prices import Price, PriceTable
from ccr.ledger.budgets import Budget, BudgetExceeded, Verdict, Who, check_budgets, parse_budgets
from ccr.ledger.open import open_ledger, open_ledger_store
from ccr.ledger.row import COLUMNS, UsageRow, token_counts
from ccr.ledger.spend import Spend, SpendTracker
from ccr.ledger.store import GROUPS, LedgerStore, PostgresLedger, SqliteLedger, Total
from ccr.ledger.writer import LedgerHealth, LedgerWriter

__all__ = [
    "COLUMNS",
    "GROUPS",
    "Budget",
    "BudgetExceeded",
    "LedgerHealth",
    "LedgerStore",
    "LedgerWriter",
    "PostgresLedger",
    "Price",
    "PriceTable",
    "Spend",
    "SpendTracker",
    "SqliteLedger",
    "Total",
    "UsageRow",
    "Verdict",
    "Who",
    "check_budgets",
    "open_ledger",
    "open_ledger_store",
    "parse_budgets",
    "token_counts",
]

"""Build the configured ledger: SQLite under ``CCR_HOME`` unless ``LEDGER`` says otherwise."""

from __future__ import annotations

from pathlib import Path

from ccr.config.ledger import LedgerSettings
from ccr.ledger.store import LedgerStore, PostgresLedger, SqliteLedger
from ccr.ledger.writer import LedgerWriter


def open_ledger_store(settings: LedgerSettings, *, home: Path) -> LedgerStore | None:
    if settings.kind == "off":
        return None
    if settings.kind == "postgres":
        assert settings.url is not None
        return PostgresLedger(settings.url)
    return SqliteLedger(settings.sqlite_path(home))


def open_ledger(settings: LedgerSettings, *, home: Path) -> LedgerWriter | None:
    """The writer the server records rows through (``await writer.start()`` first)."""
    store = open_ledger_store(settings, home=home)
    return None if store is None else LedgerWriter(store, max_queue=settings.queue)

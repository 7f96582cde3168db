"""``LEDGER``: where usage rows go. SQLite under ``CCR_HOME`` by default; a team sharing one
ledger across instances writes to Postgres::

    "LEDGER": {"url": "postgresql://ccr:$PGPASSWORD@db:5432/ccr"}

``"url": "sqlite:///path/ledger.db"`` moves the file, ``"enabled": false`` turns it off, and
``"queue"`` bounds how many rows may wait in memory (default 10000) while the ledger is slow
or down.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ccr.config.redact import redact_text

LEDGER_FILE = "ledger.db"
DEFAULT_QUEUE = 10_000


@dataclass(frozen=True)
class LedgerSettings:
    kind: Literal["sqlite", "postgres", "off"] = "sqlite"
    #: The Postgres URL (secret: it may hold a password), or the SQLite URL as written.
    url: str | None = None
    queue: int = DEFAULT_QUEUE

    def sqlite_path(self, home: Path) -> Path:
        written = self.url.partition("://")[2] if self.url else ""
        if not written:
            return home / LEDGER_FILE
        path = Path(written).expanduser()
        return path if path.is_absolute() else home / path


def ledger_problems(raw: Mapping[str, Any]) -> list[tuple[str, str]]:
    return _parse(raw.get("LEDGER"))[1]


def ledger_settings(raw: Mapping[str, Any]) -> LedgerSettings:
    return _parse(raw.get("LEDGER"))[0]


def _parse(value: Any) -> tuple[LedgerSettings, list[tuple[str, str]]]:
    problems: list[tuple[str, str]] = []
    if value is None:
        return LedgerSettings(), problems
    if isinstance(value, str):
        value = {"url": value}
    if not isinstance(value, Mapping):
        problems.append(("LEDGER", 'expected an object like {"url": "postgresql://..."}'))
        return LedgerSettings(), problems
    enabled = value.get("enabled", True)
    if not isinstance(enabled, bool):
        problems.append(("LEDGER.enabled", "expected true or false"))
        enabled = True
    queue = value.get("queue", DEFAULT_QUEUE)
    if isinstance(queue, bool) or not isinstance(queue, int) or queue < 1:
        problems.append(("LEDGER.queue", "expected a positive number of rows (e.g. 10000)"))
        queue = DEFAULT_QUEUE
    url = value.get("url")
    kind: Literal["sqlite", "postgres", "off"] = "sqlite"
    if url is not None:
        if not isinstance(url, str) or not url.strip():
            problems.append(("LEDGER.url", "expected postgresql://... or sqlite:///path"))
            url = None
        else:
            url = url.strip()
            scheme = url.partition("://")[0].lower()
            if scheme in ("postgresql", "postgres"):
                kind = "postgres"
            elif scheme != "sqlite":
                problems.append(("LEDGER.url", f"{redact_text(url)[:80]!r} is not a ledger URL "
                                 "(postgresql://user:pass@host:5432/db or sqlite:///path)"))
                url = None
    return LedgerSettings(kind="off" if enabled is False else kind, url=url, queue=queue), problems

"""Where ledger rows go: a SQLite file under ``CCR_HOME`` (default) or a shared Postgres.

Both keep the same table (``ccr_usage``, time as epoch seconds) and answer the same grouped
totals, so ``ccr usage`` reads either the same way.
"""

from __future__ import annotations

import asyncio
import sqlite3
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccr.ledger.row import COLUMNS, UsageRow
from ccr.state.sqlite import open_wal

TABLE = "ccr_usage"
#: What ``ccr usage --by`` can group on.
GROUPS = ("route", "provider", "model", "project", "session", "client", "rule", "day")

_TYPES = {
    "time": "DOUBLE PRECISION NOT NULL", "client": "TEXT", "session": "TEXT", "project": "TEXT",
    "rule": "TEXT", "route": "TEXT", "provider": "TEXT", "model": "TEXT",
    "fallback": "BOOLEAN NOT NULL", "attempts": "INTEGER NOT NULL",
    "input_tokens": "BIGINT NOT NULL", "output_tokens": "BIGINT NOT NULL",
    "cache_read_tokens": "BIGINT NOT NULL", "cache_write_tokens": "BIGINT NOT NULL",
    "cost_usd": "DOUBLE PRECISION", "status": "INTEGER NOT NULL",
    "latency_ms": "DOUBLE PRECISION NOT NULL",
}
_CREATE = (f"CREATE TABLE IF NOT EXISTS {TABLE} ("
           + ", ".join(f"{c} {_TYPES[c]}" for c in COLUMNS) + ")")
_INDEX = f"CREATE INDEX IF NOT EXISTS {TABLE}_time ON {TABLE} (time)"

_SUMS = ("count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0), "
         "coalesce(sum(cache_read_tokens), 0), coalesce(sum(cache_write_tokens), 0), "
         "coalesce(sum(cost_usd), 0), coalesce(sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END), 0)")


@dataclass(frozen=True)
class Total:
    """Sums over a group of rows (``key`` is None for the grand total)."""

    key: str | None
    requests: int
    input_tokens: int
    output_tokens: int
    cache_read_tokens: int
    cache_write_tokens: int
    cost_usd: float
    errors: int

    def as_dict(self) -> dict[str, Any]:
        return {"key": self.key, "requests": self.requests, "input_tokens": self.input_tokens,
                "output_tokens": self.output_tokens,
                "cache_read_tokens": self.cache_read_tokens,
                "cache_write_tokens": self.cache_write_tokens,
                "cost_usd": round(self.cost_usd, 6), "errors": self.errors}


def _total(key: Any, row: Sequence[Any]) -> Total:
    return Total(None if key is None else str(key), int(row[0]), int(row[1]), int(row[2]),
                 int(row[3]), int(row[4]), float(row[5]), int(row[6]))


class LedgerStore(ABC):
    backend = "abstract"

    @abstractmethod
    async def open(self) -> None:
        """Connect and create the table if needed."""

    @abstractmethod
    async def write(self, rows: Sequence[UsageRow]) -> None:
        """Append rows in one transaction (all or none)."""

    @abstractmethod
    async def totals(self, *, since: float | None = None, by: str | None = None) -> list[Total]:
        """Sums since ``since`` (epoch seconds), grouped by one of :data:`GROUPS` (largest
        cost first; ``day`` in date order) or, with ``by=None``, one grand total."""

    @abstractmethod
    async def aclose(self) -> None: ...


class SqliteLedger(LedgerStore):
    backend = "sqlite"

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._db: sqlite3.Connection | None = None
        self._lock = asyncio.Lock()

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = open_wal(self.path, 5.0)
            db.execute(_CREATE)
            db.execute(_INDEX)
            self._db = db
        return self._db

    async def open(self) -> None:
        await asyncio.to_thread(self._connect)

    def _write(self, rows: Sequence[UsageRow]) -> None:
        db = self._connect()
        marks = ", ".join("?" * len(COLUMNS))
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(f"INSERT INTO {TABLE} ({', '.join(COLUMNS)}) VALUES ({marks})",
                           [r.values() for r in rows])
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    async def write(self, rows: Sequence[UsageRow]) -> None:
        async with self._lock:
            await asyncio.to_thread(self._write, rows)

    def _totals(self, since: float | None, by: str | None) -> list[Total]:
        db = self._connect()
        where, args = ("WHERE time >= ?", [since]) if since is not None else ("", [])
        if by is None:
            row = db.execute(f"SELECT {_SUMS} FROM {TABLE} {where}", args).fetchone()
            return [_total(None, row)]
        group = "strftime('%Y-%m-%d', time, 'unixepoch')" if by == "day" else _column(by)
        order = "g" if by == "day" else "6 DESC, 1 DESC"
        rows = db.execute(f"SELECT {_SUMS}, {group} AS g FROM {TABLE} {where} GROUP BY g "
                          f"ORDER BY {order}", args).fetchall()
        return [_total(r[7], r) for r in rows]

    async def totals(self, *, since: float | None = None, by: str | None = None) -> list[Total]:
        async with self._lock:
            return await asyncio.to_thread(self._totals, since, by)

    async def aclose(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


class PostgresLedger(LedgerStore):
    """A shared ledger for several instances (psycopg 3, async, rows sent with COPY)."""

    backend = "postgres"

    def __init__(self, url: str, *, connect_timeout_s: float = 3.0) -> None:
        self.url = url
        self._timeout = connect_timeout_s
        self._conn: Any = None
        self._lock = asyncio.Lock()

    async def _connection(self) -> Any:
        import psycopg

        if self._conn is None or self._conn.closed or self._conn.broken:
            conn = await psycopg.AsyncConnection.connect(
                self.url, connect_timeout=max(int(self._timeout), 1), autocommit=True)
            async with conn.cursor() as cur:
                await cur.execute(_CREATE)
                await cur.execute(_INDEX)
            self._conn = conn
        return self._conn

    async def open(self) -> None:
        async with self._lock:
            await self._connection()

    async def write(self, rows: Sequence[UsageRow]) -> None:
        async with self._lock:
            conn = await self._connection()
            async with conn.transaction(), conn.cursor() as cur, cur.copy(
                    f"COPY {TABLE} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in rows:
                    await copy.write_row(row.values())

    async def totals(self, *, since: float | None = None, by: str | None = None) -> list[Total]:
        async with self._lock:
            conn = await self._connection()
            where, args = ("WHERE time >= %s", [since]) if since is not None else ("", [])
            async with conn.cursor() as cur:
                if by is None:
                    await cur.execute(f"SELECT {_SUMS} FROM {TABLE} {where}", args)
                    return [_total(None, await cur.fetchone())]
                group = ("to_char(to_timestamp(time) AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
                         if by == "day" else _column(by))
                order = "g" if by == "day" else "6 DESC, 1 DESC"
                await cur.execute(f"SELECT {_SUMS}, {group} AS g FROM {TABLE} {where} "
                                  f"GROUP BY g ORDER BY {order}", args)
                return [_total(r[7], r) for r in await cur.fetchall()]

    async def aclose(self) -> None:
        if self._conn is not None:
            await self._conn.close()
            self._conn = None


def _column(by: str) -> str:
    if by not in GROUPS or by == "day":
        raise ValueError(f"cannot group by {by!r}; choose one of {', '.join(GROUPS)}")
    return by

"""The SQLite store: shared state for several worker processes on one machine.

One file on local disk in WAL mode (readers never wait for the writer; commits skip fsync with
``synchronous=NORMAL``), so each operation is one short statement or transaction: cheap enough
to run directly on the event loop. Increments are single UPSERT statements (atomic across
processes); taking a lease is one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

from ccr.state.base import Json, StateStore, now, window_start

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    value TEXT,
    num REAL,
    expires REAL
);
CREATE TABLE IF NOT EXISTS leases (
    key TEXT NOT NULL,
    token TEXT NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (key, token)
);
"""

#: Delete expired rows after this many writes from this process.
_SWEEP_EVERY = 2048

_ADD = """
INSERT INTO kv (key, num, expires) VALUES (?1, ?2, ?3)
ON CONFLICT (key) DO UPDATE SET
    num = CASE WHEN kv.expires IS NOT NULL AND kv.expires <= ?4 THEN excluded.num
               ELSE coalesce(kv.num, 0) + excluded.num END,
    expires = CASE WHEN kv.expires IS NOT NULL AND kv.expires <= ?4 THEN excluded.expires
                   ELSE kv.expires END
RETURNING num
"""


def open_wal(path: Path | str, timeout_s: float) -> sqlite3.Connection:
    """A connection to ``path`` in WAL mode, waiting up to ``timeout_s`` for other processes.

    Switching a new file to WAL needs a lock that SQLite does not wait for (its busy handler
    is not consulted), so processes starting together on one fresh file (``--workers N``)
    would see "database is locked"; the switch is retried until ``timeout_s`` instead.
    """
    deadline = time.monotonic() + timeout_s
    pause = 0.005
    while True:
        db = sqlite3.connect(path, isolation_level=None, check_same_thread=False,
                             timeout=timeout_s)
        try:
            db.execute(f"PRAGMA busy_timeout={int(timeout_s * 1000)}")
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            return db
        except sqlite3.OperationalError as exc:
            db.close()
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() + pause > deadline:
                raise
            time.sleep(pause)
            pause = min(pause * 2, 0.1)


class SqliteStore(StateStore):
    backend = "sqlite"

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = now,
                 busy_timeout_ms: int = 2000) -> None:
        self.path = Path(path)
        self._clock = clock
        self._busy_timeout_ms = busy_timeout_ms
        self._db: sqlite3.Connection | None = None
        self._writes = 0

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = open_wal(self.path, self._busy_timeout_ms / 1000)
            db.executescript(_SCHEMA)
            self._db = db
        return self._db

    async def start(self) -> None:
        self._conn()

    async def aclose(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes % _SWEEP_EVERY == 0:
            self.sweep()

    def sweep(self) -> None:
        t = self._clock()
        db = self._conn()
        db.execute("DELETE FROM kv WHERE expires IS NOT NULL AND expires <= ?", (t,))
        db.execute("DELETE FROM leases WHERE expires <= ?", (t,))

    def _add(self, key: str, amount: float, expires: float | None) -> float:
        row = self._conn().execute(_ADD, (key, amount, expires, self._clock())).fetchone()
        self._wrote()
        return float(row[0])

    async def hit(self, key: str, window_s: float, amount: int = 1) -> int:
        start = window_start(self._clock(), window_s)
        return int(self._add(f"{key}@{start}", amount, start / 1000 + window_s))

    async def acquire(self, key: str, limit: int, lease_s: float) -> str | None:
        db = self._conn()
        t = self._clock()
        token = secrets.token_hex(8)
        db.execute("BEGIN IMMEDIATE")
        try:
            db.execute("DELETE FROM leases WHERE key = ? AND expires <= ?", (key, t))
            (count,) = db.execute("SELECT count(*) FROM leases WHERE key = ?", (key,)).fetchone()
            if count >= limit:
                db.execute("COMMIT")
                return None
            db.execute("INSERT INTO leases (key, token, expires) VALUES (?, ?, ?)",
                       (key, token, t + lease_s))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return token

    async def release(self, key: str, token: str) -> None:
        self._conn().execute("DELETE FROM leases WHERE key = ? AND token = ?", (key, token))

    async def holders(self, key: str) -> int:
        (count,) = self._conn().execute(
            "SELECT count(*) FROM leases WHERE key = ? AND expires > ?", (key, self._clock())
        ).fetchone()
        return int(count)

    async def get(self, key: str) -> Json | None:
        row = self._conn().execute(
            "SELECT value, num FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (key, self._clock()),
        ).fetchone()
        if row is None:
            return None
        if row[0] is None:
            return row[1]
        return json.loads(row[0])

    async def set(self, key: str, value: Json, ttl_s: float | None = None) -> None:
        expires = self._clock() + ttl_s if ttl_s is not None else None
        self._conn().execute(
            "INSERT OR REPLACE INTO kv (key, value, num, expires) VALUES (?, ?, NULL, ?)",
            (key, json.dumps(value, separators=(",", ":")), expires),
        )
        self._wrote()

    async def delete(self, key: str) -> None:
        db = self._conn()
        db.execute("DELETE FROM kv WHERE key = ?", (key,))
        db.execute("DELETE FROM leases WHERE key = ?", (key,))

    async def add(self, key: str, amount: float, ttl_s: float | None = None) -> float:
        expires = self._clock() + ttl_s if ttl_s is not None else None
        return self._add(key, float(amount), expires)

    async def number(self, key: str) -> float:
        row = self._conn().execute(
            "SELECT num FROM kv WHERE key = ? AND (expires IS NULL OR expires > ?)",
            (key, self._clock()),
        ).fetchone()
        return float(row[0]) if row is not None and row[0] is not None else 0.0

    async def numbers(self, keys: list[str]) -> list[float]:
        if not keys:
            return []
        marks = ",".join("?" * len(keys))
        rows = self._conn().execute(
            f"SELECT key, num FROM kv WHERE key IN ({marks}) "
            "AND (expires IS NULL OR expires > ?)", (*keys, self._clock()),
        ).fetchall()
        found = {k: float(n) for k, n in rows if n is not None}
        return [found.get(k, 0.0) for k in keys]

"""Processes starting together on one fresh SQLite file (``ccr serve --workers N`` on a new
``CCR_HOME``) all get a working connection: the switch to WAL, which SQLite does not wait for,
is retried."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from ccr.state.sqlite import open_wal

PROCESSES = 6
ROUNDS = 10


def _open(path: str, go: Any) -> str:
    go.wait()
    try:
        db = open_wal(path, 2.0)
        db.execute("CREATE TABLE IF NOT EXISTS kv (k TEXT PRIMARY KEY, v)")
        mode = db.execute("PRAGMA journal_mode").fetchone()[0]
        db.close()
        return str(mode)
    except sqlite3.OperationalError as exc:
        return f"error: {exc}"


def test_processes_opening_one_fresh_file_together_all_get_a_wal_connection(
        tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("fork")
    outcomes: list[str] = []
    with ctx.Manager() as manager, ctx.Pool(PROCESSES) as pool:
        for round_number in range(ROUNDS):
            go = manager.Event()
            path = str(tmp_path / f"state-{round_number}.db")
            pending = pool.starmap_async(_open, [(path, go)] * PROCESSES)
            go.set()
            outcomes += pending.get(30)
    assert outcomes == ["wal"] * (PROCESSES * ROUNDS)


def test_a_file_that_is_not_a_database_is_still_an_error(tmp_path: Path) -> None:
    path = tmp_path / "not.db"
    path.write_bytes(b"this is not sqlite" * 100)
    try:
        open_wal(path, 0.2)
    except sqlite3.DatabaseError:
        return
    raise AssertionError("opened a file that is not a database")

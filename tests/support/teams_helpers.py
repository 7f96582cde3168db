"""Small helpers for the team-gateway tests: talk to a ccr server as a named client, wait for
background writes, read the SQLite ledger and the Prometheus text."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

ALICE_KEY = "alice-key-0123456789"
BOB_KEY = "bob-key-0123456789"
ADMIN_KEY = "admin-key-0123456789"


def ask(base_url: str, key: str | None, *, session: str | None = None, stream: bool = False,
        model: str = "claude-sonnet-4", text: str = "hi", timeout: float = 20) -> httpx.Response:
    """One Messages request; ``session`` is sent as Claude Code's session header."""
    headers = {"anthropic-version": "2023-06-01"}
    if key is not None:
        headers["x-api-key"] = key
    if session is not None:
        headers["x-claude-code-session-id"] = session
    body = {"model": model, "max_tokens": 64, "stream": stream,
            "messages": [{"role": "user", "content": text}]}
    return httpx.post(f"{base_url}/v1/messages", json=body, headers=headers, timeout=timeout)


def wait_for(predicate: Callable[[], Any], timeout: float = 5.0, step: float = 0.02) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not reached in {timeout}s (last: {value!r})")
        time.sleep(step)


def ledger_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of a SQLite ledger (empty when the file or table does not exist yet)."""
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        db.row_factory = sqlite3.Row
        try:
            return [dict(r) for r in db.execute("SELECT * FROM ccr_usage ORDER BY time")]
        except sqlite3.OperationalError:
            return []


def metric_samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """``name``'s samples from a Prometheus text scrape, keyed by their sorted labels."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found

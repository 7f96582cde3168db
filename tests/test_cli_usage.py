"""``ccr usage``: ledger totals as a table with bars, JSON or CSV, over a time window."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccr.cli.main import app
from ccr.cli.usage import parse_since
from ccr.ledger import SqliteLedger, UsageRow

NOW = time.time()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CCR_HOME", str(tmp_path))
    rows = [
        UsageRow(time=NOW - 60, client="alice", route="deepseek,deepseek-chat",
                 input_tokens=1000, output_tokens=100, cost_usd=0.50),
        UsageRow(time=NOW - 120, client="alice", route="deepseek,deepseek-chat",
                 input_tokens=2000, output_tokens=200, cost_usd=1.00),
        UsageRow(time=NOW - 30, client="bob", route="openrouter,claude",
                 input_tokens=500, output_tokens=50, cost_usd=3.00, status=502),
        UsageRow(time=NOW - 10 * 86_400, client="carol", route="deepseek,deepseek-chat",
                 input_tokens=9, output_tokens=9, cost_usd=9.0),
    ]

    async def write() -> None:
        ledger = SqliteLedger(tmp_path / "ledger.db")
        await ledger.write(rows)
        await ledger.aclose()

    asyncio.run(write())
    return tmp_path


def run(*args: str) -> str:
    result = CliRunner().invoke(app, ["usage", *args])
    assert result.exit_code == 0, result.output
    return result.output


def test_the_default_window_is_the_last_seven_days(home: Path) -> None:
    output = run()
    total = next(line for line in output.splitlines() if line.startswith("total"))
    assert total.split()[1] == "3"  # carol's row is ten days old
    assert "1 of 3 requests failed" in output


def test_by_client_shows_a_bar_per_client_largest_cost_first(home: Path) -> None:
    lines = run("--by", "client").splitlines()
    bob, alice = lines[2], lines[3]
    assert bob.startswith("bob") and alice.startswith("alice")
    assert bob.count("█") == 24 and 0 < alice.count("█") < 24


def test_json_totals_are_exact(home: Path) -> None:
    data = json.loads(run("--by", "route", "--json"))
    assert data["total"]["requests"] == 3 and data["total"]["input_tokens"] == 3500
    groups = {g["key"]: g for g in data["groups"]}
    assert groups["deepseek,deepseek-chat"]["cost_usd"] == 1.5
    assert groups["openrouter,claude"]["errors"] == 1


def test_csv_has_a_row_per_group_and_a_total(home: Path) -> None:
    rows = list(csv.DictReader(io.StringIO(run("--by", "client", "--csv", "--since", "all"))))
    assert [r["client"] for r in rows] == ["carol", "bob", "alice", "total"]
    assert rows[-1]["requests"] == "4"


def test_an_empty_ledger_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CCR_HOME", str(tmp_path))
    assert "no requests recorded" in run()


def test_an_unknown_grouping_is_refused(home: Path) -> None:
    result = CliRunner().invoke(app, ["usage", "--by", "colour"])
    assert result.exit_code != 0 and "client" in result.output


def test_since_accepts_durations_dates_and_all() -> None:
    assert parse_since("24h", now=100_000.0) == 100_000.0 - 86_400
    assert parse_since("30m", now=10_000.0) == 10_000.0 - 1800
    assert parse_since("2026-12-01") == 1_796_083_200.0
    assert parse_since("all") is None

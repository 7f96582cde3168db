"""Ledger rows land in SQLite (under CCR_HOME by default) or a real Postgres started by the
tests, and come back as exact grouped totals."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ccr.config.ledger import ledger_problems, ledger_settings
from ccr.ledger import LedgerStore, PostgresLedger, SqliteLedger, UsageRow, open_ledger_store
from tests.support.postgres_server import PostgresServer, running_postgres

pytestmark = pytest.mark.e2e

_dbs = itertools.count()


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    yield from running_postgres()


@pytest.fixture(params=("sqlite", "postgres"))
async def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[LedgerStore]:
    store: LedgerStore
    if request.param == "sqlite":
        store = SqliteLedger(tmp_path / "ledger.db")
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        store = PostgresLedger(server.database(f"ledger{next(_dbs)}"))
    await store.open()
    yield store
    await store.aclose()


DAY = 86_400.0
T0 = 1_780_000_000.0  # a fixed day, so "day" groups are predictable


def row(**overrides: object) -> UsageRow:
    values: dict[str, object] = dict(
        time=T0, client="alice", session="s1", project="repo", rule="default",
        route="deepseek,deepseek-chat", provider="deepseek", model="deepseek-chat",
        input_tokens=100, output_tokens=20, cache_read_tokens=5, cache_write_tokens=1,
        cost_usd=0.5, status=200, latency_ms=12.5)
    values.update(overrides)
    return UsageRow(**values)  # type: ignore[arg-type]


async def test_grand_total_sums_every_row(ledger: LedgerStore) -> None:
    await ledger.write([row(), row(input_tokens=7, output_tokens=3, cost_usd=0.25)])
    [total] = await ledger.totals()
    assert (total.requests, total.input_tokens, total.output_tokens) == (2, 107, 23)
    assert (total.cache_read_tokens, total.cache_write_tokens) == (10, 2)
    assert total.cost_usd == pytest.approx(0.75)


async def test_an_empty_ledger_totals_zero(ledger: LedgerStore) -> None:
    [total] = await ledger.totals()
    assert total.requests == 0 and total.cost_usd == 0


async def test_totals_group_by_client_with_the_costliest_first(ledger: LedgerStore) -> None:
    await ledger.write([row(client="alice", cost_usd=1.0), row(client="bob", cost_usd=3.0),
                        row(client="bob", cost_usd=1.0)])
    totals = await ledger.totals(by="client")
    assert [(t.key, t.requests, t.cost_usd) for t in totals] == [("bob", 2, 4.0),
                                                                ("alice", 1, 1.0)]


async def test_totals_group_by_day_in_date_order(ledger: LedgerStore) -> None:
    await ledger.write([row(time=T0 + DAY), row(time=T0), row(time=T0 + 60)])
    totals = await ledger.totals(by="day")
    assert [(t.key, t.requests) for t in totals] == [("2026-05-28", 2), ("2026-05-29", 1)]


async def test_since_leaves_out_older_rows(ledger: LedgerStore) -> None:
    await ledger.write([row(time=T0 - DAY), row(time=T0)])
    [total] = await ledger.totals(since=T0 - 1)
    assert total.requests == 1


async def test_unpriced_rows_count_tokens_but_no_cost(ledger: LedgerStore) -> None:
    await ledger.write([row(cost_usd=None), row(cost_usd=0.5)])
    [total] = await ledger.totals()
    assert total.requests == 2 and total.cost_usd == pytest.approx(0.5)


async def test_errors_are_counted_by_status(ledger: LedgerStore) -> None:
    await ledger.write([row(status=200), row(status=429), row(status=502)])
    [total] = await ledger.totals()
    assert total.errors == 2


async def test_grouping_by_an_unknown_column_is_refused(ledger: LedgerStore) -> None:
    with pytest.raises(ValueError, match="cannot group by"):
        await ledger.totals(by="input_tokens; DROP TABLE ccr_usage")


async def test_rows_hold_no_body_or_key_columns(ledger: LedgerStore) -> None:
    from ccr.ledger import COLUMNS

    assert not {"body", "messages", "api_key", "key", "headers"} & set(COLUMNS)


def test_the_default_ledger_is_sqlite_under_ccr_home(tmp_path: Path) -> None:
    store = open_ledger_store(ledger_settings({}), home=tmp_path)
    assert isinstance(store, SqliteLedger) and store.path == tmp_path / "ledger.db"


def test_a_postgres_url_selects_postgres(tmp_path: Path) -> None:
    settings = ledger_settings({"LEDGER": {"url": "postgresql://u:p@db:5432/ccr"}})
    assert isinstance(open_ledger_store(settings, home=tmp_path), PostgresLedger)


def test_the_ledger_can_be_turned_off(tmp_path: Path) -> None:
    assert open_ledger_store(ledger_settings({"LEDGER": {"enabled": False}}),
                             home=tmp_path) is None


def test_ledger_problems_hide_passwords() -> None:
    problems = ledger_problems({"LEDGER": {"url": "mysql://u:hunter2@h/db", "queue": 0}})
    assert [p for p, _ in problems] == ["LEDGER.queue", "LEDGER.url"]
    assert all("hunter2" not in m for _, m in problems)

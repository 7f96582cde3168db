"""Ledger writes never hold up a response: a bounded queue, batches in the background,
drops counted, and a ledger that goes down (a real Postgres stopped mid-run) is caught up on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from ccr.ledger import LedgerStore, LedgerWriter, PostgresLedger, SqliteLedger, UsageRow
from ccr.ledger.store import Total
from tests.support.postgres_server import PostgresServer, running_postgres

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def postgres_server() -> Iterator[PostgresServer]:
    yield from running_postgres()


def rows(n: int, start: int = 0) -> list[UsageRow]:
    return [UsageRow(time=1_780_000_000.0 + i, session=f"s{i % 7}", input_tokens=i,
                     output_tokens=2 * i, cost_usd=0.001) for i in range(start, start + n)]


class SlowLedger(LedgerStore):
    """Records the batches it was given; each write takes a while (or fails when told to)."""

    backend = "test"

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.batches: list[int] = []
        self.failing = False

    async def open(self) -> None:
        return None

    async def write(self, batch: Sequence[UsageRow]) -> None:
        await asyncio.sleep(self.delay_s)
        if self.failing:
            raise ConnectionError("ledger unreachable")
        self.batches.append(len(batch))

    async def totals(self, *, since: float | None = None, by: str | None = None) -> list[Total]:
        return []

    async def aclose(self) -> None:
        return None


async def test_record_returns_at_once_while_a_write_is_slow() -> None:
    writer = LedgerWriter(SlowLedger(delay_s=0.5), flush_s=0.01)
    await writer.start()
    writer.record(rows(1)[0])
    await asyncio.sleep(0.05)  # the first write is now in progress
    started = time.perf_counter()
    for r in rows(1000):
        writer.record(r)
    assert time.perf_counter() - started < 0.05
    await writer.aclose(timeout_s=0.01)


async def test_rows_are_written_in_batches() -> None:
    ledger = SlowLedger()
    writer = LedgerWriter(ledger, batch=100, flush_s=0.05)
    await writer.start()
    for r in rows(250):
        writer.record(r)
    assert await writer.flush()
    assert sum(ledger.batches) == 250 and max(ledger.batches) <= 100 and len(ledger.batches) <= 4
    await writer.aclose()


async def test_a_full_queue_drops_rows_and_counts_them() -> None:
    writer = LedgerWriter(SlowLedger(delay_s=10), max_queue=10, batch=1, flush_s=0)
    await writer.start()
    accepted = [writer.record(r) for r in rows(30)]
    assert accepted.count(False) >= 19
    assert writer.health().dropped == accepted.count(False)
    await writer.aclose(timeout_s=0)


async def test_a_failing_ledger_is_retried_and_reported(caplog: pytest.LogCaptureFixture) -> None:
    ledger = SlowLedger()
    ledger.failing = True
    writer = LedgerWriter(ledger, flush_s=0, retry_s=0.02)
    await writer.start()
    for r in rows(5):
        writer.record(r)
    await asyncio.sleep(0.1)
    health = writer.health()
    assert health.down and health.pending == 5 and health.failed_writes >= 1
    assert health.as_dict()["status"] == "degraded"
    ledger.failing = False
    assert await writer.flush(2)
    assert sum(ledger.batches) == 5 and not writer.health().down
    await writer.aclose()


async def test_rows_reach_sqlite(tmp_path: Path) -> None:
    writer = LedgerWriter(SqliteLedger(tmp_path / "ledger.db"), flush_s=0.01)
    await writer.start()
    for r in rows(300):
        writer.record(r)
    await writer.aclose()
    check = SqliteLedger(tmp_path / "ledger.db")
    [total] = await check.totals()
    assert (total.requests, total.input_tokens) == (300, sum(range(300)))
    await check.aclose()


async def test_postgres_stopped_mid_run_loses_no_queued_row(
        postgres_server: PostgresServer) -> None:
    url = postgres_server.database("writer_outage")
    writer = LedgerWriter(PostgresLedger(url), flush_s=0.01, retry_s=0.05, max_retry_s=0.2)
    await writer.start()
    for r in rows(100):
        writer.record(r)
    assert await writer.flush()
    await asyncio.to_thread(postgres_server.stop)
    for r in rows(100, start=100):
        writer.record(r)
    deadline = time.monotonic() + 10
    while not writer.health().down and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    assert writer.health().down and writer.health().pending == 100
    await asyncio.to_thread(postgres_server.start)
    assert await writer.flush(15)
    assert writer.health().written == 200 and writer.health().dropped == 0
    await writer.aclose()
    check = PostgresLedger(url)
    [total] = await check.totals()
    assert (total.requests, total.input_tokens, total.output_tokens) == (
        200, sum(range(200)), 2 * sum(range(200)))
    await check.aclose()

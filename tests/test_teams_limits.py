"""Concurrency limits queue and time out, a fail-closed state store refuses, and a ledger
that cannot be reached never costs a response. Real ccr servers in front of the fake upstream;
a real redis-server where Redis is named."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.support.ccr_server import free_port
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.redis_server import RedisServer, running_redis
from tests.support.teams_helpers import ALICE_KEY, ask, metric_samples, wait_for

pytestmark = pytest.mark.e2e

KEYS = [{"name": "alice", "key": ALICE_KEY, "MAX_CONCURRENT_REQUESTS": 1}]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path)


def slow(fake: FakeUpstream, seconds: float) -> None:
    fake.handler = lambda request: text("slow").but(first_byte_delay_s=seconds)


def test_a_request_over_the_concurrency_limit_waits_for_a_slot(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(fake_config(fake, APIKEYS=KEYS))
    slow(fake, 0.5)

    def queued() -> float:
        scrape = httpx.get(f"{ccr.base_url}/metrics", headers={"x-api-key": ALICE_KEY}).text
        return metric_samples(scrape, "ccr_requests_queued")[()]

    with ThreadPoolExecutor(2) as pool:
        started = time.perf_counter()
        first = pool.submit(ask, ccr.base_url, ALICE_KEY)
        wait_for(lambda: len(fake.chat_requests) == 1)
        second = pool.submit(ask, ccr.base_url, ALICE_KEY)
        wait_for(lambda: queued() == 1.0)
        assert len(fake.chat_requests) == 1  # the second waits for the first's slot
        assert first.result().status_code == 200 and second.result().status_code == 200
        elapsed = time.perf_counter() - started
    assert queued() == 0.0
    assert elapsed >= 1.0  # one after the other, not side by side


def test_a_queued_request_gives_up_after_queue_timeout(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    ccr = make_ccr(fake_config(fake, APIKEYS=KEYS, QUEUE_TIMEOUT_MS=100))
    slow(fake, 0.6)
    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(ask, ccr.base_url, ALICE_KEY)
        wait_for(lambda: len(fake.chat_requests) == 1)  # it holds the only slot
        refused = ask(ccr.base_url, ALICE_KEY)
        assert first.result().status_code == 200
    assert refused.status_code == 429
    message = refused.json()["error"]["message"]
    assert "MAX_CONCURRENT_REQUESTS (1)" in message and "alice" in message
    fake.handler = None
    assert ask(ccr.base_url, ALICE_KEY).status_code == 200  # the slot was given back


def test_a_fail_closed_store_refuses_while_redis_is_down(
        make_ccr: MakeCcr, fake: FakeUpstream, redis_server: RedisServer) -> None:
    ccr = make_ccr(fake_config(fake, APIKEYS=KEYS,
                               STATE={"url": redis_server.url, "fail": "closed"}))
    assert ask(ccr.base_url, ALICE_KEY).status_code == 200
    redis_server.kill()
    refused = ask(ccr.base_url, ALICE_KEY)
    assert refused.status_code == 503
    assert refused.json()["error"]["type"] == "overloaded_error"
    assert "STATE.fail" in refused.json()["error"]["message"]
    redis_server.start()
    wait_for(lambda: ask(ccr.base_url, ALICE_KEY).status_code == 200, timeout=10)


def test_a_ledger_that_cannot_be_reached_costs_no_response(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    nowhere = f"postgresql://ccr@127.0.0.1:{free_port()}/ccr"
    ccr = make_ccr(fake_config(fake, LEDGER={"url": nowhere}))
    for _ in range(3):
        assert ask(ccr.base_url, None).status_code == 200
    health = wait_for(lambda: (h := httpx.get(f"{ccr.base_url}/health").json())
                      and h["ledger"]["status"] == "degraded" and h)
    assert health["status"] == "degraded" and health["ledger"]["backend"] == "postgres"
    wait_for(lambda: httpx.get(f"{ccr.base_url}/health").json()["ledger"]["pending"] == 3)
    scrape = httpx.get(f"{ccr.base_url}/metrics").text
    assert metric_samples(scrape, "ccr_ledger_up") == {(("backend", "postgres"),): 0.0}
    assert "ccr@" not in json.dumps(health)  # the URL (and any password in it) stays out


def test_ccr_status_says_when_the_state_store_is_degraded(
        make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from typer.testing import CliRunner

    from ccr.cli.main import app

    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    ccr = make_ccr(fake_config(fake, STATE={"url": dead_redis}))
    assert ask(ccr.base_url, None).status_code == 200  # served from local memory
    path = tmp_path / "status-config.json"
    path.write_text(json.dumps({"PORT": ccr.port}))
    monkeypatch.setenv("CCR_HOME", str(tmp_path / "status-home"))
    result = CliRunner().invoke(app, ["status", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "not answering" not in result.output
    assert "state:" in result.output and "redis DEGRADED" in result.output

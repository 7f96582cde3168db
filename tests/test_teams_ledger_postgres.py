"""The Done-when of the team ledger: 1,000 requests over two ``ccr serve`` instances into one
real Postgres (and one real Redis for shared spend). The ledger's totals equal, exactly, the
usage the fake upstream reported; ``ccr usage`` shows them; a router budget flips routing to
the cheaper route once the configured amount is spent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_upstream import FakeUpstream, Recorded, Reply, Usage, text
from tests.support.fixtures import fake_config
from tests.support.postgres_server import PostgresServer, running_postgres
from tests.support.redis_server import RedisServer, running_redis
from tests.support.serve_process import PROJECT, ServeProcess
from tests.support.teams_helpers import ALICE_KEY, BOB_KEY, ask, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

REQUESTS = 1000
#: $1,000 per million tokens in and out for the default route, so a request costs ~$0.02
#: and the $10 budget is spent about halfway through.
PRICES = {"fake,fake-model": {"input": 1000, "output": 1000, "cache_read": 1000},
          "fake,fake-model-large": {"input": 10, "output": 10}}
BUDGET_USD = 10.0


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path)


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    yield from running_postgres()


class Reporting:
    """The fake's handler: varied usage per request, and a record of what it reported."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reported: list[tuple[str, Usage]] = []

    def __call__(self, request: Recorded) -> Reply:
        with self.lock:
            i = len(self.reported)
            usage = Usage(prompt=10 + i % 17, completion=1 + i % 5, cached=i % 3)
            self.reported.append((str(request.body["model"]), usage))
        return text("ok", usage=usage)


def pg_totals(url: str) -> tuple[Any, ...]:
    import psycopg

    with psycopg.connect(url) as conn:
        try:
            row = conn.execute(
                "SELECT count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
                " coalesce(sum(cache_read_tokens), 0), coalesce(sum(cost_usd), 0) "
                "FROM ccr_usage").fetchone()
        except psycopg.errors.UndefinedTable:
            return (0, 0, 0, 0, 0.0)
    assert row is not None
    return tuple(row)


def test_a_thousand_requests_over_two_instances_add_up_exactly_in_postgres(
        tmp_path: Path, redis_server: RedisServer, postgres_server: PostgresServer) -> None:
    ledger_url = postgres_server.database("team_ledger")
    handler = Reporting()
    with FakeUpstream(record=True) as fake:
        fake.handler = handler
        config = fake_config(
            fake, STATE={"url": redis_server.url}, LEDGER={"url": ledger_url}, PRICES=PRICES,
            APIKEYS=[{"name": "alice", "key": ALICE_KEY}, {"name": "bob", "key": BOB_KEY}],
            BUDGETS=[{"name": "team-daily", "scope": "router", "period": "day",
                      "usd": BUDGET_USD, "action": {"route": "fake,fake-model-large"}}])
        path = tmp_path / "config.json"
        path.write_text(json.dumps(config))
        with ServeProcess(home=tmp_path / "one", config_path=path) as one, \
                ServeProcess(home=tmp_path / "two", config_path=path) as two, \
                ThreadPoolExecutor(6) as pool:
            def send(i: int) -> int:
                server = (one, two)[i % 2]
                key = (ALICE_KEY, BOB_KEY)[(i // 2) % 2]
                return ask(server.url, key, session=f"s{i % 10}", stream=i % 4 == 0).status_code

            statuses = list(pool.map(send, range(REQUESTS)))
            assert statuses == [200] * REQUESTS
            wait_for(lambda: pg_totals(ledger_url)[0] == REQUESTS, timeout=20)

        reported = handler.reported
        assert len(reported) == REQUESTS
        count, input_tokens, output_tokens, cache_read, cost = pg_totals(ledger_url)
        prompt = sum(u.prompt for _, u in reported)
        cached = sum(u.cached for _, u in reported)
        assert count == REQUESTS
        assert input_tokens + cache_read == prompt  # Anthropic's split of the same prompt
        assert cache_read == cached
        assert output_tokens == sum(u.completion for _, u in reported)
        expected_cost = sum(
            (u.prompt + u.completion) * (1000 if model == "fake-model" else 10) / 1_000_000
            for model, u in reported)
        assert float(cost) == pytest.approx(expected_cost, rel=1e-9)

        # the budget flipped routing once $10 was spent, and not before
        models = [model for model, _ in reported]
        assert set(models[:100]) == {"fake-model"} and set(models[-100:]) == {"fake-model-large"}
        per_model = Counter(models)

        # ccr usage reads the same Postgres ledger and shows the same totals
        env = {**os.environ, "CCR_HOME": str(tmp_path / "one")}
        done = subprocess.run(
            [sys.executable, "-m", "ccr", "usage", "--since", "1h", "--by", "route", "--json",
             "--config", str(path)], cwd=PROJECT, env=env, capture_output=True, text=True,
            timeout=60)
        assert done.returncode == 0, done.stderr
        shown = json.loads(done.stdout)
        assert shown["total"]["requests"] == REQUESTS
        assert shown["total"]["output_tokens"] == output_tokens
        routes = {g["key"]: g["requests"] for g in shown["groups"]}
        assert routes == {"fake,fake-model": per_model["fake-model"],
                          "fake,fake-model-large": per_model["fake-model-large"]}
        by_client = subprocess.run(
            [sys.executable, "-m", "ccr", "usage", "--by", "client", "--config", str(path)],
            cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60)
        assert "alice" in by_client.stdout and "bob" in by_client.stdout
        assert ALICE_KEY not in by_client.stdout and "█" in by_client.stdout

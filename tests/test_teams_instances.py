"""Two real ``ccr serve`` processes sharing one state store: a real redis-server (started,
killed and restarted by the tests) or one SQLite file (as worker processes on one machine
share it). Rate limits hold across both, session usage recorded by one drives longContext
routing on the other, and losing Redis loses no request."""

from __future__ import annotations

import json
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.support.fake_upstream import FakeUpstream, Usage, text
from tests.support.fixtures import fake_config
from tests.support.redis_server import RedisServer, running_redis
from tests.support.serve_process import ServeProcess
from tests.support.teams_helpers import ALICE_KEY, BOB_KEY, ask, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream(record=True) as upstream:
        yield upstream


def state_url(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if kind == "redis":
        server: RedisServer = request.getfixturevalue("redis_server")
        return server.url
    return f"sqlite://{tmp_path / 'shared-state.db'}"


def two_instances(tmp_path: Path, config: dict[str, Any]) -> tuple[ServeProcess, ServeProcess]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    # a client key: /health details are for clients with a key
    first = ServeProcess(home=tmp_path / "one", config_path=path, apikey=ALICE_KEY)
    try:
        second = ServeProcess(home=tmp_path / "two", config_path=path, apikey=ALICE_KEY)
    except BaseException:
        first.stop()
        raise
    return first, second


def team(fake: FakeUpstream, state: str, **extra: Any) -> dict[str, Any]:
    config = fake_config(fake, STATE={"url": state}, LOG=True,
                         APIKEYS=[{"name": "alice", "key": ALICE_KEY},
                                  {"name": "bob", "key": BOB_KEY}], **extra)
    return config


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_a_rate_limit_holds_across_both_instances(
        kind: str, tmp_path: Path, fake: FakeUpstream, request: pytest.FixtureRequest) -> None:
    config = team(fake, state_url(kind, tmp_path, request))
    config["APIKEYS"][0]["RATE_LIMIT"] = "4/hour"
    one, two = two_instances(tmp_path, config)
    with one, two:
        codes = [ask(server.url, ALICE_KEY).status_code for server in (one, two) * 3]
        assert sorted(codes) == [200] * 4 + [429] * 2
        assert ask(two.url, BOB_KEY).status_code == 200


@pytest.mark.parametrize("kind", ["redis", "sqlite"])
def test_session_usage_from_one_instance_drives_long_context_on_the_other(
        kind: str, tmp_path: Path, fake: FakeUpstream, request: pytest.FixtureRequest) -> None:
    config = team(fake, state_url(kind, tmp_path, request),
                  Router={"default": "fake,fake-model", "longContext": "fake,fake-model-large",
                          "longContextThreshold": 60000})
    one, two = two_instances(tmp_path, config)
    with one, two:
        fake.enqueue(text("long", usage=Usage(prompt=70_000, completion=3)))
        assert ask(one.url, ALICE_KEY, session="s-shared").status_code == 200
        wait_for(lambda: ask_session(two, "s-shared").get("turns") == 1)
        # ~25k tokens: under the threshold itself, long only because of the session's last turn
        follow_up = "lorem ipsum " * 12_500
        assert ask(two.url, ALICE_KEY, session="s-shared", text=follow_up).status_code == 200
        assert ask(two.url, ALICE_KEY, session="s-fresh", text=follow_up).status_code == 200
        assert [r.body["model"] for r in fake.chat_requests] == [
            "fake-model", "fake-model-large", "fake-model"]


def ask_session(server: ServeProcess, session: str) -> dict[str, Any]:
    import httpx

    response = httpx.get(f"{server.url}/api/sessions/{session}",
                         headers={"x-api-key": ALICE_KEY}, timeout=5)
    return response.json() if response.status_code == 200 else {}


def test_killing_redis_mid_run_loses_no_request_and_both_say_degraded(
        tmp_path: Path, fake: FakeUpstream, redis_server: RedisServer) -> None:
    one, two = two_instances(tmp_path, team(fake, redis_server.url))
    with one, two, ThreadPoolExecutor(4) as pool:
        def burst(n: int) -> list[int]:
            # with a session, so every request reads and writes shared state
            servers = list(enumerate([one, two] * n))
            return list(pool.map(
                lambda job: ask(job[1].url, ALICE_KEY, session=f"s{job[0] % 3}").status_code,
                servers))

        assert burst(10) == [200] * 20
        redis_server.kill()
        assert burst(10) == [200] * 20
        for server in (one, two):
            health = server.health()
            assert health["status"] == "degraded"
            assert health["state"]["status"] == "degraded"
            assert health["state"]["local_fallbacks"] > 0
        assert "state store redis unavailable" in one.output()
        redis_server.start()
        for server in (one, two):
            health = server.wait_for(lambda h: h["state"]["status"] == "ok", timeout=10)
            assert health["state"]["status"] == "ok" and health["state"]["recoveries"] == 1
        assert burst(5) == [200] * 10
        assert "state store redis is back" in two.output()
    assert len(fake.chat_requests) == 50


def test_metrics_in_multiprocess_mode_sum_both_processes(
        tmp_path: Path, fake: FakeUpstream) -> None:
    """Two processes sharing PROMETHEUS_MULTIPROC_DIR, as the workers of one machine do: a
    scrape of either counts the requests both served."""
    import httpx

    from tests.support.teams_helpers import metric_samples

    shared = tmp_path / "prometheus"
    shared.mkdir()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(fake_config(fake)))
    env = {"PROMETHEUS_MULTIPROC_DIR": str(shared)}
    with ServeProcess(home=tmp_path / "one", config_path=path, env=env) as one, \
            ServeProcess(home=tmp_path / "two", config_path=path, env=env) as two:
        for server in (one, one, one, two, two):
            assert ask(server.url, None).status_code == 200

        def total() -> float:
            text = httpx.get(f"{two.url}/metrics", timeout=5).text
            return sum(metric_samples(text, "ccr_requests_total").values())

        assert wait_for(lambda: total() == 5)


def worker_of(server: ServeProcess) -> int:
    """The pid of the worker that answered a new connection."""
    import httpx

    health = httpx.get(f"{server.url}/health", headers={"x-api-key": ALICE_KEY}, timeout=5)
    return int(health.json()["worker_pid"])


def test_workers_on_one_port_share_the_sqlite_store_without_any_state_setting(
        tmp_path: Path, fake: FakeUpstream) -> None:
    config = fake_config(fake, LOG=True, APIKEYS=[
        {"name": "alice", "key": ALICE_KEY, "RATE_LIMIT": "6/hour"},
        {"name": "bob", "key": BOB_KEY}],
        Router={"default": "fake,fake-model", "longContext": "fake,fake-model-large",
                "longContextThreshold": 60000})
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    server = ServeProcess(home=tmp_path / "home", config_path=path, apikey=ALICE_KEY,
                          args=["--workers", "2"])
    with server:
        assert len({worker_of(server) for _ in range(40)}) == 2  # both workers answer
        assert any((tmp_path / "home").rglob("*.db")), "the workers share a SQLite store"
        for _ in range(4):  # every turn of the session is a long one
            fake.enqueue(text("long", usage=Usage(prompt=70_000, completion=3)))
        assert ask(server.url, ALICE_KEY, session="s-shared").status_code == 200
        follow_up = "lorem ipsum " * 12_500
        # new connections land on either worker: each sees the session's last turn
        for _ in range(3):
            assert ask(server.url, ALICE_KEY, session="s-shared", text=follow_up).status_code \
                == 200
        assert [r.body["model"] for r in fake.chat_requests] == ["fake-model"] + [
            "fake-model-large"] * 3
        # 4 of alice's 6 requests an hour are spent; the limit holds across both workers
        codes = [ask(server.url, ALICE_KEY).status_code for _ in range(4)]
        assert codes == [200, 200, 429, 429]
        assert ask(server.url, BOB_KEY).status_code == 200

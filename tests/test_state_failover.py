"""When the shared store goes away: fail open to local memory (or closed, if configured), say
so, and switch back by itself once it returns. Uses a real redis-server killed mid-run."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from ccr.config.state import StateSettings, state_problems, state_settings
from ccr.state import FailoverStore, MemoryStore, SqliteStore, StateUnavailable, open_store
from ccr.state.redis import REDIS_DOWN, RedisStore
from tests.support.redis_server import RedisServer, running_redis

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path)


def failover(server: RedisServer, *, closed: bool = False) -> FailoverStore:
    return FailoverStore(RedisStore(server.url, timeout_s=0.3), down=REDIS_DOWN,
                         fail_closed=closed, retry_s=0.05)


async def wait_until(predicate, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def test_shared_state_is_used_while_redis_is_up(redis_server: RedisServer) -> None:
    a, b = failover(redis_server), failover(redis_server)
    await a.start()
    await b.start()
    await a.hit("rate:alice", 60)
    assert await b.hit("rate:alice", 60) == 2
    assert not a.health().degraded
    await a.aclose()
    await b.aclose()


async def test_killing_redis_fails_open_without_an_error(redis_server: RedisServer,
                                                         caplog: pytest.LogCaptureFixture) -> None:
    store = failover(redis_server)
    await store.start()
    await store.set("session:s1", {"input_tokens": 1})
    redis_server.kill()
    with caplog.at_level(logging.WARNING, logger="ccr.state"):
        assert await store.hit("rate:alice", 60) == 1  # answered locally
    health = store.health()
    assert health.degraded and health.as_dict()["status"] == "degraded"
    assert health.error and "redis://" not in health.error
    assert any("unavailable" in r.getMessage() for r in caplog.records)
    assert await store.hit("rate:alice", 60) == 2
    assert store.health().local_fallbacks >= 2
    await store.aclose()


async def test_redis_coming_back_is_picked_up(redis_server: RedisServer) -> None:
    store = failover(redis_server)
    await store.start()
    redis_server.kill()
    await store.hit("rate:x", 60)
    assert store.health().degraded
    redis_server.start()
    await wait_until(lambda: not store.health().degraded)
    assert store.health().recoveries == 1
    other = failover(redis_server)
    await store.set("cooldown:p", {"until": 5}, ttl_s=30)
    assert await other.get("cooldown:p") == {"until": 5}
    await store.aclose()
    await other.aclose()


async def test_a_check_notices_redis_went_away_without_traffic(
        redis_server: RedisServer) -> None:
    store = failover(redis_server)
    await store.start()
    await store.check()
    assert not store.health().degraded
    redis_server.kill()
    await store.check()
    assert store.health().degraded
    await store.aclose()


async def test_fail_closed_refuses_while_redis_is_down(redis_server: RedisServer) -> None:
    store = failover(redis_server, closed=True)
    await store.start()
    redis_server.kill()
    with pytest.raises(StateUnavailable) as caught:
        await store.hit("rate:alice", 60)
    assert caught.value.status == 503
    assert caught.value.to_body()["error"]["type"] == "overloaded_error"
    await store.aclose()


async def test_a_store_started_while_redis_is_down_serves_locally(tmp_path: Path) -> None:
    from tests.support.ccr_server import free_port

    store = FailoverStore(RedisStore(f"redis://127.0.0.1:{free_port()}/0", timeout_s=0.2),
                          down=REDIS_DOWN, retry_s=0.05)
    await store.start()
    assert store.health().degraded
    assert await store.add("spend", 1.5) == 1.5
    await store.aclose()


async def test_a_local_lease_is_released_locally_after_an_outage(
        redis_server: RedisServer) -> None:
    store = failover(redis_server)
    await store.start()
    redis_server.kill()
    token = await store.acquire("conc:alice", 1, 30)
    assert token is not None
    await store.release("conc:alice", token)
    assert await store.acquire("conc:alice", 1, 30) is not None
    await store.aclose()


async def test_sqlite_state_is_shared_between_connections(tmp_path: Path) -> None:
    one, two = SqliteStore(tmp_path / "s.db"), SqliteStore(tmp_path / "s.db")
    await one.hit("rate:a", 60)
    assert await two.hit("rate:a", 60) == 2
    mode = sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"
    await one.aclose()
    await two.aclose()


def _hit_many(path: str, n: int) -> None:
    async def run() -> None:
        store = SqliteStore(path)
        for _ in range(n):
            await store.hit("rate:shared", 3600)
            await store.add("spend:shared", 0.5)
        await store.aclose()

    asyncio.run(run())


async def test_sqlite_counters_are_exact_across_processes(tmp_path: Path) -> None:
    import multiprocessing

    path = str(tmp_path / "s.db")
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_hit_many, args=(path, 200)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        await asyncio.to_thread(p.join, 30)
    store = SqliteStore(path)
    assert await store.hit("rate:shared", 3600, amount=0) == 400
    assert await store.number("spend:shared") == 200.0
    await store.aclose()


def test_open_store_picks_memory_for_one_process(tmp_path: Path) -> None:
    assert isinstance(open_store(StateSettings(), home=tmp_path), MemoryStore)


def test_open_store_picks_sqlite_under_home_for_several_workers(tmp_path: Path) -> None:
    store = open_store(StateSettings(), home=tmp_path, workers=2)
    assert isinstance(store, FailoverStore) and isinstance(store.shared, SqliteStore)
    assert store.shared.path == tmp_path / "state.db"


def test_state_url_selects_the_backend() -> None:
    assert state_settings({"STATE": {"url": "redis://h:6379/0"}}).kind == "redis"
    assert state_settings({"STATE": {"url": "memory"}}).kind == "memory"
    sqlite = state_settings({"STATE": {"url": "sqlite:///var/lib/ccr/state.db"}})
    assert sqlite.kind == "sqlite" and sqlite.sqlite_path(Path("/h")) == Path(
        "/var/lib/ccr/state.db")
    assert state_settings({"STATE": {"url": "sqlite://s.db"}}).sqlite_path(Path("/h")) == Path(
        "/h/s.db")


def test_state_fail_closed_is_read() -> None:
    assert state_settings({"STATE": {"url": "memory", "fail": "closed"}}).fail_closed


def test_state_problems_name_the_key_and_hide_passwords() -> None:
    problems = state_problems({"STATE": {"url": "mysql://u:hunter2@h/db", "fail": "maybe"}})
    paths = [p for p, _ in problems]
    assert paths == ["STATE.url", "STATE.fail"]
    assert all("hunter2" not in m for _, m in problems)


def test_state_config_is_checked_when_the_config_is_built() -> None:
    from ccr.config import InvalidConfig, build_config

    with pytest.raises(InvalidConfig) as caught:
        build_config({"STATE": {"url": "ftp://x"}})
    assert "STATE.url" in str(caught.value)


async def test_a_cooldown_set_by_one_instance_is_honoured_by_the_other(
        redis_server: RedisServer) -> None:
    from ccr.state.cooldowns import Cooldowns

    one, two = failover(redis_server), failover(redis_server)
    await one.start()
    await two.start()
    await Cooldowns(one).start("deepseek", 0.3, reason="429 from upstream")
    assert 0.1 < await Cooldowns(two).remaining("deepseek") <= 0.3
    assert await Cooldowns(two).remaining("openrouter") == 0.0
    await asyncio.sleep(0.35)
    assert await Cooldowns(two).remaining("deepseek") == 0.0
    await Cooldowns(two).start("gemini", 60)
    await Cooldowns(one).clear("gemini")
    assert await Cooldowns(two).remaining("gemini") == 0.0
    await one.aclose()
    await two.aclose()

"""The state store's contract, the same for every backend: memory, SQLite (a real file in WAL
mode) and Redis (a real redis-server started by the test)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from ccr.state import MemoryStore, SqliteStore, StateStore
from tests.support.redis_server import RedisServer, running_redis

pytestmark = pytest.mark.e2e


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    yield from running_redis(tmp_path)


BACKENDS = ("memory", "sqlite", "redis")


@pytest.fixture(params=BACKENDS)
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[StateStore]:
    made: StateStore
    if request.param == "memory":
        made = MemoryStore()
    elif request.param == "sqlite":
        made = SqliteStore(tmp_path / "state.db")
    else:
        server: RedisServer = request.getfixturevalue("redis_server")
        from ccr.state.redis import RedisStore

        made = RedisStore(server.url)
    await made.start()
    yield made
    await made.aclose()


async def test_window_counter_adds_up_within_its_window(store: StateStore) -> None:
    assert await store.hit("rate:alice", 60) == 1
    assert await store.hit("rate:alice", 60) == 2
    assert await store.hit("rate:alice", 60, amount=3) == 5


async def test_window_counters_are_separate_per_key(store: StateStore) -> None:
    await store.hit("rate:alice", 60)
    assert await store.hit("rate:bob", 60) == 1


async def test_window_counter_starts_again_in_the_next_window(store: StateStore) -> None:
    await store.hit("rate:fast", 0.2)
    await store.hit("rate:fast", 0.2)
    await asyncio.sleep(0.25)
    assert await store.hit("rate:fast", 0.2) == 1


async def test_acquire_hands_out_at_most_limit_slots(store: StateStore) -> None:
    first = await store.acquire("conc:alice", 2, 30)
    second = await store.acquire("conc:alice", 2, 30)
    assert first and second and first != second
    assert await store.acquire("conc:alice", 2, 30) is None
    assert await store.holders("conc:alice") == 2


async def test_release_frees_a_slot(store: StateStore) -> None:
    token = await store.acquire("conc:bob", 1, 30)
    assert token is not None
    await store.release("conc:bob", token)
    assert await store.holders("conc:bob") == 0
    assert await store.acquire("conc:bob", 1, 30) is not None


async def test_a_lease_that_is_never_released_expires(store: StateStore) -> None:
    assert await store.acquire("conc:dead", 1, 0.15) is not None
    assert await store.acquire("conc:dead", 1, 0.15) is None
    await asyncio.sleep(0.2)
    assert await store.acquire("conc:dead", 1, 0.15) is not None


async def test_releasing_an_unknown_token_changes_nothing(store: StateStore) -> None:
    await store.acquire("conc:x", 2, 30)
    await store.release("conc:x", "not-a-token")
    assert await store.holders("conc:x") == 1


async def test_values_round_trip_as_json(store: StateStore) -> None:
    value = {"input_tokens": 70000, "route": "fake,fake-model", "ok": True, "n": [1, 2.5]}
    await store.set("session:abc", value)
    assert await store.get("session:abc") == value
    assert await store.get("session:missing") is None


async def test_changing_a_value_after_set_or_get_changes_nothing_stored(
        store: StateStore) -> None:
    value = {"turns": 1, "routes": ["a"]}
    await store.set("session:abc", value)
    value["routes"].append("changed after set")
    read = await store.get("session:abc")
    assert isinstance(read, dict)
    read["turns"] = 99
    assert await store.get("session:abc") == {"turns": 1, "routes": ["a"]}


async def test_a_value_with_a_ttl_disappears_after_it(store: StateStore) -> None:
    await store.set("cooldown:deepseek", {"until": 1}, ttl_s=0.15)
    assert await store.get("cooldown:deepseek") == {"until": 1}
    await asyncio.sleep(0.2)
    assert await store.get("cooldown:deepseek") is None


async def test_set_replaces_the_previous_value(store: StateStore) -> None:
    await store.set("sticky:s1", "a,b")
    await store.set("sticky:s1", "c,d")
    assert await store.get("sticky:s1") == "c,d"


async def test_delete_forgets_a_value(store: StateStore) -> None:
    await store.set("k", 1)
    await store.delete("k")
    assert await store.get("k") is None


async def test_add_accumulates_fractional_amounts(store: StateStore) -> None:
    assert await store.add("spend:client:alice", 0.25) == pytest.approx(0.25)
    assert await store.add("spend:client:alice", 0.5) == pytest.approx(0.75)
    assert await store.number("spend:client:alice") == pytest.approx(0.75)


async def test_a_missing_number_reads_as_zero(store: StateStore) -> None:
    assert await store.number("spend:nobody") == 0.0
    assert await store.numbers(["spend:nobody", "spend:none"]) == [0.0, 0.0]


async def test_numbers_reads_several_at_once(store: StateStore) -> None:
    await store.add("a", 1.5)
    await store.add("c", 3)
    assert await store.numbers(["a", "b", "c"]) == [1.5, 0.0, 3.0]


async def test_a_number_expires_with_the_ttl_set_when_it_was_created(store: StateStore) -> None:
    await store.add("budget:day", 1.0, ttl_s=0.2)
    await asyncio.sleep(0.1)
    await store.add("budget:day", 1.0, ttl_s=0.2)  # does not extend the period
    await asyncio.sleep(0.15)
    assert await store.number("budget:day") == 0.0
    assert await store.add("budget:day", 2.0, ttl_s=10) == 2.0


async def test_add_many_adds_each_amount_with_its_ttl(store: StateStore) -> None:
    await store.add("x", 1.0)
    await store.add_many([("x", 2.0, None), ("y", 0.5, 0.15), ("y", 0.25, 0.15)])
    assert await store.numbers(["x", "y"]) == [3.0, 0.75]
    await asyncio.sleep(0.2)
    assert await store.number("y") == 0.0


async def test_concurrent_acquires_never_exceed_the_limit(store: StateStore) -> None:
    tokens = await asyncio.gather(*(store.acquire("conc:race", 3, 30) for _ in range(20)))
    assert sum(1 for t in tokens if t) == 3

"""The concurrency gate behind ``Providers[].max_concurrency``: a queue in arrival order,
bounded waits, refusals with ``retry-after``."""

from __future__ import annotations

import asyncio

import pytest

from ccr.engine.limits import ConcurrencyGate, LimitRefused, ProviderGates


async def test_requests_within_the_limit_go_straight_through() -> None:
    gate = ConcurrencyGate(2)
    await gate.acquire()
    await gate.acquire()
    assert gate.active == 2


async def test_excess_requests_wait_in_the_queue_and_get_the_freed_slot_in_order() -> None:
    gate = ConcurrencyGate(1, max_queued=2, timeout_s=5)
    await gate.acquire()
    order: list[str] = []

    async def waiter(name: str) -> None:
        await gate.acquire()
        order.append(name)

    first = asyncio.create_task(waiter("first"))
    await asyncio.sleep(0)
    second = asyncio.create_task(waiter("second"))
    await asyncio.sleep(0)
    assert gate.queued == 2
    gate.release()
    await first
    gate.release()
    await second
    assert order == ["first", "second"] and gate.active == 1


async def test_a_full_queue_refuses_at_once_with_a_429_and_retry_after() -> None:
    gate = ConcurrencyGate(1, max_queued=0)
    await gate.acquire()
    with pytest.raises(LimitRefused) as caught:
        await gate.acquire()
    refused = caught.value
    assert (refused.status, refused.error_type) == (429, "rate_limit_error")
    assert refused.headers["retry-after"] == "5"
    assert "MAX_CONCURRENT_REQUESTS is 1" in refused.message


async def test_a_queued_request_that_waits_too_long_is_refused_and_leaves_the_queue() -> None:
    gate = ConcurrencyGate(1, max_queued=1, timeout_s=0.05)
    await gate.acquire()
    with pytest.raises(LimitRefused, match=r"waited 0\.05 s"):
        await gate.acquire()
    assert gate.queued == 0
    gate.release()
    assert gate.active == 0


async def test_a_cancelled_waiter_does_not_take_a_slot() -> None:
    gate = ConcurrencyGate(1, max_queued=1, timeout_s=5)
    await gate.acquire()
    task = asyncio.create_task(gate.acquire())
    await asyncio.sleep(0)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    gate.release()
    assert (gate.active, gate.queued) == (0, 0)





async def test_a_provider_gate_makes_calls_wait_their_turn() -> None:
    gates = ProviderGates({"Ollama": 1})
    gate = gates.gate("ollama")
    assert gate is not None and gates.gate("deepseek") is None
    events: list[str] = []

    async def call(name: str) -> None:
        async with gate.slot():
            events.append(f"{name} in")
            await asyncio.sleep(0.01)
            events.append(f"{name} out")

    await asyncio.gather(call("a"), call("b"))
    assert events == ["a in", "a out", "b in", "b out"]

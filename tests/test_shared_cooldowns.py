"""Cooldowns shared through the state store: what one instance learns, every instance skips."""

from __future__ import annotations

from pathlib import Path

import httpx

from ccr.config.resilience import CooldownPolicy, RetryPolicy
from ccr.engine.failures import Failure
from ccr.engine.health import Health
from ccr.engine.plan import AttemptPlan, Target, Try
from ccr.engine.shared_health import SharedCooldowns
from ccr.state.cooldowns import Cooldowns
from ccr.state.memory import MemoryStore
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fault_upstream import server_error
from tests.support.fixtures import MakeCcr
from tests.support.resilience_helpers import FakeClock

PRIMARY = Target.of("deepseek,deepseek-chat", ["sk-one-000000000000"])
FALLBACK = Target.of("openrouter,x", ["sk-two-000000000000"])
POLICY = CooldownPolicy(failures=1, window_s=60, cooldown_s=30)


def first_try(health: Health) -> Try:
    step = AttemptPlan([PRIMARY, FALLBACK], retry=RetryPolicy(max_retries=0),
                       health=health).next()
    assert isinstance(step, Try)
    return step


async def test_a_cooldown_on_one_instance_is_skipped_by_another() -> None:
    store = MemoryStore()
    clock = FakeClock()
    one, two = Health(POLICY, clock), Health(POLICY, clock)
    shared_one = SharedCooldowns(Cooldowns(store), clock=clock)
    shared_two = SharedCooldowns(Cooldowns(store), clock=clock)
    plan = AttemptPlan([PRIMARY, FALLBACK], retry=RetryPolicy(max_retries=0), health=one)
    step = plan.next()
    assert isinstance(step, Try)
    plan.failed(step, Failure("http", 503))
    await shared_one.push(one, "deepseek")

    await shared_two.pull(two, ["deepseek", "openrouter"])

    assert first_try(two).target == FALLBACK
    assert two.provider("deepseek").breaker.reason == "cooling, seen by another ccr instance"


async def test_a_provider_that_answered_again_is_cleared_in_the_store() -> None:
    store = MemoryStore()
    clock = FakeClock()
    health = Health(POLICY, clock)
    shared = SharedCooldowns(Cooldowns(store), clock=clock)
    health.failed_provider("deepseek", "503")
    await shared.push(health, "deepseek")
    assert await Cooldowns(store).remaining("deepseek") > 0

    health.succeeded("deepseek", None, 0.1)
    await shared.push(health, "deepseek")

    assert await Cooldowns(store).remaining("deepseek") == 0


async def test_a_provider_not_cooling_is_read_at_most_once_per_recheck_interval() -> None:
    store = MemoryStore()
    clock = FakeClock()
    reads: list[str] = []

    class CountingCooldowns(Cooldowns):
        async def remaining(self, target: str) -> float:
            reads.append(target)
            return await super().remaining(target)

    shared = SharedCooldowns(CountingCooldowns(store), clock=clock, recheck_s=1.0)
    health = Health(POLICY, clock)
    for _ in range(5):
        await shared.pull(health, ["deepseek"])
    clock.advance(1.5)
    await shared.pull(health, ["deepseek"])

    assert reads == ["deepseek", "deepseek"]


def test_two_servers_on_one_sqlite_store_share_a_providers_cooldown(
        make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path) -> None:
    with FakeUpstream() as backup:
        backup.default = text("from the backup")
        config = {
            "Providers": [
                {"name": "primary", "api_base_url": fake.chat_url, "models": ["m"]},
                {"name": "backup", "api_base_url": backup.chat_url, "models": ["m"]},
            ],
            "Router": {"default": "primary,m"},
            "fallback": {"default": ["backup,m"]},
            "RETRY": {"max_retries": 0},
            "COOLDOWN": {"failures": 1, "cooldown_s": 60},
            "STATE": {"url": f"sqlite:///{tmp_path / 'state.db'}"},
            "LOG": False,
        }
        one, two = make_ccr(config), make_ccr(config)
        fake.enqueue(server_error(503))
        request = {"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": "hi"}]}

        first = httpx.post(f"{one.base_url}/v1/messages", json=request, timeout=10)
        second = httpx.post(f"{two.base_url}/v1/messages", json=request, timeout=10)

    assert first.headers["x-ccr-fallback-from"] == "primary,m"
    assert second.headers["x-ccr-route"] == "backup,m"
    assert second.headers["x-ccr-attempts"] == "1"  # the primary was skipped, not called
    assert len(fake.chat_requests) == 1

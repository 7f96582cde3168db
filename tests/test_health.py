"""Provider health: breaker states, error rate, median latency, in-flight, key masking."""

from __future__ import annotations

import pytest

from ccr.config.resilience import CooldownPolicy, RetryPolicy
from ccr.engine.backoff import Budget, backoff_s, retry_wait
from ccr.engine.breaker import Breaker
from ccr.engine.health import Health
from ccr.engine.keys import fingerprint, mask
from tests.support.resilience_helpers import FakeClock

POLICY = CooldownPolicy(failures=3, window_s=60, cooldown_s=30)


def test_failures_spread_wider_than_the_window_do_not_cool() -> None:
    breaker = Breaker(POLICY)
    for t in (0, 40, 80, 120):
        assert breaker.failure(float(t)) is False
    assert breaker.state(120) == "ok"


def test_failures_within_the_window_cool_then_half_open() -> None:
    breaker = Breaker(POLICY)
    breaker.failure(0)
    breaker.failure(1)
    assert breaker.failure(2, what="500") is True
    assert breaker.state(10) == "cooling" and breaker.cooldown_left(10) == 22
    assert breaker.reason == "3 failures in 60 s (last: 500)"
    assert breaker.state(33) == "half_open"


def test_a_retry_after_cools_at_once_for_that_long() -> None:
    breaker = Breaker(POLICY)
    assert breaker.failure(0, cool_for_s=90, what="429") is True
    assert breaker.cooldown_left(0) == 90


def test_a_probe_that_never_reports_stops_blocking_after_its_lease() -> None:
    breaker = Breaker(POLICY)
    breaker.failure(0, cool_for_s=1)
    assert breaker.acquire(2) is True
    assert breaker.acquire(3) is False
    assert breaker.acquire(2 + 61) is True


def test_health_reports_error_rate_median_latency_and_in_flight() -> None:
    clock = FakeClock()
    health = Health(POLICY, clock)
    for latency in (0.1, 0.3, 0.2):
        health.succeeded("deepseek", None, latency)
    health.failed_provider("deepseek", "500")
    health.started("deepseek")
    view = health.script_view([("deepseek", (None,))])["deepseek"]
    assert view == {"healthy": True, "cooldown_s": 0.0, "error_rate": 0.25, "p50_ms": 200.0,
                    "in_flight": 1}


def test_status_names_the_state_reason_and_masked_keys() -> None:
    clock = FakeClock()
    health = Health(POLICY, clock)
    keys = ("sk-first-key-000011112222", "sk-second-key-00003333")
    health.failed_key("deepseek", keys[0], "429", cool_for_s=20)
    health.failed_key("deepseek", keys[1], "429", cool_for_s=10)
    status = health.status([("deepseek", keys)])[0]
    assert status["state"] == "cooling" and status["cooldown_s"] == 10
    assert [k["key"] for k in status["keys"]] == ["#1 …2222", "#2 …3333"]
    assert all(k["state"] == "cooling" for k in status["keys"])
    assert "sk-" not in repr(status)


def test_a_reload_gives_refused_keys_another_chance() -> None:
    health = Health(POLICY, FakeClock())
    health.refused_key("deepseek", "sk-key-that-was-refused", 401)
    assert not health.healthy("deepseek", ("sk-key-that-was-refused",))
    health.adopt(CooldownPolicy(failures=5))
    assert health.healthy("deepseek", ("sk-key-that-was-refused",))


def test_keys_are_masked_by_position_and_last_four_and_short_keys_not_at_all() -> None:
    assert mask(0, "sk-abcdefghijkl1234") == "#1 …1234"
    assert mask(2, "short") == "#3"
    assert mask(0, None) == "#1"
    assert "abcdef" not in fingerprint("sk-abcdefghijkl1234")


def test_backoff_doubles_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_retries=5, backoff_ms=100, max_retry_wait_ms=350)
    assert backoff_s(1, policy, lambda: 0.0) == pytest.approx(0.05)
    assert backoff_s(1, policy, lambda: 1.0) == pytest.approx(0.1)
    assert backoff_s(2, policy, lambda: 1.0) == pytest.approx(0.2)
    assert backoff_s(4, policy, lambda: 1.0) == pytest.approx(0.35)


def test_retry_wait_honours_a_short_retry_after_and_refuses_a_long_one() -> None:
    policy = RetryPolicy(max_retries=1, backoff_ms=100, max_retry_wait_ms=2000)
    assert retry_wait(1, 1.5, policy) == 1.5
    assert retry_wait(1, 2.5, policy) is None
    assert retry_wait(2, None, policy) is None


def test_the_budget_bounds_when_an_attempt_may_start() -> None:
    clock = FakeClock()
    budget = Budget(5.0, clock)
    assert budget.allows(4.9)
    clock.advance(3)
    assert not budget.allows(2.0) and budget.allows(1.0)
    clock.advance(2)
    assert budget.spent

"""The attempt plan: which target and key each attempt uses, retries, cooldowns, and the
error a client gets when everything failed. Driven with a fake clock; no network."""

from __future__ import annotations

import pytest

from ccr.config.resilience import CooldownPolicy, RetryPolicy
from ccr.engine.backoff import Budget
from ccr.engine.failures import Failure
from ccr.engine.health import Health
from ccr.engine.plan import AttemptPlan, GiveUp, Target, Try
from tests.support.resilience_helpers import FakeClock

PRIMARY = Target.of("deepseek,deepseek-chat", ["sk-deepseek-key-one-aaaa"])
POOLED = Target.of("deepseek,deepseek-chat", ["sk-deepseek-key-one-aaaa",
                                              "sk-deepseek-key-two-bbbb"])
FALLBACK = Target.of("openrouter,x", ["sk-openrouter-key-cccc"])
LONG = Target.of("gemini,gemini-2.5-pro", ["gem-key-0000000000dddd"])
RETRY = RetryPolicy(max_retries=1, backoff_ms=200, max_retry_wait_ms=5000, budget_ms=60_000)

REFUSED = Failure("connect", message="[Errno 111] Connection refused")


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def health(clock: FakeClock) -> Health:
    return Health(CooldownPolicy(failures=3, window_s=60, cooldown_s=30), clock)


def plan(health: Health, *targets: Target, retry: RetryPolicy = RETRY,
         long_context: Target | None = None) -> AttemptPlan:
    return AttemptPlan(list(targets), retry=retry, health=health, long_context=long_context,
                       rng=lambda: 0.5)


def step(p: AttemptPlan) -> Try:
    found = p.next()
    assert isinstance(found, Try), found
    return found


def give_up(p: AttemptPlan) -> GiveUp:
    found = p.next()
    assert isinstance(found, GiveUp), found
    return found


def test_the_first_attempt_is_the_primary_at_once(health: Health) -> None:
    first = step(plan(health, PRIMARY, FALLBACK))
    assert (first.target, first.wait_s, first.number) == (PRIMARY, 0.0, 1)


def test_a_short_retry_after_is_waited_out_on_the_same_target(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 429, retry_after_s=1.0))
    again = step(p)
    assert (again.target, again.wait_s) == (PRIMARY, 1.0)


def test_a_retry_after_longer_than_the_cap_moves_to_the_fallback_at_once(
        health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 429, retry_after_s=30.0))
    moved = step(p)
    assert (moved.target, moved.wait_s) == (FALLBACK, 0.0)


def test_a_server_error_is_retried_once_with_jittered_backoff_then_falls_back(
        health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 500))
    retry = step(p)
    assert retry.target == PRIMARY
    assert 0.1 <= retry.wait_s <= 0.2
    p.failed(retry, Failure("http", 502))
    assert step(p).target == FALLBACK


def test_without_retries_a_refused_connection_falls_back_at_once(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), REFUSED)
    assert step(p).target == FALLBACK


def test_a_broken_stream_before_the_first_event_falls_back(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("broken_stream"))
    fallback = step(p)
    p.succeeded(fallback, 0.05)
    assert p.fell_back and p.answered_by == FALLBACK and p.calls == 2


def test_three_failures_cool_the_provider_so_the_next_request_skips_it(
        clock: FakeClock, health: Health) -> None:
    no_retry = RetryPolicy(max_retries=0)
    for _ in range(3):
        p = plan(health, PRIMARY, FALLBACK, retry=no_retry)
        p.failed(step(p), Failure("http", 503))
        p.succeeded(step(p), 0.01)
    later = plan(health, PRIMARY, FALLBACK, retry=no_retry)
    first = step(later)
    assert first.target == FALLBACK
    assert later.attempts[0].skipped is not None
    assert later.attempts[0].skipped.startswith("cooling, 30 s left")


def test_after_the_cooldown_a_single_probe_goes_to_the_primary(
        clock: FakeClock, health: Health) -> None:
    no_retry = RetryPolicy(max_retries=0)
    for _ in range(3):
        p = plan(health, PRIMARY, FALLBACK, retry=no_retry)
        p.failed(step(p), REFUSED)
    clock.advance(31)
    probe_plan = plan(health, PRIMARY, FALLBACK, retry=no_retry)
    probe = step(probe_plan)
    concurrent = step(plan(health, PRIMARY, FALLBACK, retry=no_retry))
    assert probe.target == PRIMARY
    assert concurrent.target == FALLBACK  # only one probe at a time
    probe_plan.succeeded(probe, 0.02)
    assert step(plan(health, PRIMARY, FALLBACK)).target == PRIMARY
    assert health.healthy("deepseek", PRIMARY.keys)


def test_a_failed_probe_cools_the_provider_again(clock: FakeClock, health: Health) -> None:
    no_retry = RetryPolicy(max_retries=0)
    for _ in range(3):
        p = plan(health, PRIMARY, FALLBACK, retry=no_retry)
        p.failed(step(p), REFUSED)
    clock.advance(31)
    probe_plan = plan(health, PRIMARY, FALLBACK, retry=no_retry)
    probe_plan.failed(step(probe_plan), REFUSED)
    assert step(plan(health, PRIMARY, FALLBACK)).target == FALLBACK
    assert health.provider("deepseek").breaker.cooldown_left(clock()) == pytest.approx(30)


def test_a_429_on_key_one_moves_to_key_two_at_once(health: Health) -> None:
    p = plan(health, POOLED, FALLBACK)
    first = step(p)
    p.failed(first, Failure("http", 429))
    second = step(p)
    assert second.target == POOLED and second.wait_s == 0
    assert (first.key.position, second.key.position) == (0, 1)
    assert second.key_label == "#2 …bbbb"


def test_a_429_with_retry_after_cools_only_that_key(clock: FakeClock, health: Health) -> None:
    p = plan(health, POOLED)
    first = step(p)
    p.failed(first, Failure("http", 429, retry_after_s=20))
    p.succeeded(step(p), 0.01)
    keys = [step(plan(health, POOLED)).key.position for _ in range(3)]
    assert keys == [1, 1, 1]
    assert health.healthy("deepseek", POOLED.keys)


def test_requests_spread_over_the_healthy_keys(health: Health) -> None:
    picked = []
    for _ in range(4):
        p = plan(health, POOLED)
        attempt = step(p)
        p.succeeded(attempt, 0.01)
        picked.append(attempt.key.position)
    assert picked == [0, 1, 0, 1]


def test_a_401_takes_the_key_out_of_rotation_and_tries_the_next(health: Health) -> None:
    p = plan(health, POOLED)
    first = step(p)
    p.failed(first, Failure("http", 401, "invalid api key"))
    second = step(p)
    assert second.key.position == 1 and second.wait_s == 0
    for _ in range(3):
        assert step(plan(health, POOLED)).key.position == 1
    keys = health.status([("deepseek", POOLED.keys)])[0]["keys"]
    assert keys[0] == {"key": "#1 …aaaa", "state": "revoked", "requests": 1,
                       "reason": "refused with 401"}
    assert "sk-deepseek" not in repr(health.status([("deepseek", POOLED.keys)]))


def test_every_key_refused_is_a_permanent_failure_that_names_the_provider(
        health: Health) -> None:
    p = plan(health, PRIMARY)
    p.failed(step(p), Failure("http", 401, "invalid api key"))
    error = give_up(p).error
    assert error.should_retry is False
    assert error.headers == {"x-should-retry": "false"}
    assert error.status == 502
    assert "deepseek,deepseek-chat: 401 (key refused)" in error.message
    assert "Check the api_key of deepseek" in error.message


def test_a_provider_whose_keys_were_all_refused_is_skipped_and_down(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 403))
    p.succeeded(step(p), 0.01)
    later = plan(health, PRIMARY, FALLBACK)
    assert step(later).target == FALLBACK
    assert later.attempts[0].skipped == "its key was refused"
    assert health.status([("deepseek", PRIMARY.keys)])[0]["state"] == "down"


def test_context_too_long_moves_to_the_long_context_route(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, long_context=LONG)
    p.failed(step(p), Failure("http", 400, "maximum context length is 65536 tokens"))
    assert step(p).target == LONG


def test_context_too_long_without_a_long_context_route_is_answered_at_once(
        health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 400, "maximum context length is 65536 tokens"))
    error = give_up(p).error
    assert (error.status, error.should_retry) == (400, False)
    assert "Router.longContext" in error.message


def test_a_request_the_provider_rejects_is_answered_at_once_without_fallback(
        health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    p.failed(step(p), Failure("http", 422, "provider deepseek answered HTTP 422: bad tool"))
    error = give_up(p).error
    assert (error.status, error.error_type) == (422, "invalid_request_error")
    assert error.message == "provider deepseek answered HTTP 422: bad tool"
    assert error.should_retry is False
    assert p.calls == 1


def test_the_final_message_names_each_target_and_why_it_failed(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 429, retry_after_s=30))
    p.failed(step(p), REFUSED)
    error = give_up(p).error
    assert ("deepseek,deepseek-chat: 429 (retry-after 30 s) → openrouter,x: connection refused"
            in error.message)


def test_a_throttled_end_is_a_429_with_the_shortest_known_retry_after(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 429, retry_after_s=30))
    p.failed(step(p), Failure("http", 429, retry_after_s=12))
    error = give_up(p).error
    assert (error.status, error.error_type, error.should_retry) == (429, "rate_limit_error", True)
    assert error.headers == {"x-should-retry": "true", "retry-after": "12"}


def test_a_transient_end_answers_with_the_last_failures_status(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 503))
    p.failed(step(p), Failure("http", 529))
    error = give_up(p).error
    assert (error.status, error.error_type) == (529, "overloaded_error")
    assert error.should_retry is True


def test_the_final_message_ends_with_the_last_upstreams_own_words(health: Health) -> None:
    p = plan(health, PRIMARY, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 500, "provider deepseek answered HTTP 500: kaputt"))
    error = give_up(p).error
    assert error.status == 500
    assert error.message.startswith("ccr tried deepseek,deepseek-chat: 500. Last error: "
                                    "provider deepseek answered HTTP 500: kaputt.")


def test_all_targets_cooling_is_a_429_with_the_cooldown_as_retry_after(
        clock: FakeClock, health: Health) -> None:
    for target in (PRIMARY, FALLBACK):
        p = plan(health, target)
        p.failed(step(p), Failure("http", 429, retry_after_s=40))
    clock.advance(10)
    error = give_up(plan(health, PRIMARY, FALLBACK)).error
    assert error.status == 429
    assert error.headers["retry-after"] == "30"
    assert "skipped, every key cooling" in error.message


def test_unreachable_everywhere_is_permanent_and_says_what_to_do(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), REFUSED)
    p.failed(step(p), REFUSED)
    error = give_up(p).error
    assert error.should_retry is False
    assert "Nothing answers at the api_base_url of deepseek, openrouter" in error.message


def test_a_retry_that_would_start_after_the_budget_gives_up(clock: FakeClock,
                                                            health: Health) -> None:
    retry = RetryPolicy(max_retries=3, backoff_ms=200, max_retry_wait_ms=5000, budget_ms=2000)
    p = AttemptPlan([PRIMARY], retry=retry, health=health, rng=lambda: 0.5,
                    budget=Budget(2.0, clock))
    first = step(p)
    clock.advance(1.5)
    p.failed(first, Failure("http", 429, retry_after_s=1.0))
    error = give_up(p).error
    assert "RETRY.budget_ms" in error.message


def test_an_on_error_choice_is_tried_next(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 500))
    p.insert_next(LONG)
    chosen = step(p)
    assert chosen.target == LONG
    p.failed(chosen, Failure("http", 500))
    assert step(p).target == FALLBACK


def test_a_route_listed_twice_is_tried_once(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, PRIMARY, retry=RetryPolicy(max_retries=0))
    p.failed(step(p), Failure("http", 500))
    p.failed(step(p), Failure("http", 500))
    assert isinstance(p.next(), GiveUp)


def test_a_target_with_a_fallback_behind_it_is_not_the_last(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK)
    assert not p.is_last_target(step(p).target)


def test_a_lone_target_is_the_last_one(health: Health) -> None:
    p = plan(health, PRIMARY)
    assert p.is_last_target(step(p).target)


def test_a_long_context_route_still_to_try_means_the_target_is_not_the_last(
        health: Health) -> None:
    p = plan(health, PRIMARY, long_context=LONG)
    assert not p.is_last_target(step(p).target)


def test_the_fallback_answering_after_the_primary_failed_is_the_last(health: Health) -> None:
    p = plan(health, PRIMARY, FALLBACK, retry=RetryPolicy(max_retries=0, backoff_ms=200,
                                                          max_retry_wait_ms=5000,
                                                          budget_ms=60_000))
    p.failed(step(p), REFUSED)
    assert p.is_last_target(step(p).target)

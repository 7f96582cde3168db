"""Prices per provider,model, budgets per client/project/router per day or month, and running
spend kept in the state store."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from ccr.config import InvalidConfig, build_config
from ccr.config.prices import prices_problems
from ccr.ledger import Budget, BudgetExceeded, PriceTable, SpendTracker, Who, check_budgets
from ccr.ledger.budgets import budget_keys, parse_budgets, resets_at, spend_key
from ccr.state import MemoryStore

NOW = datetime(2026, 12, 6, 9, 30, tzinfo=UTC)

# -- prices ------------------------------------------------------------------------------------


def test_cost_uses_each_token_kind_price() -> None:
    table = PriceTable.from_config({"PRICES": {"deepseek,deepseek-chat": {
        "input": 0.27, "output": 1.10, "cache_read": 0.07, "cache_write": 0.30}}})
    cost = table.cost("deepseek,deepseek-chat", {
        "input_tokens": 1_000_000, "output_tokens": 2_000_000,
        "cache_read_tokens": 1_000_000, "cache_write_tokens": 1_000_000})
    assert cost == pytest.approx(0.27 + 2.20 + 0.07 + 0.30)


def test_cache_prices_default_to_the_input_price() -> None:
    table = PriceTable.from_config({"PRICES": {"p,m": {"input": 2, "output": 4}}})
    assert table.cost("p,m", {"cache_read_tokens": 1_000_000}) == pytest.approx(2)


def test_provider_names_match_case_insensitively_and_star_prices_a_provider() -> None:
    table = PriceTable.from_config({"PRICES": {"OpenRouter,*": {"input": 3, "output": 15}}})
    assert table.cost("openrouter,anthropic/claude-sonnet-4", {"output_tokens": 1000}) == (
        pytest.approx(0.015))


def test_a_route_without_a_price_has_no_cost() -> None:
    assert PriceTable.from_config({}).cost("p,m", {"input_tokens": 5}) is None


def test_prices_wins_over_the_status_line_prices() -> None:
    table = PriceTable.from_config({
        "StatusLine": {"prices": {"p,m": {"input": 1, "output": 1}, "p,n": {"input": 9,
                                                                          "output": 9}}},
        "PRICES": {"p,m": {"input": 2, "output": 2}}})
    assert table.price("p,m").input == 2  # type: ignore[union-attr]
    assert table.price("p,n").input == 9  # type: ignore[union-attr]


def test_price_problems_name_the_route_and_field() -> None:
    problems = prices_problems({"PRICES": {"p,m": {"input": -1, "output": 1, "speed": 2},
                                           "nocomma": {"input": 1, "output": 1}}})
    paths = [p for p, _ in problems]
    assert "PRICES['p,m'].input" in paths and "PRICES['nocomma']" in paths
    assert any("speed" in m for _, m in problems)


def test_bad_prices_fail_the_config_load() -> None:
    with pytest.raises(InvalidConfig, match="PRICES"):
        build_config({"PRICES": {"p,m": {"input": "cheap", "output": 1}}})


# -- budgets -----------------------------------------------------------------------------------

ALICE = Who(client="alice", project="repo", session="s1")


def test_a_budget_below_its_amount_decides_nothing() -> None:
    budget = Budget("daily", "router", "day", 10.0)
    assert check_budgets([budget], ALICE, {spend_key("router", None, "day", NOW): 9.99},
                         NOW) is None


def test_a_budget_at_its_amount_reroutes_to_the_cheaper_route() -> None:
    budget = Budget("alice-daily", "client", "day", 5.0, target="alice", route="cheap,small")
    spent = {spend_key("client", "alice", "day", NOW): 5.0}
    verdict = check_budgets([budget], ALICE, spent, NOW)
    assert verdict is not None and verdict.route == "cheap,small"


def test_a_client_budget_does_not_apply_to_another_client() -> None:
    budget = Budget("alice-daily", "client", "day", 5.0, target="alice")
    bob = Who(client="bob")
    assert budget_keys([budget], bob, NOW) == []
    assert check_budgets([budget], bob, {spend_key("client", "bob", "day", NOW): 99}, NOW) is None


def test_a_budget_without_a_target_applies_to_each_client_separately() -> None:
    budget = Budget("per-client", "client", "day", 1.0)
    spent = {spend_key("client", "bob", "day", NOW): 2.0}
    assert check_budgets([budget], Who(client="alice"), spent, NOW) is None
    verdict = check_budgets([budget], Who(client="bob"), spent, NOW)
    assert verdict is not None and verdict.budget.target == "bob"


def test_refusing_wins_over_rerouting() -> None:
    budgets = [Budget("cheap", "router", "day", 1.0, route="cheap,small"),
               Budget("hard", "router", "month", 1.0)]
    spent = {spend_key("router", None, "day", NOW): 2.0,
             spend_key("router", None, "month", NOW): 2.0}
    verdict = check_budgets(budgets, ALICE, spent, NOW)
    assert verdict is not None and verdict.budget.name == "hard"


def test_the_refusal_is_anthropic_shaped_and_names_budget_and_reset() -> None:
    budget = Budget("team-monthly", "project", "month", 100.0, target="repo")
    spent = {spend_key("project", "repo", "month", NOW): 100.5}
    verdict = check_budgets([budget], ALICE, spent, NOW)
    assert verdict is not None
    error = verdict.error()
    assert isinstance(error, BudgetExceeded) and error.status == 429
    body = error.to_body()
    assert body["type"] == "error" and body["error"]["type"] == "rate_limit_error"
    message = body["error"]["message"]
    assert "team-monthly" in message and "2027-01-01T00:00:00Z" in message
    assert "project 'repo'" in message and "$100.50" in message


def test_days_and_months_reset_at_utc_boundaries() -> None:
    assert resets_at("day", NOW) == datetime(2026, 12, 7, tzinfo=UTC)
    assert resets_at("month", NOW) == datetime(2027, 1, 1, tzinfo=UTC)
    assert resets_at("month", datetime(2028, 2, 10, tzinfo=UTC)) == datetime(2028, 3, 1,
                                                                             tzinfo=UTC)


def test_budgets_are_read_from_budgets_and_client_keys() -> None:
    budgets, problems = parse_budgets({
        "BUDGETS": [{"name": "team", "scope": "router", "period": "month", "usd": 500}],
        "APIKEYS": [{"name": "alice", "key": "k", "budget": {
            "period": "day", "usd": 20, "action": {"route": "cheap,small"}}}]})
    assert problems == []
    assert budgets[0] == Budget("team", "router", "month", 500.0)
    assert budgets[1].scope == "client" and budgets[1].target == "alice"
    assert budgets[1].route == "cheap,small"


def test_budget_problems_name_each_field() -> None:
    _, problems = parse_budgets({"BUDGETS": [{"scope": "team", "period": "week", "usd": -1,
                                              "action": "panic"}]})
    assert [p for p, _ in problems] == ["BUDGETS[0].scope", "BUDGETS[0].period",
                                        "BUDGETS[0].usd", "BUDGETS[0].action"]


# -- running spend -----------------------------------------------------------------------------


async def test_spend_adds_up_per_session_project_client_and_router() -> None:
    tracker = SpendTracker(MemoryStore())
    await tracker.record(ALICE, 0.25, NOW)
    await tracker.record(ALICE, 0.5, NOW)
    await tracker.record(Who(client="bob", project="other", session="s2"), 1.0, NOW)
    spend = await tracker.spend(ALICE, NOW)
    assert spend.session == pytest.approx(0.75)
    assert spend.project_today == pytest.approx(0.75)
    assert spend.client_today == pytest.approx(0.75)
    assert spend.router_today == pytest.approx(1.75)


async def test_yesterdays_spend_is_not_today_s() -> None:
    tracker = SpendTracker(MemoryStore())
    await tracker.record(ALICE, 3.0, datetime(2026, 12, 5, 23, 59, tzinfo=UTC))
    assert (await tracker.spend(ALICE, NOW)).client_today == 0.0


async def test_tracker_check_flips_once_spend_reaches_the_budget() -> None:
    budget = Budget("alice-daily", "client", "day", 1.0, target="alice", route="cheap,small")
    tracker = SpendTracker(MemoryStore(), [budget])
    await tracker.record(ALICE, 0.6, NOW)
    assert await tracker.check(ALICE, NOW) is None
    await tracker.record(ALICE, 0.4, NOW)
    verdict = await tracker.check(ALICE, NOW)
    assert verdict is not None and verdict.route == "cheap,small"

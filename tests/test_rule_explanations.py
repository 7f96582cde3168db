"""Every built-in rule says why it answered as it did, in the order the rules run; the reasons
agree with the decision and are built only when asked."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

from ccr.config import parse_config
from ccr.context.sessions import SessionUsage
from ccr.routing import rules
from ccr.routing.context import RequestContext
from ccr.routing.decide import decide
from ccr.routing.rules import RULES, Verdict, explain

CONFIG = parse_config({
    "Providers": [{"name": "main", "api_base_url": "http://127.0.0.1:1/v1/chat/completions",
                   "models": ["chat", "long", "think", "bg", "search", "vision"]}],
    "Router": {"default": "main,chat", "longContext": "main,long",
               "longContextThreshold": 60000, "think": "main,think", "background": "main,bg",
               "webSearch": "main,search", "image": "main,vision"},
}, env={})
BARE = parse_config({
    "Providers": [{"name": "main", "api_base_url": "http://127.0.0.1:1/v1/chat/completions",
                   "models": ["chat"]}],
    "Router": {"default": "main,chat"},
}, env={})


def ctx(body: dict[str, Any] | None = None, *, tokens: int = 17413,
        usage: SessionUsage | None = None, config: Any = CONFIG) -> RequestContext:
    body = body or {"model": "claude-opus-4-8", "thinking": {"type": "adaptive"},
                    "messages": [{"role": "user", "content": "say hello"}]}
    return RequestContext(body=body, headers={}, token_count=tokens, router=config.router,
                          session_usage=usage)


def by_rule(verdicts: list[Verdict]) -> dict[str, Verdict]:
    return {v.rule: v for v in verdicts}


def test_every_rule_is_explained_in_the_order_the_rules_run() -> None:
    assert [v.rule for v in explain(ctx(), CONFIG)] == [r.name for r in RULES]


def test_every_rule_has_a_reason_function() -> None:
    assert {r.name for r in RULES} <= set(rules.REASONS)


def test_long_context_under_the_threshold_gives_both_numbers() -> None:
    verdict = by_rule(explain(ctx(), CONFIG))["longContext"]
    assert (verdict.route, verdict.reason) == (None, "17,413 tokens ≤ threshold 60,000")


def test_long_context_over_the_threshold_names_its_route() -> None:
    verdict = by_rule(explain(ctx(tokens=75000), CONFIG))["longContext"]
    assert (verdict.route, verdict.reason) == ("main,long", "75,000 tokens > threshold 60,000")


def test_long_session_reason_names_the_last_turn() -> None:
    usage = SessionUsage(input_tokens=90000, turns=3)
    verdict = by_rule(explain(ctx(tokens=25000, usage=usage), CONFIG))["longContext"]
    assert verdict.route == "main,long"
    assert "last turn had 90,000 tokens > threshold 60,000" in verdict.reason


def test_adaptive_thinking_is_explained_as_not_counting() -> None:
    verdict = by_rule(explain(ctx(), CONFIG))["think"]
    assert (verdict.route, verdict.reason) == (None, "thinking is adaptive; only enabled counts")


def test_haiku_model_is_explained_as_background() -> None:
    body = {"model": "claude-haiku-4-5", "messages": [{"role": "user", "content": "x"}]}
    verdict = by_rule(explain(ctx(body), CONFIG))["background"]
    assert (verdict.route, verdict.reason) == (
        "main,bg", "model 'claude-haiku-4-5' is a haiku model")


def test_unset_slots_say_so() -> None:
    verdicts = by_rule(explain(ctx(config=BARE), BARE))
    assert verdicts["longContext"].reason == "Router.longContext is not set"
    assert verdicts["image"].reason == "Router.image is not set"
    assert verdicts["default"].route == "main,chat"


def test_unknown_explicit_route_is_explained_instead_of_raised() -> None:
    body = {"model": "nope,model", "messages": [{"role": "user", "content": "x"}]}
    verdict = by_rule(explain(ctx(body), CONFIG))["explicit"]
    assert verdict.route is None and "not configured in ccr" in verdict.reason


def test_a_rule_naming_an_unconfigured_route_is_marked() -> None:
    body = {"model": "m", "thinking": {"type": "enabled", "budget_tokens": 1000},
            "messages": [{"role": "user", "content": "x"}]}
    context = ctx(body)  # a stale project override names a route that is gone
    context.router = dataclasses.replace(CONFIG.router, think="gone,model")
    verdict = by_rule(explain(context, CONFIG))["think"]
    assert (verdict.route, verdict.configured) == ("gone,model", False)
    assert "not configured" in verdict.reason


def test_the_first_configured_verdict_is_the_rule_that_decided() -> None:
    for tokens, body in [(75000, None), (10, {"model": "claude-haiku-4-5", "messages": []}),
                         (10, None)]:
        context = ctx(body, tokens=tokens)
        decision = asyncio.run(decide(context, CONFIG))
        first = next(v for v in explain(context, CONFIG) if v.route and v.configured)
        assert (first.rule, first.route) == (decision.rule, decision.route.name)


def test_the_subagent_tag_removed_by_the_decision_is_explained() -> None:
    body = {"model": "m", "system": [{"type": "text", "text":
            "<CCR-SUBAGENT-MODEL>main,bg</CCR-SUBAGENT-MODEL>You search."}],
            "messages": [{"role": "user", "content": "x"}]}
    context = ctx(body)
    asyncio.run(decide(context, CONFIG))
    verdict = by_rule(explain(context, CONFIG))["subagent"]
    assert (verdict.route, verdict.reason) == ("main,bg", "<CCR-SUBAGENT-MODEL> tag names it")

"""The routing decision, rule by rule: script first, then the built-in rules in order."""

from __future__ import annotations

import asyncio
import dataclasses
from dataclasses import dataclass
from typing import Any

import pytest

from ccr.config import RouterConfig, parse_config
from ccr.context.sessions import SessionUsage
from ccr.errors import ApiError, InvalidRequest
from ccr.routing.context import RequestContext
from ccr.routing.decide import Decision, decide

CONFIG = parse_config({
    "Providers": [
        {"name": "main", "api_base_url": "http://127.0.0.1:1/v1/chat/completions",
         "models": ["Chat-Model", "long-model", "think-model", "bg-model", "search-model",
                    "vision-model", "sub-model", "script-model"]},
    ],
    "Router": {
        "default": "main,Chat-Model", "longContext": "main,long-model",
        "longContextThreshold": 1000, "think": "main,think-model",
        "background": "main,bg-model", "webSearch": "main,search-model",
        "image": "main,vision-model",
    },
}, env={})

IMAGE = {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "x"}}


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 10,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def _ctx(body: dict[str, Any], *, tokens: int = 10, usage: SessionUsage | None = None,
         router: RouterConfig | None = None) -> RequestContext:
    return RequestContext(body=body, headers={}, token_count=tokens,
                          router=router or CONFIG.router, session_usage=usage)


def _decide(ctx: RequestContext, script: Any = None) -> Decision:
    return asyncio.run(decide(ctx, CONFIG, script=script))


@dataclass
class _Result:
    value: str | None
    error: str | None = None
    elapsed_ms: float = 0.1
    output: str = ""


class _Script:
    def __init__(self, result: _Result) -> None:
        self.result = result
        self.seen: dict[str, Any] = {}

    async def call(self, req: dict[str, Any], config: dict[str, Any]) -> _Result:
        self.seen = req
        return self.result


def test_plain_request_goes_to_default() -> None:
    decision = _decide(_ctx(_body()))
    assert (decision.route.name, decision.rule) == ("main,Chat-Model", "default")


def test_explicit_route_matches_case_insensitively_and_uses_the_configured_spelling() -> None:
    decision = _decide(_ctx(_body(model="MAIN,chat-model")))
    assert (decision.route.name, decision.rule) == ("main,Chat-Model", "explicit")


def test_unknown_explicit_route_is_an_invalid_request_listing_the_routes() -> None:
    with pytest.raises(InvalidRequest, match="main,long-model"):
        _decide(_ctx(_body(model="other,model")))


def test_subagent_tag_in_a_later_system_block_routes_and_is_removed() -> None:
    system = [{"type": "text", "text": "billing"}, {"type": "text", "text": "agent sdk"},
              {"type": "text", "text": "<CCR-SUBAGENT-MODEL>main,sub-model</CCR-SUBAGENT-MODEL>"
                                       "You are a helper."}]
    body = _body(system=system)
    decision = _decide(_ctx(body))
    assert (decision.route.model, decision.rule) == ("sub-model", "subagent")
    assert body["system"][2]["text"] == "You are a helper."


def test_subagent_tag_at_the_start_of_the_first_user_message_string() -> None:
    body = _body(messages=[{"role": "user", "content":
                            "<CCR-SUBAGENT-MODEL>main,sub-model</CCR-SUBAGENT-MODEL>do it"}])
    decision = _decide(_ctx(body))
    assert decision.rule == "subagent"
    assert body["messages"][0]["content"] == [{"type": "text", "text": "do it"}]


def test_token_count_over_the_threshold_is_long_context() -> None:
    assert _decide(_ctx(_body(), tokens=1001)).rule == "longContext"
    assert _decide(_ctx(_body(), tokens=1000)).rule == "default"


def test_long_session_stays_long_context_unless_the_request_is_small() -> None:
    usage = SessionUsage(input_tokens=500, cache_read_input_tokens=900)
    assert _decide(_ctx(_body(), tokens=20001, usage=usage)).rule == "longContext"
    assert _decide(_ctx(_body(), tokens=900, usage=usage)).rule == "default"


def test_haiku_model_is_background() -> None:
    assert _decide(_ctx(_body(model="claude-haiku-4-5-20251001"))).rule == "background"


def test_web_search_tool_routes_to_web_search() -> None:
    tools = [{"type": "web_search_20250305", "name": "web_search"}]
    assert _decide(_ctx(_body(tools=tools))).rule == "webSearch"


def test_enabled_thinking_is_think_but_adaptive_stays_default() -> None:
    enabled = _body(thinking={"type": "enabled", "budget_tokens": 1024})
    assert _decide(_ctx(enabled)).rule == "think"
    assert _decide(_ctx(_body(thinking={"type": "adaptive"}))).rule == "default"


def test_image_in_the_last_user_turn_or_its_tool_result_routes_to_image() -> None:
    direct = _body(messages=[{"role": "user", "content": [IMAGE]}])
    in_result = _body(messages=[{"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [IMAGE]}]}])
    earlier = _body(messages=[{"role": "user", "content": [IMAGE]},
                              {"role": "assistant", "content": "ok"},
                              {"role": "user", "content": "next"}])
    assert _decide(_ctx(direct)).rule == "image"
    assert _decide(_ctx(in_result)).rule == "image"
    assert _decide(_ctx(earlier)).rule == "default"


def test_rules_run_in_order_long_context_before_background() -> None:
    body = _body(model="claude-haiku-4-5", thinking={"type": "enabled"})
    assert _decide(_ctx(body, tokens=5000)).rule == "longContext"
    assert _decide(_ctx(body)).rule == "background"


def test_script_route_wins_and_sees_the_request_without_credentials() -> None:
    script = _Script(_Result("main,script-model"))
    ctx = dataclasses.replace(_ctx(_body()), headers={"x-app": "cli"}, session_id="s1")
    decision = _decide(ctx, script)
    assert (decision.route.model, decision.rule) == ("script-model", "custom")
    assert script.seen["headers"] == {"x-app": "cli"}
    assert script.seen["session_id"] == "s1" and script.seen["token_count"] == 10


def test_script_returning_none_falls_through_to_the_rules() -> None:
    decision = _decide(_ctx(_body()), _Script(_Result(None)))
    assert decision.rule == "default" and decision.script_error is None


def test_script_naming_an_unconfigured_route_falls_through_with_an_error() -> None:
    decision = _decide(_ctx(_body()), _Script(_Result("nowhere,model")))
    assert decision.rule == "default"
    assert "not a configured provider,model route" in (decision.script_error or "")


def test_script_error_is_carried_with_the_rule_that_decided() -> None:
    failing = _Script(_Result(None, "custom_router.py:3: ZeroDivisionError: division by zero"))
    decision = _decide(_ctx(_body()), failing)
    assert decision.rule == "default"
    assert decision.script_error == "custom_router.py:3: ZeroDivisionError: division by zero"


def test_script_prints_are_kept_for_dry_runs() -> None:
    decision = _decide(_ctx(_body()), _Script(_Result(None, output="saw 1 message\n")))
    assert decision.script_output == "saw 1 message\n"


def test_a_rule_naming_an_unconfigured_route_is_skipped_with_a_warning() -> None:
    router = dataclasses.replace(CONFIG.router, think="gone,model")
    decision = _decide(_ctx(_body(thinking={"type": "enabled"}), router=router))
    assert decision.rule == "default"
    assert decision.warnings == ["rule think chose 'gone,model', which is not configured"]


def test_no_default_route_is_an_error_that_says_so() -> None:
    router = RouterConfig()
    with pytest.raises(ApiError, match=r"Router\.default is not set"):
        _decide(_ctx(_body(), router=router))

"""The ``openrouter`` transformer: prompt-cache marks kept for Claude models only, the thinking
request as OpenRouter's ``reasoning``, Claude's signed reasoning carried both ways, provider
routing options, and images with exactly one ``data:`` prefix (CCR #372 doubled it)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from ccr.config.model import Provider
from ccr.convert.common import new_signature
from ccr.convert.request import anthropic_to_openai
from ccr.errors import ConfigError
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin.openrouter import OpenRouter
from ccr.transformers.chain import build_chain
from tests.support.fake_upstream import FakeUpstream, Reply, raw_chunks, text
from tests.support.fixtures import MakeCcr, claude_code_fixture, fake_config
from tests.support.gateway_client import Sdk

CLAUDE = "anthropic/claude-sonnet-4"
DEEPSEEK = "deepseek/deepseek-chat"
PROVIDER = Provider(name="openrouter", api_base_url="http://127.0.0.1:1/api/v1/chat/completions",
                    models=(CLAUDE, DEEPSEEK))
EPHEMERAL = {"type": "ephemeral"}
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5"
       "ErkJggg==")


def _ctx(model: str, *, stream: bool = False, original: dict[str, Any] | None = None
         ) -> TransformContext:
    return TransformContext(provider=PROVIDER, model=model, stream=stream,
                            original=original or {})


def _out(body: dict[str, Any], model: str, options: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    return OpenRouter(options).transform_request(
        anthropic_to_openai(body, model), _ctx(model, original=body))


def _cached_body(**extra: Any) -> dict[str, Any]:
    """Claude Code's shape: billing line, two marked system blocks, a marked last user block."""
    return {
        "model": "claude-sonnet-5",
        "max_tokens": 1024,
        "system": [
            {"type": "text", "text": "x-anthropic-billing-header: cc_version=2.1;"},
            {"type": "text", "text": "You are Claude Code.", "cache_control": EPHEMERAL},
            {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral",
                                                                    "ttl": "1h", "x": 1}},
        ],
        "messages": [
            {"role": "user", "content": "first question"},
            {"role": "assistant", "content": "first answer"},
            {"role": "user", "content": [
                {"type": "text", "text": "context"},
                {"type": "text", "text": "second question", "cache_control": EPHEMERAL},
            ]},
        ],
        **extra,
    }


def _marks(request: dict[str, Any]) -> list[Any]:
    """Every cache_control in the request's messages, in order."""
    found = []
    for message in request["messages"]:
        if "cache_control" in message:
            found.append(message["cache_control"])
        if isinstance(message.get("content"), list):
            found += [p["cache_control"] for p in message["content"] if "cache_control" in p]
    return found


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "gen-1", "object": "chat.completion.chunk", "model": CLAUDE,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


# --------------------------------------------------------------------------------------------
# cache_control


def test_claude_gets_the_system_blocks_back_as_marked_parts() -> None:
    system = _out(_cached_body(), CLAUDE)["messages"][0]
    assert system["role"] == "system"
    assert system["content"] == [
        {"type": "text", "text": "You are Claude Code.", "cache_control": EPHEMERAL},
        {"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral", "ttl": "1h"}},
    ]


def test_claude_gets_the_mark_on_the_last_part_of_the_last_user_turn() -> None:
    last = _out(_cached_body(), CLAUDE)["messages"][-1]
    assert last["role"] == "user"
    assert last["content"] == [
        {"type": "text", "text": "context\n\nsecond question", "cache_control": EPHEMERAL}
    ]


def test_claude_gets_the_mark_on_a_tool_result_that_ends_the_conversation() -> None:
    body = _cached_body(messages=[
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "a.txt", "cache_control": EPHEMERAL}]},
    ])
    last = _out(body, CLAUDE)["messages"][-1]
    assert last["role"] == "tool"
    assert last["content"] == [{"type": "text", "text": "a.txt", "cache_control": EPHEMERAL}]


def test_recorded_claude_code_turn_keeps_all_its_marks_for_claude() -> None:
    body = claude_code_fixture("03-bash-turn2-tool-result")["body"]
    marked_system = [b for b in body["system"] if "cache_control" in b]
    out = _out(body, CLAUDE)
    system = out["messages"][0]["content"]
    assert [p["text"] for p in system if "cache_control" in p] == \
        [b["text"] for b in marked_system]
    assert not any(p["text"].startswith("x-anthropic-billing-header") for p in system)
    assert out["messages"][-1]["role"] == "tool"
    assert out["messages"][-1]["content"][-1]["cache_control"] == EPHEMERAL


def test_unmarked_requests_stay_plain_for_claude() -> None:
    body = {"model": "m", "max_tokens": 10, "system": "You are Claude Code.",
            "messages": [{"role": "user", "content": "hi"}]}
    out = _out(body, CLAUDE)
    assert out["messages"] == [{"role": "system", "content": "You are Claude Code."},
                               {"role": "user", "content": "hi"}]


def test_other_models_get_no_cache_control() -> None:
    out = _out(_cached_body(), DEEPSEEK)
    assert _marks(out) == []
    assert out["messages"][0]["content"] == "You are Claude Code.\n\nBe brief."


def test_the_clients_request_is_not_changed() -> None:
    body = _cached_body()
    before = copy.deepcopy(body)
    _out(body, CLAUDE)
    assert body == before


def test_empty_messages_are_dropped() -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": ""},
        {"role": "user", "content": []},
        {"role": "user", "content": "again"},
    ]}
    out = _out(body, DEEPSEEK)
    assert [m["content"] for m in out["messages"]] == ["hi", "again"]


# --------------------------------------------------------------------------------------------
# reasoning request and provider options


@pytest.mark.parametrize(("thinking", "effort", "expected"), [
    ({"type": "enabled", "budget_tokens": 4000}, None, {"max_tokens": 4000}),
    ({"type": "adaptive"}, "high", {"effort": "high"}),
    ({"type": "adaptive"}, "max", {"effort": "xhigh"}),
    ({"type": "adaptive"}, None, {"enabled": True}),
])
def test_thinking_request_becomes_openrouter_reasoning(
    thinking: dict[str, Any], effort: str | None, expected: dict[str, Any]
) -> None:
    extra: dict[str, Any] = {"thinking": thinking}
    if effort:
        extra["output_config"] = {"effort": effort}
    body = {"model": "m", "max_tokens": 8000, "messages": [{"role": "user", "content": "hi"}],
            **extra}
    assert _out(body, DEEPSEEK)["reasoning"] == expected


@pytest.mark.parametrize("thinking", [None, {"type": "disabled"}], ids=["absent", "disabled"])
def test_without_thinking_no_reasoning_is_sent(thinking: dict[str, Any] | None) -> None:
    body: dict[str, Any] = {"model": "m", "max_tokens": 10, "output_config": {"effort": "high"},
                            "messages": [{"role": "user", "content": "hi"}]}
    if thinking:
        body["thinking"] = thinking
    assert "reasoning" not in _out(body, DEEPSEEK)


def test_options_are_merged_into_the_body_and_win() -> None:
    options = {"provider": {"order": ["DeepSeek"], "allow_fallbacks": False},
               "reasoning": {"effort": "low"}}
    body = {"model": "m", "max_tokens": 10, "thinking": {"type": "adaptive"},
            "messages": [{"role": "user", "content": "hi"}]}
    out = _out(body, DEEPSEEK, options)
    assert out["provider"] == {"order": ["DeepSeek"], "allow_fallbacks": False}
    assert out["reasoning"] == {"effort": "low"}


def test_a_request_cannot_change_the_options_of_the_next() -> None:
    transformer = OpenRouter({"provider": {"order": ["A"]}})
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]}
    first = transformer.transform_request(anthropic_to_openai(body, DEEPSEEK), _ctx(DEEPSEEK))
    first["provider"]["order"].append("B")
    second = transformer.transform_request(anthropic_to_openai(body, DEEPSEEK), _ctx(DEEPSEEK))
    assert second["provider"] == {"order": ["A"]}


@pytest.mark.parametrize("key", ["messages", "model", "stream"])
def test_options_may_not_replace_fields_ccr_owns(key: str) -> None:
    provider = Provider(name="or", api_base_url="http://x", models=(DEEPSEEK,),
                        transformer={"use": [["openrouter", {key: "x"}]]})
    with pytest.raises(ConfigError, match=key):
        build_chain(provider, DEEPSEEK, key_path="Providers[0]")


# --------------------------------------------------------------------------------------------
# Claude's signed reasoning, both ways


def test_streamed_reasoning_details_signature_becomes_the_thinking_signature() -> None:
    chunk = _chunk({"reasoning": None, "reasoning_details": [
        {"type": "reasoning.text", "text": "", "signature": "EqUBsig",
         "format": "anthropic-claude-v1", "index": 0}]})
    [out] = OpenRouter().transform_chunk(chunk, _ctx(CLAUDE, stream=True))
    assert out["choices"][0]["delta"]["thinking"] == {"signature": "EqUBsig"}


def test_json_reasoning_details_signature_becomes_the_thinking_signature() -> None:
    response = {"choices": [{"index": 0, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "hi", "reasoning": "thought",
        "reasoning_details": [{"type": "reasoning.text", "text": "thought",
                               "signature": "EqUBsig"}]}}]}
    out = OpenRouter().transform_response(response, _ctx(CLAUDE))
    assert out["choices"][0]["message"]["thinking"] == {"signature": "EqUBsig"}


def _history(signature: str) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 2000, "messages": [
        {"role": "user", "content": "run it"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "I will run ls.", "signature": signature},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "a.txt"}]},
    ]}


def test_claudes_signed_thinking_goes_back_as_reasoning_details() -> None:
    [assistant] = [m for m in _out(_history("EqUBsig"), CLAUDE)["messages"]
                   if m["role"] == "assistant"]
    assert assistant["reasoning_details"] == [{
        "type": "reasoning.text", "text": "I will run ls.", "signature": "EqUBsig",
        "format": "anthropic-claude-v1", "index": 0}]


@pytest.mark.parametrize(("signature", "model"), [
    (new_signature(), CLAUDE), ("EqUBsig", DEEPSEEK)], ids=["ccr_signature", "not_claude"])
def test_reasoning_details_are_only_sent_for_claudes_own_signatures(
    signature: str, model: str
) -> None:
    out = _out(_history(signature), model)
    assert all("reasoning_details" not in m for m in out["messages"])


def test_numeric_tool_call_ids_become_unique_and_stay_stable_within_an_answer() -> None:
    transformer = OpenRouter()
    ctx = _ctx(DEEPSEEK, stream=True)
    first = transformer.transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "0", "function": {"name": "Bash", "arguments": ""}}]}), ctx)
    again = transformer.transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "0", "function": {"arguments": "{}"}}]}), ctx)
    named = transformer.transform_chunk(_chunk({"tool_calls": [
        {"index": 1, "id": "call_abc", "function": {"name": "Read", "arguments": "{}"}}]}), ctx)
    new_id = first[0]["choices"][0]["delta"]["tool_calls"][0]["id"]
    assert new_id.startswith("call_") and new_id != "0"
    assert again[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == new_id
    assert named[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_abc"
    other = OpenRouter().transform_chunk(_chunk({"tool_calls": [
        {"index": 0, "id": "0", "function": {"name": "Bash"}}]}), _ctx(DEEPSEEK, stream=True))
    assert other[0]["choices"][0]["delta"]["tool_calls"][0]["id"] != new_id


def test_a_finish_reason_error_becomes_an_upstream_error() -> None:
    chunk = _chunk({}, finish="error")
    chunk["choices"][0]["error"] = {"message": "provider overloaded", "code": 502}
    [out] = OpenRouter().transform_chunk(chunk, _ctx(DEEPSEEK, stream=True))
    assert out["error"] == {"message": "provider overloaded", "code": 502}


# --------------------------------------------------------------------------------------------
# images


@pytest.mark.parametrize("model", [CLAUDE, DEEPSEEK])
def test_base64_image_url_has_exactly_one_data_prefix(model: str) -> None:
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": [
        {"type": "text", "text": "what is this?"},
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
    ]}]}
    [image] = [p for p in _out(body, model)["messages"][-1]["content"]
               if p["type"] == "image_url"]
    assert image == {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG}"}}


# --------------------------------------------------------------------------------------------
# Through the server


def _config(fake: FakeUpstream, model: str, options: dict[str, Any] | None = None
            ) -> dict[str, Any]:
    use: list[Any] = [["openrouter", options]] if options else ["openrouter"]
    return fake_config(
        fake,
        Providers=[{"name": "openrouter", "api_base_url": fake.chat_url, "api_key": "sk-or",
                    "models": [CLAUDE, DEEPSEEK], "transformer": {"use": use}}],
        Router={"default": f"openrouter,{model}"},
    )


def _sent(fake: FakeUpstream) -> dict[str, Any]:
    body = fake.chat_requests[-1].body
    assert body is not None
    return body


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_claude_on_openrouter_receives_the_clients_cache_marks(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, CLAUDE)))
    body = _cached_body()

    sdk.ask(streamed, system=body["system"], messages=body["messages"])

    assert _marks(_sent(fake)) == [EPHEMERAL, {"type": "ephemeral", "ttl": "1h"}, EPHEMERAL]


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_other_models_on_openrouter_receive_no_cache_marks(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, DEEPSEEK)))
    body = _cached_body()

    sdk.ask(streamed, system=body["system"], messages=body["messages"])

    assert "cache_control" not in fake.chat_requests[-1].raw.decode()


def test_provider_routing_options_reach_openrouter(fake: FakeUpstream, make_ccr: MakeCcr) -> None:
    options = {"provider": {"only": ["deepseek"]}, "transforms": ["middle-out"]}
    sdk = Sdk.on(make_ccr(_config(fake, DEEPSEEK, options)))

    sdk.stream(thinking={"type": "enabled", "budget_tokens": 2048}, max_tokens=4096)

    sent = _sent(fake)
    assert sent["provider"] == {"only": ["deepseek"]}
    assert sent["transforms"] == ["middle-out"]
    assert sent["reasoning"] == {"max_tokens": 2048}


def test_image_reaches_openrouter_with_one_data_prefix(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, CLAUDE)))

    sdk.stream(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
        {"type": "text", "text": "describe"},
    ]}])

    [image] = [p for p in _sent(fake)["messages"][-1]["content"] if p["type"] == "image_url"]
    assert image["image_url"]["url"] == f"data:image/png;base64,{PNG}"
    assert image["image_url"]["url"].count("data:") == 1


def _claude_reasoning_reply() -> Reply:
    """OpenRouter streaming Claude: reasoning text, its signature in reasoning_details, text."""
    return raw_chunks([
        _chunk({"role": "assistant", "content": "", "reasoning": "Let me ",
                "reasoning_details": [{"type": "reasoning.text", "text": "Let me ",
                                       "format": "anthropic-claude-v1", "index": 0}]}),
        _chunk({"content": "", "reasoning": "think.",
                "reasoning_details": [{"type": "reasoning.text", "text": "think.",
                                       "format": "anthropic-claude-v1", "index": 0}]}),
        _chunk({"content": "", "reasoning": None,
                "reasoning_details": [{"type": "reasoning.text", "text": "",
                                       "signature": "EqUBclaude-signature",
                                       "format": "anthropic-claude-v1", "index": 0}]}),
        _chunk({"content": "Hello."}),
        _chunk({}, finish="stop"),
    ])


def test_claudes_reasoning_and_signature_survive_a_round_trip(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, CLAUDE)))
    fake.enqueue(_claude_reasoning_reply(), text("Again."))
    ask = [{"role": "user", "content": "hi"}]

    first = sdk.stream(messages=ask, thinking={"type": "adaptive"})

    assert [block.type for block in first.content] == ["thinking", "text"]
    assert first.content[0].thinking == "Let me think."  # type: ignore[union-attr]
    assert first.content[0].signature == "EqUBclaude-signature"  # type: ignore[union-attr]

    sdk.stream(thinking={"type": "adaptive"}, messages=[
        *ask,
        {"role": "assistant",
         "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": "and again"},
    ])

    [assistant] = [m for m in _sent(fake)["messages"] if m["role"] == "assistant"]
    assert assistant["reasoning_details"][0]["signature"] == "EqUBclaude-signature"
    assert assistant["reasoning_details"][0]["text"] == "Let me think."

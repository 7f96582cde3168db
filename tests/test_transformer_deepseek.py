"""The ``deepseek`` transformer: output caps per model, DeepSeek's thinking switch, and the
reasoning hand-back DeepSeek demands once a turn used tools (CCR issues #1050, #1355: 400
"Missing `reasoning_content` field"), checked unit by unit and through a real ccr server against
a fake that is as strict as DeepSeek."""

from __future__ import annotations

import copy
from typing import Any

import anthropic
import pytest

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.errors import ConfigError
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin.deepseek import (
    NON_THINKING_MAX_TOKENS,
    THINKING_MAX_TOKENS,
    DeepSeek,
)
from ccr.transformers.chain import build_chain
from tests.support.fake_upstream import (
    Call,
    FakeUpstream,
    Recorded,
    Reply,
    error,
    raw_chunks,
    text,
    tool_calls,
)
from tests.support.fixtures import MakeCcr, claude_code_fixture, fake_config
from tests.support.gateway_client import Sdk

PROVIDER = Provider(name="deepseek", api_base_url="http://127.0.0.1:1/chat/completions",
                    models=("deepseek-chat", "deepseek-reasoner", "deepseek-v4-flash"))

BASH = {"name": "Bash", "description": "Run a command",
        "input_schema": {"type": "object", "properties": {"command": {"type": "string"}}}}


def _ctx(model: str) -> TransformContext:
    return TransformContext(provider=PROVIDER, model=model, stream=False)


def _out(body: dict[str, Any], model: str, options: dict[str, Any] | None = None
         ) -> dict[str, Any]:
    """The unified request for an Anthropic ``body`` after the transformer."""
    return DeepSeek(options).transform_request(anthropic_to_openai(body, model), _ctx(model))


def _body(**extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 32000,
            "messages": [{"role": "user", "content": "hi"}], **extra}


def _tool_history(*, thinking: str | None) -> list[dict[str, Any]]:
    """user -> assistant (optional thinking, tool_use) -> tool_result -> assistant text -> user."""
    assistant: list[dict[str, Any]] = []
    if thinking is not None:
        assistant.append({"type": "thinking", "thinking": thinking, "signature": "c2ln"})
    assistant.append({"type": "tool_use", "id": "toolu_1", "name": "Bash",
                      "input": {"command": "ls"}})
    return [
        {"role": "user", "content": "list files"},
        {"role": "assistant", "content": assistant},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": "a.txt"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "One file: a.txt"}]},
        {"role": "user", "content": "thanks"},
    ]


def _assistants(request: dict[str, Any]) -> list[dict[str, Any]]:
    return [m for m in request["messages"] if m["role"] == "assistant"]


# --------------------------------------------------------------------------------------------
# max_tokens


def test_deepseek_chat_is_capped_at_its_8k_output_limit() -> None:
    assert _out(_body(), "deepseek-chat")["max_tokens"] == NON_THINKING_MAX_TOKENS == 8192


def test_deepseek_reasoner_keeps_up_to_its_64k_output_limit() -> None:
    assert _out(_body(), "deepseek-reasoner")["max_tokens"] == 32000
    assert _out(_body(max_tokens=100_000), "deepseek-reasoner")["max_tokens"] == 65536
    assert THINKING_MAX_TOKENS == 65536


def test_deepseek_chat_in_thinking_mode_gets_the_thinking_limit() -> None:
    out = _out(_body(max_tokens=100_000, thinking={"type": "enabled", "budget_tokens": 9000}),
               "deepseek-chat")
    assert out["max_tokens"] == THINKING_MAX_TOKENS


def test_max_tokens_below_the_cap_is_left_alone() -> None:
    assert _out(_body(max_tokens=1000), "deepseek-chat")["max_tokens"] == 1000


def test_models_without_a_known_limit_are_not_capped() -> None:
    assert _out(_body(max_tokens=200_000), "deepseek-v4-flash")["max_tokens"] == 200_000


def test_max_tokens_option_sets_the_cap_for_every_model() -> None:
    options = {"max_tokens": 4000}
    assert _out(_body(), "deepseek-chat", options)["max_tokens"] == 4000
    assert _out(_body(), "deepseek-reasoner", options)["max_tokens"] == 4000


def test_max_tokens_option_can_name_the_cap_per_model() -> None:
    options = {"max_tokens": {"deepseek-chat": 16000}}
    assert _out(_body(), "deepseek-chat", options)["max_tokens"] == 16000
    assert _out(_body(max_tokens=70000), "deepseek-reasoner", options)["max_tokens"] == 65536


@pytest.mark.parametrize("options", [
    {"max_tokens": 0}, {"max_tokens": "8192"}, {"max_tokens": True},
    {"max_tokens": {"deepseek-chat": -1}}, {"thinking": "yes"},
])
def test_invalid_options_are_config_errors_naming_the_transformer(options: dict[str, Any]) -> None:
    provider = Provider(name="ds", api_base_url="http://x", models=("deepseek-chat",),
                        transformer={"use": [["deepseek", options]]})
    with pytest.raises(ConfigError, match="deepseek") as caught:
        build_chain(provider, "deepseek-chat", key_path="Providers[0]")
    assert caught.value.key_path == "Providers[0].transformer.use[0]"


# --------------------------------------------------------------------------------------------
# thinking switch


@pytest.mark.parametrize("kind", ["enabled", "adaptive"])
def test_deepseek_chat_asked_to_think_gets_thinking_enabled(kind: str) -> None:
    thinking: dict[str, Any] = {"type": kind}
    if kind == "enabled":
        thinking["budget_tokens"] = 4000
    out = _out(_body(thinking=thinking), "deepseek-chat")
    assert out["thinking"] == {"type": "enabled"}


def test_effort_becomes_reasoning_effort_in_thinking_mode() -> None:
    out = _out(_body(thinking={"type": "adaptive"}, output_config={"effort": "medium"}),
               "deepseek-chat")
    assert out["reasoning_effort"] == "high"  # DeepSeek's levels are low, high and max
    out = _out(_body(output_config={"effort": "max"}), "deepseek-reasoner")
    assert out["reasoning_effort"] == "max"


def test_deepseek_chat_without_a_thinking_request_stays_non_thinking() -> None:
    out = _out(_body(output_config={"effort": "high"}), "deepseek-chat")
    assert "thinking" not in out
    assert "reasoning_effort" not in out


def test_disabled_thinking_is_sent_without_any_effort() -> None:
    out = _out(_body(thinking={"type": "disabled"}, output_config={"effort": "high"}),
               "deepseek-v4-flash")
    assert out["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in out  # DeepSeek rejects effort next to disabled thinking


def test_an_effort_set_earlier_in_the_chain_is_dropped_when_not_thinking() -> None:
    request = anthropic_to_openai(_body(thinking={"type": "disabled"}), "deepseek-v4-flash")
    request["reasoning_effort"] = "high"
    out = DeepSeek().transform_request(request, _ctx("deepseek-v4-flash"))
    assert "reasoning_effort" not in out


def test_reasoner_thinks_without_a_switch_in_the_body() -> None:
    out = _out(_body(thinking={"type": "disabled"}), "deepseek-reasoner")
    assert "thinking" not in out


def test_thinking_option_overrides_the_client() -> None:
    off = _out(_body(thinking={"type": "adaptive"}, output_config={"effort": "high"}),
               "deepseek-v4-flash", {"thinking": False})
    assert off["thinking"] == {"type": "disabled"}
    assert "reasoning_effort" not in off
    on = _out(_body(), "deepseek-chat", {"thinking": True})
    assert on["thinking"] == {"type": "enabled"}


# --------------------------------------------------------------------------------------------
# reasoning_content on the way out


def test_thinking_of_an_assistant_turn_goes_back_as_reasoning_content() -> None:
    out = _out(_body(messages=_tool_history(thinking="I should list files.")),
               "deepseek-reasoner")
    calling, answering = _assistants(out)
    assert calling["tool_calls"][0]["id"] == "toolu_1"
    assert calling["reasoning_content"] == "I should list files."
    assert answering["reasoning_content"] == ""


def test_tool_call_turn_without_thinking_gets_an_empty_reasoning_content() -> None:
    out = _out(_body(messages=_tool_history(thinking=None)), "deepseek-reasoner")
    assert all(m["reasoning_content"] == "" for m in _assistants(out))


def test_no_reasoning_content_is_sent_when_not_thinking() -> None:
    out = _out(_body(messages=_tool_history(thinking="old thoughts")), "deepseek-chat")
    assert all("reasoning_content" not in m for m in _assistants(out))


def test_reasoning_content_already_set_by_an_earlier_transformer_is_kept() -> None:
    request = anthropic_to_openai(_body(messages=_tool_history(thinking="mine")),
                                  "deepseek-reasoner")
    _assistants(request)[0]["reasoning_content"] = "set before"
    out = DeepSeek().transform_request(request, _ctx("deepseek-reasoner"))
    assert _assistants(out)[0]["reasoning_content"] == "set before"


def test_the_clients_request_is_not_changed() -> None:
    body = _body(messages=_tool_history(thinking="thought"), thinking={"type": "adaptive"})
    before = copy.deepcopy(body)
    _out(body, "deepseek-chat")
    assert body == before


def test_recorded_claude_code_tool_turn_hands_its_thinking_back() -> None:
    body = claude_code_fixture("03-bash-turn2-tool-result")["body"]
    out = _out(body, "deepseek-chat")
    assert out["thinking"] == {"type": "enabled"}  # Claude Code asks for adaptive thinking
    assert out["max_tokens"] <= THINKING_MAX_TOKENS
    [assistant] = _assistants(out)
    assert assistant["tool_calls"]
    [thought] = [b["thinking"] for m in body["messages"] if m["role"] == "assistant"
                 for b in m["content"] if b["type"] == "thinking"]
    assert assistant["reasoning_content"] == thought


# --------------------------------------------------------------------------------------------
# Through the server, against a fake as strict as DeepSeek

REASONING_TEXT = "The user wants the files. I will run ls."


def _config(fake: FakeUpstream, model: str, use: list[Any] | None = None) -> dict[str, Any]:
    return fake_config(
        fake,
        Providers=[{
            "name": "deepseek",
            "api_base_url": fake.chat_url,
            "api_key": "sk-deepseek",
            "models": ["deepseek-chat", "deepseek-reasoner"],
            "transformer": {"use": use or ["deepseek"]},
        }],
        Router={"default": f"deepseek,{model}"},
    )


def _missing_reasoning(request: Recorded) -> Reply | None:
    """DeepSeek's check: 400 when an assistant message with tool calls lacks reasoning."""
    for index, message in enumerate(request.messages):
        if message.get("role") == "assistant" and message.get("tool_calls") \
                and "reasoning_content" not in message:
            return error(400, {"error": {
                "message": "Missing `reasoning_content` field in the assistant message at "
                           f"message index {index}",
                "type": "invalid_request_error", "code": "invalid_request_error"}})
    return None


def _reasoning_then_call(thought: str, call: Call) -> Reply:
    """DeepSeek's answer in thinking mode: reasoning_content deltas, then a tool call."""
    reply = tool_calls([call], model="deepseek-reasoner")
    pieces = [thought[: len(thought) // 2], thought[len(thought) // 2:]]
    reasoning_chunks = [
        {"id": "chatcmpl-ds", "object": "chat.completion.chunk", "model": "deepseek-reasoner",
         "choices": [{"index": 0, "delta": {"role": "assistant", "content": None,
                                            "reasoning_content": piece},
                      "finish_reason": None}]}
        for piece in pieces
    ]
    body = copy.deepcopy(reply.body)
    assert isinstance(body, dict)
    body["choices"][0]["message"]["reasoning_content"] = thought
    return reply.but(chunks=(*reasoning_chunks, *reply.chunks), body=body)


@pytest.fixture
def strict_fake(fake: FakeUpstream) -> FakeUpstream:
    fake.handler = _missing_reasoning
    return fake


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_reasoning_round_trip_passes_deepseeks_check(
    strict_fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    sdk = Sdk.on(make_ccr(_config(strict_fake, "deepseek-reasoner")))
    call = Call("Bash", {"command": "ls"}, id="call_ds_1")
    strict_fake.enqueue(_reasoning_then_call(REASONING_TEXT, call), text("There is a.txt."))
    first_turn = [{"role": "user", "content": "list the files"}]

    first = sdk.ask(streamed, messages=first_turn, tools=[BASH], max_tokens=32000)

    assert [block.type for block in first.content] == ["thinking", "tool_use"]
    thinking = first.content[0]
    assert thinking.thinking == REASONING_TEXT  # type: ignore[union-attr]
    assert thinking.signature  # type: ignore[union-attr]
    assert first.stop_reason == "tool_use"

    second = sdk.ask(streamed, tools=[BASH], max_tokens=32000, messages=[
        *first_turn,
        {"role": "assistant",
         "content": [block.model_dump(exclude_none=True) for block in first.content]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_ds_1", "content": "a.txt"}]},
    ])

    assert [block.type for block in second.content] == ["text"]
    assert second.content[0].text == "There is a.txt."  # type: ignore[union-attr]
    sent = strict_fake.chat_requests[-1].messages
    [assistant] = [m for m in sent if m["role"] == "assistant"]
    assert assistant["reasoning_content"] == REASONING_TEXT
    assert assistant["tool_calls"][0]["id"] == "call_ds_1"
    assert "thinking" not in assistant  # ccr's own extension never reaches the upstream


def test_strict_fake_rejects_a_tool_call_turn_sent_without_the_transformer(
    strict_fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    """The fake really is strict: without ``deepseek`` the same history fails as on DeepSeek."""
    sdk = Sdk.on(make_ccr(_config(strict_fake, "deepseek-reasoner",
                                  use=[["maxtoken", {"max_tokens": 65536}]])))

    with pytest.raises(anthropic.BadRequestError, match="reasoning_content"):
        sdk.create(messages=_tool_history(thinking="thought"), tools=[BASH])


def test_history_written_without_thinking_still_passes_deepseeks_check(
    strict_fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(strict_fake, "deepseek-reasoner")))
    strict_fake.enqueue(text("You are welcome."))

    message = sdk.stream(messages=_tool_history(thinking=None), tools=[BASH])

    assert message.content[0].text == "You are welcome."  # type: ignore[union-attr]
    sent = strict_fake.chat_requests[-1].messages
    assert [m["reasoning_content"] for m in sent if m["role"] == "assistant"] == ["", ""]


def test_deepseek_chat_request_reaches_the_upstream_capped_and_non_thinking(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    sdk = Sdk.on(make_ccr(_config(fake, "deepseek-chat")))

    sdk.stream(max_tokens=32000, output_config={"effort": "high"})

    body = fake.chat_requests[-1].body
    assert body is not None
    assert body["max_tokens"] == 8192
    assert "thinking" not in body and "reasoning_effort" not in body


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_deepseek_cache_hits_are_reported_as_cache_reads(
    fake: FakeUpstream, make_ccr: MakeCcr, streamed: bool
) -> None:
    usage = {"prompt_tokens": 100, "completion_tokens": 7, "total_tokens": 107,
             "prompt_cache_hit_tokens": 80, "prompt_cache_miss_tokens": 20}
    message = {"role": "assistant", "content": "cached"}
    if streamed:
        fake.enqueue(raw_chunks([
            {"id": "c", "object": "chat.completion.chunk", "model": "deepseek-chat",
             "choices": [{"index": 0, "delta": {"role": "assistant", "content": "cached"},
                          "finish_reason": None}]},
            {"id": "c", "object": "chat.completion.chunk", "model": "deepseek-chat",
             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": usage},
        ]))
    else:
        fake.enqueue(Reply(kind="plain", body={
            "id": "c", "object": "chat.completion", "model": "deepseek-chat", "usage": usage,
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}))
    sdk = Sdk.on(make_ccr(_config(fake, "deepseek-chat")))

    answer = sdk.ask(streamed)

    assert answer.usage.cache_read_input_tokens == 80
    assert answer.usage.input_tokens == 20
    assert answer.usage.output_tokens == 7


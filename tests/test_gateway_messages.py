"""``POST /v1/messages`` end to end: the official SDK talks to a real ccr in front of a fake
OpenAI upstream, and both sides are checked: what the client gets back, and what the upstream
was sent (converted request, chosen route).

Every streamed answer is also captured byte for byte and run through the strict protocol
validator (see :mod:`tests.support.gateway_client`), since the SDK tolerates mistakes that make
Claude Code fail a turn.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import anthropic
import pytest
from anthropic.types import Message

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import (
    Call,
    FakeUpstream,
    Usage,
    reasoning,
    text,
    tool_calls,
)
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Ask, Sdk, last_chat, provider_key, request_body

# --------------------------------------------------------------------------------------------
# Fixtures


@pytest.fixture
def sdk(ccr: CcrServer) -> Sdk:
    return Sdk.on(ccr)


@pytest.fixture(params=["json", "stream"])
def ask(request: pytest.FixtureRequest, sdk: Sdk) -> Ask:
    """Send one request through the SDK, as a JSON call or as a validated stream."""
    streamed = request.param == "stream"
    return lambda **params: sdk.ask(streamed, **params)


def _blocks(message: Message) -> list[dict[str, Any]]:
    return [block.model_dump(exclude_none=True) for block in message.content]


# --------------------------------------------------------------------------------------------
# Answers


def test_text_answer_round_trips_and_ends_the_turn(fake: FakeUpstream, ask: Ask) -> None:
    fake.enqueue(text("Hello from the other model.", usage=Usage(prompt=321, completion=17)))

    message = ask()

    assert [(b.type, getattr(b, "text", None)) for b in message.content] == [
        ("text", "Hello from the other model.")
    ]
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (321, 17)


def test_cached_prompt_tokens_become_cache_reads_and_leave_input(
    fake: FakeUpstream, ask: Ask
) -> None:
    fake.enqueue(text("ok", usage=Usage(prompt=1000, completion=3, cached=800)))

    usage = ask().usage

    assert usage.cache_read_input_tokens == 800
    assert usage.input_tokens == 200


def test_tool_call_becomes_tool_use_block_with_parsed_input(fake: FakeUpstream, ask: Ask) -> None:
    arguments = {"command": "ls -la", "description": "List files", "timeout": 5}
    fake.enqueue(tool_calls([Call("Bash", arguments)]))

    message = ask()

    assert message.stop_reason == "tool_use"
    [block] = message.content
    assert block.type == "tool_use"
    assert block.name == "Bash"
    assert block.input == arguments
    assert block.id


@pytest.mark.parametrize("mode", ["fragments", "whole_at_end", "interleaved"])
def test_parallel_tool_calls_become_one_block_each_in_order(
    fake: FakeUpstream, ask: Ask, mode: str
) -> None:
    calls = [
        Call("Read", {"file_path": "/src/app.py"}),
        Call("Grep", {"pattern": "def main", "path": "/src", "-n": True}),
        Call("Bash", {"command": "echo 'a \"quoted\" {brace}'"}),
    ]
    reply = tool_calls(calls, mode=mode)  # type: ignore[arg-type]
    fake.enqueue(reply)

    message = ask()

    assert message.stop_reason == "tool_use"
    assert [(b.type, b.id, b.name, b.input) for b in message.content] == [  # type: ignore[union-attr]
        ("tool_use", call_id, call.name, call.arguments)
        for call_id, call in zip(reply.tool_call_ids, calls, strict=True)
    ]


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_reasoning_becomes_a_signed_thinking_block_before_the_text(
    fake: FakeUpstream, ask: Ask, field: str
) -> None:
    fake.enqueue(reasoning("First, consider the question.", "The answer is 4.", field=field))  # type: ignore[arg-type]

    blocks = _blocks(ask())

    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert blocks[0]["thinking"] == "First, consider the question."
    assert blocks[0]["signature"]
    assert blocks[1]["text"] == "The answer is 4."


def test_length_finish_is_reported_as_max_tokens(fake: FakeUpstream, ask: Ask) -> None:
    fake.enqueue(text("This answer was cut", finish="length"))

    assert ask().stop_reason == "max_tokens"


def test_tool_call_with_finish_reason_stop_still_ends_in_tool_use(
    fake: FakeUpstream, ask: Ask
) -> None:
    fake.enqueue(tool_calls([Call("Bash", {"command": "pwd"})], finish="stop"))

    message = ask()

    assert message.stop_reason == "tool_use"
    assert [b.type for b in message.content] == ["tool_use"]


def test_text_then_tool_call_keeps_that_order(fake: FakeUpstream, ask: Ask) -> None:
    fake.enqueue(tool_calls([Call("Bash", {"command": "pwd"})], text="Let me check."))

    blocks = _blocks(ask())

    assert [b["type"] for b in blocks] == ["text", "tool_use"]
    assert blocks[0]["text"] == "Let me check."
    assert blocks[1]["input"] == {"command": "pwd"}


# --------------------------------------------------------------------------------------------
# The request the upstream receives


def test_upstream_gets_the_route_model_and_the_provider_key(
    fake: FakeUpstream, ask: Ask
) -> None:
    ask(model="claude-opus-4-8")

    sent = last_chat(fake)
    assert sent.body is not None
    assert sent.body["model"] == "fake-model"
    assert sent.headers["authorization"] == f"Bearer {provider_key(fake)}"


def test_streamed_request_asks_upstream_for_usage(fake: FakeUpstream, sdk: Sdk) -> None:
    sdk.stream()

    body = last_chat(fake).body
    assert body is not None
    assert body["stream"] is True
    assert body["stream_options"]["include_usage"] is True


def test_anthropic_only_fields_are_not_sent_upstream(fake: FakeUpstream, ask: Ask) -> None:
    ask(
        system=[{"type": "text", "text": "Be brief.", "cache_control": {"type": "ephemeral"}}],
        messages=[{"role": "user", "content": [
            {"type": "text", "text": "hi", "cache_control": {"type": "ephemeral"}},
        ]}],
        metadata={"user_id": "user-1"},
        thinking={"type": "adaptive"},
        extra_body={
            "context_management": {"edits": [{"type": "clear_thinking_20251015", "keep": "all"}]},
            "output_config": {"effort": "high"},
        },
    )

    sent = last_chat(fake)
    assert sent.body is not None
    anthropic_only = {"cache_control", "metadata", "thinking", "context_management",
                      "output_config"}
    assert anthropic_only.isdisjoint(sent.body)
    assert b"cache_control" not in sent.raw
    assert b"user-1" not in sent.raw


BILLING_HEADER = "x-anthropic-billing-header: cc_version=2.1.197; cc_entrypoint=cli;"


def test_billing_header_is_dropped_from_the_system_prompt(fake: FakeUpstream, ask: Ask) -> None:
    ask(system=[
        {"type": "text", "text": BILLING_HEADER},
        {"type": "text", "text": "You are a careful assistant."},
    ])

    sent = last_chat(fake)
    system = [m["content"] for m in sent.messages if m["role"] == "system"]
    assert system == ["You are a careful assistant."]
    assert b"x-anthropic-billing-header" not in sent.raw


_TOOL = {
    "name": "get_weather",
    "description": "Weather for a city",
    "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
}


@pytest.mark.parametrize(
    ("anthropic_choice", "openai_choice"),
    [
        ({"type": "any"}, "required"),
        ({"type": "auto"}, "auto"),
        ({"type": "none"}, "none"),
        ({"type": "tool", "name": "get_weather"},
         {"type": "function", "function": {"name": "get_weather"}}),
    ],
)
def test_tool_choice_is_mapped_to_openai(
    fake: FakeUpstream, sdk: Sdk, anthropic_choice: dict[str, Any], openai_choice: Any
) -> None:
    sdk.create(tools=[_TOOL], tool_choice=anthropic_choice)

    body = last_chat(fake).body
    assert body is not None
    assert body["tool_choice"] == openai_choice
    assert body["tools"] == [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather for a city",
        "parameters": _TOOL["input_schema"],
    }}]


def test_stop_sequences_become_stop(fake: FakeUpstream, ask: Ask) -> None:
    ask(stop_sequences=["END", "\n\nHuman:"])

    body = last_chat(fake).body
    assert body is not None
    assert body["stop"] == ["END", "\n\nHuman:"]
    assert "stop_sequences" not in body


def test_sampling_parameters_are_kept(fake: FakeUpstream, ask: Ask) -> None:
    # This SDK version no longer has temperature/top_p arguments; other clients still send them.
    ask(max_tokens=777, extra_body={"temperature": 0.3, "top_p": 0.9})

    body = last_chat(fake).body
    assert body is not None
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.3, 0.9, 777)


# --------------------------------------------------------------------------------------------
# Routing: which model the upstream is asked for

ROUTING_MODELS = ["fake-model", "fake-model-large", "bg-model", "think-model", "long-model",
                  "search-model", "image-model"]
LONG_CONTEXT_THRESHOLD = 30000
SESSION_HEADER = "X-Claude-Code-Session-Id"
# A 1x1 transparent PNG.
PNG_1X1 = base64.b64encode(bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e5270de20000000049454e44ae426082"
)).decode()


def routing_config(fake: FakeUpstream) -> dict[str, Any]:
    """One provider with a distinct model for every Router slot, so the model tells the rule."""
    config = fake_config(fake, Router={
        "background": "fake,bg-model",
        "think": "fake,think-model",
        "longContext": "fake,long-model",
        "longContextThreshold": LONG_CONTEXT_THRESHOLD,
        "webSearch": "fake,search-model",
        "image": "fake,image-model",
    })
    config["Providers"][0]["models"] = ROUTING_MODELS
    return config


@pytest.fixture
def routed(make_ccr: MakeCcr, fake: FakeUpstream) -> Sdk:
    return Sdk.on(make_ccr(routing_config(fake)))


def _routed_model(fake: FakeUpstream) -> str:
    body = last_chat(fake).body
    assert body is not None
    return str(body["model"])


def _words(count: int) -> str:
    """Text of about ``count`` tokens."""
    return "alpha " * count


def _count(sdk: Sdk, **params: Any) -> int:
    request = request_body(**params)
    request.pop("max_tokens")
    return sdk.client.messages.count_tokens(**request).input_tokens


def test_plain_request_goes_to_the_default_route(fake: FakeUpstream, routed: Sdk) -> None:
    routed.create(model="claude-opus-4-8")

    assert _routed_model(fake) == "fake-model"


def test_explicit_route_matches_case_insensitively_and_uses_the_configured_name(
    fake: FakeUpstream, routed: Sdk
) -> None:
    message = routed.create(model="fake,FAKE-MODEL-LARGE")

    assert _routed_model(fake) == "fake-model-large"
    assert message.model == "fake-model-large"


def test_unknown_explicit_route_is_rejected_listing_configured_routes(
    fake: FakeUpstream, routed: Sdk
) -> None:
    with pytest.raises(anthropic.BadRequestError) as caught:
        routed.create(model="fake,no-such-model")

    error = caught.value.body["error"]  # type: ignore[index]
    assert error["type"] == "invalid_request_error"
    assert "fake,no-such-model" in error["message"]
    for model in ROUTING_MODELS:
        assert f"fake,{model}" in error["message"]
    assert fake.chat_requests == []


def test_haiku_request_goes_to_the_background_route(fake: FakeUpstream, routed: Sdk) -> None:
    routed.create(model="claude-haiku-4-5-20251001")

    assert _routed_model(fake) == "bg-model"


def test_enabled_thinking_goes_to_the_think_route(fake: FakeUpstream, routed: Sdk) -> None:
    routed.create(max_tokens=4096, thinking={"type": "enabled", "budget_tokens": 2048})

    assert _routed_model(fake) == "think-model"


def test_adaptive_thinking_stays_on_the_default_route(fake: FakeUpstream, routed: Sdk) -> None:
    routed.create(thinking={"type": "adaptive"})

    assert _routed_model(fake) == "fake-model"


def test_web_search_tool_goes_to_the_web_search_route(fake: FakeUpstream, routed: Sdk) -> None:
    routed.create(tools=[{"type": "web_search_20250305", "name": "web_search", "max_uses": 3}])

    assert _routed_model(fake) == "search-model"


def test_request_over_the_threshold_goes_to_the_long_context_route(
    fake: FakeUpstream, routed: Sdk
) -> None:
    messages = [{"role": "user", "content": _words(LONG_CONTEXT_THRESHOLD + 2000)}]
    assert _count(routed, messages=messages) > LONG_CONTEXT_THRESHOLD

    routed.create(messages=messages)

    assert _routed_model(fake) == "long-model"


LONG_SESSION_MIN_TOKENS = 20000  # a long session's next turn must exceed this to stay long


def _second_turn_route(fake: FakeUpstream, sdk: Sdk, sid: str, first_prompt_tokens: int,
                       second_turn: list[dict[str, Any]]) -> str:
    """Two turns of one session; the upstream reports ``first_prompt_tokens`` for the first.
    Returns the model the second turn was routed to."""
    headers = {SESSION_HEADER: sid}
    fake.enqueue(text("first", usage=Usage(prompt=first_prompt_tokens, completion=5)))
    sdk.create(extra_headers=headers)
    sdk.create(messages=second_turn, extra_headers=headers)
    return _routed_model(fake)


def test_large_session_keeps_long_context_for_a_sizeable_next_turn(
    fake: FakeUpstream, routed: Sdk
) -> None:
    turn = [{"role": "user", "content": _words(24000)}]
    assert LONG_SESSION_MIN_TOKENS < _count(routed, messages=turn) <= LONG_CONTEXT_THRESHOLD

    model = _second_turn_route(fake, routed, "session-large", LONG_CONTEXT_THRESHOLD + 10000, turn)

    assert model == "long-model"


def test_large_session_sends_a_short_next_turn_to_default(
    fake: FakeUpstream, routed: Sdk
) -> None:
    turn = [{"role": "user", "content": _words(5000)}]
    assert _count(routed, messages=turn) <= LONG_SESSION_MIN_TOKENS

    model = _second_turn_route(fake, routed, "session-short", LONG_CONTEXT_THRESHOLD + 10000, turn)

    assert model == "fake-model"


def test_small_session_sends_a_sizeable_next_turn_to_default(
    fake: FakeUpstream, routed: Sdk
) -> None:
    turn = [{"role": "user", "content": _words(24000)}]
    assert LONG_SESSION_MIN_TOKENS < _count(routed, messages=turn) <= LONG_CONTEXT_THRESHOLD

    model = _second_turn_route(fake, routed, "session-small", 2000, turn)

    assert model == "fake-model"


def test_subagent_tag_routes_there_and_is_removed_before_the_upstream(
    fake: FakeUpstream, routed: Sdk
) -> None:
    routed.create(system=[
        {"type": "text", "text": BILLING_HEADER + " cc_is_subagent=true;"},
        {"type": "text", "text": "You are a Claude agent."},
        {"type": "text", "text": "<CCR-SUBAGENT-MODEL>fake,fake-model-large</CCR-SUBAGENT-MODEL>"
                                 "You are a file search specialist."},
    ])

    sent = last_chat(fake)
    assert _routed_model(fake) == "fake-model-large"
    assert b"CCR-SUBAGENT-MODEL" not in sent.raw
    assert "You are a file search specialist." in sent.messages[0]["content"]


def test_image_in_the_last_user_message_goes_to_the_image_route(
    fake: FakeUpstream, routed: Sdk
) -> None:
    routed.create(messages=[{"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": PNG_1X1}},
        {"type": "text", "text": "What is in this picture?"},
    ]}])

    assert _routed_model(fake) == "image-model"


def test_image_only_in_an_earlier_turn_stays_on_the_default_route(
    fake: FakeUpstream, routed: Sdk
) -> None:
    routed.create(messages=[
        {"role": "user", "content": [
            {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": PNG_1X1}},
        ]},
        {"role": "assistant", "content": "A transparent pixel."},
        {"role": "user", "content": "Thanks, now say hi."},
    ])

    assert _routed_model(fake) == "fake-model"


def test_project_override_changes_the_route_for_its_sessions(
    fake: FakeUpstream, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    claude_projects = tmp_path / "claude-projects"
    server = make_ccr(routing_config(fake), claude_projects=claude_projects)
    project, sid = "-home-user-demo", "5b0e4f8e-6c2a-4d1e-9a51-2f9d0c7e1a42"
    (claude_projects / project).mkdir(parents=True)
    (claude_projects / project / f"{sid}.jsonl").write_text("{}\n")
    override = server.state.home / project / "config.json"
    override.parent.mkdir(parents=True)
    override.write_text(json.dumps({"Router": {"default": "fake,fake-model-large"}}))
    sdk = Sdk.on(server)

    sdk.create(extra_headers={SESSION_HEADER: sid})
    in_project = _routed_model(fake)
    sdk.create(extra_headers={SESSION_HEADER: "some-other-session"})
    elsewhere = _routed_model(fake)

    assert (in_project, elsewhere) == ("fake-model-large", "fake-model")

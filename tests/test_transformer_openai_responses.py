"""``openai-responses``: Anthropic Messages through ccr to OpenAI's Responses API and back.

Unit tests pin the request and answer conversions; the rest runs a real ccr server in front of
a fake Responses server that rejects what the real API rejects (see :mod:`tests.fake_responses`),
streamed and not, including every recorded Claude Code request and reasoning carried from one
turn to the next.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest

from ccr.config.model import Provider
from ccr.convert.request import anthropic_to_openai
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin._responses_request import decode_reasoning, encode_reasoning
from ccr.transformers.builtin._responses_response import to_completion
from ccr.transformers.builtin.openai_responses import OpenAIResponses, responses_url
from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_responses import FakeResponses, call, reasoning, respond, say
from tests.support.fixtures import CLAUDE_CODE_FIXTURES, MakeCcr, claude_code_fixture
from tests.support.gateway_client import Sdk

KEY = "sk-responses-test-key"
BASH = {"name": "Bash", "description": "Run a command", "input_schema": {
    "type": "object", "properties": {"command": {"type": "string"}}, "required": ["command"]}}


@pytest.fixture
def fake() -> Iterator[FakeResponses]:
    with FakeResponses() as server:
        server.expected_key = KEY
        yield server


def _config(fake: FakeResponses, **options: Any) -> dict[str, Any]:
    use: list[Any] = [["openai-responses", options]] if options else ["openai-responses"]
    return {
        "Providers": [{"name": "openai", "api_base_url": fake.api_base_url, "api_key": KEY,
                       "models": ["gpt-5-codex"], "transformer": {"use": use}}],
        "Router": {"default": "openai,gpt-5-codex"},
        "LOG": False,
    }


@pytest.fixture
def sdk(fake: FakeResponses, make_ccr: MakeCcr) -> Sdk:
    return Sdk.on(make_ccr(_config(fake)))


def _build(body: dict[str, Any], **options: Any) -> dict[str, Any]:
    provider = Provider(name="p", api_base_url="https://api.openai.com/v1", models=("g",))
    ctx = TransformContext(provider=provider, model="g", stream=bool(body.get("stream")),
                           original=body)
    return OpenAIResponses(options).build_http(anthropic_to_openai(body, "g"), ctx).body


def _body(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 1000, "messages": list(messages), **extra}


# --------------------------------------------------------------------------------------------
# Request conversion


@pytest.mark.parametrize(("base", "url"), [
    ("https://api.openai.com/v1/responses", "https://api.openai.com/v1/responses"),
    ("https://api.openai.com/v1", "https://api.openai.com/v1/responses"),
    ("https://api.openai.com/v1/chat/completions", "https://api.openai.com/v1/responses"),
    ("http://localhost:8000", "http://localhost:8000/v1/responses"),
])
def test_url_is_the_responses_endpoint_whatever_the_base_names(base: str, url: str) -> None:
    assert responses_url(base) == url


def test_system_prompt_is_instructions_and_turns_are_input_items() -> None:
    body = _build(_body({"role": "user", "content": "hi"}, system="Be brief.",
                        temperature=0.5, stop_sequences=["END"]))
    assert body["instructions"] == "Be brief."
    assert body["input"] == [{"role": "user", "content": "hi"}]
    assert body["max_output_tokens"] == 1000
    assert body["store"] is False
    assert not {"temperature", "stop", "messages", "max_tokens"} & set(body)


def test_tool_calls_and_results_become_paired_items_in_order() -> None:
    body = _build(_body(
        {"role": "user", "content": "list"},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Listing."},
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "a.txt"}]},
        tools=[BASH]))
    assert body["input"][1:] == [
        {"role": "assistant", "content": "Listing."},
        {"type": "function_call", "call_id": "toolu_1", "name": "Bash",
         "arguments": '{"command": "ls"}'},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "a.txt"},
    ]
    assert body["tools"] == [{"type": "function", "name": "Bash", "description": "Run a command",
                              "parameters": BASH["input_schema"], "strict": False}]


def test_small_output_limits_are_raised_to_the_apis_minimum() -> None:
    assert _build(_body({"role": "user", "content": "x"}, max_tokens=1))["max_output_tokens"] == 16


def test_one_named_tool_choice_uses_the_flat_form() -> None:
    body = _build(_body({"role": "user", "content": "x"}, tools=[BASH],
                        tool_choice={"type": "tool", "name": "Bash"}))
    assert body["tool_choice"] == {"type": "function", "name": "Bash"}


@pytest.mark.parametrize(("thinking", "effort"), [
    ({"type": "enabled", "budget_tokens": 1024}, "low"),
    ({"type": "enabled", "budget_tokens": 31999}, "high"),
    ({"type": "adaptive"}, None),
])
def test_client_thinking_asks_for_reasoning_and_its_encrypted_content(
    thinking: dict[str, Any], effort: str | None
) -> None:
    body = _build(_body({"role": "user", "content": "x"}, thinking=thinking))
    assert body["reasoning"].get("effort") == effort
    assert body["reasoning"]["summary"] == "auto"
    assert body["include"] == ["reasoning.encrypted_content"]


def test_reasoning_option_false_never_asks_for_reasoning() -> None:
    body = _build(_body({"role": "user", "content": "x"}, thinking={"type": "adaptive"}),
                  reasoning=False)
    assert "reasoning" not in body and "include" not in body


def test_reasoning_goes_back_before_the_item_that_followed_it() -> None:
    signature = encode_reasoning([
        {"id": "rs_1", "encrypted_content": "enc_a", "before": "call_9"}])
    body = _build(_body(
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "plan", "signature": signature},
            {"type": "text", "text": "Running."},
            {"type": "tool_use", "id": "call_9", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "call_9", "content": "ok"}]},
        tools=[BASH]))
    kinds = [item.get("type", "message") for item in body["input"]]
    assert kinds == ["message", "message", "reasoning", "function_call", "function_call_output"]
    assert body["input"][2] == {"type": "reasoning", "summary": [], "encrypted_content": "enc_a",
                                "id": "rs_1"}


def test_signatures_from_other_providers_are_not_sent() -> None:
    assert decode_reasoning("EqQBCkYIBRgCKkD1c2lnbmF0dXJl") == []
    body = _build(_body(
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [
            {"type": "thinking", "thinking": "t", "signature": "EqQBCkYIBRgCKkD1c2ln"},
            {"type": "text", "text": "ok"}]},
        {"role": "user", "content": "more"}))
    assert all(item.get("type") != "reasoning" for item in body["input"])


# --------------------------------------------------------------------------------------------
# Answer conversion


def test_whole_answer_with_reasoning_text_and_call() -> None:
    response = {"object": "response", "status": "completed", "output": [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "hm"}],
         "encrypted_content": "enc_1"},
        {"type": "message", "role": "assistant", "content": [
            {"type": "output_text", "text": "Let me check."}]},
        {"type": "function_call", "call_id": "call_1", "name": "Bash",
         "arguments": '{"command":"ls"}'}],
        "usage": {"input_tokens": 50, "output_tokens": 9,
                  "input_tokens_details": {"cached_tokens": 20}}}
    completion = to_completion(response)
    message = completion["choices"][0]["message"]
    assert message["content"] == "Let me check."
    assert message["tool_calls"][0]["id"] == "call_1"
    assert message["thinking"]["content"] == "hm"
    assert decode_reasoning(message["thinking"]["signature"]) == [
        {"id": "rs_1", "encrypted_content": "enc_1", "before": "message"}]
    assert completion["choices"][0]["finish_reason"] == "tool_calls"
    assert completion["usage"] == {"prompt_tokens": 50, "completion_tokens": 9,
                                   "total_tokens": 59, "prompt_tokens_details": {
                                       "cached_tokens": 20}}


def test_answer_cut_at_the_output_limit_finishes_as_length() -> None:
    completion = to_completion({"object": "response", "status": "incomplete",
                                "incomplete_details": {"reason": "max_output_tokens"},
                                "output": []})
    assert completion["choices"][0]["finish_reason"] == "length"


def test_failed_answer_is_an_upstream_error() -> None:
    out = to_completion({"object": "response", "status": "failed",
                         "error": {"code": "server_error", "message": "boom"}})
    assert out["error"]["message"] == "boom"


# --------------------------------------------------------------------------------------------
# Through a real server


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_text_answer_reaches_the_client(sdk: Sdk, fake: FakeResponses, streamed: bool) -> None:
    fake.enqueue(respond(say("Hello there."), input_tokens=31, output_tokens=4))
    message = sdk.ask(streamed)
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == "Hello there."  # type: ignore[union-attr]
    assert (message.usage.input_tokens, message.usage.output_tokens) == (31, 4)
    assert message.stop_reason == "end_turn"
    assert fake.rejections == []


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_reasoning_and_call_then_the_next_turn_carries_the_reasoning_back(
    sdk: Sdk, fake: FakeResponses, streamed: bool
) -> None:
    fake.enqueue(respond(reasoning("I should list files."), say("Checking."),
                         call("Bash", {"command": "ls"}, call_id="call_abc")))
    params: dict[str, Any] = {"tools": [BASH], "max_tokens": 2000,
                              "thinking": {"type": "enabled", "budget_tokens": 1024}}
    first = sdk.ask(streamed, **params)

    assert [b.type for b in first.content] == ["thinking", "text", "tool_use"]
    assert first.content[0].thinking == "I should list files."  # type: ignore[union-attr]
    assert first.stop_reason == "tool_use"
    tool_use = first.content[2]
    assert (tool_use.id, tool_use.input) == ("call_abc", {"command": "ls"})  # type: ignore

    fake.enqueue(respond(say("Two files.")))
    history = [{"role": "user", "content": "hi"},
               {"role": "assistant", "content": [b.model_dump() for b in first.content]},
               {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_abc",
                                             "content": "a.txt\nb.txt"}]}]
    second = sdk.ask(streamed, messages=history, **params)

    assert second.content[0].text == "Two files."  # type: ignore[union-attr]
    assert fake.rejections == []  # the encrypted reasoning was accepted, placed before its item
    sent = fake.requests[-1]
    assert [i.get("type", "message") for i in sent.items] == [
        "message", "reasoning", "message", "function_call", "function_call_output"]


def test_a_refused_key_is_an_anthropic_error_naming_the_provider_not_the_key(
    fake: FakeResponses, make_ccr: MakeCcr
) -> None:
    config = _config(fake)
    config["Providers"][0]["api_key"] = "sk-wrong-key"
    sdk = Sdk.on(make_ccr(config))
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.create()
    assert "Incorrect API key provided" in str(caught.value)
    assert "sk-wrong-key" not in str(caught.value)


def test_incomplete_stream_ends_with_max_tokens(sdk: Sdk, fake: FakeResponses) -> None:
    fake.enqueue(respond(say("Partial"), final_status="incomplete"))
    assert sdk.stream().stop_reason == "max_tokens"


def test_a_response_that_keeps_failing_reaches_the_client_as_an_error(
    sdk: Sdk, fake: FakeResponses
) -> None:
    fake.handler = lambda request: respond(say("Part"), final_status="failed")
    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.stream()
    assert "The model failed." in str(caught.value)


def test_a_failed_response_is_tried_again_before_anything_reached_the_client(
    sdk: Sdk, fake: FakeResponses
) -> None:
    # it fails before any content: nothing of it can have reached the client
    fake.enqueue(respond(final_status="failed"), respond(say("Whole answer.")))
    assert sdk.stream().content[0].text == "Whole answer."  # type: ignore[union-attr]
    assert len(fake.requests) == 2


# --------------------------------------------------------------------------------------------
# Every recorded Claude Code request, and small synthetic ones


SYNTHETIC: dict[str, dict[str, Any]] = {
    "synthetic-plain": _body({"role": "user", "content": [{"type": "text", "text": "hi"}]},
                             system=[{"type": "text", "text": "You are Claude Code."}]),
    "synthetic-tool-round": _body(
        {"role": "user", "content": "run ls"},
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [
                {"type": "text", "text": "a.txt"}]},
            {"type": "text", "text": "and now?"}]},
        tools=[BASH], thinking={"type": "enabled", "budget_tokens": 2048}),
    "synthetic-image": _body({"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                     "data": "iVBORw0KGgo="}},
        {"type": "text", "text": "what is this?"}]}),
}


def _fixture_names() -> list[str]:
    """The synthetic bodies, then every recorded POST request (recordings, else stand-ins)."""
    return list(SYNTHETIC) + [name for name in CLAUDE_CODE_FIXTURES
                              if claude_code_fixture(name).get("method") == "POST"]


def _fixture_body(name: str) -> dict[str, Any]:
    if name in SYNTHETIC:
        return copy.deepcopy(SYNTHETIC[name])
    return {k: v for k, v in claude_code_fixture(name)["body"].items() if k != "stream"}


@pytest.fixture(scope="module")
def shared_fake() -> Iterator[FakeResponses]:
    with FakeResponses() as server:
        server.expected_key = KEY
        yield server


@pytest.fixture(scope="module")
def shared_ccr(shared_fake: FakeResponses, tmp_path_factory: pytest.TempPathFactory
               ) -> Iterator[CcrServer]:
    server = CcrServer(_config(shared_fake), tmp_path_factory.mktemp("ccr")).start()
    yield server
    server.stop()


@pytest.mark.e2e
@pytest.mark.parametrize("answer", ["text", "reasoning-call"])
@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
@pytest.mark.parametrize("name", _fixture_names())
def test_every_recorded_request_is_accepted_and_answered_validly(
    shared_fake: FakeResponses, shared_ccr: CcrServer, name: str, streamed: bool, answer: str
) -> None:
    body = _fixture_body(name)
    tools = [t["name"] for t in body.get("tools") or () if "name" in t]
    if answer == "text" or not tools:
        shared_fake.enqueue(respond(say("Hello! How can I help?")))
    else:
        shared_fake.enqueue(respond(reasoning("Thinking."), call(tools[0], {})))
    before = len(shared_fake.rejections)
    sdk = Sdk.on(shared_ccr)
    messages = sdk.client.beta.messages
    if streamed:
        with messages.stream(**body, timeout=20.0) as stream:
            message = stream.get_final_message()
        check_stream(sdk.transport.last_events())
    else:
        message = messages.create(**body, timeout=20.0)
    assert shared_fake.rejections[before:] == []
    assert message.content, "the answer has content"
    if answer == "reasoning-call" and tools:
        assert message.stop_reason == "tool_use"
        assert message.content[-1].type == "tool_use"


def test_reasoning_without_a_summary_still_carries_its_encrypted_content(
    sdk: Sdk, fake: FakeResponses
) -> None:
    fake.enqueue(respond(reasoning(""), call("Bash", {"command": "pwd"}, call_id="call_p")))
    params: dict[str, Any] = {"tools": [BASH], "thinking": {"type": "adaptive"}}
    first = sdk.stream(**params)  # checked by the strict stream validator

    assert [b.type for b in first.content] == ["thinking", "tool_use"]
    fake.enqueue(respond(say("/home")))
    sdk.stream(messages=[
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "call_p",
                                      "content": "/home"}]}], **params)
    assert fake.rejections == []
    assert [i.get("type", "message") for i in fake.requests[-1].items] == [
        "message", "reasoning", "function_call", "function_call_output"]

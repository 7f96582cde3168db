"""OpenAI-format clients: their chat request in Anthropic's terms, Anthropic answers in theirs
(pure conversions; the endpoint is tested in test_chat_completions_endpoint)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ccr.convert.openai_client import (
    DEFAULT_MAX_TOKENS,
    ChunkStream,
    anthropic_to_chat_completion,
    chat_to_anthropic,
)
from ccr.convert.request import anthropic_to_openai
from ccr.errors import InvalidRequest

TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def _chat(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "gpt-4o", "messages": list(messages), **extra}


def test_system_and_developer_messages_become_the_system_prompt() -> None:
    out = chat_to_anthropic(_chat({"role": "system", "content": "Be brief."},
                                  {"role": "developer", "content": "Use metric."},
                                  {"role": "user", "content": "Hi"}))
    assert out["system"] == "Be brief.\n\nUse metric."
    assert out["messages"] == [{"role": "user", "content": [{"type": "text", "text": "Hi"}]}]
    assert out["max_tokens"] == DEFAULT_MAX_TOKENS


def test_tool_round_trip_becomes_tool_use_and_tool_result() -> None:
    out = chat_to_anthropic(_chat(
        {"role": "user", "content": "Weather in Oslo?"},
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": "call_1", "type": "function",
             "function": {"name": "get_weather", "arguments": '{"city": "Oslo"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "4°C"},
        tools=[TOOL], tool_choice="required", parallel_tool_calls=False))
    assert out["messages"][1] == {"role": "assistant", "content": [
        {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "Oslo"}}]}
    assert out["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "call_1", "content": "4°C"}]}
    assert out["tools"] == [{"name": "get_weather", "description": "Weather for a city",
                             "input_schema": TOOL["function"]["parameters"]}]
    assert out["tool_choice"] == {"type": "any", "disable_parallel_tool_use": True}


def test_parallel_results_share_one_user_turn() -> None:
    out = chat_to_anthropic(_chat(
        {"role": "user", "content": "both"},
        {"role": "assistant", "tool_calls": [
            {"id": "a", "function": {"name": "get_weather", "arguments": "{}"}},
            {"id": "b", "function": {"name": "get_weather", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": "2"}))
    assert [b["tool_use_id"] for b in out["messages"][2]["content"]] == ["a", "b"]
    assert len(out["messages"]) == 3


def test_images_become_image_blocks() -> None:
    out = chat_to_anthropic(_chat({"role": "user", "content": [
        {"type": "text", "text": "what?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4AAQ"}},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}}]}))
    blocks = out["messages"][0]["content"]
    assert blocks[1] == {"type": "image", "source": {"type": "base64", "media_type": "image/jpeg",
                                                      "data": "/9j/4AAQ"}}
    assert blocks[2]["source"] == {"type": "url", "url": "https://example.com/cat.png"}


def test_limits_stops_sampling_and_effort_carry_over() -> None:
    out = chat_to_anthropic(_chat({"role": "user", "content": "x"}, max_completion_tokens=4000,
                                  stop="END", temperature=0.2, reasoning_effort="high",
                                  user="u-1", stream=True))
    assert out["max_tokens"] == 4000 and out["stop_sequences"] == ["END"]
    assert out["temperature"] == 0.2 and out["stream"] is True
    assert out["thinking"] == {"type": "enabled", "budget_tokens": 3999}
    assert out["metadata"] == {"user_id": "u-1"}


def test_no_thinking_when_max_tokens_leaves_no_room() -> None:
    assert "thinking" not in chat_to_anthropic(
        _chat({"role": "user", "content": "x"}, max_tokens=500, reasoning_effort="low"))


@pytest.mark.parametrize("body", [
    {"messages": [{"role": "user", "content": "x"}]},
    _chat(),
    _chat({"role": "user", "content": "x"}, n=2),
    _chat({"role": "wizard", "content": "x"}),
    _chat({"role": "user", "content": "x"}, max_tokens=0),
], ids=["no-model", "no-messages", "n", "role", "max-tokens"])
def test_malformed_requests_are_invalid(body: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        chat_to_anthropic(body)


def test_converted_request_is_one_ccr_converts_onward() -> None:
    out = chat_to_anthropic(_chat(
        {"role": "system", "content": "S"}, {"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [
            {"id": "c", "function": {"name": "get_weather", "arguments": '{"city":"x"}'}}]},
        {"role": "tool", "tool_call_id": "c", "content": "r"}, tools=[TOOL]))
    unified = anthropic_to_openai(out, "m")
    assert [m["role"] for m in unified["messages"]] == ["system", "user", "assistant", "tool"]


# --------------------------------------------------------------------------------------------
# Answers


MESSAGE = {"id": "msg_abc", "type": "message", "role": "assistant", "model": "m",
           "content": [{"type": "thinking", "thinking": "hm", "signature": "s"},
                       {"type": "text", "text": "Checking."},
                       {"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                        "input": {"city": "Oslo"}}],
           "stop_reason": "tool_use", "stop_sequence": None,
           "usage": {"input_tokens": 10, "output_tokens": 5, "cache_read_input_tokens": 90}}


def test_message_becomes_a_chat_completion() -> None:
    out = anthropic_to_chat_completion(MESSAGE, model="gpt-4o")
    choice = out["choices"][0]
    assert out["object"] == "chat.completion" and out["model"] == "gpt-4o"
    assert choice["message"]["content"] == "Checking."
    assert choice["message"]["reasoning_content"] == "hm"
    assert choice["message"]["tool_calls"] == [{"id": "toolu_1", "type": "function", "function": {
        "name": "get_weather", "arguments": json.dumps({"city": "Oslo"})}}]
    assert choice["finish_reason"] == "tool_calls"
    assert out["usage"] == {"prompt_tokens": 100, "completion_tokens": 5, "total_tokens": 105,
                            "prompt_tokens_details": {"cached_tokens": 90}}


@pytest.mark.parametrize(("stop", "finish"), [
    ("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"),
    ("refusal", "content_filter")])
def test_stop_reasons_map_to_finish_reasons(stop: str, finish: str) -> None:
    out = anthropic_to_chat_completion({**MESSAGE, "stop_reason": stop, "content": []},
                                       model="m")
    assert out["choices"][0]["finish_reason"] == finish


def test_stream_events_become_chunks_with_usage_last() -> None:
    stream = ChunkStream(model="gpt-4o", include_usage=True)
    events = [
        ("message_start", {"message": {"id": "msg_1", "usage": {"input_tokens": 7}}}),
        ("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}}),
        ("content_block_delta", {"index": 0, "delta": {"type": "text_delta", "text": "Hi"}}),
        ("content_block_stop", {"index": 0}),
        ("content_block_start", {"index": 1, "content_block": {
            "type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {}}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                       "partial_json": '{"city":'}}),
        ("content_block_delta", {"index": 1, "delta": {"type": "input_json_delta",
                                                       "partial_json": '"Oslo"}'}}),
        ("content_block_stop", {"index": 1}),
        ("message_delta", {"delta": {"stop_reason": "tool_use"}, "usage": {"output_tokens": 3}}),
        ("message_stop", {}),
    ]
    chunks = [c for name, data in events for c in stream.feed(name, data)]
    deltas = [c["choices"][0]["delta"] for c in chunks if c["choices"]]
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert deltas[1] == {"content": "Hi"}
    assert deltas[2]["tool_calls"][0]["id"] == "toolu_9"
    assert "".join(d["tool_calls"][0]["function"]["arguments"] for d in deltas[2:5]) == \
        '{"city":"Oslo"}'
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["choices"] == [] and chunks[-1]["usage"]["prompt_tokens"] == 7
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert all(c["id"] == "chatcmpl-1" for c in chunks)


def test_stream_error_event_becomes_an_error_chunk() -> None:
    stream = ChunkStream(model="m")
    [chunk] = stream.feed("error", {"type": "error", "error": {
        "type": "api_error", "message": "provider x ended the stream"}})
    assert chunk == {"error": {"message": "provider x ended the stream", "type": "api_error",
                               "param": None, "code": None}}

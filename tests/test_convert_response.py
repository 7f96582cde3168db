"""openai_to_anthropic: a non-streamed completion becomes the message Claude Code expects."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from ccr.convert.common import is_generated_signature
from ccr.convert.response import openai_to_anthropic
from ccr.errors import ApiError


def completion(message: dict[str, Any], finish: str | None = "stop",
               usage: dict[str, Any] | None = None, **choice: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": "chatcmpl-1",
        "object": "chat.completion",
        "choices": [{"index": 0, "message": {"role": "assistant", **message},
                     "finish_reason": finish, **choice}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


def tool_call(name: str, arguments: str, id: str | None = "call_1") -> dict[str, Any]:
    call: dict[str, Any] = {"type": "function", "function": {"name": name, "arguments": arguments}}
    if id is not None:
        call["id"] = id
    return call


def convert(resp: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    return openai_to_anthropic(resp, model="deepseek-chat", **kwargs)


def test_text_answer_is_a_valid_anthropic_message():
    message = convert(completion({"content": "Hello!"},
                                 usage={"prompt_tokens": 10, "completion_tokens": 3}))
    parsed = anthropic.types.Message.model_validate(message)
    assert [block.text for block in parsed.content] == ["Hello!"]
    assert parsed.stop_reason == "end_turn"
    assert (parsed.usage.input_tokens, parsed.usage.output_tokens) == (10, 3)
    assert message["id"].startswith("msg_")
    assert message["model"] == "deepseek-chat"


def test_message_id_is_used_when_given():
    assert convert(completion({"content": "x"}), message_id="msg_given")["id"] == "msg_given"


def test_reasoning_content_becomes_a_signed_thinking_block_first():
    message = convert(completion({"reasoning_content": "Think.", "content": "Answer."}))
    thinking, text = message["content"]
    assert (thinking["type"], thinking["thinking"]) == ("thinking", "Think.")
    assert text == {"type": "text", "text": "Answer."}
    assert is_generated_signature(thinking["signature"])


def test_openrouter_reasoning_field_becomes_thinking():
    message = convert(completion({"reasoning": "Hmm.", "content": "Ok."}))
    assert message["content"][0]["thinking"] == "Hmm."


def test_thinking_extension_keeps_the_upstream_signature():
    message = convert(completion({"thinking": {"content": "T", "signature": "REAL"},
                                  "content": "x"}))
    assert message["content"][0] == {"type": "thinking", "thinking": "T", "signature": "REAL"}


def test_tool_calls_become_tool_use_blocks_after_the_text():
    message = convert(completion(
        {"content": "Let me look.",
         "tool_calls": [tool_call("Read", '{"path": "a.py"}', "call_a"),
                        tool_call("Bash", '{"command": "ls"}', "call_b")]},
        finish="tool_calls"))
    assert message["content"][1:] == [
        {"type": "tool_use", "id": "call_a", "name": "Read", "input": {"path": "a.py"}},
        {"type": "tool_use", "id": "call_b", "name": "Bash", "input": {"command": "ls"}},
    ]
    assert message["stop_reason"] == "tool_use"
    anthropic.types.Message.model_validate(message)


def test_tool_calls_with_finish_reason_stop_still_stop_for_tool_use():
    message = convert(completion({"content": None, "tool_calls": [tool_call("Bash", "{}")]}))
    assert message["stop_reason"] == "tool_use"


def test_missing_tool_call_id_is_generated():
    message = convert(completion({"tool_calls": [tool_call("Bash", "{}", id=None)]}))
    assert message["content"][0]["id"].startswith("toolu_")


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [('{"a": 1}', {"a": 1}),
     ("", {}),
     ('{"a": 1', {"a": 1}),
     ("{'a': 'b',}", {"a": "b"}),
     ("[1, 2]", {"input": "[1, 2]"}),
     ("just words", {"input": "just words"})],
)
def test_tool_arguments_are_parsed_repaired_or_kept_raw(arguments, expected):
    message = convert(completion({"tool_calls": [tool_call("T", arguments)]}))
    assert message["content"][0]["input"] == expected


def test_arguments_already_an_object_are_used_as_is():
    call = {"id": "c", "function": {"name": "T", "arguments": {"x": [1]}}}
    assert convert(completion({"tool_calls": [call]}))["content"][0]["input"] == {"x": [1]}


@pytest.mark.parametrize("content", ["", None, "  \n\n "])
def test_empty_or_whitespace_text_is_never_a_block(content):
    message = convert(completion({"content": content, "tool_calls": [tool_call("T", "{}")]}))
    assert [block["type"] for block in message["content"]] == ["tool_use"]


def test_content_parts_are_joined_into_one_text_block():
    message = convert(completion({"content": [{"type": "text", "text": "a"},
                                              {"type": "text", "text": "b"}]}))
    assert message["content"] == [{"type": "text", "text": "ab"}]


@pytest.mark.parametrize(
    ("finish", "expected"),
    [("stop", "end_turn"), ("length", "max_tokens"), ("content_filter", "refusal"),
     (None, "end_turn"), ("tool_calls", "end_turn"), ("something_new", "end_turn")],
)
def test_finish_reason_maps_to_stop_reason(finish, expected):
    assert convert(completion({"content": "x"}, finish=finish))["stop_reason"] == expected


def test_matched_stop_reported_by_the_upstream_gives_stop_sequence():
    message = convert(completion({"content": "x"}, matched_stop="###"), stop_sequences=["###"])
    assert (message["stop_reason"], message["stop_sequence"]) == ("stop_sequence", "###")


def test_a_matched_stop_that_was_not_requested_is_ignored():
    message = convert(completion({"content": "x"}, stop_reason="<|eot|>"), stop_sequences=["###"])
    assert (message["stop_reason"], message["stop_sequence"]) == ("end_turn", None)


def test_cached_prompt_tokens_become_cache_reads():
    usage = {"prompt_tokens": 1000, "completion_tokens": 5,
             "prompt_tokens_details": {"cached_tokens": 600}}
    assert convert(completion({"content": "x"}, usage=usage))["usage"] == {
        "input_tokens": 400, "output_tokens": 5, "cache_read_input_tokens": 600}


def test_deepseek_cache_hit_tokens_become_cache_reads():
    usage = {"prompt_tokens": 100, "completion_tokens": 1, "prompt_cache_hit_tokens": 64,
             "prompt_cache_miss_tokens": 36}
    assert convert(completion({"content": "x"}, usage=usage))["usage"]["input_tokens"] == 36


def test_missing_usage_uses_the_input_estimate():
    message = convert(completion({"content": "x"}), input_tokens_estimate=777)
    assert message["usage"] == {"input_tokens": 777, "output_tokens": 0}


def test_error_body_in_a_200_raises_api_error_with_its_message_and_status():
    with pytest.raises(ApiError, match="Rate limit exceeded") as info:
        convert({"error": {"message": "Rate limit exceeded", "code": 429}})
    assert (info.value.status, info.value.error_type) == (429, "rate_limit_error")


def test_completion_without_choices_is_an_api_error():
    with pytest.raises(ApiError, match="without choices"):
        convert({"id": "x", "choices": []})


def test_only_generated_signatures_are_recognised_as_generated():
    made_up = convert(completion({"reasoning_content": "t", "content": "x"}))["content"][0]
    assert is_generated_signature(made_up["signature"])
    assert not is_generated_signature("ZmFrZS1zaWduYXR1cmU=")
    assert not is_generated_signature("")
    assert not is_generated_signature(None)

"""anthropic_to_openai: Anthropic Messages requests become unified OpenAI chat requests."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from ccr.convert.request import (
    BILLING_PREFIX,
    EMPTY_TEXT,
    anthropic_to_openai,
    strip_extensions,
)
from ccr.errors import InvalidRequest
from tests.support.recorded import recorded as recorded_request

RECORDED = ["01-plain", "02-bash-turn1", "03-bash-turn2-tool-result", "06-haiku-thinking-enabled",
            "08-sonnet-thinking-disabled", "10-task-subagent-request", "13-x-api-key-auth"]


def recorded(name: str) -> dict[str, Any]:
    """The body of a recorded request (a stand-in where the recordings are absent)."""
    return recorded_request(name)["body"]


def convert(body: dict[str, Any]) -> dict[str, Any]:
    return anthropic_to_openai(body, "upstream-model")


def request(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 1000, "messages": list(messages), **fields}


def user(*content: Any) -> dict[str, Any]:
    return {"role": "user", "content": list(content)}


def assistant(*content: Any) -> dict[str, Any]:
    return {"role": "assistant", "content": list(content)}


def text(value: str, **extra: Any) -> dict[str, Any]:
    return {"type": "text", "text": value, **extra}


def tool_use(id: str, name: str = "Bash", **input: Any) -> dict[str, Any]:
    return {"type": "tool_use", "id": id, "name": name, "input": input}


def tool_result(id: str, content: Any, **extra: Any) -> dict[str, Any]:
    return {"type": "tool_result", "tool_use_id": id, "content": content, **extra}


def image(data: str = "iVBORw0KGgo=", media_type: str = "image/png") -> dict[str, Any]:
    return {"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}}


def walk_keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in walk_keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in walk_keys(v)}
    return set()


# --- recorded Claude Code requests ------------------------------------------------------------


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_request_converts_without_touching_the_input(name):
    body = recorded(name)
    before = copy.deepcopy(body)
    out = convert(body)
    assert body == before
    assert out["model"] == "upstream-model"
    assert out["max_tokens"] == body["max_tokens"]
    assert out["stream"] is True
    assert out["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_request_sends_no_anthropic_only_fields(name):
    out = strip_extensions(convert(recorded(name)))
    assert not {"system", "metadata", "thinking", "context_management", "output_config",
                "cache_control"} & set(out)
    assert "cache_control" not in walk_keys(out["messages"])
    assert BILLING_PREFIX not in json.dumps(out, ensure_ascii=False)


@pytest.mark.parametrize("name", RECORDED)
def test_recorded_tools_become_functions_sharing_their_schemas(name):
    body = recorded(name)
    out = convert(body)
    assert [t["function"]["name"] for t in out["tools"]] == [t["name"] for t in body["tools"]]
    assert all(out_tool["function"]["parameters"] is in_tool["input_schema"]
               for out_tool, in_tool in zip(out["tools"], body["tools"], strict=True))


def test_recorded_system_prompt_is_one_leading_system_message_without_billing():
    body = recorded("01-plain")
    out = convert(body)
    first = out["messages"][0]
    assert first["role"] == "system"
    assert first["content"].startswith(body["system"][1]["text"])
    assert body["system"][2]["text"] in first["content"]


def test_recorded_mid_conversation_system_message_stays_in_place():
    body = recorded("01-plain")
    roles = [m["role"] for m in convert(body)["messages"]]
    assert roles == ["system", "user", "system"]


def test_recorded_subagent_prompt_is_kept():
    body = recorded("10-task-subagent-request")
    assert body["system"][2]["text"] in convert(body)["messages"][0]["content"]


def test_recorded_tool_turn_keeps_thinking_tool_call_and_result():
    out = convert(recorded("03-bash-turn2-tool-result"))
    call_message, result_message = out["messages"][-2:]
    assert call_message["content"] == "Running a command."
    assert call_message["thinking"] == {"content": "Let me think briefly.",
                                        "signature": "ZmFrZS1zaWduYXR1cmU="}
    [call] = call_message["tool_calls"]
    assert json.loads(call["function"]["arguments"]) == {
        "command": "echo hi-from-tool", "description": "Print a greeting"}
    assert result_message == {"role": "tool", "tool_call_id": call["id"],
                              "content": "hi-from-tool"}


@pytest.mark.parametrize(
    ("name", "thinking"),
    [("01-plain", {"type": "adaptive"}),
     ("06-haiku-thinking-enabled", {"type": "enabled", "budget_tokens": 31999}),
     ("08-sonnet-thinking-disabled", {"type": "disabled"})],
)
def test_recorded_thinking_config_is_kept_as_an_extension(name, thinking):
    out = convert(recorded(name))
    assert out["_thinking"] == thinking
    assert "thinking" not in out


def test_recorded_effort_is_kept_as_an_extension():
    assert convert(recorded("01-plain"))["_effort"] == "high"


# --- system prompt ----------------------------------------------------------------------------


def test_system_blocks_are_joined_and_the_billing_block_dropped():
    body = request(user(text("hi")), system=[
        text(f"{BILLING_PREFIX} cc_version=2.1; cc_entrypoint=cli;"),
        text("You are an agent.", cache_control={"type": "ephemeral"}),
        text("Be brief."),
    ])
    assert convert(body)["messages"][0] == {"role": "system",
                                            "content": "You are an agent.\n\nBe brief."}


def test_string_system_prompt_is_kept():
    assert convert(request(user(text("hi")), system="Be nice."))["messages"][0] == {
        "role": "system", "content": "Be nice."}


def test_billing_line_is_dropped_from_a_string_system_prompt():
    body = request(user(text("hi")), system=f"{BILLING_PREFIX} cc_version=2;\nReal prompt.")
    assert convert(body)["messages"][0]["content"] == "Real prompt."


def test_mid_conversation_system_message_is_kept_in_place_without_billing():
    body = request(user(text("a")), {"role": "system", "content": [
        text(f"{BILLING_PREFIX} x;"), text("Reminder.")]}, assistant(text("b")))
    assert convert(body)["messages"] == [
        {"role": "user", "content": "a"},
        {"role": "system", "content": "Reminder."},
        {"role": "assistant", "content": "b"},
    ]


# --- user content -----------------------------------------------------------------------------


def test_text_only_user_turn_is_a_string_and_cache_control_is_gone():
    body = request(user(text("one"), text("two", cache_control={"type": "ephemeral"})))
    assert convert(body)["messages"] == [{"role": "user", "content": "one\n\ntwo"}]


def test_base64_image_becomes_a_data_url():
    out = convert(request(user(text("see"), image("AAAA", "image/jpeg"))))
    assert out["messages"][0]["content"] == [
        {"type": "text", "text": "see"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,AAAA"}},
    ]


def test_data_url_prefix_is_never_doubled():
    out = convert(request(user(image("data:image/png;base64,AAAA"))))
    assert out["messages"][0]["content"][0]["image_url"]["url"] == "data:image/png;base64,AAAA"


def test_url_image_keeps_its_url():
    block = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    out = convert(request(user(block)))
    assert out["messages"][0]["content"][0]["image_url"]["url"] == "https://example.com/a.png"


def test_text_document_becomes_text_with_its_title():
    block = {"type": "document", "title": "notes.txt",
             "source": {"type": "text", "media_type": "text/plain", "data": "the notes"}}
    assert convert(request(user(block)))["messages"][0]["content"] == "notes.txt\nthe notes"


# --- tool results -----------------------------------------------------------------------------


def test_tool_results_follow_their_call_before_the_rest_of_the_user_turn():
    body = request(
        user(text("do two things")),
        assistant(tool_use("call_a", command="a"), tool_use("call_b", command="b")),
        user(text("also this"), tool_result("call_b", "B out"), image("IMG"),
             tool_result("call_a", "A out")),
    )
    messages = convert(body)["messages"]
    assert [m["role"] for m in messages] == ["user", "assistant", "tool", "tool", "user"]
    assert [(m["tool_call_id"], m["content"]) for m in messages[2:4]] == [
        ("call_b", "B out"), ("call_a", "A out")]
    assert messages[4]["content"] == [
        {"type": "text", "text": "also this"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,IMG"}},
    ]


def test_tool_results_go_before_a_system_message_that_follows_the_call():
    body = request(user(text("go")), assistant(tool_use("call_a")),
                   {"role": "system", "content": "note"}, user(tool_result("call_a", "done")))
    roles = [m["role"] for m in convert(body)["messages"]]
    assert roles == ["user", "assistant", "tool", "system"]


def test_tool_result_text_blocks_are_joined():
    body = request(assistant(tool_use("c")),
                   user(tool_result("c", [text("line 1"), text("line 2")])))
    assert convert(body)["messages"][1]["content"] == "line 1\nline 2"


def test_error_tool_result_says_it_is_an_error():
    body = request(assistant(tool_use("c")), user(tool_result("c", "not found", is_error=True)))
    assert convert(body)["messages"][1]["content"] == "Error: not found"


def test_images_in_a_tool_result_follow_as_a_user_message():
    body = request(assistant(tool_use("c", "Read")),
                   user(tool_result("c", [text("screenshot"), image("PIX")])))
    messages = convert(body)["messages"]
    tool, follow = messages[1], messages[2]
    assert tool["role"] == "tool"
    assert tool["content"].startswith("screenshot\n")
    assert "next user message" in tool["content"]
    assert follow == {"role": "user", "content": [
        {"type": "text", "text": "Images from tool call c:"},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,PIX"}},
    ]}


def test_tool_result_without_a_matching_call_becomes_user_text():
    body = request(user(tool_result("gone", "old output")))
    assert convert(body)["messages"] == [
        {"role": "user", "content": "Result of tool call gone:\nold output"}]


# --- assistant content ------------------------------------------------------------------------


def test_an_empty_tool_result_still_answers_its_call_with_a_placeholder():
    body = request(assistant(tool_use("t1"), tool_use("t2"), tool_use("t3")),
                   user(tool_result("t1", ""), tool_result("t2", []),
                        {"type": "tool_result", "tool_use_id": "t3"}))
    tools = convert(body)["messages"][1:]
    assert [(m["role"], m["tool_call_id"], m["content"]) for m in tools] == [
        ("tool", "t1", EMPTY_TEXT), ("tool", "t2", EMPTY_TEXT), ("tool", "t3", EMPTY_TEXT)]


def test_parallel_tool_use_keeps_order_names_and_unicode():
    body = request(assistant(text("Two."), tool_use("t1", "mcp__srv__Tool", q="café"),
                             tool_use("t2", "Read", path="b")))
    message = convert(body)["messages"][0]
    assert message["content"] == "Two."
    assert [(c["id"], c["function"]["name"]) for c in message["tool_calls"]] == [
        ("t1", "mcp__srv__Tool"), ("t2", "Read")]
    assert message["tool_calls"][0]["function"]["arguments"] == '{"q": "café"}'


def test_assistant_with_only_tool_calls_has_null_content():
    message = convert(request(assistant(text(""), tool_use("t1"))))["messages"][0]
    assert message["content"] is None


def test_thinking_blocks_are_carried_and_redacted_thinking_dropped():
    body = request(assistant(
        {"type": "thinking", "thinking": "first", "signature": "s1"},
        {"type": "redacted_thinking", "data": "opaque"},
        {"type": "thinking", "thinking": "second", "signature": "s2"},
        text("answer")))
    message = convert(body)["messages"][0]
    assert message == {"role": "assistant", "content": "answer",
                       "thinking": {"content": "first\n\nsecond", "signature": "s2"}}


def test_an_assistant_turn_that_only_thought_is_left_out():
    body = request(user(text("hi")),
                   assistant({"type": "thinking", "thinking": "hmm", "signature": "sig"}),
                   user(text("well?")))
    assert convert(body)["messages"] == [{"role": "user", "content": "hi"},
                                         {"role": "user", "content": "well?"}]


def test_a_user_turn_with_nothing_to_send_is_left_out():
    body = request(user(text("hi")), assistant(text("hello")), user(), user(text("again")))
    assert [m["content"] for m in convert(body)["messages"]] == ["hi", "hello", "again"]


def test_assistant_without_thinking_has_no_thinking_key():
    assert "thinking" not in convert(request(assistant(text("x"))))["messages"][0]


# --- tools and parameters ---------------------------------------------------------------------


def test_server_tools_are_dropped_and_custom_tools_kept():
    schema = {"type": "object", "properties": {"q": {"type": "string"}}}
    body = request(user(text("x")), tools=[
        {"type": "web_search_20250305", "name": "web_search", "max_uses": 5},
        {"type": "bash_20250124", "name": "bash"},
        {"name": "Search", "description": "Find things", "input_schema": schema},
    ])
    assert convert(body)["tools"] == [{"type": "function", "function": {
        "name": "Search", "description": "Find things", "parameters": schema}}]


def test_no_function_tools_means_no_tools_key_and_no_tool_choice():
    body = request(user(text("x")), tools=[{"type": "web_search_20250305", "name": "web_search"}],
                   tool_choice={"type": "auto"})
    out = convert(body)
    assert "tools" not in out
    assert "tool_choice" not in out


@pytest.mark.parametrize(
    ("choice", "expected"),
    [({"type": "auto"}, "auto"), ({"type": "any"}, "required"), ({"type": "none"}, "none"),
     ({"type": "tool", "name": "Search"}, {"type": "function", "function": {"name": "Search"}})],
)
def test_tool_choice_maps_to_openai(choice, expected):
    body = request(user(text("x")), tools=[{"name": "Search", "input_schema": {}}],
                   tool_choice=choice)
    assert convert(body)["tool_choice"] == expected


def test_disable_parallel_tool_use_turns_parallel_tool_calls_off():
    body = request(user(text("x")), tools=[{"name": "T", "input_schema": {}}],
                   tool_choice={"type": "auto", "disable_parallel_tool_use": True})
    assert convert(body)["parallel_tool_calls"] is False


def test_sampling_parameters_and_stop_sequences_are_mapped():
    out = convert(request(user(text("x")), temperature=0.2, top_p=0.9, top_k=40,
                          stop_sequences=["###"], metadata={"user_id": "u"}))
    assert (out["temperature"], out["top_p"], out["stop"]) == (0.2, 0.9, ["###"])
    assert not {"top_k", "metadata", "stop_sequences"} & set(out)


def test_non_streaming_request_asks_for_no_stream_options():
    out = convert(request(user(text("x")), stream=False))
    assert out["stream"] is False
    assert "stream_options" not in out


def test_strip_extensions_removes_private_keys_without_mutating():
    body = request(assistant({"type": "thinking", "thinking": "t", "signature": "s"}, text("a")),
                   thinking={"type": "adaptive"}, output_config={"effort": "low"})
    unified = convert(body)
    before = copy.deepcopy(unified)
    wire = strip_extensions(unified)
    assert unified == before
    assert not [key for key in wire if key.startswith("_")]
    assert wire["messages"] == [{"role": "assistant", "content": "a"}]


def test_messages_must_be_a_list():
    with pytest.raises(InvalidRequest, match="messages"):
        convert({"model": "x", "max_tokens": 1})

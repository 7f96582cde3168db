"""The request shape check: a wrong type anywhere is a 400 naming the field, as Anthropic's API
does; what real clients send (recorded Claude Code requests, unknown block types) passes."""

from __future__ import annotations

from typing import Any

import pytest

from ccr.convert import anthropic_to_openai
from ccr.convert.schema import check_messages_request
from ccr.errors import InvalidRequest
from ccr.protocol.limits import MAX_JSON_DEPTH, depth_exceeds
from tests.support.recorded import recorded, recorded_names


def request(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": list(messages), **extra}


def problem(body: dict[str, Any]) -> str:
    with pytest.raises(InvalidRequest) as caught:
        check_messages_request(body)
    assert caught.value.status == 400
    return caught.value.message


def test_text_that_is_not_a_string_is_named_by_its_path() -> None:
    body = request(
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": [{"type": "text", "text": "a"},
                                          {"type": "text", "text": 5}]},
    )
    assert problem(body) == "messages.1.content.1.text: must be a string"


def test_converter_names_the_field_instead_of_crashing_in_the_join() -> None:
    body = request({"role": "user", "content": [{"type": "text", "text": "a"},
                                                {"type": "text", "text": ["b"]}]})
    with pytest.raises(InvalidRequest, match=r"messages\.0\.content\.1\.text: must be a string"):
        anthropic_to_openai(body, "m")


@pytest.mark.parametrize(("body", "expected"), [
    ({"messages": []}, "model: Field required"),
    (request({"role": "robot", "content": "x"}), "messages.0.role: "),
    (request({"role": "user"}), "messages.0.content: Field required"),
    (request({"role": "user", "content": 7}), "messages.0.content: must be a string or a list"),
    (request({"role": "user", "content": [7]}), "messages.0.content.0: must be an object"),
    (request({"role": "user", "content": [{"type": 3}]}), "messages.0.content.0.type: must be"),
    (request({"role": "user", "content": [
        {"type": "image", "source": {"type": "base64", "data": 1}}]}),
     "messages.0.content.0.source.data: must be a string"),
    (request({"role": "user", "content": [{"type": "image", "source": "x"}]}),
     "messages.0.content.0.source: must be an object"),
    (request({"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "t", "content": [{"type": "text", "text": {}}]}]}),
     "messages.0.content.0.content.0.text: must be a string"),
    (request({"role": "assistant", "content": [
        {"type": "tool_use", "id": "t", "name": "n", "input": [1]}]}),
     "messages.0.content.0.input: must be an object"),
    (request({"role": "assistant", "content": [{"type": "thinking", "thinking": None}]}),
     "messages.0.content.0.thinking: must be a string"),
    (request({"role": "user", "content": "x"}, system=[{"type": "text", "text": 1}]),
     "system.0.text: must be a string"),
    (request({"role": "user", "content": "x"}, system=5), "system: must be a string or a list"),
    (request({"role": "user", "content": "x"}, max_tokens=True), "max_tokens: must be an integer"),
    (request({"role": "user", "content": "x"}, temperature="hot"), "temperature: must be a number"),
    (request({"role": "user", "content": "x"}, stop_sequences=[1]), "stop_sequences.0: must be"),
    (request({"role": "user", "content": "x"}, stream="yes"), "stream: must be a boolean"),
    (request({"role": "user", "content": "x"}, tools=[{"name": 1}]), "tools.0.name: must be"),
    (request({"role": "user", "content": "x"}, tools=[{"type": 2}]), "tools.0.type: must be"),
    (request({"role": "user", "content": "x"}, tool_choice={"type": "tool"}),
     "tool_choice.name: must be a string"),
    (request({"role": "user", "content": "x"}, thinking={"type": "enabled", "budget_tokens": "x"}),
     "thinking.budget_tokens: must be an integer"),
    (request({"role": "user", "content": "x"}, metadata={"user_id": 5}),
     "metadata.user_id: must be a string"),
])
def test_each_wrong_type_is_named(body: dict[str, Any], expected: str) -> None:
    assert problem(body).startswith(expected)


def test_unknown_block_types_and_fields_pass() -> None:
    check_messages_request(request(
        {"role": "user", "content": [{"type": "future_block", "anything": [1, {"x": None}]}]},
        {"role": "assistant", "content": [{"type": "server_tool_use", "id": "s", "name": "web",
                                           "input": {}},
                                          {"type": "web_search_tool_result", "content": []}]},
        new_top_level_field={"x": 1},
    ))


def test_recorded_claude_code_requests_pass() -> None:
    bodies = [recorded(name).get("body") for name in recorded_names()]
    bodies = [b for b in bodies if isinstance(b, dict) and "messages" in b]
    assert len(bodies) >= 7, "every recorded POST is a Messages request"
    for body in bodies:
        check_messages_request(body)
        assert not depth_exceeds(body)


def nested(levels: int) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = [value]
    return value


def test_depth_limit_counts_containers_without_recursion() -> None:
    assert not depth_exceeds({"a": nested(MAX_JSON_DEPTH - 1)})
    assert depth_exceeds({"a": nested(MAX_JSON_DEPTH)})
    assert depth_exceeds(nested(100_000))

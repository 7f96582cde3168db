"""The image agent and the filter that keeps internal tool calls away from the client."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ccr.agents import ImageAgent, InternalCalls
from ccr.agents.image import PLACEHOLDER, TOOL_NAME

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}
JPG = {"type": "base64", "media_type": "image/jpeg", "data": "/9j/4AAQ"}


def _body(*messages: dict[str, Any]) -> dict[str, Any]:
    return {"model": "claude-sonnet-5", "max_tokens": 100, "system": "be brief",
            "messages": list(messages)}


def _user(*blocks: dict[str, Any]) -> dict[str, Any]:
    return {"role": "user", "content": list(blocks)}


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def _call(index: int, name: str | None, arguments: str, call_id: str | None = None
          ) -> dict[str, Any]:
    function: dict[str, Any] = {"arguments": arguments}
    if name:
        function["name"] = name
    tool_call: dict[str, Any] = {"index": index, "function": function}
    if call_id:
        tool_call["id"] = call_id
    return tool_call


async def _never(body: dict[str, Any]) -> dict[str, Any]:
    raise AssertionError("the image route must not be called")


def test_forced_agent_applies_when_the_last_turn_has_an_image() -> None:
    body = _body(_user({"type": "image", "source": PNG}, {"type": "text", "text": "what?"}))
    agent = ImageAgent("vision,v1")
    assert agent.applies(body, forced=True, route_name="main,m")
    assert not agent.applies(body, forced=False, route_name="main,m")


def test_agent_applies_without_force_when_only_earlier_turns_have_images() -> None:
    body = _body(
        _user({"type": "image", "source": PNG}),
        {"role": "assistant", "content": "seen"},
        _user({"type": "text", "text": "and now?"}),
    )
    assert ImageAgent("vision,v1").applies(body, forced=False, route_name="main,m")


def test_agent_does_not_apply_on_the_image_route_itself() -> None:
    body = _body(_user({"type": "image", "source": PNG}))
    assert not ImageAgent("vision,v1").applies(body, forced=True, route_name="VISION,v1")


def test_prepare_replaces_images_with_numbered_references_in_order() -> None:
    body = _body(
        _user({"type": "image", "source": PNG}, {"type": "text", "text": "first"}),
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "Read",
                                           "input": {}}]},
        _user({"type": "tool_result", "tool_use_id": "t1",
               "content": [{"type": "image", "source": JPG}]}),
    )
    ImageAgent("vision,v1").prepare(body, _never)
    text = json.dumps(body["messages"])
    assert '"image"' not in text.replace('"imageId"', "")
    assert f"[Image #1]{PLACEHOLDER}" in text and f"[Image #2]{PLACEHOLDER}" in text
    assert body["messages"][2]["content"][0]["tool_use_id"] == "t1"


def test_prepare_adds_the_tool_and_the_system_prompt_once() -> None:
    body = _body(_user({"type": "image", "source": PNG}))
    body["tools"] = [{"name": "Bash", "input_schema": {"type": "object"}}]
    ImageAgent("vision,v1").prepare(body, _never)
    assert [t["name"] for t in body["tools"]] == ["Bash", TOOL_NAME]
    assert body["system"][0] == {"type": "text", "text": "be brief"}
    assert TOOL_NAME in body["system"][-1]["text"]


def test_analyze_sends_the_chosen_images_and_the_task_to_the_image_route() -> None:
    body = _body(_user({"type": "image", "source": PNG}, {"type": "image", "source": JPG},
                       {"type": "text", "text": "compare the charts"}))
    sent: list[dict[str, Any]] = []

    async def complete(request: dict[str, Any]) -> dict[str, Any]:
        sent.append(request)
        return {"content": [{"type": "text", "text": "a bar chart"}]}

    run = ImageAgent("vision,v1").prepare(body, complete)
    answer = asyncio.run(run.handlers[TOOL_NAME]({"imageId": ["2"], "task": "read the title"}))
    assert answer == "a bar chart"
    request = sent[0]
    assert request["model"] == "vision,v1" and request["stream"] is False
    content = request["messages"][0]["content"]
    assert content[0] == {"type": "image", "source": JPG}
    assert {"type": "text", "text": "compare the charts"} in content
    assert json.loads(content[-1]["text"]) == {"task": "read the title"}


def test_analyze_with_an_unknown_id_answers_without_calling_the_image_route() -> None:
    body = _body(_user({"type": "image", "source": PNG}))
    run = ImageAgent("vision,v1").prepare(body, _never)
    answer = asyncio.run(run.handlers[TOOL_NAME]({"imageId": ["9"], "task": "x"}))
    assert "no image with id 9" in answer


def test_filter_removes_internal_call_fragments_and_keeps_their_arguments() -> None:
    calls = InternalCalls(frozenset({TOOL_NAME}))
    out = [
        calls.chunk(_chunk({"content": "Let me look."})),
        calls.chunk(_chunk({"tool_calls": [_call(0, TOOL_NAME, "", "call_1")]})),
        calls.chunk(_chunk({"tool_calls": [_call(0, None, '{"imageId": ["1"], ')]})),
        calls.chunk(_chunk({"tool_calls": [_call(0, None, '"task": "ocr"}')]}, "tool_calls")),
    ]
    assert all("tool_calls" not in c["choices"][0]["delta"] for c in out)
    assert out[-1]["choices"][0]["finish_reason"] is None
    assert calls.pending
    assert calls.calls[0].id == "call_1"
    assert calls.calls[0].input == {"imageId": ["1"], "task": "ocr"}


def test_filter_passes_real_calls_and_lets_them_end_the_turn() -> None:
    calls = InternalCalls(frozenset({TOOL_NAME}))
    calls.chunk(_chunk({"tool_calls": [_call(0, TOOL_NAME, "{}", "c1")]}))
    last = calls.chunk(_chunk({"tool_calls": [_call(1, "Bash", '{"command": "ls"}', "c2")]},
                              "tool_calls"))
    assert last["choices"][0]["delta"]["tool_calls"][0]["function"]["name"] == "Bash"
    assert last["choices"][0]["finish_reason"] == "tool_calls"
    assert not calls.pending


def test_filter_on_a_whole_response_turns_an_internal_only_turn_into_stop() -> None:
    calls = InternalCalls(frozenset({TOOL_NAME}))
    response = {"choices": [{"finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "Looking.",
        "tool_calls": [{"id": "c1", "type": "function",
                        "function": {"name": TOOL_NAME, "arguments": '{"imageId":["1"]}'}}],
    }}]}
    filtered = calls.response(response)
    assert "tool_calls" not in filtered["choices"][0]["message"]
    assert calls.pending and calls.calls[0].input == {"imageId": ["1"]}
    assert response["choices"][0]["message"]["tool_calls"]  # the input is not mutated


def test_follow_up_appends_the_model_turn_and_the_tool_results() -> None:
    calls = InternalCalls(frozenset({TOOL_NAME}))
    calls.chunk(_chunk({"content": "Checking the image."}))
    calls.chunk(_chunk({"tool_calls": [_call(0, TOOL_NAME, '{"imageId":["1"]}', "c1")]}))
    body = _body(_user({"type": "text", "text": "hi"}))
    follow = calls.follow_up(body, ["a cat"])
    assert follow["messages"][:1] == body["messages"]
    assert follow["messages"][1] == {"role": "assistant", "content": [
        {"type": "text", "text": "Checking the image."},
        {"type": "tool_use", "id": "c1", "name": TOOL_NAME, "input": {"imageId": ["1"]}},
    ]}
    assert follow["messages"][2] == {"role": "user", "content": [
        {"type": "tool_result", "tool_use_id": "c1", "content": "a cat"}]}

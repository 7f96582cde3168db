"""For tests: prove an Anthropic event sequence is one Claude Code and the SDK both accept.

``check_stream`` enforces the protocol rules strictly (the SDK's own accumulator tolerates
mistakes that make Claude Code fail the turn) and rebuilds the message; ``sdk_final_message``
sends the encoded bytes through the official ``anthropic`` client over an in-process transport.
"""

from __future__ import annotations

import json
from typing import Any

import anthropic
import httpx2

from ccr.protocol.sse import encode_event

STOP_REASONS = {"end_turn", "max_tokens", "stop_sequence", "tool_use", "pause_turn", "refusal"}
DELTAS_FOR_BLOCK = {
    "text": {"text_delta"},
    "thinking": {"thinking_delta", "signature_delta"},
    "tool_use": {"input_json_delta"},
}


class StreamViolation(AssertionError):
    """The event sequence breaks a rule of the Anthropic streaming protocol."""


def _require(condition: bool, message: str) -> None:
    if not condition:
        raise StreamViolation(message)


def check_stream(events: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """Validate a complete stream (message_start ... message_stop); return the rebuilt message."""
    events = [(name, data) for name, data in events if name != "ping"]
    _require(len(events) >= 3, f"too few events: {[name for name, _ in events]}")
    names = [name for name, _ in events]
    _require(names[0] == "message_start", "the first event must be message_start")
    _require(names[-1] == "message_stop", "the last event must be message_stop")
    _require(names[-2] == "message_delta", "message_delta must come right before message_stop")
    _require(names.count("message_start") == 1, "message_start sent more than once")
    _require(names.count("message_delta") == 1, "message_delta sent more than once")
    _require("error" not in names, "an error event inside a completed stream")

    message = dict(events[0][1]["message"])
    _require(message["content"] == [], "message_start must carry empty content")
    message["content"] = []
    usage = dict(message["usage"])
    open_index: int | None = None
    json_parts: list[str] = []
    for name, data in events:
        json.dumps(data)  # every payload must be plain JSON
        _require(data.get("type") == name, f"event {name} carries type {data.get('type')}")
        if name == "content_block_start":
            _require(open_index is None, f"block {data['index']} started while {open_index} open")
            _require(data["index"] == len(message["content"]), "block indexes must be 0, 1, 2...")
            block = dict(data["content_block"])
            _require(block["type"] in DELTAS_FOR_BLOCK, f"unexpected block type {block['type']}")
            if block["type"] == "text":
                _require(block["text"] == "", "a text block must start empty")
            elif block["type"] == "thinking":
                _require(block == {"type": "thinking", "thinking": "", "signature": ""},
                         f"bad thinking start {block}")
            else:
                _require(bool(block.get("id")) and isinstance(block.get("name"), str),
                         f"tool_use start needs id and name: {block}")
                _require(block.get("input") == {}, "tool_use must start with input {}")
                json_parts = []
            block["_signatures"] = 0
            message["content"].append(block)
            open_index = data["index"]
        elif name == "content_block_delta":
            _require(open_index is not None and data["index"] == open_index,
                     f"delta for block {data['index']} while {open_index} is open")
            block = message["content"][data["index"]]
            delta = data["delta"]
            _require(delta["type"] in DELTAS_FOR_BLOCK[block["type"]],
                     f"{delta['type']} inside a {block['type']} block")
            if delta["type"] == "text_delta":
                block["text"] += delta["text"]
            elif delta["type"] == "thinking_delta":
                _require(block["_signatures"] == 0, "thinking after the signature")
                block["thinking"] += delta["thinking"]
            elif delta["type"] == "signature_delta":
                _require(bool(delta["signature"]), "empty signature")
                block["signature"] = delta["signature"]
                block["_signatures"] += 1
            else:
                json_parts.append(delta["partial_json"])
        elif name == "content_block_stop":
            _require(open_index is not None and data["index"] == open_index,
                     f"stop for block {data['index']} while {open_index} is open")
            block = message["content"][open_index]
            if block["type"] == "text":
                _require(block["text"].strip() != "", "empty or whitespace-only text block")
            elif block["type"] == "thinking":
                _require(block["_signatures"] == 1, "a thinking block needs one signature_delta")
            else:
                raw = "".join(json_parts)
                block["input"] = json.loads(raw) if raw else {}
                _require(isinstance(block["input"], dict), "tool input must be a JSON object")
            del block["_signatures"]
            open_index = None
        elif name == "message_delta":
            _require(open_index is None, "message_delta while a block is open")
            _require(data["delta"]["stop_reason"] in STOP_REASONS,
                     f"bad stop_reason {data['delta']['stop_reason']}")
            message["stop_reason"] = data["delta"]["stop_reason"]
            message["stop_sequence"] = data["delta"].get("stop_sequence")
            _require(isinstance(data["usage"].get("output_tokens"), int), "usage.output_tokens")
            usage.update(data["usage"])
    has_tool_use = any(block["type"] == "tool_use" for block in message["content"])
    _require(has_tool_use == (message["stop_reason"] == "tool_use"),
             "stop_reason must be tool_use exactly when the turn ends in tool calls")
    message["usage"] = usage
    return message


def encode_stream(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in events)


def sdk_final_message(events: list[tuple[str, dict[str, Any]]]) -> anthropic.types.Message:
    """The message the official SDK rebuilds from our encoded stream (served in-process)."""
    body = encode_stream(events)

    def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, headers={"content-type": "text/event-stream"}, content=body)

    client = anthropic.Anthropic(
        api_key="test",
        base_url="http://ccr.test",
        http_client=httpx2.Client(transport=httpx2.MockTransport(handler)),
        max_retries=0,
    )
    with client.messages.stream(
        model="claude-test", max_tokens=64, messages=[{"role": "user", "content": "hi"}]
    ) as stream:
        return stream.get_final_message()

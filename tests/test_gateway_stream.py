"""Streaming through ccr, where the exact events matter: where usage comes from, how pieces of
one upstream chunk are ordered, multibyte text split across reads, keep-alive pings, and what
happens upstream when the client goes away."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, Usage, Verbatim, raw_chunks, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk, sse_events

STREAM_REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-5",
    "max_tokens": 256,
    "stream": True,
    "messages": [{"role": "user", "content": "hi"}],
}


def _chunk(delta: dict[str, Any], finish: str | None = None,
           usage: Usage | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {
        "id": "chatcmpl-raw",
        "object": "chat.completion.chunk",
        "model": "fake-model",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
    if usage is not None:
        chunk["usage"] = usage.to_openai()
    return chunk


def _post_stream(server: CcrServer, body: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    response = httpx.post(f"{server.base_url}/v1/messages", json=body, timeout=20)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/event-stream")
    return sse_events(response.content)


@pytest.fixture
def sdk(ccr: CcrServer) -> Sdk:
    return Sdk.on(ccr)


@pytest.mark.parametrize("in_finish_chunk", [True, False], ids=["in_finish_chunk", "after_it"])
def test_upstream_usage_is_reported_in_message_delta(
    fake: FakeUpstream, sdk: Sdk, in_finish_chunk: bool
) -> None:
    fake.enqueue(text("Counting tokens.", usage=Usage(prompt=222, completion=33),
                      usage_in_finish_chunk=in_finish_chunk))

    message = sdk.stream()

    [delta] = [data for name, data in sdk.transport.last_events() if name == "message_delta"]
    assert (delta["usage"]["input_tokens"], delta["usage"]["output_tokens"]) == (222, 33)
    assert (message.usage.input_tokens, message.usage.output_tokens) == (222, 33)


def test_text_and_tool_call_in_one_chunk_become_text_then_tool_use(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    call = {"index": 0, "id": "call_both", "type": "function",
            "function": {"name": "Bash", "arguments": '{"command": "ls"}'}}
    fake.enqueue(raw_chunks([
        _chunk({"role": "assistant", "content": "Listing files.", "tool_calls": [call]}),
        _chunk({}, finish="tool_calls", usage=Usage()),
    ]))

    message = sdk.stream()

    assert [block.type for block in message.content] == ["text", "tool_use"]
    assert message.content[0].text == "Listing files."  # type: ignore[union-attr]
    assert message.content[1].input == {"command": "ls"}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use"


def test_multibyte_text_split_across_network_reads_arrives_intact(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    content = "Grüße 🌍 and 世界 ✓"
    line = f"data: {json.dumps(_chunk({'content': content}), ensure_ascii=False)}\n\n".encode()
    cut_emoji = line.index("🌍".encode()) + 2  # inside the 4-byte emoji
    cut_cjk = line.index("界".encode()) + 1  # inside a 3-byte CJK character
    fake.enqueue(raw_chunks([
        _chunk({"role": "assistant", "content": ""}),
        Verbatim(line[:cut_emoji]),
        Verbatim(line[cut_emoji:cut_cjk]),
        Verbatim(line[cut_cjk:]),
        _chunk({}, finish="stop", usage=Usage()),
    ], delay_s=0.02))

    message = sdk.stream()

    assert [block.text for block in message.content] == [content]  # type: ignore[union-attr]


def test_message_start_reports_the_routers_own_token_count(
    fake: FakeUpstream, ccr: CcrServer
) -> None:
    body = {
        **STREAM_REQUEST,
        "system": [{"type": "text", "text": "You are terse. Answer in one word."}],
        "messages": [{"role": "user", "content": "How many legs does a spider have? " * 20}],
        "tools": [{"name": "Read", "description": "Read a file",
                   "input_schema": {"type": "object",
                                    "properties": {"file_path": {"type": "string"}}}}],
    }
    counted = httpx.post(f"{ccr.base_url}/v1/messages/count_tokens", json=body, timeout=10)
    assert counted.status_code == 200
    fake.enqueue(text("Eight.", usage=Usage(prompt=999, completion=2)))

    events = _post_stream(ccr, body)

    check_stream(events)
    name, start = events[0]
    assert name == "message_start"
    assert start["message"]["usage"]["input_tokens"] == counted.json()["input_tokens"] > 100


def test_pings_keep_a_silent_stream_alive_until_it_completes(
    fake: FakeUpstream, make_ccr: MakeCcr
) -> None:
    server = make_ccr(fake_config(fake, PING_INTERVAL_MS=50))
    fake.enqueue(text("slow steady", chunk_delay_s=0.2))

    events = _post_stream(server, STREAM_REQUEST)

    names = [name for name, _ in events]
    first_text = names.index("content_block_delta")
    assert "ping" in names[first_text:], names
    assert all(data == {"type": "ping"} for name, data in events if name == "ping")
    message = check_stream(events)
    assert message["content"][0]["text"] == "slow steady"


def test_client_disconnect_closes_the_upstream_stream(fake: FakeUpstream, ccr: CcrServer) -> None:
    fake.enqueue(text(" ".join(["word"] * 100), chunk_delay_s=0.1))

    with httpx.stream("POST", f"{ccr.base_url}/v1/messages", json=STREAM_REQUEST,
                      timeout=10) as response:
        first = next(response.iter_bytes())
        assert first.startswith(b"event: message_start")
        assert fake.open_connections == 1
    deadline = time.monotonic() + 2.0
    while fake.open_connections and time.monotonic() < deadline:
        time.sleep(0.02)

    assert fake.open_connections == 0

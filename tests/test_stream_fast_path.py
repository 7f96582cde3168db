"""The lean stream path: pre-encoded delta events, and a converted exchange that skips a chain
with nothing to do per chunk, give exactly the bytes of the general path."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from ccr.config import parse_config
from ccr.convert.stream import StreamConverter
from ccr.engine.converted import ConvertedExchange
from ccr.engine.engine import Engine
from ccr.engine.roundtrip import Outcome
from ccr.protocol.sse import SSEDecoder, encode_event
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.transformers.chain import Chain
from tests.support.anthropic_stream_check import check_stream

# --- the converter's template path ------------------------------------------------------------


def chunk(finish: str | None = None, usage: dict[str, Any] | None = None, **delta: Any
          ) -> dict[str, Any]:
    out: dict[str, Any] = {"id": "c", "object": "chat.completion.chunk",
                           "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage is not None:
        out["usage"] = usage
    return out


def converter() -> StreamConverter:
    return StreamConverter(model="m", input_tokens=1, message_id="msg_1")


def encoded(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in events)


@pytest.mark.parametrize("delta", [
    {"content": "more text"},
    {"content": "é 世界\n\"quoted\" </script>"},
    {"content": " ", "role": "assistant"},
    {"content": "x", "reasoning_content": None, "tool_calls": None},
])
def test_a_text_delta_for_the_open_block_is_the_same_bytes_as_the_general_path(delta):
    fast, slow = converter(), converter()
    for conv in (fast, slow):
        conv.feed(chunk(content="Hello"))
    assert fast.feed_fast(chunk(**delta)) == encoded(slow.feed(chunk(**delta)))


def test_a_reasoning_delta_for_the_open_thinking_block_is_the_same_bytes():
    fast, slow = converter(), converter()
    for conv in (fast, slow):
        conv.feed(chunk(reasoning_content="Let me think"))
    piece = chunk(reasoning_content=" more")
    assert fast.feed_fast(piece) == encoded(slow.feed(piece))


def test_the_template_follows_the_block_index():
    conv = converter()
    conv.feed(chunk(reasoning_content="think"))
    conv.feed(chunk(content="answer"))  # closes thinking (index 0), opens text (index 1)
    out = conv.feed_fast(chunk(content=" more"))
    assert out is not None and b'"index":1,' in out


@pytest.mark.parametrize("piece", [
    chunk(finish="stop", content="x"),
    chunk(usage={"prompt_tokens": 1, "completion_tokens": 2}, content="x"),
    chunk(reasoning_content="switching to thinking"),
    chunk(content="x", tool_calls=[{"index": 0, "id": "t", "function": {"name": "f"}}]),
    chunk(content=""),
    chunk(content="\ud83d"),  # a lone surrogate: only the general path repairs it
    {"choices": [], "usage": {"prompt_tokens": 1}},
    {"error": {"message": "boom"}},
])
def test_any_other_chunk_is_left_to_the_general_path_untouched(piece):
    conv = converter()
    conv.feed(chunk(content="Hello"))
    assert conv.feed_fast(piece) is None
    assert not conv.saw_finish


def test_nothing_is_templated_before_a_block_is_open():
    conv = converter()
    conv.start()
    assert conv.feed_fast(chunk(content="Hello")) is None


def test_a_finish_reason_on_any_choice_is_noticed():
    conv = converter()
    conv.feed({"choices": [{"index": 0, "delta": {"content": "a"}},
                           {"index": 1, "delta": {}, "finish_reason": "stop"}]})
    assert conv.saw_finish


# --- the exchange's lean path -------------------------------------------------------------------


CONFIG: dict[str, Any] = {
    "Providers": [
        {"name": "plain", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
         "api_key": "k", "models": ["m"]},
        {"name": "tooled", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
         "api_key": "k", "models": ["m"], "transformer": {"use": ["enhancetool"]}},
    ],
    "Router": {"default": "plain,m"},
}


@pytest.fixture(scope="module")
def runtime() -> Engine:
    return Engine.build(parse_config(CONFIG, env={}))


def sse(*chunks: dict[str, Any], done: bool = True) -> bytes:
    body = b"".join(b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks)
    return body + (b"data: [DONE]\n\n" if done else b"")


class _Body(httpx.AsyncByteStream):
    def __init__(self, reads: list[bytes]) -> None:
        self.reads = reads

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for read in self.reads:
            yield read


def run(chain: Chain, runtime: Engine, reads: list[bytes]) -> list[tuple[str, dict[str, Any]]]:
    provider = runtime.config.providers[0]
    ctx = TransformContext(provider=provider, model="m", stream=True, original={}, state={})
    exchange = ConvertedExchange(
        Route(provider, "m", "default"), ctx, httpx.Response(200, stream=_Body(reads)), 7,
        Outcome(), idle_s=5.0, ping_interval_s=15.0, chain=chain)

    async def collect() -> bytes:
        return b"".join([data async for data in exchange.events()])

    raw = asyncio.run(collect())
    decoder = SSEDecoder()
    events = [(e.event or "", json.loads(e.data)) for e in decoder.feed(raw) + decoder.flush()]
    for name, data in events:  # generated ids and signatures differ from run to run
        if name == "message_start":
            data["message"]["id"] = "msg"
        if data.get("delta", {}).get("type") == "signature_delta":
            data["delta"]["signature"] = "sig"
    return events


STREAM = sse(
    chunk(role="assistant", content=""),
    chunk(reasoning_content="Think"), chunk(reasoning_content="ing."),
    *[chunk(content=f"word{i} ") for i in range(20)],
    chunk(tool_calls=[{"index": 0, "id": "call_1", "type": "function",
                       "function": {"name": "Bash", "arguments": '{"command"'}}]),
    chunk(tool_calls=[{"index": 0, "function": {"arguments": ': "ls"}'}}]),
    chunk(finish="tool_calls"),
    {"choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 9}},
)


def test_a_chain_without_chunk_stages_passes_chunks_and_one_with_them_does_not(runtime):
    assert runtime.chains[("plain", "m")].passes_chunks
    assert not runtime.chains[("tooled", "m")].passes_chunks


@pytest.mark.parametrize("cut", [1, 7, 64, len(STREAM)])
def test_the_lean_path_gives_the_events_of_the_general_path(runtime, cut):
    reads = [STREAM[i:i + cut] for i in range(0, len(STREAM), cut)]
    plain = runtime.chains[("plain", "m")]
    general = Chain(plain.transformers, plain.endpoint)
    object.__setattr__(general, "passes_chunks", False)  # force the general path
    lean_events = run(plain, runtime, reads)
    assert lean_events == run(general, runtime, reads)
    message = check_stream(lean_events)
    assert [block["type"] for block in message["content"]] == ["thinking", "text", "tool_use"]
    assert message["content"][1]["text"] == "".join(f"word{i} " for i in range(20))
    assert message["stop_reason"] == "tool_use"
    assert message["usage"]["output_tokens"] == 9


def test_a_stream_cut_before_its_finish_ends_with_an_error_event(runtime):
    events = run(runtime.chains[("plain", "m")], runtime,
                 [sse(chunk(content="partial"), done=False)])
    assert events[-1][0] == "error"
    assert "ended the stream before it finished" in events[-1][1]["error"]["message"]


def test_an_event_that_is_not_json_ends_the_stream_with_an_error(runtime):
    events = run(runtime.chains[("plain", "m")], runtime,
                 [sse(chunk(content="a"), done=False) + b"data: {nope\n\n"])
    assert events[-1][0] == "error"
    assert "not JSON" in events[-1][1]["error"]["message"]


def test_invalid_utf8_in_an_event_is_replaced_not_fatal(runtime):
    body = b'data: {"choices":[{"index":0,"delta":{"content":"a\xff"}}]}\n\n'
    events = run(runtime.chains[("plain", "m")], runtime,
                 [body + sse(chunk(finish="stop"))])
    assert check_stream(events)["content"][0]["text"] == "a\ufffd"

"""Upstream timeouts: the first byte may take API_TIMEOUT_MS, a gap inside a stream only
STREAM_IDLE_TIMEOUT_MS, and each failure is reported the way the client can act on it."""

from __future__ import annotations

import time

import httpx

from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import sse_events

REQUEST = {"model": "claude-sonnet-5", "max_tokens": 100, "stream": True,
           "messages": [{"role": "user", "content": "hi"}]}


def _config(fake: FakeUpstream) -> dict:
    return fake_config(fake, API_TIMEOUT_MS=5000, STREAM_IDLE_TIMEOUT_MS=300,
                       PING_INTERVAL_MS=10000)


def test_a_slow_first_byte_within_api_timeout_is_not_cut_by_the_idle_timeout(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    fake.enqueue(text("thought long, answered fast", first_byte_delay_s=1.0))
    server = make_ccr(_config(fake))
    events = sse_events(httpx.post(f"{server.base_url}/v1/messages", json=REQUEST,
                                   timeout=10).content)
    assert [name for name, _ in events][-1] == "message_stop"
    text_out = "".join(d["delta"].get("text", "") for n, d in events
                       if n == "content_block_delta")
    assert text_out == "thought long, answered fast"


def test_silence_inside_a_stream_longer_than_the_idle_timeout_ends_it_with_an_error(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    fake.enqueue(text("one two three", chunk_delay_s=1.5))
    server = make_ccr(_config(fake))
    started = time.monotonic()
    events = sse_events(httpx.post(f"{server.base_url}/v1/messages", json=REQUEST,
                                   timeout=10).content)
    elapsed = time.monotonic() - started
    name, data = events[-1]
    assert name == "error"
    assert data["error"]["type"] == "api_error"
    assert "sent nothing for 0.3s" in data["error"]["message"]
    assert elapsed < 1.4  # cut at the idle timeout, not at the next chunk


def test_the_server_answers_normally_after_an_idle_timeout(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    fake.enqueue(text("one two", chunk_delay_s=1.0))
    server = make_ccr(_config(fake))
    httpx.post(f"{server.base_url}/v1/messages", json=REQUEST, timeout=10)
    events = sse_events(httpx.post(f"{server.base_url}/v1/messages", json=REQUEST,
                                   timeout=10).content)
    assert [name for name, _ in events][-1] == "message_stop"

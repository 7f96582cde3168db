"""When a streamed answer's response headers leave ccr: as soon as the upstream begins
answering (its first valid event) on a route that can no longer change, and otherwise with the
first content (so the ``x-ccr-*`` headers name the route that answered). A 200 followed by an
error or by nothing stays an HTTP error for the client."""

from __future__ import annotations

import time
from typing import Any

import httpx

from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, raw_chunks, text
from tests.support.fault_upstream import broken_before_first_event
from tests.support.fixtures import MakeCcr
from tests.support.gateway_client import sse_events

REQUEST: dict[str, Any] = {"model": "claude-sonnet-5", "max_tokens": 64, "stream": True,
                           "messages": [{"role": "user", "content": "hi"}]}
#: The upstream's first content arrives this long after its headers.
THINKING_S = 0.8


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {"id": "c1", "object": "chat.completion.chunk", "created": 1, "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


def began_then_dropped() -> Any:
    """A stream that sends its role chunk, then drops before any words."""
    return raw_chunks([_chunk({"role": "assistant", "content": ""})], include_done=False,
                      drop_after=1)


def slow_to_think() -> Any:
    """A stream whose headers and role chunk come at once, its first words ``THINKING_S``
    later."""
    return raw_chunks([_chunk({"role": "assistant", "content": ""}), _chunk({"content": "Hi"}),
                       _chunk({}, "stop")], delay_s=THINKING_S / 2)


def config(fake: FakeUpstream, *, fallback_url: str | None = None,
           **extra: Any) -> dict[str, Any]:
    providers = [{"name": "primary", "api_base_url": fake.chat_url, "api_key": "sk-p-0000",
                  "models": ["fake-model"]}]
    if fallback_url:
        providers.append({"name": "backup", "api_base_url": fallback_url,
                          "api_key": "sk-b-0000", "models": ["fake-model"]})
    return {"Providers": providers, "Router": {"default": "primary,fake-model"},
            "fallback": {"default": ["backup,fake-model"]} if fallback_url else {},
            "RETRY": {"max_retries": 1, "backoff_ms": 20}, "LOG": False, **extra}


def timed_stream(server: CcrServer) -> tuple[float, float, httpx.Response, bytes]:
    """(seconds to the response headers, seconds to the whole body, response, body)."""
    with httpx.Client(timeout=20) as client:
        started = time.monotonic()
        with client.stream("POST", f"{server.base_url}/v1/messages", json=REQUEST) as response:
            headers_s = time.monotonic() - started
            body = response.read()
        return headers_s, time.monotonic() - started, response, body


def test_a_streams_headers_leave_when_the_upstream_begins_not_at_its_first_words(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    fake.default = slow_to_think()
    server = make_ccr(config(fake))

    headers_s, total_s, response, body = timed_stream(server)

    assert response.status_code == 200
    assert response.headers["x-ccr-route"] == "primary,fake-model"
    assert headers_s < THINKING_S / 2 <= total_s
    assert check_stream(sse_events(body))["content"] == [{"type": "text", "text": "Hi"}]


def test_with_a_fallback_left_the_headers_wait_for_the_first_words(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    with FakeUpstream() as backup:
        fake.default = slow_to_think()
        server = make_ccr(config(fake, fallback_url=backup.chat_url))

        headers_s, _, response, _ = timed_stream(server)

    assert response.status_code == 200
    assert headers_s >= THINKING_S / 2


def test_a_fallback_that_answers_after_a_broken_start_is_named_in_the_headers(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    with FakeUpstream() as backup:
        backup.default = text("from the backup")
        fake.enqueue(broken_before_first_event(), broken_before_first_event())
        server = make_ccr(config(fake, fallback_url=backup.chat_url))

        _, _, response, body = timed_stream(server)

    assert response.headers["x-ccr-route"] == "backup,fake-model"
    assert response.headers["x-ccr-fallback-from"] == "primary,fake-model"
    assert check_stream(sse_events(body))["content"] == [
        {"type": "text", "text": "from the backup"}]


def test_a_retry_after_the_headers_left_gives_one_clean_stream(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    fake.enqueue(began_then_dropped(), text("the second try"))
    server = make_ccr(config(fake))

    _, _, response, body = timed_stream(server)

    assert response.status_code == 200
    events = sse_events(body)
    assert [name for name, _ in events].count("message_start") == 1
    assert check_stream(events)["content"] == [{"type": "text", "text": "the second try"}]
    assert len(fake.chat_requests) == 2


def test_a_stream_broken_before_its_first_event_is_still_an_http_error(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    fake.enqueue(broken_before_first_event())
    server = make_ccr(config(fake, RETRY={"max_retries": 0}))

    _, _, response, _ = timed_stream(server)

    assert response.status_code == 502
    assert response.json()["error"]["type"] == "api_error"


def test_a_stream_that_fails_for_good_after_its_headers_ends_with_one_error_event(
        make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    fake.enqueue(began_then_dropped())
    server = make_ccr(config(fake, RETRY={"max_retries": 0}))

    _, _, response, body = timed_stream(server)

    assert response.status_code == 200
    events = sse_events(body)
    assert [name for name, _ in events] == ["error"]
    error = events[0][1]
    assert error["type"] == "error" and "primary" in error["error"]["message"]
    # the server goes on serving
    fake.default = text("still here")
    _, _, _, body = timed_stream(server)
    assert check_stream(sse_events(body))["content"] == [{"type": "text", "text": "still here"}]

"""Failures as a client sees them: upstream errors mapped to Anthropic's error types, broken or
silent upstreams, bad client input; every error body is a clean Anthropic error (no secrets,
no internals), and the server keeps serving afterwards."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

import ccr
from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer, free_port
from tests.support.fake_upstream import FakeUpstream, Reply, error, raw_chunks, text
from tests.support.fixtures import MakeCcr
from tests.support.gateway_client import Sdk, sse_events

PROVIDER_KEY = "fake-provider-secret-0123456789"  # deliberately not shaped like a known key
API_TIMEOUT_MS = 400
CCR_SOURCE = str(Path(ccr.__file__).resolve().parent)

Event = tuple[str, dict[str, Any]]

REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-5",
    "max_tokens": 256,
    "messages": [{"role": "user", "content": "hi"}],
}


def error_config(fake: FakeUpstream) -> dict[str, Any]:
    """The fake provider (short timeouts) plus ``dead``, a provider on a port nobody listens on."""
    return {
        "Providers": [
            {"name": "fake", "api_base_url": fake.chat_url, "api_key": PROVIDER_KEY,
             "models": ["fake-model"]},
            {"name": "dead", "api_base_url": f"http://127.0.0.1:{free_port()}/v1/chat/completions",
             "api_key": "dead-key", "models": ["dead-model"]},
        ],
        "Router": {"default": "fake,fake-model"},
        "API_TIMEOUT_MS": API_TIMEOUT_MS,
        "LOG": False,
    }


@pytest.fixture
def server(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    return make_ccr(error_config(fake))


@pytest.fixture
def sdk(server: CcrServer) -> Sdk:
    return Sdk.on(server)


def _post(server: CcrServer, body: dict[str, Any] | None = None, *,
          content: bytes | None = None) -> httpx.Response:
    url = f"{server.base_url}/v1/messages"
    if content is not None:
        return httpx.post(url, content=content, timeout=20,
                          headers={"content-type": "application/json"})
    return httpx.post(url, json=body if body is not None else REQUEST, timeout=20)


def _error_of(response: httpx.Response) -> tuple[int, dict[str, Any]]:
    """Status and Anthropic error object of a JSON error, or of a stream's final error event."""
    if response.headers.get("content-type", "").startswith("text/event-stream"):
        events = sse_events(response.content)
        name, data = events[-1]
        assert name == "error", [n for n, _ in events]
        assert set(data) == {"type", "error"} and data["type"] == "error"
        return response.status_code, data["error"]
    body = response.json()
    assert set(body) == {"type", "error"} and body["type"] == "error", body
    assert set(body["error"]) == {"type", "message"}, body
    assert isinstance(body["error"]["message"], str)
    return response.status_code, body["error"]


def _assert_no_internals(text: str) -> None:
    assert "Traceback" not in text
    assert 'File "' not in text
    assert ".py" not in text
    assert CCR_SOURCE not in text


# --------------------------------------------------------------------------------------------
# Upstream HTTP errors

#: Upstream status -> the Anthropic error type the client gets (with the same status).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    529: "overloaded_error",
}
#: The exception the official SDK raises for each of those statuses.
SDK_EXCEPTIONS: dict[int, type[anthropic.APIStatusError]] = {
    400: anthropic.BadRequestError,
    401: anthropic.AuthenticationError,
    403: anthropic.PermissionDeniedError,
    404: anthropic.NotFoundError,
    413: anthropic.ContentTooLargeError,
    429: anthropic.RateLimitError,
    500: anthropic.InternalServerError,
    502: anthropic.InternalServerError,
    503: anthropic.ServiceUnavailableError,
    529: anthropic.OverloadedError,
}


@pytest.mark.parametrize("status", list(ERROR_TYPES))
def test_upstream_error_status_becomes_the_anthropic_error(
    fake: FakeUpstream, server: CcrServer, status: int
) -> None:
    fake.enqueue(error(status, {"error": {"message": f"upstream says no ({status})",
                                          "type": "some_openai_type"}}))

    response = _post(server)

    code, err = _error_of(response)
    assert (code, err["type"]) == (status, ERROR_TYPES[status])
    assert f"upstream says no ({status})" in err["message"]
    assert "fake" in err["message"]
    _assert_no_internals(response.text)


@pytest.mark.parametrize("status", list(SDK_EXCEPTIONS))
def test_sdk_raises_its_exception_class_for_the_upstream_status(
    fake: FakeUpstream, sdk: Sdk, status: int
) -> None:
    fake.enqueue(error(status, {"error": {"message": "nope"}}))

    with pytest.raises(SDK_EXCEPTIONS[status]) as caught:
        sdk.create()

    assert caught.value.status_code == status
    assert caught.value.body["error"]["type"] == ERROR_TYPES[status]  # type: ignore[index]


def test_upstream_error_on_a_stream_request_is_an_http_error(
    fake: FakeUpstream, sdk: Sdk
) -> None:
    fake.enqueue(error(429, {"error": {"message": "slow down"}}))

    with pytest.raises(anthropic.RateLimitError) as caught:
        sdk.stream()

    assert "slow down" in caught.value.body["error"]["message"]  # type: ignore[index]


def test_html_error_page_becomes_a_one_line_message(fake: FakeUpstream, server: CcrServer) -> None:
    page = ("<!DOCTYPE html>\n<html>\n<head><title>502 Bad Gateway</title></head>\n<body>\n"
            "<center><h1>502 Bad Gateway</h1></center>\n<hr><center>nginx</center>\n"
            "</body>\n</html>\n")
    fake.enqueue(error(502, page, content_type="text/html"))

    code, err = _error_of(_post(server))

    assert (code, err["type"]) == (502, "api_error")
    assert "502 Bad Gateway" in err["message"]
    assert "fake" in err["message"]
    assert "<" not in err["message"] and "\n" not in err["message"]


LEAKING_REPLIES: dict[str, Callable[[], tuple[Reply, bool]]] = {
    "http_401": lambda: (error(401, {"error": {
        "message": f"Incorrect API key provided: {PROVIDER_KEY}"}}), False),
    "error_body_with_200": lambda: (Reply(kind="plain", body={"error": {
        "message": f"key {PROVIDER_KEY} is not allowed"}}), False),
    "error_chunk_in_stream": lambda: (raw_chunks([{"error": {
        "message": f"key {PROVIDER_KEY} is not allowed"}}]), True),
}


@pytest.mark.parametrize("case", list(LEAKING_REPLIES))
def test_upstream_message_echoing_the_provider_key_does_not_leak_it(
    fake: FakeUpstream, server: CcrServer, case: str
) -> None:
    reply, streamed = LEAKING_REPLIES[case]()
    fake.enqueue(reply)

    response = _post(server, {**REQUEST, "stream": streamed})

    _error_of(response)
    assert PROVIDER_KEY not in response.text


# --------------------------------------------------------------------------------------------
# Bad client input


def test_body_that_is_not_json_is_an_invalid_request(server: CcrServer) -> None:
    code, err = _error_of(_post(server, content=b'{"model": "x", '))

    assert (code, err["type"]) == (400, "invalid_request_error")
    assert "JSON" in err["message"]


def test_missing_messages_is_an_invalid_request(fake: FakeUpstream, server: CcrServer) -> None:
    code, err = _error_of(_post(server, {"model": "claude-sonnet-5", "max_tokens": 10}))

    assert (code, err["type"]) == (400, "invalid_request_error")
    assert "messages" in err["message"]
    assert fake.chat_requests == []


# --------------------------------------------------------------------------------------------
# Broken and silent upstreams


def _close_open_stream(events: list[Event]) -> list[Event]:
    """The events of a cut stream, ended the way a complete one would be, for the validator."""
    closing: list[Event] = []
    starts = [d["index"] for n, d in events if n == "content_block_start"]
    stops = [d["index"] for n, d in events if n == "content_block_stop"]
    if len(starts) > len(stops):
        closing.append(("content_block_stop", {"type": "content_block_stop",
                                               "index": starts[-1]}))
    closing += [
        ("message_delta", {"type": "message_delta",
                           "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                           "usage": {"output_tokens": 0}}),
        ("message_stop", {"type": "message_stop"}),
    ]
    return events + closing


def test_stream_dropped_midway_ends_with_an_error_event(
    fake: FakeUpstream, server: CcrServer
) -> None:
    # The events are paced, as a model's are: bytes that arrive in the same read as the reset
    # may be discarded by the transport, and the contract is the error event either way.
    fake.enqueue(text("one two three four five six", drop_after=3, chunk_delay_s=0.05))

    response = _post(server, {**REQUEST, "stream": True})

    events = sse_events(response.content)
    assert events[-1][0] == "error"
    assert events[-1][1]["error"]["type"] == "api_error"
    assert "fake" in events[-1][1]["error"]["message"]
    before = events[:-1]
    assert [n for n, _ in before].count("content_block_delta") >= 1
    check_stream(_close_open_stream(before))


def test_sdk_raises_when_the_stream_is_dropped(fake: FakeUpstream, sdk: Sdk) -> None:
    fake.enqueue(text("one two three four five six", drop_after=3))

    with pytest.raises(anthropic.APIStatusError) as caught:
        sdk.stream()

    assert caught.value.body["error"]["type"] == "api_error"  # type: ignore[index]


@pytest.mark.parametrize("streamed", [False, True], ids=["json", "stream"])
def test_upstream_that_never_answers_times_out_with_504(
    fake: FakeUpstream, server: CcrServer, streamed: bool
) -> None:
    fake.enqueue(text("too late", first_byte_delay_s=5))

    started = time.monotonic()
    response = _post(server, {**REQUEST, "stream": streamed})
    elapsed = time.monotonic() - started

    code, err = _error_of(response)
    assert (code, err["type"]) == (504, "api_error")
    assert "fake" in err["message"]
    assert elapsed < API_TIMEOUT_MS / 1000 + 1.0


def test_unreachable_provider_is_a_502_naming_it(server: CcrServer) -> None:
    code, err = _error_of(_post(server, {**REQUEST, "model": "dead,dead-model"}))

    assert (code, err["type"]) == (502, "api_error")
    assert "dead" in err["message"]


# --------------------------------------------------------------------------------------------
# Every failure: clean body, and the server goes on


@dataclass(frozen=True)
class Failure:
    """One way a request can fail (what the upstream does, what the client sends) and the
    status and error type the client must get; a stream that already began stays 200."""

    status: int
    error_type: str
    reply: Reply | None = None
    body: dict[str, Any] = field(default_factory=dict)
    content: bytes | None = None


FAILURES: dict[str, Failure] = {
    "upstream_500": Failure(500, "api_error", error(500, {"error": {"message": "boom"}})),
    "upstream_html_502": Failure(502, "api_error", error(
        502, "<html><body><h1>Bad Gateway</h1></body></html>", content_type="text/html")),
    "upstream_not_json": Failure(502, "api_error", Reply(kind="plain", body="this is not json")),
    "error_chunk_in_stream": Failure(200, "api_error", raw_chunks(
        [{"error": {"message": "mid-stream"}}]), {"stream": True}),
    "dropped_stream": Failure(200, "api_error", text("one two three four", drop_after=2),
                              {"stream": True}),
    "upstream_timeout": Failure(504, "api_error", text("late", first_byte_delay_s=5)),
    "connection_refused": Failure(502, "api_error", body={"model": "dead,dead-model"}),
    "unknown_route": Failure(400, "invalid_request_error", body={"model": "fake,nope"}),
    "client_bad_json": Failure(400, "invalid_request_error", content=b"{nope"),
    "client_missing_messages": Failure(400, "invalid_request_error", body={"messages": None}),
}


def _fail(fake: FakeUpstream, server: CcrServer, name: str) -> httpx.Response:
    failure = FAILURES[name]
    if failure.reply is not None:
        fake.enqueue(failure.reply)
    if failure.content is not None:
        return _post(server, content=failure.content)
    body = {k: v for k, v in {**REQUEST, **failure.body}.items() if v is not None}
    return _post(server, body)


@pytest.mark.parametrize("name", list(FAILURES))
def test_failure_answers_with_an_anthropic_error_free_of_internals(
    fake: FakeUpstream, server: CcrServer, name: str
) -> None:
    response = _fail(fake, server, name)

    code, err = _error_of(response)
    assert (code, err["type"]) == (FAILURES[name].status, FAILURES[name].error_type)
    assert err["message"]
    _assert_no_internals(response.text)


@pytest.mark.parametrize("name", list(FAILURES))
def test_server_keeps_serving_after_a_failure(
    fake: FakeUpstream, server: CcrServer, name: str
) -> None:
    _fail(fake, server, name)
    fake.enqueue(text("still here"))

    response = _post(server)

    assert response.status_code == 200, response.text
    assert response.json()["content"] == [{"type": "text", "text": "still here"}]


def test_completion_with_malformed_fields_is_a_clear_502(fake: FakeUpstream,
                                                        server: CcrServer) -> None:
    fake.enqueue(error(200, {"id": "x", "object": "chat.completion", "choices": [
        {"index": 0, "finish_reason": "stop", "message": ["not", "an", "object"]}]}))
    response = _post(server, REQUEST)
    code, err = _error_of(response)
    assert (code, err["type"]) == (502, "api_error")
    assert "cannot read" in err["message"] and "fake" in err["message"]
    assert _post(server, REQUEST).status_code == 200

"""Capturing ccr's traffic through the official ``anthropic`` SDK: every raw stream the SDK
reads is kept and checked by the strict Anthropic stream validator."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import anthropic
import httpx2
from anthropic.types import Message

from ccr.protocol.sse import SSEDecoder
from tests.support.anthropic_stream_check import check_stream
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, Recorded
from tests.support.fixtures import fake_config

Event = tuple[str, dict[str, Any]]
Ask = Callable[..., Message]



def sse_events(raw: bytes) -> list[Event]:
    """The ``(event, data)`` pairs of an Anthropic SSE body, data parsed as JSON."""
    decoder = SSEDecoder()
    decoded = decoder.feed(raw) + decoder.flush()
    return [(e.event or "message", json.loads(e.data)) for e in decoded if e.data]


class _TeeStream(httpx2.SyncByteStream):
    """A response body stream that keeps a copy of every chunk it hands to the SDK."""

    def __init__(self, inner: httpx2.SyncByteStream, sink: list[bytes]) -> None:
        self._inner = inner
        self._sink = sink

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            self._sink.append(chunk)
            yield chunk

    def close(self) -> None:
        self._inner.close()


class RecordingTransport(httpx2.HTTPTransport):
    """The SDK's HTTP transport, keeping each request and the raw bytes of each response."""

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[httpx2.Request] = []
        self._bodies: list[list[bytes]] = []

    def handle_request(self, request: httpx2.Request) -> httpx2.Response:
        self.requests.append(request)
        response = super().handle_request(request)
        sink: list[bytes] = []
        self._bodies.append(sink)
        response.stream = _TeeStream(response.stream, sink)  # type: ignore[arg-type]
        return response

    @property
    def last_raw(self) -> bytes:
        return b"".join(self._bodies[-1])

    def last_events(self) -> list[Event]:
        return sse_events(self.last_raw)


@dataclass
class Sdk:
    """An ``anthropic.Anthropic`` client on a ccr server, with its raw traffic recorded."""

    client: anthropic.Anthropic
    transport: RecordingTransport

    @classmethod
    def on(cls, server: CcrServer, **client_options: Any) -> Sdk:
        transport = RecordingTransport()
        options: dict[str, Any] = {"api_key": "client-key", "max_retries": 0, "timeout": 20.0}
        options.update(client_options)
        client = anthropic.Anthropic(
            base_url=server.base_url, http_client=httpx2.Client(transport=transport), **options
        )
        return cls(client, transport)

    def create(self, **params: Any) -> Message:
        return self.client.messages.create(**request_body(**params))

    def stream(self, **params: Any) -> Message:
        """Stream through the SDK and prove the raw stream valid before returning the message."""
        with self.client.messages.stream(**request_body(**params)) as stream:
            message = stream.get_final_message()
        check_stream(self.transport.last_events())
        return message

    def ask(self, streamed: bool, **params: Any) -> Message:
        return self.stream(**params) if streamed else self.create(**params)


def request_body(**params: Any) -> dict[str, Any]:
    """A small valid Messages request, overridden by ``params``."""
    base: dict[str, Any] = {
        "model": "claude-sonnet-5",
        "max_tokens": 256,
        "messages": [{"role": "user", "content": "hi"}],
    }
    return {**base, **params}


def provider_key(fake: FakeUpstream) -> str:
    """The provider key :func:`fake_config` configures for ``fake``."""
    return str(fake_config(fake)["Providers"][0]["api_key"])


def last_chat(fake: FakeUpstream) -> Recorded:
    """The last chat request the fake upstream received."""
    requests = fake.chat_requests
    assert requests, "the upstream received no chat request"
    return requests[-1]

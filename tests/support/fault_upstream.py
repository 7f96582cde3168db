"""Faults a provider commits, as scripted replies for :class:`tests.fake_upstream.FakeUpstream`.

Each builder returns a :class:`Reply` to ``enqueue`` (or a handler to install), so a test says
exactly which request fails and how: a 429 with ``retry-after``, a 5xx, a connection reset
before the first byte, a stream that breaks before or after its first event, a 401 for one
key, a 400 for a context that is too long. :func:`refused_url` is a provider nobody answers.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable

from tests.support.ccr_server import free_port
from tests.support.fake_upstream import Recorded, Reply, Verbatim, error, raw_chunks, text

__all__ = [
    "FlakyHandler",
    "broken_after_first_event",
    "broken_before_first_event",
    "context_too_long",
    "key_of",
    "rate_limited",
    "refuse_keys",
    "refused_url",
    "reset_before_first_byte",
    "server_error",
]


def rate_limited(retry_after_s: float | None = None, *, in_ms: bool = False,
                 message: str = "Rate limit reached, slow down") -> Reply:
    """A 429, with ``retry-after`` (seconds) or ``retry-after-ms`` when a wait is given."""
    headers: dict[str, str] = {}
    if retry_after_s is not None:
        if in_ms:
            headers["retry-after-ms"] = str(int(retry_after_s * 1000))
        else:
            headers["retry-after"] = f"{retry_after_s:g}"
    return error(429, {"error": {"message": message, "type": "rate_limit"}}, headers=headers)


def server_error(status: int = 500, message: str = "upstream exploded") -> Reply:
    return error(status, {"error": {"message": message}})


def reset_before_first_byte() -> Reply:
    """The connection is closed before a single byte of the answer is written."""
    return Reply(kind="plain", status=200, body="", drop_after=0)


def broken_before_first_event() -> Reply:
    """A 200 stream whose headers arrive, then the connection drops before any event."""
    return raw_chunks([Verbatim(": keep-alive\n\n")], include_done=False, drop_after=1)


def broken_after_first_event(words: str = "one two three four five six") -> Reply:
    """A stream that sends its first words (paced, so they arrive) and then drops."""
    return text(words, drop_after=3, chunk_delay_s=0.05)


def context_too_long(limit: int = 8192) -> Reply:
    return error(400, {"error": {
        "message": f"This model's maximum context length is {limit} tokens. However, your "
                   "messages resulted in 90000 tokens. Please reduce the length of the messages.",
        "type": "invalid_request_error", "code": "context_length_exceeded"}})


def key_of(request: Recorded) -> str | None:
    """The bearer key a request was sent with."""
    auth = request.headers.get("authorization", "")
    return auth[7:] if auth[:7].lower() == "bearer " else None


def refuse_keys(keys: Iterable[str], status: int = 401,
                then: Callable[[Recorded], Reply | None] | None = None
                ) -> Callable[[Recorded], Reply | None]:
    """A handler answering ``status`` to requests made with any of ``keys``; other requests
    go to ``then`` (or the queue)."""
    refused = set(keys)

    def handle(request: Recorded) -> Reply | None:
        if key_of(request) in refused:
            return error(status, {"error": {"message": "Incorrect API key provided",
                                            "type": "invalid_request_error"}})
        return then(request) if then is not None else None

    return handle


def refused_url() -> str:
    """A chat-completions URL on a loopback port nobody listens on (connection refused)."""
    return f"http://127.0.0.1:{free_port()}/v1/chat/completions"


class FlakyHandler:
    """Fails a fraction of requests (mixed 429, 500 and resets before the first byte) and
    answers the rest; counts what it did. Seeded, so a run is repeatable."""

    def __init__(self, failure_rate: float, *, seed: int = 8, reply: Reply | None = None) -> None:
        self.failure_rate = failure_rate
        self.random = random.Random(seed)
        self.reply = reply or text("fine")
        self.counts = {"ok": 0, "429": 0, "500": 0, "reset": 0}

    def __call__(self, request: Recorded) -> Reply:
        if self.random.random() >= self.failure_rate:
            self.counts["ok"] += 1
            return self.reply
        kind = self.random.choice(("429", "500", "reset"))
        self.counts[kind] += 1
        if kind == "429":
            return rate_limited()
        if kind == "500":
            return server_error()
        return reset_before_first_byte()

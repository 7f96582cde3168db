"""A scriptable OpenAI-compatible upstream served over real HTTP on loopback.

Tests and benchmarks point ccr at it to exercise the true network path (httpx, keep-alive,
chunked SSE, abrupt disconnects) while deciding, per request, exactly what the "model" answers.
It is served by :class:`tests.support.loopback_http.ScriptedServer` on its own asyncio loop in
a daemon thread, so it works the same from sync and async tests.

Usage::

    with FakeUpstream() as fake:
        fake.enqueue(text("Hi there"), tool_calls([Call("Bash", {"command": "ls"})]))
        ...  # point a provider at fake.chat_url
        assert fake.chat_requests[0].body["model"] == "fake-model"

Every chat reply answers as SSE when the request body has ``"stream": true`` and as a JSON
``chat.completion`` otherwise, with the same scripted content.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from tests.support.loopback_http import (
    HttpRequest,
    ScriptedServer,
    parse_json,
    send_chunked,
    send_plain,
)

__all__ = [
    "Call",
    "FakeUpstream",
    "Recorded",
    "Reply",
    "Usage",
    "Verbatim",
    "error",
    "iter_sse_data",
    "raw_chunks",
    "reasoning",
    "text",
    "tool_calls",
]

CHAT_PATH = "/v1/chat/completions"
MODELS = ("fake-model", "fake-model-large")

_ids = itertools.count(1)


# --------------------------------------------------------------------------------------------
# Scripting vocabulary


@dataclass(frozen=True)
class Usage:
    """Token counts reported by the fake, in OpenAI's ``usage`` shape."""

    prompt: int = 10
    completion: int = 5
    cached: int = 0

    def to_openai(self) -> dict[str, Any]:
        return {
            "prompt_tokens": self.prompt,
            "completion_tokens": self.completion,
            "total_tokens": self.prompt + self.completion,
            "prompt_tokens_details": {"cached_tokens": self.cached},
        }


@dataclass(frozen=True)
class Call:
    """One function call the fake model makes; ``arguments`` dicts are JSON-encoded."""

    name: str
    arguments: str | dict[str, Any] = "{}"
    id: str | None = None

    @property
    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments)


@dataclass(frozen=True)
class Verbatim:
    """Bytes written to an SSE stream exactly as given (no ``data:`` prefix, no blank line)."""

    payload: str | bytes


Chunk = dict[str, Any] | str | Verbatim
ReplyKind = Literal["chat", "sse", "plain"]


@dataclass(frozen=True)
class Reply:
    """One scripted answer; build it with :func:`text`, :func:`tool_calls`, :func:`error`, ....

    ``kind`` says how it is sent: ``chat`` follows the request's ``stream`` flag, ``sse`` always
    streams ``chunks``, ``plain`` always sends ``body``. ``drop_after`` closes the socket after
    that many SSE events (for a non-streamed answer: after that many bytes of the body; ``0``
    closes before any byte is sent).
    """

    kind: ReplyKind = "chat"
    status: int = 200
    body: dict[str, Any] | str | None = None
    content_type: str = "application/json"
    chunks: tuple[Chunk, ...] = ()
    usage_chunk: dict[str, Any] | None = None
    include_done: bool = True
    headers: tuple[tuple[str, str], ...] = ()
    first_byte_delay_s: float = 0.0
    chunk_delay_s: float = 0.0
    drop_after: int | None = None
    tool_call_ids: tuple[str, ...] = ()

    def but(self, **changes: Any) -> Reply:
        """A copy with some fields changed, e.g. ``reply.but(first_byte_delay_s=2)``."""
        return replace(self, **changes)


@dataclass
class Recorded:
    """One request as the fake received it; ``headers`` keys are lower-case."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    raw: bytes
    query: str = ""
    received_at: float = field(default_factory=time.monotonic)

    @property
    def is_chat(self) -> bool:
        return self.method == "POST" and self.path.endswith("/chat/completions")

    @property
    def stream(self) -> bool:
        return isinstance(self.body, dict) and self.body.get("stream") is True

    @property
    def messages(self) -> list[dict[str, Any]]:
        if isinstance(self.body, dict) and isinstance(self.body.get("messages"), list):
            return self.body["messages"]
        return []


Handler = Callable[[Recorded], Reply | None]


# --------------------------------------------------------------------------------------------
# Reply builders


def _split(content: str, pieces: int | None) -> list[str]:
    """Split ``content`` into stream deltas: by word by default, else into ``pieces`` parts."""
    if not content:
        return []
    if pieces is None:
        parts = re.findall(r"\s*\S+", content)
        rest = content[len("".join(parts)) :]
        if rest:
            parts = [*parts[:-1], parts[-1] + rest] if parts else [rest]
        return parts
    count = max(1, min(pieces, len(content)))
    size, extra = divmod(len(content), count)
    out: list[str] = []
    start = 0
    for i in range(count):
        end = start + size + (1 if i < extra else 0)
        out.append(content[start:end])
        start = end
    return out


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_700_000_000,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
    }


def _chat_reply(
    *,
    message: dict[str, Any],
    deltas: list[dict[str, Any]],
    finish: str,
    usage: Usage | None,
    usage_in_finish_chunk: bool,
    model: str,
    status: int,
    first_byte_delay_s: float,
    chunk_delay_s: float,
    drop_after: int | None,
    tool_call_ids: tuple[str, ...] = (),
) -> Reply:
    """Assemble both renderings (JSON completion and SSE chunks) of one assistant message."""
    first = {"role": "assistant", **(deltas[0] if deltas else {"content": ""})}
    stream = [_chunk(model, d) for d in [first, *deltas[1:]]]
    finish_chunk = _chunk(model, {}, finish)
    usage_chunk = None
    if usage is not None and usage_in_finish_chunk:
        finish_chunk["usage"] = usage.to_openai()
    elif usage is not None:
        usage_chunk = {**_chunk(model, {}), "choices": [], "usage": usage.to_openai()}
    stream.append(finish_chunk)
    completion: dict[str, Any] = {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_700_000_000,
        "model": model,
        "choices": [
            {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
        ],
    }
    if usage is not None:
        completion["usage"] = usage.to_openai()
    return Reply(
        kind="chat",
        status=status,
        body=completion,
        chunks=tuple(stream),
        usage_chunk=usage_chunk,
        first_byte_delay_s=first_byte_delay_s,
        chunk_delay_s=chunk_delay_s,
        drop_after=drop_after,
        tool_call_ids=tool_call_ids,
    )


_DEFAULT_USAGE = Usage(prompt=12, completion=4)


def text(
    content: str,
    *,
    pieces: int | None = None,
    usage: Usage | None = _DEFAULT_USAGE,
    finish: str = "stop",
    usage_in_finish_chunk: bool = False,
    model: str = "fake-model",
    status: int = 200,
    first_byte_delay_s: float = 0.0,
    chunk_delay_s: float = 0.0,
    drop_after: int | None = None,
) -> Reply:
    """A plain text answer; streamed word by word unless ``pieces`` is given.

    The usage chunk (``choices: []``) is sent only when the request asked for
    ``stream_options.include_usage``, like OpenAI; ``usage_in_finish_chunk`` puts it on the
    finish chunk instead, always.
    """
    deltas = [{"content": part} for part in _split(content, pieces)]
    return _chat_reply(
        message={"role": "assistant", "content": content},
        deltas=deltas,
        finish=finish,
        usage=usage,
        usage_in_finish_chunk=usage_in_finish_chunk,
        model=model,
        status=status,
        first_byte_delay_s=first_byte_delay_s,
        chunk_delay_s=chunk_delay_s,
        drop_after=drop_after,
    )


def reasoning(
    reasoning_text: str,
    content: str,
    *,
    field: Literal["reasoning_content", "reasoning"] = "reasoning_content",
    pieces: int | None = None,
    usage: Usage | None = _DEFAULT_USAGE,
    finish: str = "stop",
    usage_in_finish_chunk: bool = False,
    model: str = "fake-model",
    status: int = 200,
    first_byte_delay_s: float = 0.0,
    chunk_delay_s: float = 0.0,
    drop_after: int | None = None,
) -> Reply:
    """Reasoning in ``field`` (DeepSeek's ``reasoning_content`` or OpenRouter's ``reasoning``),
    then the answer text."""
    deltas = [{field: part} for part in _split(reasoning_text, pieces)]
    deltas += [{"content": part} for part in _split(content, pieces)]
    return _chat_reply(
        message={"role": "assistant", "content": content, field: reasoning_text},
        deltas=deltas,
        finish=finish,
        usage=usage,
        usage_in_finish_chunk=usage_in_finish_chunk,
        model=model,
        status=status,
        first_byte_delay_s=first_byte_delay_s,
        chunk_delay_s=chunk_delay_s,
        drop_after=drop_after,
    )


def _call_fragments(index: int, call_id: str, call: Call, mode: str) -> list[dict[str, Any]]:
    """Stream deltas for one call: a header with id and name, then the arguments."""
    args = call.arguments_json
    if mode == "whole_at_end":
        whole = {"name": call.name, "arguments": args}
        return [{"index": index, "id": call_id, "type": "function", "function": whole}]
    header = {"index": index, "id": call_id, "type": "function"}
    out = [{**header, "function": {"name": call.name, "arguments": ""}}]
    for part in _split(args, max(1, min(3, len(args)))):
        out.append({"index": index, "function": {"arguments": part}})
    return out


def tool_calls(
    calls: list[Call],
    *,
    text: str | None = None,
    mode: Literal["fragments", "whole_at_end", "interleaved"] = "fragments",
    pieces: int | None = None,
    usage: Usage | None = _DEFAULT_USAGE,
    finish: str = "tool_calls",
    usage_in_finish_chunk: bool = False,
    model: str = "fake-model",
    status: int = 200,
    first_byte_delay_s: float = 0.0,
    chunk_delay_s: float = 0.0,
    drop_after: int | None = None,
) -> Reply:
    """Function calls, optionally after some text; calls without an id get a fresh one.

    ``fragments`` streams each call as id+name then its arguments in pieces, one call after the
    other; ``whole_at_end`` sends each call complete in one chunk; ``interleaved`` alternates the
    fragments of parallel calls. The chosen ids are in ``Reply.tool_call_ids``.
    """
    ids = tuple(c.id or f"call_fake_{next(_ids):06d}" for c in calls)
    per_call = [_call_fragments(i, ids[i], c, mode) for i, c in enumerate(calls)]
    if mode == "interleaved":
        ordered = [f for group in itertools.zip_longest(*per_call) for f in group if f]
    else:
        ordered = [f for fragments in per_call for f in fragments]
    deltas = [{"content": part} for part in _split(text or "", pieces)]
    deltas += [{"tool_calls": [fragment]} for fragment in ordered]
    message: dict[str, Any] = {
        "role": "assistant",
        "content": text,
        "tool_calls": [
            {
                "id": ids[i],
                "type": "function",
                "function": {"name": c.name, "arguments": c.arguments_json},
            }
            for i, c in enumerate(calls)
        ],
    }
    return _chat_reply(
        message=message,
        deltas=deltas,
        finish=finish,
        usage=usage,
        usage_in_finish_chunk=usage_in_finish_chunk,
        model=model,
        status=status,
        first_byte_delay_s=first_byte_delay_s,
        chunk_delay_s=chunk_delay_s,
        drop_after=drop_after,
        tool_call_ids=ids,
    )


def raw_chunks(
    chunks: list[Chunk],
    *,
    delay_s: float = 0.0,
    include_done: bool = True,
    status: int = 200,
    first_byte_delay_s: float = 0.0,
    drop_after: int | None = None,
) -> Reply:
    """An SSE stream of arbitrary payloads, whatever the request asked for.

    Dicts are JSON-encoded, strings are sent as-is after ``data:``, :class:`Verbatim` bytes go out
    untouched (for comments, ``event:`` lines or payloads split across writes).
    """
    return Reply(
        kind="sse",
        status=status,
        chunks=tuple(chunks),
        include_done=include_done,
        first_byte_delay_s=first_byte_delay_s,
        chunk_delay_s=delay_s,
        drop_after=drop_after,
    )


def error(
    status: int,
    body: dict[str, Any] | str,
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
    first_byte_delay_s: float = 0.0,
) -> Reply:
    """A non-streamed error answer, e.g. ``error(429, {"error": {"message": "..."}})``."""
    return Reply(
        kind="plain",
        status=status,
        body=body,
        content_type=content_type,
        headers=tuple((headers or {}).items()),
        first_byte_delay_s=first_byte_delay_s,
    )


# --------------------------------------------------------------------------------------------
# HTTP wire format


def _encode_body(body: dict[str, Any] | str | None) -> bytes:
    if body is None:
        return b""
    if isinstance(body, str):
        return body.encode()
    return json.dumps(body).encode()


def _sse_event(chunk: Chunk) -> bytes:
    if isinstance(chunk, Verbatim):
        payload = chunk.payload
        return payload if isinstance(payload, bytes) else payload.encode()
    data = chunk if isinstance(chunk, str) else json.dumps(chunk)
    return f"data: {data}\n\n".encode()


def _sse_events(reply: Reply, request: Recorded) -> list[bytes]:
    """The SSE events of ``reply`` for this request (usage only if asked for, then [DONE])."""
    events = [_sse_event(c) for c in reply.chunks]
    options = request.body.get("stream_options") if isinstance(request.body, dict) else None
    wants_usage = isinstance(options, dict) and options.get("include_usage") is True
    if reply.usage_chunk is not None and wants_usage:
        events.append(_sse_event(reply.usage_chunk))
    if reply.include_done:
        events.append(b"data: [DONE]\n\n")
    return events


# --------------------------------------------------------------------------------------------
# Server


class FakeUpstream(ScriptedServer[Recorded, Reply]):
    """An OpenAI-compatible HTTP server on loopback whose answers each test scripts.

    Each request to ``.../chat/completions`` is answered by ``handler`` (if set and it returns a
    reply), else the next queued reply, else ``default``. ``GET /v1/models`` lists two models;
    anything else is a 404. All requests are kept in ``requests`` unless ``record=False``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record: bool = True) -> None:
        super().__init__(text("Hello from fake."), host, port, thread_name="fake-upstream")
        self.record = record
        self.errors: list[BaseException] = []

    @property
    def chat_url(self) -> str:
        return self.base_url + CHAT_PATH

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in list(self.requests) if r.is_chat]

    def clear(self) -> None:
        """Forget recorded requests, queued replies, errors and the handler."""
        super().clear()
        self.errors.clear()

    # -- answering ---------------------------------------------------------------------------

    async def _answer(self, http: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        request = Recorded(http.method, http.path, http.headers, parse_json(http.raw), http.raw,
                           http.query)
        if self.record:
            self.requests.append(request)
        completed = await self._respond(request, writer, http.keep_alive)
        return completed and http.keep_alive

    async def _respond(
        self, request: Recorded, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> bool:
        """Write the answer; False if the connection was dropped on purpose."""
        if request.is_chat:
            try:
                reply = self._scripted_reply(request)
            except Exception as exc:  # a broken handler must not kill the server
                self.errors.append(exc)
                reply = error(500, {"error": {"message": f"fake handler failed: {exc!r}"}})
        elif request.method == "GET" and request.path.rstrip("/") == "/v1/models":
            models = [{"id": m, "object": "model", "owned_by": "fake"} for m in MODELS]
            reply = Reply(kind="plain", body={"object": "list", "data": models})
        else:
            message = f"no route for {request.method} {request.path}"
            reply = error(404, {"error": {"message": message, "type": "not_found"}})
        if reply.first_byte_delay_s:
            await asyncio.sleep(reply.first_byte_delay_s)
        connection = [("Connection", "keep-alive" if keep_alive else "close")]
        if reply.kind == "sse" or (reply.kind == "chat" and request.stream):
            headers = [
                ("Content-Type", "text/event-stream; charset=utf-8"),
                ("Cache-Control", "no-cache"),
                ("Transfer-Encoding", "chunked"),
                *reply.headers,
                *connection,
            ]
            return await send_chunked(writer, reply.status, headers, _sse_events(reply, request),
                                      delay_s=reply.chunk_delay_s, drop_after=reply.drop_after)
        body = _encode_body(reply.body)
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(body))),
            *reply.headers,
            *connection,
        ]
        return await send_plain(writer, reply.status, headers, body, drop_after=reply.drop_after)


def iter_sse_data(raw: bytes | str) -> Iterator[str]:
    """The ``data:`` payloads of an SSE body, for tests that read the fake's streams directly."""
    body = raw.decode() if isinstance(raw, bytes) else raw
    for line in body.splitlines():
        if line.startswith("data:"):
            yield line[5:].strip()

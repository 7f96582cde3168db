"""A scriptable OpenAI-compatible upstream served over real HTTP on loopback.

Tests and benchmarks point ccr at it to exercise the true network path (httpx, keep-alive,
chunked SSE, abrupt disconnects) while deciding, per request, exactly what the "model" answers.
The server is a minimal hand-written HTTP/1.1 implementation on its own asyncio loop in a daemon
thread, so it works the same from sync and async tests.

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
import contextlib
import itertools
import json
import re
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

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

_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
    529: "Overloaded",
}
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


def _head(status: int, headers: list[tuple[str, str]]) -> bytes:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _sse_event(chunk: Chunk) -> bytes:
    if isinstance(chunk, Verbatim):
        payload = chunk.payload
        return payload if isinstance(payload, bytes) else payload.encode()
    data = chunk if isinstance(chunk, str) else json.dumps(chunk)
    return f"data: {data}\n\n".encode()


def _http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


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


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts: list[bytes] = []
        while True:
            size_line = await reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    length = int(headers.get("content-length", "0") or "0")
    return await reader.readexactly(length) if length else b""


def _parse_json(raw: bytes) -> dict[str, Any] | None:
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


# --------------------------------------------------------------------------------------------
# Server


class FakeUpstream:
    """An OpenAI-compatible HTTP server on loopback whose answers each test scripts.

    Each request to ``.../chat/completions`` is answered by ``handler`` (if set and it returns a
    reply), else the next queued reply, else ``default``. ``GET /v1/models`` lists two models;
    anything else is a 404. All requests are kept in ``requests`` unless ``record=False``.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *, record: bool = True) -> None:
        self.host = host
        self.port = port
        self.record = record
        self.requests: list[Recorded] = []
        self.errors: list[BaseException] = []
        self.default: Reply = text("Hello from fake.")
        self.handler: Handler | None = None
        self._queue: deque[Reply] = deque()
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: TCP connections accepted so far (keep-alive tests check reuse with it).
        self.connections_accepted = 0

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def chat_url(self) -> str:
        return self.base_url + CHAT_PATH

    def start(self) -> FakeUpstream:
        ready = threading.Event()
        failure: list[BaseException] = []
        loop = asyncio.new_event_loop()

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._server = loop.run_until_complete(
                    asyncio.start_server(self._serve, self.host, self.port, backlog=256)
                )
                self.port = self._server.sockets[0].getsockname()[1]
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-upstream", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close the listener and every open connection, then end the loop thread."""
        loop, self._loop = self._loop, None
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(timeout=5)
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- scripting ---------------------------------------------------------------------------

    def enqueue(self, *replies: Reply) -> None:
        """Queue replies, one per incoming chat request, first in first out."""
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Forget recorded requests, queued replies, errors and the handler."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.errors.clear()
            self.handler = None

    @property
    def pending(self) -> int:
        """How many queued replies are still unused."""
        return len(self._queue)

    @property
    def open_connections(self) -> int:
        """Client connections the fake currently holds open."""
        return len(self._writers)

    @property
    def chat_requests(self) -> list[Recorded]:
        return [r for r in list(self.requests) if r.is_chat]

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[Recorded]:
        """Block until at least ``count`` requests arrived (for fire-and-forget clients)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.requests)

    def _next_reply(self, request: Recorded) -> Reply:
        if self.handler is not None:
            chosen = self.handler(request)
            if chosen is not None:
                return chosen
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

    # -- connection handling -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections_accepted += 1
        try:
            while await self._one_exchange(reader, writer):
                pass
        except (ConnectionError, ValueError, asyncio.IncompleteReadError,
                asyncio.LimitOverrunError):
            pass  # the client went away or sent garbage: drop this connection only
        except asyncio.CancelledError:
            pass  # stop(); re-raising makes Python 3.11's stream callback log a spurious error
        finally:
            if task is not None:
                self._tasks.discard(task)
            self._writers.discard(writer)
            writer.transport.abort()

    async def _one_exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        """Read one request and answer it; False when the connection must close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False
        request_line, *header_lines = head[:-4].decode("latin-1").split("\r\n")
        method, target, version = [*request_line.split(" ", 2), "", ""][:3]
        headers: dict[str, str] = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = await _read_body(reader, headers)
        path, _, query = target.partition("?")
        request = Recorded(method, path, headers, _parse_json(raw), raw, query)
        if self.record:
            self.requests.append(request)
        keep_alive = version == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        completed = await self._respond(request, writer, keep_alive)
        return completed and keep_alive

    async def _respond(
        self, request: Recorded, writer: asyncio.StreamWriter, keep_alive: bool
    ) -> bool:
        """Write the answer; False if the connection was dropped on purpose."""
        if request.is_chat:
            try:
                reply = self._next_reply(request)
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
            return await self._send_sse(reply, request, writer, connection)
        return await self._send_plain(reply, writer, connection)

    async def _send_plain(
        self, reply: Reply, writer: asyncio.StreamWriter, connection: list[tuple[str, str]]
    ) -> bool:
        body = _encode_body(reply.body)
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(body))),
            *reply.headers,
            *connection,
        ]
        if reply.drop_after is not None:
            if reply.drop_after > 0:
                writer.write(_head(reply.status, headers) + body[: reply.drop_after])
                await writer.drain()
            writer.transport.abort()
            return False
        writer.write(_head(reply.status, headers) + body)
        await writer.drain()
        return True

    async def _send_sse(
        self,
        reply: Reply,
        request: Recorded,
        writer: asyncio.StreamWriter,
        connection: list[tuple[str, str]],
    ) -> bool:
        headers = [
            ("Content-Type", "text/event-stream; charset=utf-8"),
            ("Cache-Control", "no-cache"),
            ("Transfer-Encoding", "chunked"),
            *reply.headers,
            *connection,
        ]
        events = _sse_events(reply, request)
        dropped = reply.drop_after is not None and reply.drop_after < len(events)
        if dropped:
            events = events[: reply.drop_after]
        writer.write(_head(reply.status, headers))
        for index, event in enumerate(events):
            if reply.chunk_delay_s and index:
                await writer.drain()
                await asyncio.sleep(reply.chunk_delay_s)
            writer.write(_http_chunk(event))
        await writer.drain()
        if dropped:
            writer.transport.abort()
            return False
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True


def iter_sse_data(raw: bytes | str) -> Iterator[str]:
    """The ``data:`` payloads of an SSE body, for tests that read the fake's streams directly."""
    body = raw.decode() if isinstance(raw, bytes) else raw
    for line in body.splitlines():
        if line.startswith("data:"):
            yield line[5:].strip()

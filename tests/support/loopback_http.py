"""A minimal HTTP/1.1 server on loopback that scripted fake upstreams are built on.

It runs on its own asyncio loop in a daemon thread, so sync and async tests alike reach it over
a real socket (keep-alive, chunked bodies, abrupt disconnects). Subclasses only decide how each
request is recorded and answered; the wire format helpers below write the answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Self, TypeVar

__all__ = [
    "HttpRequest",
    "LoopbackHttpServer",
    "ScriptedServer",
    "head",
    "http_chunk",
    "parse_json",
    "send_chunked",
    "send_plain",
]

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

RequestT = TypeVar("RequestT")
ReplyT = TypeVar("ReplyT")


# --------------------------------------------------------------------------------------------
# HTTP wire format


@dataclass(frozen=True)
class HttpRequest:
    """One request as read off the socket; ``headers`` keys are lower-case."""

    method: str
    path: str
    query: str
    version: str
    headers: dict[str, str]
    raw: bytes

    @property
    def keep_alive(self) -> bool:
        """Whether the client may send another request on this connection."""
        return self.version == "HTTP/1.1" and self.headers.get("connection", "").lower() != "close"


def head(status: int, headers: list[tuple[str, str]]) -> bytes:
    """The status line and headers of an answer, up to and including the blank line."""
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def http_chunk(data: bytes) -> bytes:
    """``data`` framed as one chunk of a ``Transfer-Encoding: chunked`` body."""
    return b"%x\r\n%s\r\n" % (len(data), data)


def parse_json(raw: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is empty, not JSON or not an object."""
    if not raw:
        return None
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


async def send_plain(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    body: bytes,
    *,
    drop_after: int | None = None,
) -> bool:
    """Write a whole answer; with ``drop_after``, abort after that many body bytes instead.

    False when the connection was dropped on purpose.
    """
    if drop_after is not None:
        if drop_after > 0:
            writer.write(head(status, headers) + body[:drop_after])
            await writer.drain()
        writer.transport.abort()
        return False
    writer.write(head(status, headers) + body)
    await writer.drain()
    return True


async def send_chunked(
    writer: asyncio.StreamWriter,
    status: int,
    headers: list[tuple[str, str]],
    events: list[bytes],
    *,
    delay_s: float = 0.0,
    drop_after: int | None = None,
) -> bool:
    """Write ``events`` one chunk each, ``delay_s`` apart; with ``drop_after`` below their count,
    abort after that many instead of ending the body. False when dropped on purpose."""
    dropped = drop_after is not None and drop_after < len(events)
    if dropped:
        events = events[:drop_after]
    writer.write(head(status, headers))
    for index, event in enumerate(events):
        if delay_s and index:
            await writer.drain()
            await asyncio.sleep(delay_s)
        writer.write(http_chunk(event))
    await writer.drain()
    if dropped:
        writer.transport.abort()
        return False
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


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


async def _read_request(reader: asyncio.StreamReader) -> HttpRequest | None:
    """The next request on the connection, or None when the client closed it."""
    try:
        raw_head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    request_line, *header_lines = raw_head[:-4].decode("latin-1").split("\r\n")
    method, target, version = [*request_line.split(" ", 2), "", ""][:3]
    headers: dict[str, str] = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    raw = await _read_body(reader, headers)
    path, _, query = target.partition("?")
    return HttpRequest(method, path, query, version, headers, raw)


# --------------------------------------------------------------------------------------------
# Server


class LoopbackHttpServer:
    """The socket side: listen, read requests one after the other per connection, stop cleanly.

    Subclasses implement :meth:`_answer`.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0, *,
                 thread_name: str = "loopback-http") -> None:
        self.host = host
        self.port = port
        self._thread_name = thread_name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.Server | None = None
        self._thread: threading.Thread | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        #: TCP connections accepted so far (keep-alive tests check reuse with it).
        self.connections_accepted = 0

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def open_connections(self) -> int:
        """Client connections the server currently holds open."""
        return len(self._writers)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Self:
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
        self._thread = threading.Thread(target=run, name=self._thread_name, daemon=True)
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

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- connection handling -----------------------------------------------------------------

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        self._writers.add(writer)
        self.connections_accepted += 1
        try:
            while True:
                request = await _read_request(reader)
                if request is None or not await self._answer(request, writer):
                    break
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

    async def _answer(self, request: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        """Record and answer one request; False when the connection must close."""
        raise NotImplementedError


class ScriptedServer(LoopbackHttpServer, Generic[RequestT, ReplyT]):
    """A server whose answers a test scripts: ``handler`` (if set and it returns a reply), else
    the next queued reply, else ``default``. Subclasses append what they receive to
    ``requests``."""

    def __init__(self, default: ReplyT, host: str = "127.0.0.1", port: int = 0, *,
                 thread_name: str) -> None:
        super().__init__(host, port, thread_name=thread_name)
        self.requests: list[RequestT] = []
        self.default: ReplyT = default
        self.handler: Callable[[RequestT], ReplyT | None] | None = None
        self._queue: deque[ReplyT] = deque()
        self._lock = threading.Lock()

    def enqueue(self, *replies: ReplyT) -> None:
        """Queue replies, one per scripted request, first in first out."""
        with self._lock:
            self._queue.extend(replies)

    def clear(self) -> None:
        """Forget recorded requests, queued replies and the handler."""
        with self._lock:
            self._queue.clear()
            self.requests.clear()
            self.handler = None

    @property
    def pending(self) -> int:
        """How many queued replies are still unused."""
        return len(self._queue)

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> list[RequestT]:
        """Block until at least ``count`` requests arrived (for fire-and-forget clients)."""
        deadline = time.monotonic() + timeout
        while len(self.requests) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        return list(self.requests)

    def _scripted_reply(self, request: RequestT) -> ReplyT:
        if self.handler is not None:
            chosen = self.handler(request)
            if chosen is not None:
                return chosen
        with self._lock:
            return self._queue.popleft() if self._queue else self.default

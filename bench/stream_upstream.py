"""A minimal, fast OpenAI-compatible streaming upstream for throughput benchmarks.

Every POST is answered with one chat-completion stream: a role chunk, ``--chunks`` text deltas,
a finish chunk, a usage chunk and ``[DONE]``. With ``--gap-ms 0`` the whole answer is written
at once (chunks back to back, thousands of streams per second on one core, so the routers in
front of it are what is measured); otherwise each chunk follows the previous one after the gap,
the first one right away. Runs on uvloop when installed, on a raw asyncio protocol.

Prints its port on one stdout line, then serves until stdin closes, SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import sys
from typing import Any

_LENGTH = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)
_HEAD = (b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream; charset=utf-8\r\n"
         b"cache-control: no-cache\r\ntransfer-encoding: chunked\r\n"
         b"connection: keep-alive\r\n\r\n")
_END = b"0\r\n\r\n"


def sse_events(chunks: int, model: str = "fake-model") -> list[bytes]:
    """The data events of one answer of ``chunks`` text deltas."""
    def event(payload: dict[str, Any]) -> bytes:
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 1,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    events = [event(chunk({"role": "assistant", "content": ""}))]
    events += [event(chunk({"content": f"tok{i} "})) for i in range(chunks)]
    events.append(event(chunk({}, "stop")))
    events.append(event({"id": "chatcmpl-bench", "object": "chat.completion.chunk",
                         "created": 1, "model": model, "choices": [],
                         "usage": {"prompt_tokens": 100, "completion_tokens": chunks,
                                   "total_tokens": 100 + chunks}}))
    events.append(b"data: [DONE]\n\n")
    return events


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n" % len(data) + data + b"\r\n"


class StreamProtocol(asyncio.Protocol):
    """One connection: requests one after the other (keep-alive), each answered in full."""

    def __init__(self, pieces: list[bytes], whole: bytes, gap_s: float) -> None:
        self.pieces = pieces
        self.whole = whole
        self.gap_s = gap_s
        self.buffer = b""
        self.transport: Any = None
        self.busy = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # uvloop's transports are not asyncio.Transport subclasses

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        self._next()

    def _next(self) -> None:
        if self.busy:
            return
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return
        match = _LENGTH.search(self.buffer, 0, end + 2)
        total = end + 4 + (int(match.group(1)) if match else 0)
        if len(self.buffer) < total:
            return
        self.buffer = self.buffer[total:]
        assert self.transport is not None
        if not self.gap_s:
            self.transport.write(self.whole)
            self._next()
            return
        self.busy = True
        self.transport.write(_HEAD + self.pieces[0])
        loop = asyncio.get_running_loop()
        loop.call_later(self.gap_s, self._send, 1)

    def _send(self, index: int) -> None:
        if self.transport is None or self.transport.is_closing():
            return
        if index + 1 < len(self.pieces):
            self.transport.write(self.pieces[index])
            asyncio.get_running_loop().call_later(self.gap_s, self._send, index + 1)
            return
        self.transport.write(self.pieces[index] + _END)
        self.busy = False
        self._next()

    def connection_lost(self, exc: Exception | None) -> None:
        self.transport = None


async def serve(chunks: int, gap_ms: float, port: int) -> None:
    pieces = [http_chunk(e) for e in sse_events(chunks)]
    whole = _HEAD + b"".join(pieces) + _END
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: StreamProtocol(pieces, whole, gap_ms / 1000), "127.0.0.1", port, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    loop.add_reader(sys.stdin.fileno(), lambda: stop.set() if not os.read(
        sys.stdin.fileno(), 4096) else None)
    await stop.wait()
    server.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stream_upstream", description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--gap-ms", type=float, default=0.0)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        import uvloop
    except ImportError:
        runner = asyncio.run
    else:
        runner = uvloop.run
    runner(serve(args.chunks, args.gap_ms, args.port))


if __name__ == "__main__":
    main()

"""A minimal keep-alive HTTP/1.1 client on asyncio streams, one connection per worker.

httpx spends about half a millisecond of CPU per request; on a 2-core machine that is enough
for the load client to slow down the servers it measures. This client does only what the
benchmark needs (POST, Content-Length or chunked answers) for a few tens of microseconds.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit


class RawHttpError(Exception):
    """The server broke the protocol or the connection."""


class RawConnection:
    """One persistent connection to the host of the URLs it is given; reopened when needed."""

    def __init__(self, timeout_s: float) -> None:
        self._timeout_s = timeout_s
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._address: tuple[str, int] | None = None

    async def post(self, url: str, headers: dict[str, str], content: bytes) -> tuple[int, bytes]:
        """Send one POST and read the whole answer; returns status and body."""
        parts = urlsplit(url)
        host, port = parts.hostname or "127.0.0.1", parts.port or 80
        target = parts.path + (f"?{parts.query}" if parts.query else "")
        head = [f"POST {target} HTTP/1.1", f"Host: {host}:{port}",
                f"Content-Length: {len(content)}"]
        head += [f"{k}: {v}" for k, v in headers.items() if k.lower() != "content-length"]
        request = ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + content
        return await asyncio.wait_for(self._exchange((host, port), request), self._timeout_s)

    async def _exchange(self, address: tuple[str, int], request: bytes) -> tuple[int, bytes]:
        if self._writer is None or self._address != address or self._writer.is_closing():
            await self.close()
            self._reader, self._writer = await asyncio.open_connection(*address)
            self._address = address
        reader, writer = self._reader, self._writer
        assert reader is not None
        try:
            writer.write(request)
            status, headers = await _read_head(reader)
            body = await _read_body(reader, headers)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            await self.close()
            raise RawHttpError(f"{type(exc).__name__}: {exc}") from None
        if headers.get("connection", "").lower() == "close" or not _framed(headers):
            await self.close()
        return status, body

    async def close(self) -> None:
        writer, self._writer, self._reader = self._writer, None, None
        if writer is not None:
            writer.close()
            try:
                await writer.wait_closed()
            except OSError:
                pass


async def _read_head(reader: asyncio.StreamReader) -> tuple[int, dict[str, str]]:
    raw = await reader.readuntil(b"\r\n\r\n")
    status_line, *lines = raw[:-4].decode("latin-1").split("\r\n")
    fields = status_line.split(" ", 2)
    if len(fields) < 2 or not fields[0].startswith("HTTP/"):
        raise ValueError(f"not an HTTP response: {status_line[:80]!r}")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(fields[1]), headers


def _framed(headers: dict[str, str]) -> bool:
    """Whether the body's end is marked (else it ends when the server closes)."""
    return "chunked" in headers.get("transfer-encoding", "").lower() or "content-length" in headers


async def _read_body(reader: asyncio.StreamReader, headers: dict[str, str]) -> bytes:
    if not _framed(headers):
        return await reader.read()  # until the server closes
    if "chunked" in headers.get("transfer-encoding", "").lower():
        parts = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass  # trailers
                return b"".join(parts)
            parts.append(await reader.readexactly(size))
            await reader.readexactly(2)
    return await reader.readexactly(int(headers["content-length"]))

"""A GET to a ccr server on this machine, in a few lines of socket code.

``http.client`` imports ``email``, ``ssl`` and ``calendar``: more than the rest of ``ccr
statusline`` or ``ccr status`` costs. These requests go to loopback, answer small JSON bodies
and need none of that.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Mapping


def http_get(host: str, port: int, path: str, headers: Mapping[str, str],
             timeout_s: float) -> tuple[int, bytes]:
    """``(status, body)`` of one HTTP/1.1 GET on a fresh connection.

    Raises OSError or ValueError when the answer is not HTTP or does not come within
    ``timeout_s`` overall.
    """
    lines = [f"GET {path} HTTP/1.1", f"Host: {host}:{port}", "Connection: close"]
    for name, value in headers.items():
        if "\r" in value or "\n" in value:
            raise ValueError(f"header {name} holds a line break")
        lines.append(f"{name}: {value}")
    request = ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8")
    deadline = time.monotonic() + timeout_s
    with socket.create_connection((host, port), timeout=timeout_s) as sock:
        sock.sendall(request)
        chunks: list[bytes] = []
        while True:
            sock.settimeout(max(0.001, deadline - time.monotonic()))
            chunk = sock.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, sep, body = b"".join(chunks).partition(b"\r\n\r\n")
    status_line, *header_lines = head.split(b"\r\n")
    parts = status_line.split(b" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith(b"HTTP/") or not parts[1].isdigit():
        raise ValueError("not an HTTP answer")
    fields = {k.strip().lower(): v.strip() for k, _, v in
              (line.partition(b":") for line in header_lines)}
    if fields.get(b"transfer-encoding", b"").lower() == b"chunked":
        body = _dechunk(body)
    return int(parts[1]), body


def _dechunk(data: bytes) -> bytes:
    out: list[bytes] = []
    while True:
        size_line, sep, data = data.partition(b"\r\n")
        if not sep:
            raise ValueError("truncated chunked body")
        size = int(size_line.split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(data[:size])
        data = data[size + 2:]

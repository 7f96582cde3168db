"""The request lines of ``<CCR_HOME>/logs/ccr.log``, for the console's live tail and usage.

Only that one file is ever opened: its path is built from the server's home, never from
anything a request says. Lines are parsed back into the fields ``ccr.logs.request_line`` wrote
(already redacted on their way into the log).
"""

from __future__ import annotations

import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccr.logs import REQUEST_LOG_FILE, lines_backwards

#: A record's first line: ``2026-12-06 07:30:00,123 INFO key=value ...``.
_RECORD = re.compile(r"(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d),(\d{3}) ([A-Z]+) (.*)")
_FIELD = re.compile(r'(\w+)=("[^"]*"|\S*)')
#: At most this much of the file is read by one poll of the live tail.
MAX_READ_BYTES = 1024 * 1024
_BLOCK = 64 * 1024


def log_file(home: Path) -> Path:
    return home / "logs" / REQUEST_LOG_FILE


def parse_line(line: str) -> dict[str, Any] | None:
    """The fields of one request line (with ``time``), or None for any other log line."""
    match = _RECORD.fullmatch(line.rstrip("\r\n"))
    if match is None:
        return None
    day, clock, millis, level, rest = match.groups()
    fields: dict[str, Any] = {}
    for key, value in _FIELD.findall(rest):
        fields[key] = value[1:-1] if value.startswith('"') and value.endswith('"') else value
    if "path" not in fields or "status" not in fields or not rest.startswith("path="):
        return None
    for key in ("status", "tokens", "input", "output", "cache_read"):
        if key in fields:
            try:
                fields[key] = int(fields[key])
            except ValueError:
                pass
    for key in ("ms", "upstream_ms"):
        if key in fields:
            try:
                fields[key] = float(fields[key])
            except ValueError:
                pass
    fields["time"] = f"{day}T{clock}.{millis}"
    fields["day"] = day
    fields["level"] = level
    return fields


@dataclass(frozen=True)
class Filters:
    """What the Requests page narrows the tail to; empty fields match everything."""

    session: str = ""
    route: str = ""
    status: str = ""
    client: str = ""

    def match(self, row: dict[str, Any]) -> bool:
        if self.session and str(row.get("session", "")) != self.session:
            return False
        if self.route and self.route.lower() not in str(row.get("route", "")).lower():
            return False
        if self.client and str(row.get("client", "")) != self.client:
            return False
        return self._status_matches(row.get("status"))

    def _status_matches(self, status: Any) -> bool:
        want = self.status.strip().lower()
        if not want:
            return True
        if not isinstance(status, int):
            return False
        if want == "error":
            return status >= 400
        if want == "ok":
            return status < 400
        if len(want) == 3 and want.endswith("xx") and want[0].isdigit():
            return status // 100 == int(want[0])
        return str(status) == want


@dataclass(frozen=True)
class Cursor:
    """Where the tail stopped: the file's inode and the offset after the last whole line."""

    inode: int
    offset: int

    def encode(self) -> str:
        return f"{self.inode}:{self.offset}"

    @classmethod
    def decode(cls, text: str | None) -> Cursor | None:
        if not text:
            return None
        inode, sep, offset = text.partition(":")
        if not sep or not inode.isdigit() or not offset.isdigit():
            return None
        return cls(int(inode), int(offset))


def tail(path: Path, count: int, match: Callable[[dict[str, Any]], bool],
         ) -> tuple[list[dict[str, Any]], Cursor | None]:
    """The last ``count`` matching request lines, oldest first, and the cursor after them."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return [], None
    with handle:
        st = os.fstat(handle.fileno())
        found: deque[dict[str, Any]] = deque()
        for line in lines_backwards(handle, st.st_size, unfinished=False):
            row = parse_line(line)
            if row is not None and match(row):
                found.appendleft(row)
                if len(found) >= count:
                    break
        return list(found), Cursor(st.st_ino, _last_newline(handle, st.st_size))


def read_since(path: Path, cursor: Cursor, match: Callable[[dict[str, Any]], bool],
               ) -> tuple[list[dict[str, Any]], Cursor | None]:
    """Matching request lines written after ``cursor``; a rotated or truncated file is read
    from its start."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return [], None
    with handle:
        st = os.fstat(handle.fileno())
        start = cursor.offset if (st.st_ino == cursor.inode and st.st_size >= cursor.offset) else 0
        handle.seek(start)
        data = handle.read(MAX_READ_BYTES)
        end = data.rfind(b"\n") + 1
        rows = []
        for raw in data[:end].split(b"\n"):
            row = parse_line(raw.decode("utf-8", "replace"))
            if row is not None and match(row):
                rows.append(row)
        return rows, Cursor(st.st_ino, start + end)


def all_rows(path: Path) -> Iterator[dict[str, Any]]:
    """Every request line of the file, oldest first."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return
    with handle:
        for raw in handle:
            row = parse_line(raw.decode("utf-8", "replace"))
            if row is not None:
                yield row


def _last_newline(handle: Any, size: int) -> int:
    """The offset just after the last complete line (a half-written line is read next time)."""
    position = size
    while position > 0:
        start = max(0, position - _BLOCK)
        handle.seek(start)
        block = handle.read(position - start)
        index = block.rfind(b"\n")
        if index >= 0:
            return start + index + 1
        position = start
    return 0

"""Recorded requests (``RECORD``: ``<CCR_HOME>/records/records-*.jsonl``) for "try it".

Only files in that folder whose names match the recorder's pattern are read, by name and byte
offset; a record holds the request body and its headers without credentials, as recorded (and
they are filtered again on the way out).
"""

from __future__ import annotations

import json
import re
from collections import deque
from pathlib import Path
from typing import Any

from ccr.context.records import (
    FILE_PREFIX,
    FILE_SUFFIX,
    RECORDS_FOLDER,
    replay_body,
    safe_headers,
)
from ccr.errors import CcrError

_FILE_NAME = re.compile(re.escape(FILE_PREFIX) + r"[A-Za-z0-9_.-]+" + re.escape(FILE_SUFFIX))
#: A record bigger than this is not offered (a request body is at most a few MB).
MAX_RECORD_BYTES = 16 * 1024 * 1024


class RecordError(CcrError, ValueError):
    """A reference that names no readable record."""


def _files(home: Path) -> list[Path]:
    """The record files, newest first."""
    folder = home / RECORDS_FOLDER
    try:
        files = [p for p in folder.iterdir() if _FILE_NAME.fullmatch(p.name) and p.is_file()]
    except OSError:
        return []
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name), reverse=True)


def _last_lines(path: Path, limit: int) -> list[tuple[int, bytes]]:
    """The last ``limit`` complete lines of ``path`` with their offsets, newest first (one
    forward pass: a record file is at most a tenth of ``RECORD.max_mb``)."""
    found: deque[tuple[int, bytes]] = deque(maxlen=limit)
    with path.open("rb") as handle:
        offset = 0
        for line in handle:
            if line.endswith(b"\n"):  # a line still being written is left for later
                found.append((offset, line))
            offset += len(line)
    return list(reversed(found))


def _object(record: dict[str, Any], key: str) -> dict[str, Any]:
    value = record.get(key)
    return value if isinstance(value, dict) else {}


def _summary(ref: str, record: dict[str, Any]) -> dict[str, Any]:
    body, decision, outcome = (_object(record, key) for key in ("body", "decision", "outcome"))
    text = ""
    messages = body.get("messages") if isinstance(body.get("messages"), list) else []
    if messages and isinstance(messages[-1], dict):
        content = messages[-1].get("content")
        text = content if isinstance(content, str) else " ".join(
            str(b.get("text", "")) for b in content if isinstance(b, dict)
        ) if isinstance(content, list) else ""
    return {"ref": ref, "time": record.get("time"), "session_id": record.get("session_id"),
            "model": body.get("model"), "rule": decision.get("rule"),
            "route": decision.get("route"), "status": outcome.get("status"),
            "preview": " ".join(text.split())[:100]}


def recent(home: Path, limit: int = 50) -> list[dict[str, Any]]:
    """The newest ``limit`` records, newest first, as one-line summaries."""
    found: list[dict[str, Any]] = []
    for path in _files(home):
        for offset, raw in _last_lines(path, limit - len(found)):
            try:
                record = json.loads(raw)
            except ValueError:
                continue
            if isinstance(record, dict):
                found.append(_summary(f"{path.name}:{offset}", record))
            if len(found) >= limit:
                return found
    return found


def load(home: Path, ref: Any) -> dict[str, Any]:
    """The record ``ref`` (``file:offset``) names, as a recorded request for a dry run."""
    name, _, offset = str(ref).partition(":")
    if not _FILE_NAME.fullmatch(name) or not offset.isdigit():
        raise RecordError(f"{str(ref)[:100]!r} is not a record reference")
    path = home / RECORDS_FOLDER / name
    try:
        with path.open("rb") as handle:
            handle.seek(int(offset))
            raw = handle.readline(MAX_RECORD_BYTES)
    except OSError:
        raise RecordError(f"no record file {name}") from None
    try:
        record = json.loads(raw)
    except ValueError:
        raise RecordError(f"{name}:{offset} is not the start of a record") from None
    if not isinstance(record, dict) or not isinstance(record.get("body"), dict):
        raise RecordError(f"{name}:{offset} is not a recorded request")
    headers = record.get("headers")
    return {"method": "POST", "path": "/v1/messages",
            "headers": safe_headers(headers) if isinstance(headers, dict) else {},
            "body": replay_body(record), "session_id": record.get("session_id"),
            "decision": record.get("decision")}

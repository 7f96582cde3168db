"""Opt-in recording of real traffic: one JSON line per ``/v1/messages`` request, so a new routing
policy can be tried on last week's requests (``ccr route --dry-run RECORDS --against NEW``).

``RECORD: {"enabled": true, "max_mb": 200}`` turns it on. Lines go to ``<CCR_HOME>/records/``
in files of at most a tenth of ``max_mb`` each; when the folder grows past ``max_mb`` the oldest
files are deleted. A line holds the request body, its headers without credentials, the session
id, the time, the decision (rule, route, reason) and the outcome (status, usage, latency).

Writing never blocks the server: lines are encoded on the caller's thread and handed to a
bounded queue that one background thread drains to disk; when the queue is full (a disk that
cannot keep up) the line is dropped and counted.
"""

from __future__ import annotations

import datetime
import logging
import os
import queue
import re
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson

from ccr.config.records import DEFAULT_MAX_MB, RecordSettings

log = logging.getLogger("ccr")

RECORDS_FOLDER = "records"
FILE_PREFIX = "records-"
FILE_SUFFIX = ".jsonl"
#: Files per ``max_mb``: each file holds at most this fraction of the budget.
FILES_PER_BUDGET = 10
#: Header names that may carry a credential, whatever the client calls them.
_SECRET_HEADER = re.compile(r"auth|key|token|secret|cookie|password|session-token", re.I)
_KEEP_HEADERS = frozenset({"x-claude-code-session-id"})




def safe_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-cased headers without anything that may be a credential."""
    return {
        str(k).lower(): str(v) for k, v in headers.items()
        if str(k).lower() in _KEEP_HEADERS or not _SECRET_HEADER.search(str(k))
    }


def build_record(
    *,
    body: Mapping[str, Any],
    headers: Mapping[str, str],
    session_id: str | None,
    at: datetime.datetime,
    rule: str | None,
    route: str | None,
    reason: str | None = None,
    script_error: str | None = None,
    subagent_tag: str | None = None,
    status: int,
    usage: Mapping[str, Any] | None,
    latency_ms: float | None,
    error: str | None = None,
) -> dict[str, Any]:
    """One line's data; ``at`` must be timezone-aware (replays use it as ``req.now``).
    ``subagent_tag`` is the ``<CCR-SUBAGENT-MODEL>`` route routing removed from the body, so
    that a replay can put it back (see :func:`replay_body`)."""
    decision = {"rule": rule, "route": route, "reason": reason, "script_error": script_error}
    if subagent_tag:
        decision["subagent_tag"] = subagent_tag
    return {
        "time": at.isoformat(),
        "session_id": session_id,
        "headers": safe_headers(headers),
        "body": body,
        "decision": decision,
        "outcome": {"status": status, "usage": dict(usage or {}),
                    "latency_ms": None if latency_ms is None else round(latency_ms, 1),
                    "error": error},
    }


def replay_body(record: Mapping[str, Any]) -> dict[str, Any]:
    """The record's body as the client sent it: with the subagent tag routing removed put back
    at the start of the last system block (a copy when it changes)."""
    body: dict[str, Any] = record["body"]
    tag = (record.get("decision") or {}).get("subagent_tag")
    if not isinstance(tag, str) or not tag:
        return body
    marked = f"<CCR-SUBAGENT-MODEL>{tag}</CCR-SUBAGENT-MODEL>"
    system = body.get("system")
    if isinstance(system, list) and system and isinstance(system[-1], dict):
        last = {**system[-1], "text": marked + str(system[-1].get("text") or "")}
        return {**body, "system": [*system[:-1], last]}
    text = system if isinstance(system, str) else ""
    return {**body, "system": marked + text}


def is_record(item: Any) -> bool:
    """Whether a parsed JSON line is a record (as opposed to a request or a recorded request)."""
    return (isinstance(item, dict) and isinstance(item.get("decision"), dict)
            and isinstance(item.get("body"), dict) and isinstance(item.get("time"), str))


class RecordWriter:
    """Appends records to rotating, bounded files from one background thread."""

    def __init__(self, folder: Path, *, max_mb: float = DEFAULT_MAX_MB,
                 queue_size: int = 1000) -> None:
        self.folder = Path(folder)
        self.max_bytes = max(int(max_mb * 1024 * 1024), 1024)
        self.file_bytes = max(self.max_bytes // FILES_PER_BUDGET, 512)
        self.written = 0
        self.dropped = 0
        self._queue: queue.Queue[bytes | threading.Event | None] = queue.Queue(
            maxsize=queue_size)
        self._file: Any = None
        self._file_size = 0
        self._serial = 0
        self._thread = threading.Thread(target=self._drain, name="ccr-records", daemon=True)
        self._thread.start()

    @classmethod
    def for_settings(cls, settings: RecordSettings, home: Path) -> RecordWriter | None:
        """The writer ``RECORD`` asks for, or None when recording is off."""
        if not settings.enabled:
            return None
        return cls(Path(home) / RECORDS_FOLDER, max_mb=settings.max_mb)

    def write(self, record: Mapping[str, Any]) -> bool:
        """Queue one record; False (and counted) when it had to be dropped."""
        try:
            line = orjson.dumps(record, default=str) + b"\n"
        except (TypeError, ValueError):
            self.dropped += 1
            return False
        try:
            self._queue.put_nowait(line)
        except queue.Full:
            self.dropped += 1
            return False
        return True

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        if not self._thread.is_alive():
            return
        try:
            self._queue.put(None, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every record queued so far is on disk; False if that took too long."""
        done = threading.Event()
        try:
            self._queue.put(done, timeout=timeout)
        except queue.Full:
            return False
        return done.wait(timeout)

    # -- the writing thread ------------------------------------------------------------------

    def _drain(self) -> None:
        while True:
            line = self._queue.get()
            try:
                if line is None:
                    self._close_file()
                    return
                if isinstance(line, threading.Event):
                    if self._file is not None:
                        self._file.flush()
                    line.set()
                else:
                    self._append(line)
            except OSError as exc:
                self.dropped += 1
                log.warning("records: cannot write to %s: %s", self.folder, exc.strerror)
                self._close_file()
            finally:
                self._queue.task_done()

    def _append(self, line: bytes) -> None:
        if self._file is None or self._file_size + len(line) > self.file_bytes:
            self._rotate()
        self._file.write(line)
        self._file_size += len(line)
        self.written += 1
        if self._queue.empty():
            self._file.flush()

    def _rotate(self) -> None:
        self._close_file()
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._serial += 1
        stamp = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d-%H%M%S")
        name = f"{FILE_PREFIX}{stamp}-{os.getpid()}-{self._serial:04d}{FILE_SUFFIX}"
        fd = os.open(self.folder / name, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._file = os.fdopen(fd, "ab")
        self._file_size = 0
        self._prune(keep=name)

    def _prune(self, keep: str) -> None:
        """Delete the oldest files until the folder fits in ``max_bytes`` with a new file."""
        files = []
        for path in self.folder.glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"):
            try:
                stat = path.stat()
            except OSError:
                continue
            files.append((stat.st_mtime_ns, path.name, stat.st_size, path))
        files.sort()
        total = sum(size for _m, _n, size, _p in files) + self.file_bytes
        for _mtime, name, size, path in files:
            if total <= self.max_bytes:
                break
            if name == keep:
                continue
            try:
                path.unlink()
            except OSError:
                continue
            total -= size

    def _close_file(self) -> None:
        if self._file is not None:
            try:
                self._file.close()
            finally:
                self._file = None


def record_files(folder: Path) -> list[Path]:
    """The record files in ``folder``, oldest first."""
    return sorted(Path(folder).glob(f"{FILE_PREFIX}*{FILE_SUFFIX}"))

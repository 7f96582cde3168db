"""Server-sent events: an incremental parser for upstream streams and the encoder for our own.

The decoder sees every chunk of every stream, so it works on bytes and keeps the common case
cheap: an event that is one ``data: ...`` line is a slice of the read, never decoded to text
(orjson parses the bytes). The rest of the SSE grammar is handled correctly: lines split across
reads, ``\\r\\n``/``\\r``/``\\n`` endings, multi-line data, comments, ``event:`` and ``id:``
fields, and UTF-8 characters split across reads (bytes are only decoded once an event is whole).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

import orjson


class SSEEvent(NamedTuple):
    """One dispatched event: its ``event:`` name (None when absent), joined data, and ``id:``."""

    event: str | None
    data: str
    id: str | None = None


class RawEvent(NamedTuple):
    """One dispatched event with its data still as the bytes that arrived."""

    event: str | None
    data: bytes
    id: str | None = None


class SSEDecoder:
    """Turns a byte stream into events as the bytes arrive: :meth:`feed_raw` / :meth:`flush_raw`
    give the data as bytes (the hot path), :meth:`feed` / :meth:`flush` as text."""

    __slots__ = ("_data", "_event", "_id", "_skip_lf", "_tail")

    def __init__(self) -> None:
        self._tail = b""  # bytes after the last complete line
        self._skip_lf = False
        self._data: list[bytes] = []  # data lines of the event being read
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Parse more bytes; return the events completed by them (possibly none)."""
        return [_text(event) for event in self.feed_raw(data)]

    def flush(self) -> list[SSEEvent]:
        """End of stream: complete the last line and dispatch an event left without a blank line."""
        return [_text(event) for event in self.flush_raw()]

    def feed_raw(self, data: bytes) -> list[RawEvent]:
        """Like :meth:`feed`, with each event's data as bytes."""
        if self._skip_lf:  # the last read ended in "\r": a leading "\n" belongs to it
            self._skip_lf = False
            if data[:1] == b"\n":
                data = data[1:]
        if self._tail:
            data = self._tail + data
        if b"\r" in data:
            self._skip_lf = data[-1:] == b"\r"
            data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            return []
        self._tail = data[end + 1:]
        events: list[RawEvent] = []
        blocks = data[:end + 1].split(b"\n\n")
        last = blocks.pop()
        for block in blocks:
            # The hot path: a whole event that is a single "data: ..." line.
            if not self._data and block[:6] == b"data: " and b"\n" not in block:
                events.append(RawEvent(self._event, block[6:], self._id))
                self._event = self._id = None
                continue
            for line in block.split(b"\n"):
                self._line(line, events)
            self._dispatch(events)
        if last:  # lines of an event whose blank line has not arrived yet
            for line in last[:-1].split(b"\n"):
                self._line(line, events)
        return events

    def feed_data(self, data: bytes) -> list[bytes]:
        """Like :meth:`feed_raw`, each event's data only, for readers that use neither event
        names nor ids (OpenAI-style streams). A read of whole one-line ``data: ...`` events,
        which is what such streams send, costs one split and one slice per event."""
        if self._skip_lf or self._data or self._event is not None or self._id is not None \
                or b"\r" in data:
            return [event.data for event in self.feed_raw(data)]
        if self._tail:
            data = self._tail + data
        end = data.rfind(b"\n")
        if end < 0:
            self._tail = data
            return []
        blocks = data[:end + 1].split(b"\n\n")
        if not blocks.pop() and data.count(b"\n", 0, end + 1) == 2 * len(blocks):
            # every block is a single line; all of them "data: ..." is the common case
            payloads = [block[6:] for block in blocks if block[:6] == b"data: "]
            if len(payloads) == len(blocks):
                self._tail = data[end + 1:]
                return payloads
        self._tail = b""
        return [event.data for event in self.feed_raw(data)]

    def flush_data(self) -> list[bytes]:
        """Like :meth:`flush_raw`, each event's data only."""
        return [event.data for event in self.flush_raw()]

    def flush_raw(self) -> list[RawEvent]:
        """Like :meth:`flush`, with each event's data as bytes."""
        tail, self._tail = self._tail, b""
        self._skip_lf = False
        events: list[RawEvent] = []
        if tail:
            self._line(tail, events)
        self._dispatch(events)
        return events

    def _line(self, line: bytes, events: list[RawEvent]) -> None:
        if line[:5] == b"data:":
            self._data.append(line[6:] if line[5:6] == b" " else line[5:])
            return
        if not line:
            self._dispatch(events)
            return
        if line[:1] == b":":
            return  # comment (keep-alive)
        name, colon, value = line.partition(b":")
        if colon and value[:1] == b" ":
            value = value[1:]
        if name == b"event":
            self._event = value.decode("utf-8", "replace")
        elif name == b"data":
            self._data.append(value)
        elif name == b"id" and b"\0" not in value:
            self._id = value.decode("utf-8", "replace")
        # "retry" and unknown fields are ignored, as the SSE specification says.

    def _dispatch(self, events: list[RawEvent]) -> None:
        if self._data:
            data = self._data[0] if len(self._data) == 1 else b"\n".join(self._data)
            events.append(RawEvent(self._event, data, self._id))
            self._data = []
        self._event = None
        self._id = None


def _text(event: RawEvent) -> SSEEvent:
    return SSEEvent(event.event, event.data.decode("utf-8", "replace"), event.id)


def encode_event(event: str, data: dict[str, Any]) -> bytes:
    """One SSE event as bytes: ``event: <name>``, one compact JSON ``data:`` line, blank line.

    A lone surrogate (an upstream that split an escaped pair) becomes "?" instead of an exception.
    """
    try:
        payload = orjson.dumps(data)
    except TypeError:
        payload = json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode(
            "utf-8", "replace"
        )
    return b"event: " + event.encode() + b"\ndata: " + payload + b"\n\n"

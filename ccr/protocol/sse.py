"""Server-sent events: an incremental parser for upstream streams and the encoder for our own.

The decoder sees every chunk of every stream, so it keeps the common case (one ``data:`` line per
event, chunks ending on line boundaries) cheap and handles the rest of the SSE grammar correctly:
lines split across reads, ``\\r\\n``/``\\r``/``\\n`` endings, multi-line data, comments, and UTF-8
characters split across reads.
"""

from __future__ import annotations

import codecs
import json
from typing import Any, NamedTuple

import orjson


class SSEEvent(NamedTuple):
    """One dispatched event: its ``event:`` name (None when absent), joined data, and ``id:``."""

    event: str | None
    data: str
    id: str | None = None


class SSEDecoder:
    """Turns a byte stream into :class:`SSEEvent` values as the bytes arrive."""

    __slots__ = ("_data", "_decoder", "_event", "_id", "_partial", "_skip_lf")

    def __init__(self) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._partial: list[str] = []  # pieces of the current, not yet terminated line
        self._skip_lf = False  # the last read ended in "\r": a leading "\n" belongs to it
        self._data: list[str] = []
        self._event: str | None = None
        self._id: str | None = None

    def feed(self, data: bytes) -> list[SSEEvent]:
        """Parse more bytes; return the events completed by them (possibly none)."""
        return self._feed_text(self._decoder.decode(data))

    def flush(self) -> list[SSEEvent]:
        """End of stream: complete the last line and dispatch an event left without a blank line."""
        events = self._feed_text(self._decoder.decode(b"", final=True))
        self._skip_lf = False
        if self._partial:
            line = "".join(self._partial)
            self._partial.clear()
            self._line(line, events)
        self._dispatch(events)
        return events

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not text:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if "\r" in text:
            self._skip_lf = text[-1] == "\r"
            text = text.replace("\r\n", "\n").replace("\r", "\n")
        if "\n" not in text:
            self._partial.append(text)
            return []
        lines = text.split("\n")
        if self._partial:
            self._partial.append(lines[0])
            lines[0] = "".join(self._partial)
            self._partial.clear()
        tail = lines.pop()
        if tail:
            self._partial.append(tail)
        events: list[SSEEvent] = []
        for line in lines:
            self._line(line, events)
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        if line.startswith("data:"):  # the hot path
            value = line[5:]
            self._data.append(value[1:] if value.startswith(" ") else value)
            return
        if not line:
            self._dispatch(events)
            return
        if line[0] == ":":
            return  # comment (keep-alive)
        field, colon, value = line.partition(":")
        if colon and value.startswith(" "):
            value = value[1:]
        if field == "event":
            self._event = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._id = value
        # "retry" and unknown fields are ignored, as the SSE specification says.

    def _dispatch(self, events: list[SSEEvent]) -> None:
        if self._data:
            events.append(SSEEvent(self._event, "\n".join(self._data), self._id))
            self._data = []
        self._event = None
        self._id = None


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

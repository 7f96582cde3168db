"""What one failed upstream attempt means for the next one.

A failure before the first byte reached the client is classified here, without I/O: worth
another try (throttled, overloaded, unreachable), a bad key (try the provider's next key), a
context too long for this model (try the ``longContext`` route), or the request's own fault
(answer the client now). ``retry-after`` / ``retry-after-ms`` are read here too.
"""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Literal

#: How an attempt failed: no connection, no answer in time, the connection dropped before the
#: answer, an HTTP error status, a 200 stream that ended before its first content event, or
#: ccr itself (a transformer failed; ``status`` is what the client gets).
FailureKind = Literal["connect", "connect_timeout", "timeout", "dropped", "http", "broken_stream",
                      "internal"]

#: Statuses that say "not now" rather than "not this request".
TRANSIENT_STATUSES = frozenset({408, 409, 425, 429, 500, 502, 503, 504, 529})
KEY_STATUSES = frozenset({401, 403})

_CONTEXT_TOO_LONG = re.compile(
    r"context[ _-]?(length|window)|maximum context|context_length_exceeded|too many tokens"
    r"|prompt is too long|input is too long|reduce the length|tokens? exceeds?|"
    r"exceeds? the (model'?s? )?(maximum|max|limit)|input length|request too large",
    re.I,
)


class Verdict(Enum):
    """What the attempt loop does after a failure."""

    #: Throttled, overloaded or unreachable: retry this target (within limits), then move on.
    TRANSIENT = "transient"
    #: The key was refused: take it out of rotation and try the provider's next key.
    BAD_KEY = "bad_key"
    #: The conversation does not fit this model: try the session's ``longContext`` route.
    CONTEXT_TOO_LONG = "context_too_long"
    #: The request itself is wrong: no other target would take it; answer the client now.
    FATAL = "fatal"


@dataclass(frozen=True)
class Failure:
    """One failed attempt, as the attempt log and the final message describe it."""

    kind: FailureKind
    status: int | None = None
    #: The upstream's (or the transport's) own words, already scrubbed of keys.
    message: str = ""
    #: Seconds the upstream asked us to wait (``retry-after`` / ``retry-after-ms``).
    retry_after_s: float | None = None

    @property
    def verdict(self) -> Verdict:
        return classify(self)

    def describe(self) -> str:
        """A short phrase for the attempt log: ``429 (retry-after 30 s)``, ``connection
        refused``, ``timeout before the first byte``."""
        if self.kind == "http":
            text = str(self.status)
            if self.retry_after_s is not None:
                text += f" (retry-after {_seconds(self.retry_after_s)})"
            elif self.status in KEY_STATUSES:
                text += " (key refused)"
            elif classify(self) is Verdict.CONTEXT_TOO_LONG:
                text += " (context too long)"
            return text
        if self.kind == "connect":
            lowered = self.message.lower()
            if "refused" in lowered or "errno 111" in lowered or "connect call failed" in lowered:
                return "connection refused"
            if "name" in lowered and ("resolution" in lowered or "not known" in lowered):
                return "host name not found"
            return "cannot connect"
        return {
            "connect_timeout": "connect timeout",
            "timeout": "timeout before the first byte",
            "dropped": "connection dropped before the answer",
            "broken_stream": "stream ended before its first event",
            "internal": "failed inside ccr",
        }[self.kind]


def classify(failure: Failure) -> Verdict:
    """The :class:`Verdict` for one failure (see the module docstring)."""
    if failure.kind == "internal":
        return Verdict.FATAL
    if failure.kind != "http":
        return Verdict.TRANSIENT
    status = failure.status or 0
    if status in KEY_STATUSES:
        return Verdict.BAD_KEY
    if status in TRANSIENT_STATUSES or status >= 500:
        return Verdict.TRANSIENT
    if status in (400, 413, 422) and _CONTEXT_TOO_LONG.search(failure.message):
        return Verdict.CONTEXT_TOO_LONG
    return Verdict.FATAL


def parse_retry_after(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms`` (OpenAI, Azure) or ``retry-after`` (seconds or an
    HTTP date); None when absent or unreadable. Header names are matched case-insensitively."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms.strip())
        except ValueError:
            value = -1.0
        if value >= 0 and value == value and value != float("inf"):
            return value / 1000
    text = lowered.get("retry-after")
    if text is None:
        return None
    text = text.strip()
    try:
        value = float(text)
    except ValueError:
        pass
    else:
        return value if 0 <= value < float("inf") else None
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def _seconds(value: float) -> str:
    if value >= 10 or float(value).is_integer():
        return f"{value:.0f} s"
    return f"{value:.1f} s"

"""Per-conversation usage: which Claude Code session a request belongs to, and its last numbers.

The router uses the previous turn's real input tokens (as reported upstream) to decide on
long-context routing, so it needs the session id of each request and a bounded memory of usage.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from cachetools import TTLCache

SESSION_HEADER = "x-claude-code-session-id"
DEFAULT_MAX_SESSIONS = 1000
DEFAULT_SESSION_TTL = 86_400.0

#: Older Claude Code: ``user_<hash>_account_<uuid>_session_<uuid>``.
_LEGACY_USER_ID = re.compile(r"_session_([0-9A-Za-z][0-9A-Za-z-]*)\Z")


def session_id_from(headers: Mapping[str, str], body: Any) -> str | None:
    """The Claude Code session id of a request, or None; never raises on odd input.

    The ``X-Claude-Code-Session-Id`` header wins; otherwise ``metadata.user_id`` is read, either
    the JSON string of Claude Code 2.1 or the older ``user_..._session_<uuid>`` form.
    """
    from_header = _header_session(headers)
    if from_header is not None:
        return from_header
    return _metadata_session(body)


def _header_session(headers: Any) -> str | None:
    try:
        items = list(headers.items())
    except Exception:
        return None
    for key, value in items:
        if isinstance(key, str) and key.lower() == SESSION_HEADER:
            return _clean(value)
    return None


def _metadata_session(body: Any) -> str | None:
    if not isinstance(body, Mapping):
        return None
    metadata = body.get("metadata")
    if not isinstance(metadata, Mapping):
        return None
    user_id = metadata.get("user_id")
    if isinstance(user_id, str) and user_id.lstrip().startswith("{"):
        try:
            user_id = json.loads(user_id)
        except ValueError:
            return None
    if isinstance(user_id, Mapping):
        return _clean(user_id.get("session_id"))
    if isinstance(user_id, str):
        match = _LEGACY_USER_ID.search(user_id.strip())
        return match.group(1) if match else None
    return None


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    return value.strip() or None


@dataclass
class SessionUsage:
    """The last turn's token usage of one session, as the upstream reported it."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    turns: int = 0
    last_route: str | None = None
    updated_at: float = 0.0
    #: The whole session so far (every turn ccr saw): input tokens, cached or not, and output.
    #: Running totals, left out of comparisons: two snapshots of one last turn compare equal.
    session_input_tokens: int = field(default=0, compare=False)
    session_output_tokens: int = field(default=0, compare=False)

    @property
    def total_input(self) -> int:
        """All input tokens of the last turn, cached or not: what the context meter shows."""
        return self.input_tokens + self.cache_read_input_tokens + self.cache_creation_input_tokens


class SessionStore:
    """Bounded, expiring memory of :class:`SessionUsage` per session id.

    At most ``maxsize`` sessions are kept (least recently used go first) and a session not
    recorded for ``ttl`` seconds is forgotten. Returned values are copies.
    """

    def __init__(
        self,
        maxsize: int = DEFAULT_MAX_SESSIONS,
        ttl: float = DEFAULT_SESSION_TTL,
        timer: Callable[[], float] = time.monotonic,
    ) -> None:
        self._cache: TTLCache[str, SessionUsage] = TTLCache(maxsize=maxsize, ttl=ttl, timer=timer)
        self._lock = threading.Lock()

    def get(self, session_id: str) -> SessionUsage | None:
        with self._lock:
            usage = self._cache.get(session_id)
        return replace(usage) if usage is not None else None

    def record(
        self, session_id: str, usage: Mapping[str, Any] | None, route: str | None = None
    ) -> SessionUsage:
        """Store the usage of a finished turn and count it; ``route=None`` keeps the last one.

        ``usage`` is an Anthropic usage object; missing or malformed numbers count as 0.
        """
        numbers = usage if isinstance(usage, Mapping) else {}
        with self._lock:
            previous = self._cache.get(session_id)
            if route is None and previous is not None:
                route = previous.last_route
            current = SessionUsage(
                input_tokens=_token_count(numbers.get("input_tokens")),
                output_tokens=_token_count(numbers.get("output_tokens")),
                cache_read_input_tokens=_token_count(numbers.get("cache_read_input_tokens")),
                cache_creation_input_tokens=_token_count(
                    numbers.get("cache_creation_input_tokens")
                ),
                turns=(previous.turns if previous else 0) + 1,
                last_route=route,
                updated_at=time.time(),
            )
            current.session_input_tokens = current.total_input + (
                previous.session_input_tokens if previous else 0)
            current.session_output_tokens = current.output_tokens + (
                previous.session_output_tokens if previous else 0)
            self._cache[session_id] = current
        return replace(current)

    def last_input_tokens(self, session_id: str) -> int | None:
        """The last turn's total input tokens, or None for an unknown session."""
        usage = self.get(session_id)
        return usage.total_input if usage is not None else None

    def __len__(self) -> int:
        with self._lock:
            self._cache.expire()
            return len(self._cache)


def _token_count(value: Any) -> int:
    """A non-negative token count from a usage field that may be missing or malformed."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        return max(value, 0)
    if isinstance(value, float):
        return max(int(value), 0) if math.isfinite(value) else 0
    if isinstance(value, str):
        try:
            return max(int(value.strip()), 0)
        except ValueError:
            return 0
    return 0

"""Keep a session that fell back on its fallback while the primary cools down.

Without this a conversation would bounce between providers turn by turn (each with its own
caches and quirks) as the primary's half-open probes come and go. Once the primary is healthy
again the session returns to it.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

Clock = Callable[[], float]

#: Sessions remembered at most (the least recently used are forgotten first).
MAX_SESSIONS = 10_000
#: A pin not used for this long is forgotten.
PIN_TTL_S = 3600.0


@dataclass
class _Pin:
    fallback: str
    used_at: float


class StickyFallbacks:
    """``(session, primary route) → fallback route`` pins, bounded in number and age."""

    def __init__(self, clock: Clock = time.monotonic, *, max_sessions: int = MAX_SESSIONS,
                 ttl_s: float = PIN_TTL_S) -> None:
        self.clock = clock
        self.max_sessions = max_sessions
        self.ttl_s = ttl_s
        self._pins: OrderedDict[tuple[str, str], _Pin] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pins)

    def pin(self, session_id: str | None, primary: str, fallback: str) -> None:
        """The session's request for ``primary`` was answered by ``fallback``."""
        if not session_id or primary == fallback:
            return
        key = (session_id, primary)
        self._pins[key] = _Pin(fallback, self.clock())
        self._pins.move_to_end(key)
        while len(self._pins) > self.max_sessions:
            self._pins.popitem(last=False)

    def unpin(self, session_id: str | None, primary: str) -> None:
        if session_id:
            self._pins.pop((session_id, primary), None)

    def order(self, session_id: str | None, targets: list[str],
              primary_healthy: Callable[[str], bool]) -> list[str]:
        """``targets`` (primary first) with the session's pinned fallback moved to the front
        while the primary is unhealthy; the pin is dropped once the primary is healthy."""
        if not session_id or not targets:
            return targets
        primary = targets[0]
        key = (session_id, primary)
        pin = self._pins.get(key)
        if pin is None:
            return targets
        now = self.clock()
        if now - pin.used_at > self.ttl_s or primary_healthy(primary):
            del self._pins[key]
            return targets
        pin.used_at = now
        self._pins.move_to_end(key)
        return [pin.fallback, *[t for t in targets if t != pin.fallback]]

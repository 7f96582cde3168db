"""What the engine keeps for failing over: provider health, sticky fallbacks, provider gates.

Health, sticky fallbacks and the notes about sessions outlive a config reload (the new engine
takes them over, with the new ``COOLDOWN`` settings); the provider gates are rebuilt from each
config.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

from ccr.config.model import Config
from ccr.engine.health import Health
from ccr.engine.limits import ProviderGates
from ccr.engine.shared_health import SharedCooldowns
from ccr.engine.sticky import StickyFallbacks

Clock = Callable[[], float]

#: Sessions whose last fallback is remembered (for status lines), least recent dropped first.
MAX_NOTES = 10_000


class FallbackNotes:
    """Each session's last fallback in a few words (``deepseek 429 → openrouter``), cleared
    when the session's primary answers again."""

    def __init__(self, max_sessions: int = MAX_NOTES) -> None:
        self.max_sessions = max_sessions
        self._notes: OrderedDict[str, str] = OrderedDict()

    def set(self, session_id: str | None, note: str | None) -> None:
        if not session_id:
            return
        if note is None:
            self._notes.pop(session_id, None)
            return
        self._notes[session_id] = note
        self._notes.move_to_end(session_id)
        while len(self._notes) > self.max_sessions:
            self._notes.popitem(last=False)

    def get(self, session_id: str) -> str | None:
        return self._notes.get(session_id)


class MixedSessions:
    """Sessions whose history was written by more than one provider (bounded, least recent
    dropped first): their requests go out without foreign reasoning signatures."""

    def __init__(self, max_sessions: int = MAX_NOTES) -> None:
        self.max_sessions = max_sessions
        self._seen: OrderedDict[str, None] = OrderedDict()

    def __contains__(self, session_id: object) -> bool:
        return session_id in self._seen

    def add(self, session_id: str | None) -> None:
        if not session_id:
            return
        self._seen[session_id] = None
        self._seen.move_to_end(session_id)
        while len(self._seen) > self.max_sessions:
            self._seen.popitem(last=False)


@dataclass
class ResilienceState:
    health: Health
    sticky: StickyFallbacks
    gates: ProviderGates
    notes: FallbackNotes = field(default_factory=FallbackNotes)
    mixed: MixedSessions = field(default_factory=MixedSessions)
    #: Cooldowns mirrored through the state store (several instances), when the server has one.
    shared: SharedCooldowns | None = None

    @classmethod
    def build(cls, config: Config, clock: Clock = time.monotonic) -> ResilienceState:
        settings = config.resilience
        return cls(
            health=Health(settings.cooldown, clock),
            sticky=StickyFallbacks(clock),
            gates=ProviderGates(dict(settings.provider_concurrency),
                                timeout_s=max(1.0, config.api_timeout_ms / 1000)),
        )

    def take_over(self, previous: ResilienceState, config: Config) -> None:
        """Keep what the previous engine learned about providers and sessions."""
        self.health = previous.health
        self.health.adopt(config.resilience.cooldown)
        self.sticky = previous.sticky
        self.notes = previous.notes
        self.mixed = previous.mixed
        self.shared = previous.shared

    def providers(self, config: Config) -> list[tuple[str, tuple[str | None, ...]]]:
        """``(name, keys)`` of every configured provider, as health views take them."""
        return [(p.name, tuple(p.api_keys) or (None,)) for p in config.providers]

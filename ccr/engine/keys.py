"""A provider's key pool: requests spread over the healthy keys.

A 429 cools that key only; a 401/403 takes it out of rotation until the config changes. Keys
are tracked by a fingerprint (never the key) so their state survives a reload, and shown by
position and last four characters: ``#2 …f00d``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ccr.config.resilience import CooldownPolicy
from ccr.engine.breaker import Breaker


def fingerprint(key: str | None) -> str:
    """A stable, non-reversible id for a key (``-`` for a provider without one)."""
    if not key:
        return "-"
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def mask(position: int, key: str | None) -> str:
    """How a key is named in logs, errors and status: ``#1 …abcd`` (1-based position)."""
    if not key:
        return f"#{position + 1}"
    tail = key[-4:] if len(key) >= 12 else ""
    return f"#{position + 1} …{tail}" if tail else f"#{position + 1}"


@dataclass
class KeyState:
    breaker: Breaker
    #: The status that took the key out of rotation (401/403), or None while it is in.
    revoked: int | None = None
    requests: int = 0


@dataclass(frozen=True)
class KeyChoice:
    position: int
    key: str | None
    label: str


@dataclass
class KeyPool:
    """The state of every key a provider has had; which of them are configured is passed in
    (so a reload that changes the keys needs no new pool)."""

    policy: CooldownPolicy
    states: dict[str, KeyState] = field(default_factory=dict)
    cursor: int = 0

    def state(self, key: str | None) -> KeyState:
        fp = fingerprint(key)
        found = self.states.get(fp)
        if found is None:
            found = self.states[fp] = KeyState(Breaker(self.policy))
        found.breaker.policy = self.policy
        return found

    def usable(self, key: str | None, now: float) -> bool:
        state = self.state(key)
        return state.revoked is None and state.breaker.available(now)

    def pick(self, keys: tuple[str | None, ...], now: float,
             exclude: frozenset[int] = frozenset()) -> KeyChoice | None:
        """The next usable key after the last one picked (round robin), claiming a half-open
        key's probe; None when every key is cooling, revoked or excluded."""
        count = len(keys)
        for step in range(count):
            position = (self.cursor + step) % count
            if position in exclude:
                continue
            key = keys[position]
            state = self.state(key)
            if state.revoked is None and state.breaker.acquire(now):
                self.cursor = (position + 1) % count
                state.requests += 1
                return KeyChoice(position, key, mask(position, key))
        return None

    def revoke(self, key: str | None, status: int) -> None:
        self.state(key).revoked = status

    def cooldown_left(self, keys: tuple[str | None, ...], now: float) -> float:
        """Seconds until some key can be tried again (0 if one can now; inf if all revoked)."""
        waits = [self.state(k).breaker.cooldown_left(now) for k in keys
                 if self.state(k).revoked is None]
        return min(waits) if waits else float("inf")

    def describe(self, keys: tuple[str | None, ...], now: float) -> list[dict[str, Any]]:
        """Each configured key's state for status pages: masked, never the key itself."""
        out = []
        for position, key in enumerate(keys):
            state = self.state(key)
            if state.revoked is not None:
                status = "revoked"
            else:
                status = {"ok": "ok", "cooling": "cooling", "half_open": "probing"}[
                    state.breaker.state(now)]
            entry: dict[str, Any] = {"key": mask(position, key), "state": status,
                                     "requests": state.requests}
            if state.revoked is not None:
                entry["reason"] = f"refused with {state.revoked}"
            elif status == "cooling":
                entry["cooldown_s"] = round(state.breaker.cooldown_left(now), 1)
                entry["reason"] = state.breaker.reason
            out.append(entry)
        return out

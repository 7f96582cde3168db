"""Provider cooldowns shared through the state store: a provider (or one of its keys) that
answered 429 or failed is skipped by every instance until its cooldown ends.

The engine calls :meth:`Cooldowns.start` when an upstream says "not now" (with the
``Retry-After`` it sent, when any) and :meth:`Cooldowns.remaining` before choosing a target.
"""

from __future__ import annotations

import time

from ccr.state.base import StateStore

#: Never wait longer than this, whatever a Retry-After says.
MAX_COOLDOWN_S = 3600.0


class Cooldowns:
    def __init__(self, store: StateStore, *, prefix: str = "cooldown:") -> None:
        self.store = store
        self.prefix = prefix

    async def start(self, target: str, seconds: float, reason: str = "") -> float:
        """Put ``target`` (``provider`` or ``provider#key-id``) in cooldown; the end time."""
        seconds = min(max(seconds, 0.0), MAX_COOLDOWN_S)
        until = time.time() + seconds
        if seconds > 0:
            await self.store.set(self.prefix + target, {"until": until, "reason": reason[:200]},
                                 ttl_s=seconds)
        return until

    async def remaining(self, target: str) -> float:
        """Seconds left of ``target``'s cooldown (0 when it may be used)."""
        record = await self.store.get(self.prefix + target)
        if not isinstance(record, dict):
            return 0.0
        until = record.get("until")
        return max(float(until) - time.time(), 0.0) if isinstance(until, int | float) else 0.0

    async def clear(self, target: str) -> None:
        """End a cooldown early (the target answered again)."""
        await self.store.delete(self.prefix + target)

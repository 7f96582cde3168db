"""Self-tuning ``max_tokens``: a provider's 400 that names its output limit is learned once.

The most common first-run failure behind any proxy is a provider refusing Claude Code's
``max_tokens`` (32000 or 64000) because the model allows fewer output tokens. When an upstream
answers 400 with a message that names the limit (OpenAI, DeepSeek, Anthropic-compatible, Groq,
Gemini/Vertex and the generic "max_tokens … at most N" wordings), ccr clamps ``max_tokens`` to
it, retries that request once, remembers the limit for that provider and model, and logs it once;
later requests are clamped before they are sent. A thinking budget that would no longer fit
below the clamped ``max_tokens`` is lowered with it (Anthropic-style upstreams require
``budget_tokens < max_tokens``). Limits are shared through the server's state store, so
instances using one store learn each limit once. ``ccr status`` lists what was learned.

Nothing is guessed: a 400 that does not name a smaller limit is the client's answer as it was.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from ccr.errors import ApiError

log = logging.getLogger("ccr")

T = TypeVar("T")

#: Anthropic's minimum thinking budget; a budget that cannot stay this large is dropped.
MIN_THINKING_BUDGET = 1024

_FIELD = r"(?:max_tokens|max_completion_tokens|max_output_tokens|maxOutputTokens|max_new_tokens)"
#: (pattern, adjustment): the limit is the group's number plus the adjustment.
_PATTERNS: tuple[tuple[re.Pattern[str], int], ...] = tuple(
    (re.compile(pattern, re.IGNORECASE | re.DOTALL), adjust) for pattern, adjust in (
        # OpenAI: "This model supports at most 16384 completion tokens"
        (r"supports at most (\d+) (?:completion|output) tokens", 0),
        # DeepSeek: "the valid range of max_tokens is [1, 8192]"
        (_FIELD + r"[^\[]{0,40}range[^\[]{0,20}\[\s*\d+\s*,\s*(\d+)\s*\]", 0),
        # Anthropic-compatible: "max_tokens: 64000 > 32000, which is the maximum allowed"
        (_FIELD + r"\W{0,3}\s*\d+\s*>\s*(\d+),? which is the maximum", 0),
        # Gemini / Vertex: "supported range is from 1 (inclusive) to 65537 (exclusive)"
        (_FIELD + r".{0,120}?range is from \d+ \(inclusive\) to (\d+) \(exclusive\)", -1),
        # Groq and generic: "max_tokens must be less than or equal to `8192`", "… at most 4096"
        (_FIELD + r"[^0-9]{0,80}?(?:less than or equal to|at most|maximum(?: value)?(?: is| of)?"
         r"|must be <=|<=|cannot exceed|must not exceed|up to)\s*[`'\"]?(\d+)", 0),
    ))


def limit_from_error(message: str, requested: int | None) -> int | None:
    """The output limit a 400's message names, when it is below what was requested."""
    for pattern, adjust in _PATTERNS:
        match = pattern.search(message)
        if match:
            limit = int(match.group(1)) + adjust
            if limit > 0 and (requested is None or limit < requested):
                return limit
    return None


def clamp(body: dict[str, Any], limit: int) -> dict[str, Any]:
    """A copy of an Anthropic request with ``max_tokens`` at most ``limit`` (and its thinking
    budget below it); the same object when nothing changes."""
    current = body.get("max_tokens")
    if not isinstance(current, int) or current <= limit:
        return body
    out = {**body, "max_tokens": limit}
    thinking = body.get("thinking")
    if isinstance(thinking, dict) and isinstance(thinking.get("budget_tokens"), int) \
            and thinking["budget_tokens"] >= limit:
        budget = limit - 1
        if budget >= MIN_THINKING_BUDGET:
            out["thinking"] = {**thinking, "budget_tokens": budget}
        else:
            out.pop("thinking")
    return out


#: How long a "nothing learned" answer from the shared store is trusted before asking again.
SHARED_RECHECK_S = 60.0


class SharedValues(Protocol):
    """The part of the state store (:mod:`ccr.state`) the limits are shared through, so every
    ccr instance using one store learns a limit once."""

    async def get(self, key: str) -> Any: ...

    async def set(self, key: str, value: Any, ttl_s: float | None = None) -> None: ...


@dataclass(frozen=True)
class Learned:
    provider: str
    model: str
    limit: int
    learned_at: float


class OutputLimits:
    """Learned output limits by (provider, model); lives in the engine's stores, so it
    survives config reloads."""

    def __init__(self) -> None:
        self._limits: dict[tuple[str, str], Learned] = {}
        self._shared: SharedValues | None = None
        self._checked: dict[tuple[str, str], float] = {}

    def share(self, store: SharedValues | None) -> None:
        """Learn from and teach the other instances using ``store`` (the server's state store)."""
        self._shared = store
        self._checked.clear()

    def get(self, provider: str, model: str) -> int | None:
        learned = self._limits.get((provider, model))
        return learned.limit if learned is not None else None

    def learn(self, provider: str, model: str, limit: int) -> bool:
        """Remember ``limit``; True (and one log line) when it is new or lower than before."""
        known = self.get(provider, model)
        if known is not None and known <= limit:
            return False
        self._limits[(provider, model)] = Learned(provider, model, limit, time.time())
        log.warning("%s,%s accepts at most %d output tokens: max_tokens is clamped to that "
                    "from now on", provider, model, limit)
        return True

    def snapshot(self) -> list[dict[str, Any]]:
        """What was learned, for ``/health`` and ``ccr status``."""
        return [{"route": f"{item.provider},{item.model}", "max_tokens": item.limit,
                 "learned_at": round(item.learned_at, 1)}
                for item in sorted(self._limits.values(), key=lambda i: (i.provider, i.model))]

    async def known(self, provider: str, model: str) -> int | None:
        """The limit learned here or, through the shared store, by another instance (asked at
        most every :data:`SHARED_RECHECK_S` while nothing is known)."""
        limit = self.get(provider, model)
        shared = self._shared
        if limit is not None or shared is None:
            return limit
        now = time.monotonic()
        if now - self._checked.get((provider, model), -SHARED_RECHECK_S) < SHARED_RECHECK_S:
            return None
        self._checked[(provider, model)] = now
        try:
            value = await shared.get(_key(provider, model))
        except Exception:  # the store reports its own health; a limit is an optimisation
            return None
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            self.learn(provider, model, value)
            return value
        return None

    async def _teach(self, provider: str, model: str, limit: int) -> None:
        if self._shared is None:
            return
        try:
            await self._shared.set(_key(provider, model), limit)
        except Exception:
            log.debug("could not share the output limit of %s,%s", provider, model)

    async def open(self, provider: str, model: str, body: dict[str, Any],
                   send: Callable[[dict[str, Any]], Awaitable[T]]) -> T:
        """``send(body)`` with a learned limit applied; a 400 naming a smaller limit is learned
        and the request sent once more, clamped."""
        known = await self.known(provider, model)
        if known is not None:
            body = clamp(body, known)
        try:
            return await send(body)
        except ApiError as exc:
            requested = body.get("max_tokens")
            limit = limit_from_error(exc.message, requested if isinstance(requested, int)
                                     else None) if exc.status == 400 else None
            if limit is None:
                raise
        if self.learn(provider, model, limit):
            await self._teach(provider, model, limit)
        return await send(clamp(body, limit))


def _key(provider: str, model: str) -> str:
    return f"output_limit:{provider},{model}"

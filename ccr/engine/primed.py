"""Read a stream ahead to its first content event before anything reaches the client.

Until then a failure (a cut connection, an ``event: error`` from the upstream) can still move
to another target: the client has seen no event. After it, the stream is the answer and a
failure ends it with ``event: error``, never with a second answer spliced in.

An exchange's ``events()`` yields one empty item when the upstream's first valid event
arrives (the provider has begun answering): :meth:`PrimedStream.prime` tells its ``on_began``
then, and the item goes no further.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import suppress
from typing import Protocol

from ccr.engine.failures import Failure

#: Events that carry (or end) the answer; ``message_start`` and ``ping`` do not.
_CONTENT = (b"event: content_block_start", b"event: content_block_delta",
            b"event: message_delta", b"event: message_stop")
_ERROR = b"event: error"


class _Outcome(Protocol):
    @property
    def error(self) -> str | None: ...

    @property
    def permanent(self) -> bool: ...


class _Streaming(Protocol):
    @property
    def outcome(self) -> _Outcome: ...

    def events(self) -> AsyncIterator[bytes]: ...


class PrimedStream:
    """An exchange's events with the head already read: :meth:`events` replays it, then goes
    on with the rest."""

    def __init__(self, head: list[bytes], rest: AsyncIterator[bytes] | None) -> None:
        self.head = head
        self.rest = rest

    @classmethod
    async def prime(cls, exchange: _Streaming, *,
                    on_began: Callable[[], Awaitable[None]] | None = None
                    ) -> PrimedStream | Failure:
        """The primed stream, or the :class:`Failure` that ended it before its first content
        event (its upstream response is closed). ``on_began`` is awaited when the upstream's
        first valid event arrives."""
        source = exchange.events()
        head: list[bytes] = []
        try:
            async for data in source:
                if not data:  # the upstream began answering
                    if on_began is not None:
                        began, on_began = on_began, None
                        await began()
                    continue
                head.append(data)
                if exchange.outcome.permanent:
                    return cls(head, source)  # ccr's own failure: the stream is the answer
                if _ERROR in data or exchange.outcome.error:
                    await _close(source)
                    return Failure("broken_stream", message=exchange.outcome.error or "")
                if any(marker in data for marker in _CONTENT):
                    return cls(head, source)
        except BaseException:
            await _close(source)
            raise
        return cls(head, None)  # ended without content (an empty answer): still an answer

    async def events(self) -> AsyncIterator[bytes]:
        head, self.head = self.head, []
        for data in head:
            yield data
        if self.rest is None:
            return
        try:
            async for data in self.rest:
                if data:
                    yield data
        finally:
            await _close(self.rest)

    async def aclose(self) -> None:
        if self.rest is not None:
            await _close(self.rest)


async def _close(source: AsyncIterator[bytes]) -> None:
    closer = getattr(source, "aclose", None)
    if closer is not None:
        with suppress(Exception):
            await closer()

"""What both kinds of exchange share: the outcome record and the upstream read loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ccr.engine.upstream import body_reads, classify, scrub
from ccr.errors import ApiError, CcrError, TransformerFailed
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext


@dataclass
class Outcome:
    """What happened, for the log line and the session's usage."""

    status: int = 200
    usage: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    error: str | None = None
    #: Seconds from sending the request to the upstream's response headers.
    upstream_latency_s: float | None = None
    #: The failure was ccr's own (a configured transformer), not the provider's: another
    #: attempt would fail the same way.
    permanent: bool = False
    #: Upstream calls the request took (retries, other keys and fallbacks included).
    attempts: int = 1


@dataclass
class BaseExchange:
    route: Route
    ctx: TransformContext
    response: httpx.Response
    input_estimate: int
    outcome: Outcome
    idle_s: float
    ping_interval_s: float

    @property
    def agent_name(self) -> str | None:
        """The internal agent running inside this exchange, if any (for the log line)."""
        return None

    def fail(self, exc: ApiError) -> ApiError:
        """Record a failure on the outcome, the message scrubbed of the provider's key (some
        upstreams echo it) and of anything key-shaped."""
        exc.message = scrub(exc.message, {"x-api-key": self.route.provider.api_key or ""})
        exc.args = (exc.message,)
        self.outcome.status = exc.status
        self.outcome.error = exc.message
        self.outcome.permanent = isinstance(exc, TransformerFailed)
        return exc

    async def read_body(self) -> bytes:
        try:
            return await asyncio.wait_for(self.response.aread(), self.idle_s)
        except (TimeoutError, httpx.HTTPError) as exc:
            raise self.fail(ApiError(
                f"provider {self.route.provider.name} stopped answering: {type(exc).__name__}", 502
            )) from None
        finally:
            await self.response.aclose()

    async def reads(self) -> AsyncGenerator[bytes, None]:
        """Upstream body reads as they arrive, then ``b""`` once at the end. Silence longer
        than ``idle_s`` while waiting for a read raises ``TimeoutError``; time the caller spends
        handling data does not count. The response is closed when the caller stops iterating."""
        watch = _IdleWatch(self.idle_s)
        source = body_reads(self.response)
        try:
            while True:
                watch.reading = True
                watch.since = watch.loop.time()
                try:
                    data = await anext(source)
                except StopAsyncIteration:
                    break
                except asyncio.CancelledError:
                    if watch.expired and watch.task.uncancel() == 0:
                        raise TimeoutError(f"no data for {self.idle_s:g}s") from None
                    raise
                finally:
                    watch.reading = False
                if data:
                    yield data
            yield b""
        finally:
            watch.stop()
            await self.response.aclose()

    def stream_failure(self, exc: BaseException) -> ApiError:
        """The client-facing error for a stream the upstream did not finish."""
        if isinstance(exc, ApiError):
            return self.fail(exc)
        name = self.route.provider.name
        kind, _ = classify(exc) if not isinstance(exc, Dropped) else ("dropped", "")
        if kind in ("timeout", "connect_timeout"):
            message = (f"provider {name} sent nothing for {self.idle_s:g}s and the stream "
                       "was abandoned")
        else:
            message = f"provider {name} ended the stream before it finished"
        return self.fail(ApiError(message, 502))


class _IdleWatch:
    """One timer per stream that cancels the read it finds waiting longer than ``idle_s``.
    A read only stores a timestamp: re-arming a timer per read costs more than the read."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.loop = asyncio.get_running_loop()
        task = asyncio.current_task()
        assert task is not None
        self.task = task
        self.reading = False
        self.expired = False
        self.since = self.loop.time()
        self._handle = self.loop.call_later(idle_s, self._check)

    def _check(self) -> None:
        now = self.loop.time()
        if self.reading and now - self.since >= self.idle_s:
            self.expired = True
            self.task.cancel()
            return
        due = self.since + self.idle_s if self.reading else now + self.idle_s
        self._handle = self.loop.call_at(due, self._check)

    def stop(self) -> None:
        self._handle.cancel()


class Dropped(CcrError):
    """The upstream closed the stream without finishing the message."""


async def _next(source: AsyncIterator[bytes]) -> bytes:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return b""

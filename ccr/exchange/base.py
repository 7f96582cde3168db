"""What both kinds of exchange share: the outcome record and the upstream read loop."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ccr.errors import ApiError
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.upstream import classify, scrub


@dataclass
class Outcome:
    """What happened, for the log line and the session's usage."""

    status: int = 200
    usage: dict[str, Any] = field(default_factory=dict)
    stop_reason: str | None = None
    error: str | None = None
    #: Seconds from sending the request to the upstream's response headers.
    upstream_latency_s: float | None = None


@dataclass
class BaseExchange:
    route: Route
    ctx: TransformContext
    response: httpx.Response
    input_estimate: int
    outcome: Outcome
    idle_s: float
    ping_interval_s: float

    def fail(self, exc: ApiError) -> ApiError:
        """Record a failure on the outcome, the message scrubbed of the provider's key (some
        upstreams echo it) and of anything key-shaped."""
        exc.message = scrub(exc.message, {"x-api-key": self.route.provider.api_key or ""})
        exc.args = (exc.message,)
        self.outcome.status = exc.status
        self.outcome.error = exc.message
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

    async def reads(self) -> AsyncIterator[bytes]:
        """Upstream body reads as they arrive, then ``b""`` once at the end. Silence longer
        than ``idle_s`` between reads raises ``TimeoutError`` (one timer, re-armed per read and
        disarmed while the caller handles the data). The response is closed when the caller
        stops iterating."""
        loop = asyncio.get_running_loop()
        source = self.response.aiter_bytes().__aiter__()
        try:
            async with asyncio.timeout(None) as deadline:
                while True:
                    deadline.reschedule(loop.time() + self.idle_s)
                    try:
                        data = await anext(source)
                    except StopAsyncIteration:
                        break
                    deadline.reschedule(None)
                    if data:
                        yield data
            yield b""
        finally:
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


class Dropped(Exception):
    """The upstream closed the stream without finishing the message."""


async def _next(source: AsyncIterator[bytes]) -> bytes:
    try:
        return await source.__anext__()
    except StopAsyncIteration:
        return b""

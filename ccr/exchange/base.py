"""What both kinds of exchange share: the outcome record and the upstream read loop."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx

from ccr.errors import ApiError
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.upstream import scrub

#: What :func:`read_with_pings` yields when the client is due a ``ping`` event.
PING = None


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

    async def reads(self) -> AsyncIterator[bytes | None]:
        """Upstream body reads as they arrive; :data:`PING` after ``ping_interval_s`` of
        silence; ``b""`` once at the end. Raises ``httpx.ReadTimeout`` after ``idle_s`` of
        silence. The response is closed when the caller stops iterating."""
        source = self.response.aiter_bytes().__aiter__()
        pending: asyncio.Future[bytes] | None = None
        last_read = time.monotonic()
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(_next(source))
                done, _ = await asyncio.wait({pending}, timeout=self.ping_interval_s)
                if not done:
                    if time.monotonic() - last_read > self.idle_s:
                        raise httpx.ReadTimeout("no data")
                    yield PING
                    continue
                data = pending.result()
                pending = None
                last_read = time.monotonic()
                yield data
                if not data:
                    return
        finally:
            if pending is not None:
                pending.cancel()
            await self.response.aclose()

    def stream_failure(self, exc: BaseException) -> ApiError:
        """The client-facing error for a stream the upstream did not finish."""
        if isinstance(exc, ApiError):
            return self.fail(exc)
        name = self.route.provider.name
        if isinstance(exc, httpx.TimeoutException):
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

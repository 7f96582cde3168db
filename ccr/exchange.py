"""One round trip: Anthropic request → transformer chain → upstream → back to Anthropic.

The server calls :func:`open_exchange` (which fails with a proper HTTP error while nothing has
been sent to the client yet), then either :meth:`Exchange.json` or :meth:`Exchange.events`.
Stream events are converted and yielded as they arrive; nothing is buffered whole.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from ccr.convert.request import anthropic_to_openai
from ccr.convert.response import openai_to_anthropic
from ccr.convert.stream import StreamConverter
from ccr.errors import ApiError
from ccr.protocol.sse import SSEDecoder, encode_event
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.transformers.chain import Chain
from ccr.upstream import Upstream, scrub


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
class Exchange:
    route: Route
    chain: Chain
    ctx: TransformContext
    response: httpx.Response
    input_estimate: int
    outcome: Outcome
    idle_s: float
    ping_interval_s: float

    async def json(self) -> dict[str, Any]:
        """The whole upstream answer as one Anthropic message."""
        try:
            raw = await asyncio.wait_for(self.response.aread(), self.idle_s)
        except (TimeoutError, httpx.HTTPError) as exc:
            raise self._fail(ApiError(
                f"provider {self.route.provider.name} stopped answering: {type(exc).__name__}", 502
            )) from None
        finally:
            await self.response.aclose()
        try:
            data = json.loads(raw)
        except ValueError:
            raise self._fail(ApiError(
                f"provider {self.route.provider.name} sent a response that is not JSON", 502
            )) from None
        try:
            data = self.chain.response(data, self.ctx)
            message = openai_to_anthropic(
                data,
                model=self.route.model,
                stop_sequences=self.ctx.original.get("stop_sequences"),
                input_tokens_estimate=self.input_estimate,
            )
        except ApiError as exc:
            raise self._fail(exc) from None
        self.outcome.usage = message.get("usage") or {}
        self.outcome.stop_reason = message.get("stop_reason")
        return message

    async def events(self) -> AsyncIterator[bytes]:
        """Anthropic SSE bytes, one write per upstream read; errors become ``event: error``."""
        converter = StreamConverter(
            model=self.route.model,
            input_tokens=self.input_estimate,
            stop_sequences=self.ctx.original.get("stop_sequences"),
        )
        yield _encode(converter.start())
        decoder = SSEDecoder()
        reads = self.response.aiter_bytes().__aiter__()
        pending: asyncio.Future[bytes] | None = None
        last_read = time.monotonic()
        finished = saw_finish = saw_done = False
        try:
            while not finished:
                if pending is None:
                    pending = asyncio.ensure_future(_next(reads))
                done, _ = await asyncio.wait({pending}, timeout=self.ping_interval_s)
                if not done:
                    if time.monotonic() - last_read > self.idle_s:
                        raise httpx.ReadTimeout("no data")
                    yield encode_event("ping", {"type": "ping"})
                    continue
                data = pending.result()
                pending = None
                last_read = time.monotonic()
                at_eof = not data
                events = decoder.flush() if at_eof else decoder.feed(data)
                out: list[tuple[str, dict[str, Any]]] = []
                chunks: list[dict[str, Any]] = []
                for event in events:
                    if event.data == "[DONE]":
                        finished = saw_done = True
                        break
                    if event.data:
                        chunks += self.chain.chunk(_parse_chunk(event.data), self.ctx)
                if finished or at_eof:
                    finished = True
                    chunks += self.chain.end(self.ctx)
                for chunk in chunks:
                    saw_finish = saw_finish or _has_finish(chunk)
                    out += converter.feed(chunk)
                if finished:
                    if not (saw_finish or saw_done):
                        if out:
                            yield _encode(out)
                        raise _Dropped()
                    out += converter.finish()
                if out:
                    yield _encode(out)
        except ApiError as exc:
            self._fail(exc)
            yield _encode(converter.fail(exc.error_type, exc.message))
        except (_Dropped, httpx.HTTPError) as exc:
            if isinstance(exc, httpx.TimeoutException):
                message = (f"provider {self.route.provider.name} sent nothing for "
                           f"{self.idle_s:g}s and the stream was abandoned")
            else:
                message = f"provider {self.route.provider.name} ended the stream before it finished"
            self._fail(ApiError(message, 502))
            yield _encode(converter.fail("api_error", message))
        finally:
            if pending is not None:
                pending.cancel()
            await self.response.aclose()
        self.outcome.usage = converter.usage
        self.outcome.stop_reason = converter.stop_reason

    def _fail(self, exc: ApiError) -> ApiError:
        exc.message = scrub(exc.message, {})
        self.outcome.status = exc.status
        self.outcome.error = exc.message
        return exc


class _Dropped(Exception):
    """The upstream closed the stream without finishing the message."""


def _has_finish(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices")
    return bool(choices) and any(
        isinstance(c, dict) and c.get("finish_reason") for c in choices
    )


async def _next(reads: AsyncIterator[bytes]) -> bytes:
    try:
        return await reads.__anext__()
    except StopAsyncIteration:
        return b""


def _parse_chunk(data: str) -> dict[str, Any]:
    try:
        chunk = json.loads(data)
    except ValueError:
        raise ApiError(f"upstream sent a stream event that is not JSON: {data[:80]!r}", 502) \
            from None
    if not isinstance(chunk, dict):
        raise ApiError("upstream sent a stream event that is not a JSON object", 502)
    return chunk


def _encode(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in events)


async def open_exchange(
    *,
    body: dict[str, Any],
    route: Route,
    chain: Chain,
    upstream: Upstream,
    input_estimate: int,
    on_sent: Callable[[], None] | None = None,
) -> Exchange:
    """Convert and send; raises :class:`ApiError` (nothing sent to the client yet) on failure."""
    stream = bool(body.get("stream"))
    ctx = TransformContext(provider=route.provider, model=route.model, stream=stream,
                           original=body)
    unified = anthropic_to_openai(body, route.model)
    http = chain.request(unified, ctx)
    started = time.monotonic()
    response = await upstream.open(http, provider=route.provider.name)
    outcome = Outcome(upstream_latency_s=time.monotonic() - started)
    return Exchange(route, chain, ctx, response, input_estimate, outcome,
                    idle_s=upstream.timeouts.idle_s, ping_interval_s=upstream.timeouts.ping_s)

"""The converted round trip: unified request out through the chain, OpenAI-shaped answers
back through it and into Anthropic JSON or SSE, converted event by event as they arrive."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass, field
from typing import Any

import httpx

from ccr.convert.response import openai_to_anthropic
from ccr.convert.stream import StreamConverter
from ccr.errors import ApiError
from ccr.exchange.base import PING, BaseExchange, Dropped
from ccr.protocol.sse import SSEDecoder, encode_event
from ccr.transformers.chain import Chain


@dataclass
class ConvertedExchange(BaseExchange):
    chain: Chain | None = None

    async def json(self) -> dict[str, Any]:
        """The whole upstream answer as one Anthropic message."""
        raw = await self.read_body()
        assert self.chain is not None
        try:
            data = json.loads(raw)
        except ValueError:
            raise self.fail(ApiError(
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
            raise self.fail(exc) from None
        self.outcome.usage = message.get("usage") or {}
        self.outcome.stop_reason = message.get("stop_reason")
        return message

    async def events(self) -> AsyncIterator[bytes]:
        """Anthropic SSE bytes, one write per upstream read; errors become ``event: error``."""
        state = _StreamState(StreamConverter(
            model=self.route.model,
            input_tokens=self.input_estimate,
            stop_sequences=self.ctx.original.get("stop_sequences"),
        ))
        yield _encode(state.converter.start())
        try:
            async with aclosing(self.reads()) as reads:
                async for data in reads:
                    if data is PING:
                        yield encode_event("ping", {"type": "ping"})
                        continue
                    out = self._step(state, data)
                    if out:
                        yield _encode(out)
                    if state.finished:
                        break
            if not (state.saw_finish or state.saw_done):
                raise Dropped()
        except (ApiError, Dropped, httpx.HTTPError) as exc:
            error = self.stream_failure(exc)
            yield _encode(state.converter.fail(error.error_type, error.message))
        self.outcome.usage = state.converter.usage
        self.outcome.stop_reason = state.converter.stop_reason

    def _step(self, state: _StreamState, data: bytes) -> list[tuple[str, dict[str, Any]]]:
        """Convert one upstream read (``b""`` at the end of the body) into Anthropic events."""
        assert self.chain is not None
        chain, ctx = self.chain, self.ctx
        at_end = not data
        chunks: list[dict[str, Any]] = []
        for event in state.decoder.flush() if at_end else state.decoder.feed(data):
            if event.data == "[DONE]":
                at_end = state.saw_done = True
                break
            if event.data:
                chunks += chain.chunk(_parse_chunk(event.data), ctx)
        if at_end:
            chunks += chain.end(ctx)
        out: list[tuple[str, dict[str, Any]]] = []
        for chunk in chunks:
            state.saw_finish = state.saw_finish or _has_finish(chunk)
            out += state.converter.feed(chunk)
        if at_end:
            state.finished = True
            if state.saw_finish or state.saw_done:
                out += state.converter.finish()
        return out


@dataclass
class _StreamState:
    converter: StreamConverter
    decoder: SSEDecoder = field(default_factory=SSEDecoder)
    finished: bool = False
    saw_finish: bool = False
    saw_done: bool = False


def _has_finish(chunk: dict[str, Any]) -> bool:
    choices = chunk.get("choices")
    return bool(choices) and any(
        isinstance(c, dict) and c.get("finish_reason") for c in choices
    )


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

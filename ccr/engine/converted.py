"""The converted round trip: unified request out through the chain, OpenAI-shaped answers
back through it and into Anthropic JSON or SSE, converted event by event as they arrive.

With an agent (see :mod:`ccr.agents`), a turn whose only tool calls are the agent's own is not
shown to the client: ccr runs those tools, asks the model again with their results and
continues the same client message with the new answer (up to ``MAX_ROUNDS`` times).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing, suppress
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ccr.agents.base import MAX_ROUNDS, AgentRun, InternalCalls
from ccr.convert.request import anthropic_to_openai
from ccr.convert.response import openai_to_anthropic
from ccr.convert.stream import StreamConverter
from ccr.engine.readahead import read_ahead
from ccr.engine.roundtrip import BaseExchange, Dropped
from ccr.engine.upstream import Upstream
from ccr.errors import ApiError
from ccr.protocol import codec
from ccr.protocol.sse import SSEDecoder, encode_event
from ccr.transformers.chain import Chain

#: After ``[DONE]``, how long to wait for the end of the body so the connection can be reused.
DRAIN_S = 1.0


@dataclass
class ConvertedExchange(BaseExchange):
    chain: Chain | None = None
    upstream: Upstream | None = None
    agent: AgentRun | None = None

    @property
    def agent_name(self) -> str | None:
        return self.agent.name if self.agent is not None else None

    async def json(self) -> dict[str, Any]:
        """The whole upstream answer as one Anthropic message."""
        earlier_text: list[str] = []
        carried_output = 0
        while True:
            data = self._parse_body(await self.read_body())
            calls = self._calls()
            try:
                data = await self._chain_response(data)
                if calls is not None:
                    data = calls.response(data)
            except ApiError as exc:
                raise self.fail(exc) from None
            if calls is None or not calls.pending or not self._may_continue():
                break
            earlier_text += calls.text
            carried_output += _completion_tokens(data)
            results = [await self._run(call, calls) for call in calls.calls]
            await self._continue(calls, results)
        try:
            message = openai_to_anthropic(
                data,
                model=self.route.model,
                stop_sequences=self.ctx.original.get("stop_sequences"),
                input_tokens_estimate=self.input_estimate,
            )
        except ApiError as exc:
            raise self.fail(exc) from None
        except (TypeError, AttributeError, KeyError, IndexError):
            raise self.fail(ApiError(
                f"provider {self.route.provider.name} sent a chat completion ccr cannot read "
                "(a field has the wrong type)", 502,
            )) from None
        _prepend_text(message, "".join(earlier_text))
        if carried_output and isinstance(message.get("usage"), dict):
            message["usage"]["output_tokens"] = message["usage"].get("output_tokens", 0) + \
                carried_output
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
            while True:
                state.calls = self._calls()
                async with (aclosing(self.reads()) as upstream_reads,
                            aclosing(read_ahead(upstream_reads, self._chain)) as reads):
                    async for data in reads:
                        out = await self._step(state, data)
                        if state.began and not state.announced:
                            state.announced = True
                            if not out:  # the upstream began answering (see PrimedStream);
                                yield b""  # with words already here, they say it themselves
                        if out:
                            yield out
                        if state.finished:
                            if data:  # [DONE] came before the end of the body
                                await _drain(reads)
                            break
                if not state.continuing:
                    break
                await self._run_round(state)
            if not (state.saw_finish or state.saw_done):
                raise Dropped()
        except (ApiError, Dropped, httpx.HTTPError, TimeoutError) as exc:
            error = self.stream_failure(exc)
            yield _encode(state.converter.fail(error.error_type, error.message))
        self.outcome.usage = state.converter.usage
        self.outcome.stop_reason = state.converter.stop_reason

    async def _step(self, state: _StreamState, data: bytes) -> bytes:
        """Convert one upstream read (``b""`` at the end of the body) into Anthropic SSE bytes.

        The lean path, for a chain with nothing to do per chunk and no agent: each event's
        bytes are parsed once and converted, the commonest ones through a pre-encoded template.
        """
        chain, ctx, converter = self._chain, self.ctx, state.converter
        at_end = not data
        payloads = state.decoder.flush_data() if at_end else state.decoder.feed_data(data)
        out: list[bytes] = []
        if chain.passes_chunks and state.calls is None:
            feed_fast = converter.feed_fast
            for payload in payloads:
                if payload == b"[DONE]":
                    at_end = state.saw_done = True
                    break
                if payload:
                    chunk = _parse_chunk(payload)
                    if not state.began and not chunk.get("error"):
                        state.began = True
                    encoded = feed_fast(chunk)
                    out.append(encoded if encoded is not None else _encode(converter.feed(chunk)))
        else:
            chunks: list[dict[str, Any]] = []
            for payload in payloads:
                if payload == b"[DONE]":
                    at_end = state.saw_done = True
                    break
                if payload:
                    chunk = _parse_chunk(payload)
                    if not state.began and not chunk.get("error"):
                        state.began = True
                    if chain.is_async:  # a sandboxed stage takes the whole read in one batch
                        chunks.append(chunk)
                    else:
                        chunks += chain.chunk(chunk, ctx)
            if chain.is_async:
                chunks = await chain.achunks(chunks, ctx, end=at_end)
            elif at_end:
                chunks += chain.end(ctx)
            for chunk in chunks:
                if state.calls is not None:
                    chunk = state.calls.chunk(chunk)
                usage = chunk.get("usage")
                if isinstance(usage, dict):
                    state.round_output = _int(usage.get("completion_tokens"))
                    if state.carried_output:
                        chunk = {**chunk, "usage": {
                            **usage,
                            "completion_tokens": state.round_output + state.carried_output}}
                out.append(_encode(converter.feed(chunk)))
        state.saw_finish = converter.saw_finish
        if at_end:
            state.finished = True
            state.continuing = bool(
                state.calls is not None and state.calls.pending and self._may_continue()
            )
            if not state.continuing and (state.saw_finish or state.saw_done):
                out.append(_encode(converter.finish()))
        return b"".join(out)

    async def _run_round(self, state: _StreamState) -> None:
        """Run the round's internal tools, then send the follow-up request; the stream goes on
        with its answer (the server keeps the client's connection alive with pings meanwhile)."""
        calls = state.calls
        assert calls is not None
        results = list(await asyncio.gather(*(self._run(call, calls) for call in calls.calls)))
        state.carried_output += state.round_output
        state.new_round()
        await self._continue(calls, results)

    async def _run(self, call: Any, calls: InternalCalls) -> str:
        assert self.agent is not None
        return await self.agent.run(call)

    async def _continue(self, calls: InternalCalls, results: list[str]) -> None:
        """Ask the model again with the internal tools' results."""
        assert self.agent is not None and self.upstream is not None
        self.agent.rounds += 1
        body = calls.follow_up(dict(self.ctx.original), results)
        self.ctx.original = body
        unified, chain = anthropic_to_openai(body, self.route.model), self._chain
        http = (await chain.arequest(unified, self.ctx) if chain.is_async
                else chain.request(unified, self.ctx))
        try:
            self.response = await self.upstream.open(http, provider=self.route.provider.name)
        except ApiError as exc:
            raise self.fail(exc) from None

    def _calls(self) -> InternalCalls | None:
        if self.agent is None:
            return None
        return InternalCalls(frozenset(self.agent.handlers))

    def _may_continue(self) -> bool:
        return self.agent is not None and self.agent.rounds < MAX_ROUNDS

    @property
    def _chain(self) -> Chain:
        assert self.chain is not None
        return self.chain

    async def _chain_response(self, data: dict[str, Any]) -> dict[str, Any]:
        chain = self._chain
        if chain.is_async:
            return await chain.aresponse(data, self.ctx)
        return chain.response(data, self.ctx)

    def _parse_body(self, raw: bytes) -> dict[str, Any]:
        try:
            data = codec.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise self.fail(ApiError(
                f"provider {self.route.provider.name} sent a response that is not a JSON object",
                502,
            ))
        return data


@dataclass
class _StreamState:
    converter: StreamConverter
    decoder: SSEDecoder = field(default_factory=SSEDecoder)
    finished: bool = False
    saw_finish: bool = False
    saw_done: bool = False
    #: This round's internal tool calls (with an agent), and whether another round follows.
    calls: InternalCalls | None = None
    continuing: bool = False
    round_output: int = 0
    carried_output: int = 0
    #: The upstream sent a first valid event (not an error), and that was told once.
    began: bool = False
    announced: bool = False

    def new_round(self) -> None:
        self.decoder = SSEDecoder()
        self.finished = self.saw_finish = self.saw_done = self.continuing = False
        self.converter.saw_finish = False
        self.round_output = 0


async def _drain(reads: AsyncIterator[bytes]) -> None:
    """Read what is left of a body (usually nothing) so httpx can reuse the connection; an
    upstream that keeps it open is cut after ``DRAIN_S``."""
    with suppress(TimeoutError, httpx.HTTPError):
        async with asyncio.timeout(DRAIN_S):
            async for rest in reads:
                if not rest:
                    return


def _parse_chunk(data: bytes) -> dict[str, Any]:
    try:  # orjson itself first: this runs for every chunk of every stream
        chunk = orjson.loads(data)
    except orjson.JSONDecodeError:
        chunk = _parse_odd_chunk(data)
    if not isinstance(chunk, dict):
        raise ApiError("upstream sent a stream event that is not a JSON object", 502)
    return chunk


def _parse_odd_chunk(data: bytes) -> Any:
    """What orjson refuses: lone surrogates and huge integers (the stdlib takes them), then
    invalid UTF-8 (replaced, as in any other text ccr reads)."""
    try:
        chunk = codec.loads(data)
    except ValueError:
        text = data.decode("utf-8", "replace")
        try:  # invalid UTF-8 is replaced, as in any other text ccr reads
            chunk = codec.loads(text)
        except ValueError:
            raise ApiError(f"upstream sent a stream event that is not JSON: {text[:80]!r}",
                           502) from None
    return chunk


def _encode(events: list[tuple[str, dict[str, Any]]]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in events)


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _completion_tokens(response: dict[str, Any]) -> int:
    usage = response.get("usage")
    return _int(usage.get("completion_tokens")) if isinstance(usage, dict) else 0


def _prepend_text(message: dict[str, Any], text: str) -> None:
    """Put what the model said in earlier agent rounds before this round's text."""
    if not text.strip():
        return
    content = message.setdefault("content", [])
    at = next((i for i, b in enumerate(content) if b.get("type") != "thinking"), len(content))
    if at < len(content) and content[at].get("type") == "text":
        content[at] = {**content[at], "text": text + content[at]["text"]}
    else:
        content.insert(at, {"type": "text", "text": text})

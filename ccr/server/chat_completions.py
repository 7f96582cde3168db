"""``POST /v1/chat/completions``: OpenAI-format clients through the same engine as Claude Code.

The request becomes an Anthropic Messages request (:mod:`ccr.convert.openai_client`), is routed
and sent by ``engine.route``/``engine.open`` exactly as ``/v1/messages`` requests are (rules,
router scripts, transformers), and the answer is converted back: a
``chat.completion``, or ``chat.completion.chunk`` events ending with ``data: [DONE]``. Errors
are OpenAI-shaped (``{"error": {"message", "type", "param", "code"}}``) with the same status;
a failure after streaming began is an ``{"error": ...}`` event, which OpenAI's SDKs raise.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing, suppress
from typing import Any, cast

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.convert.openai_client import ChunkStream, anthropic_to_chat_completion, chat_to_anthropic
from ccr.convert.schema import check_messages_request
from ccr.engine.attempt_loop import route_headers
from ccr.engine.request import ClientRequest
from ccr.errors import ApiError
from ccr.ledger import BudgetExceeded
from ccr.logs import request_line
from ccr.protocol import codec
from ccr.protocol.sse import SSEDecoder
from ccr.server.auth import ANONYMOUS, Identity
from ccr.server.gateway import Gateway, Ticket
from ccr.server.messages import answer_headers, parse_body, request_id
from ccr.server.state import AppState

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")

#: An SSE comment: keeps the connection alive, ignored by SSE parsers.
KEEPALIVE = b": ping\n\n"
DONE = b"data: [DONE]\n\n"


def openai_error(exc: ApiError) -> HTTPResponse:
    body = {"error": {"message": exc.message, "type": exc.error_type, "param": None,
                      "code": None}}
    headers = {"x-request-id": request_id(), **exc.headers}
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(retry_after, int):
        headers["retry-after"] = str(retry_after)
    if isinstance(exc, BudgetExceeded):
        headers["x-should-retry"] = "false"  # nothing changes before the budget resets
    return json_response(body, status=exc.status, headers=headers)


def _data(chunk: dict[str, Any]) -> bytes:
    return b"data: " + codec.dumps(chunk) + b"\n\n"


class _KeepAlive:
    """Sends :data:`KEEPALIVE` whenever nothing was sent for ``interval_s``."""

    def __init__(self, response: Any, interval_s: float) -> None:
        self.response = response
        self.interval_s = interval_s
        self.last = time.monotonic()
        self.task = asyncio.get_running_loop().create_task(self._run())

    async def send(self, data: bytes) -> None:
        self.last = time.monotonic()
        await self.response.send(data)

    async def _run(self) -> None:
        with suppress(Exception):
            while True:
                await asyncio.sleep(max(0.0, self.last + self.interval_s - time.monotonic()))
                if time.monotonic() - self.last >= self.interval_s:
                    await self.send(KEEPALIVE)

    def stop(self) -> None:
        self.task.cancel()


async def handle_chat_completions(state: AppState, request: Request) -> HTTPResponse | None:
    started = time.monotonic()
    state.stats.requests += 1
    engine = state.engine
    engine.in_flight += 1
    line: dict[str, Any] = {"path": request.path}
    status = 200
    decision = exchange = None
    # The same gateway steps as /v1/messages: client keys, limits, budgets, ledger, metrics.
    gateway: Gateway = request.app.ctx.gateway
    identity: Identity = getattr(request.ctx, "identity", ANONYMOUS)
    ticket: Ticket | None = None
    first_byte_s = added_s = None
    gateway.metrics.in_flight.inc()
    try:
        chat = parse_body(request)
        body = chat_to_anthropic(chat)
        check_messages_request(body)  # what /v1/messages checks, on the converted request
        model_name = str(chat["model"])
        options = chat.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        projects = engine.stores.projects
        ticket = await gateway.admit(engine.config, identity, body, request.headers,
                                     projects.locate if projects else None,
                                     want_spend=engine.script is not None)
        client_request = ClientRequest(
            body, request.headers, client=identity.client, session_usage=ticket.session_usage,
            router=gateway.policy(engine.config).client_router(engine.config, identity.client),
            spend=ticket.spend.as_dict() if ticket.spend else None)
        decision = await engine.route(client_request)
        gateway.apply_budget(engine.config, ticket, decision)
        ctx = decision.ctx
        assert ctx is not None
        line.update(session=ctx.session_id, model=model_name, tokens=ctx.token_count,
                    rule=decision.rule, route=decision.route.name)
        if identity.client:
            line["client"] = identity.client
        exchange = await engine.open(client_request, decision)
        line["upstream_ms"] = round((exchange.outcome.upstream_latency_s or 0) * 1000, 1)
        added_s = time.monotonic() - started - (exchange.outcome.upstream_latency_s or 0)
        headers = answer_headers(exchange, decision, line)
        if not exchange.ctx.stream:
            message = await exchange.json()
            first_byte_s = time.monotonic() - started
            return json_response(anthropic_to_chat_completion(message, model=model_name),
                                 headers={"x-request-id": request_id(), **headers})
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no",
                     "x-request-id": request_id(), **headers},
        )
        chunks = ChunkStream(model=model_name, include_usage=include_usage)
        decoder = SSEDecoder()
        keepalive = _KeepAlive(response, exchange.ping_interval_s)
        try:
            async with aclosing(cast(AsyncGenerator[bytes, None], exchange.events())) as events:
                async for data in events:
                    out = [_data(chunk) for event in decoder.feed(data)
                           for chunk in _convert(chunks, event.event, event.data)]
                    if out:
                        if first_byte_s is None:
                            first_byte_s = time.monotonic() - started
                        await keepalive.send(b"".join(out))
            if chunks.error is None:
                await keepalive.send(DONE)
        finally:
            keepalive.stop()
        await response.eof()
        return None
    except ApiError as exc:
        status = exc.status
        line["error"] = exc.message
        if decision is not None and "x-ccr-route" not in exc.headers:
            exc.headers.update(route_headers(decision.route, None, None))
        exc.headers.setdefault("x-ccr-attempts", "0")  # refused before any upstream call
        line["attempts"] = exc.headers["x-ccr-attempts"]
        return openai_error(exc)
    except BaseException as exc:
        status = 499 if not isinstance(exc, Exception) else 500
        line["error"] = type(exc).__name__
        raise
    finally:
        engine.in_flight -= 1
        gateway.metrics.in_flight.dec()
        if exchange is not None and decision is not None:
            outcome = exchange.outcome
            if outcome.error:
                status = outcome.status
                line["error"] = outcome.error
            usage = outcome.usage
            if usage:
                line.update(input=usage.get("input_tokens"), output=usage.get("output_tokens"),
                            stop=outcome.stop_reason)
            engine.finish(decision, exchange)
        elif decision is not None:
            engine.finish_failed(decision, status, line.get("error"))
        if ticket is not None:
            gateway.done(engine.config, ticket, decision=decision, exchange=exchange,
                         status=status, first_byte_s=first_byte_s, added_s=added_s)
        if status >= 400:
            state.stats.errors += 1
        if request_log.isEnabledFor(logging.INFO):
            line["status"] = status
            line["ms"] = round((time.monotonic() - started) * 1000, 1)
            request_log.info(request_line(line))


def _convert(chunks: ChunkStream, event: str | None, data: str) -> list[dict[str, Any]]:
    if not event or event == "ping" or not data:
        return []
    try:
        parsed = codec.loads(data)
    except ValueError:
        return []
    return chunks.feed(event, parsed) if isinstance(parsed, dict) else []

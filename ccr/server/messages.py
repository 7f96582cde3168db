"""``POST /v1/messages``: parse, hand to the engine, answer JSON or SSE, log one line."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import aclosing, suppress
from typing import Any

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.convert.schema import check_messages_request
from ccr.engine.request import ClientRequest
from ccr.errors import ApiError, InvalidRequest
from ccr.logs import request_line
from ccr.protocol import codec
from ccr.protocol.limits import depth_exceeds, too_deep_message
from ccr.protocol.sse import encode_event
from ccr.server.auth import ANONYMOUS, Identity
from ccr.server.gateway import Gateway, Ticket
from ccr.server.state import AppState

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")


def parse_body(request: Request) -> dict[str, Any]:
    try:
        body = codec.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise InvalidRequest(too_deep_message()) from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    if depth_exceeds(body):
        raise InvalidRequest(too_deep_message())
    return body


def request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]



def _validate_messages_body(body: dict[str, Any]) -> None:
    check_messages_request(body)


PING = encode_event("ping", {"type": "ping"})


class Pinger:
    """Sends a ``ping`` event whenever nothing was sent for ``interval_s``: while the upstream
    thinks, or while ccr runs an agent's tool, the client's connection stays alive. One timer
    per stream instead of a timeout on every upstream read."""

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
                    await self.send(PING)

    def stop(self) -> None:
        self.task.cancel()


async def handle_messages(state: AppState, request: Request) -> HTTPResponse | None:
    started = time.monotonic()
    state.stats.requests += 1
    engine = state.engine
    engine.in_flight += 1
    line: dict[str, Any] = {"path": request.path}
    status = 200
    decision = exchange = None
    gateway: Gateway = request.app.ctx.gateway
    identity: Identity = getattr(request.ctx, "identity", ANONYMOUS)
    ticket: Ticket | None = None
    first_byte_s = added_s = None
    gateway.metrics.in_flight.inc()
    try:
        body = parse_body(request)
        _validate_messages_body(body)
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
        line.update(session=ctx.session_id, model=body.get("model"), tokens=ctx.token_count,
                    rule=decision.rule, route=decision.route.name)
        if identity.client:
            line["client"] = identity.client
        if decision.script_error:
            line["script_error"] = decision.script_error
        exchange = await engine.open(client_request, decision)
        if exchange.agent_name:
            line["agent"] = exchange.agent_name
        line["upstream_ms"] = round((exchange.outcome.upstream_latency_s or 0) * 1000, 1)
        added_s = time.monotonic() - started - (exchange.outcome.upstream_latency_s or 0)
        if not exchange.ctx.stream:
            message = await exchange.json()
            first_byte_s = time.monotonic() - started
            return json_response(message, headers={"request-id": request_id()})
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no",
                     "request-id": request_id()},
        )
        pinger = Pinger(response, exchange.ping_interval_s)
        try:
            # aclosing: a client that goes away closes the upstream stream at once
            async with aclosing(exchange.events()) as events:
                async for data in events:
                    if first_byte_s is None:
                        first_byte_s = time.monotonic() - started
                    await pinger.send(data)
        finally:
            pinger.stop()
        await response.eof()
        return None
    except ApiError as exc:
        status = exc.status
        line["error"] = exc.message
        raise
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
                            cache_read=usage.get("cache_read_input_tokens") or None,
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

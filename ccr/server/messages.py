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

from ccr.engine.request import ClientRequest
from ccr.errors import ApiError, InvalidRequest
from ccr.logs import request_line
from ccr.protocol import codec
from ccr.protocol.sse import encode_event
from ccr.server.state import AppState

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")


def parse_body(request: Request) -> dict[str, Any]:
    try:
        body = codec.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


def request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]



def _validate_messages_body(body: dict[str, Any]) -> None:
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise InvalidRequest("model: Field required (a model name or \"provider,model\")")
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: Field required (a list of messages)")
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in (
            "user", "assistant", "system"
        ):
            raise InvalidRequest(f"messages.{i}: each message needs a role of user or assistant")
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest("max_tokens: must be a positive integer")


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
    try:
        body = parse_body(request)
        _validate_messages_body(body)
        client_request = ClientRequest(body, request.headers)
        decision = await engine.route(client_request)
        ctx = decision.ctx
        assert ctx is not None
        line.update(session=ctx.session_id, model=body.get("model"), tokens=ctx.token_count,
                    rule=decision.rule, route=decision.route.name)
        if decision.script_error:
            line["script_error"] = decision.script_error
        exchange = await engine.open(client_request, decision)
        if exchange.agent_name:
            line["agent"] = exchange.agent_name
        line["upstream_ms"] = round((exchange.outcome.upstream_latency_s or 0) * 1000, 1)
        if not exchange.ctx.stream:
            message = await exchange.json()
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
        if status >= 400:
            state.stats.errors += 1
        if request_log.isEnabledFor(logging.INFO):
            line["status"] = status
            line["ms"] = round((time.monotonic() - started) * 1000, 1)
            request_log.info(request_line(line))

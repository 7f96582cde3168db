"""``POST /v1/messages``: parse, hand the request to a :class:`~ccr.server.turn.Turn`, answer
JSON or SSE."""

from __future__ import annotations

import logging
from contextlib import aclosing
from typing import Any

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.convert.schema import check_messages_request
from ccr.errors import ApiError, InvalidRequest
from ccr.protocol import codec
from ccr.protocol.limits import depth_exceeds, too_deep_message
from ccr.protocol.sse import encode_event
from ccr.server.keepalive import KeepAlive
from ccr.server.state import AppState
from ccr.server.turn import Turn, request_id

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


def _validate_messages_body(body: dict[str, Any]) -> None:
    check_messages_request(body)


PING = encode_event("ping", {"type": "ping"})


async def handle_messages(state: AppState, request: Request) -> HTTPResponse | None:
    turn = Turn(state, request)
    try:
        body = parse_body(request)
        _validate_messages_body(body)
        exchange = await turn.open(body, model=body.get("model"))
        headers = {"request-id": request_id(), **turn.headers()}
        if not exchange.ctx.stream:
            message = await exchange.json()
            turn.sent()
            return json_response(message, headers=headers)
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", **headers},
        )
        keepalive = KeepAlive(response, exchange.ping_interval_s, PING)
        try:
            # aclosing: a client that goes away closes the upstream stream at once
            async with aclosing(exchange.events()) as events:
                async for data in events:
                    turn.sent()
                    await keepalive.send(data)
        finally:
            keepalive.stop()
        await response.eof()
        return None
    except ApiError as exc:
        turn.refused(exc)
        raise
    except BaseException as exc:
        turn.crashed(exc)
        raise
    finally:
        turn.close()

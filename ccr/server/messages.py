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
    rid = request_id()
    response: Any = None  # the streamed response, once its headers are out

    async def respond(route_headers: dict[str, str] | None = None) -> Any:
        return await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no",
                     "request-id": rid, **turn.headers(route_headers)},
        )

    async def accepted(route_headers: dict[str, str]) -> None:
        """The upstream began the stream on its final route: the headers go out now, as a
        direct call's would (once: a retry after them changes nothing the client saw); the
        events follow from the first content on."""
        nonlocal response
        if response is not None:
            return
        response = await respond(route_headers)
        await response.send(b"")
        turn.sent()

    try:
        body = parse_body(request)
        _validate_messages_body(body)
        exchange = await turn.open(body, model=body.get("model"),
                                   on_accepted=accepted if body.get("stream") else None)
        if not exchange.ctx.stream:
            headers = {"request-id": rid, **turn.headers()}
            message = await exchange.json()
            turn.sent()
            return json_response(message, headers=headers)
        if response is None:
            response = await respond()
        else:
            turn.headers()  # the attempts and any fallback, for the log line
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
        if response is None:
            raise
        # The headers are out (status 200): the failure ends the stream as an error event.
        await response.send(encode_event("error", exc.to_body()))
        await response.eof()
        return None
    except BaseException as exc:
        turn.crashed(exc)
        raise
    finally:
        turn.close()

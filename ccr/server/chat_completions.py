"""``POST /v1/chat/completions``: OpenAI-format clients through the same engine as Claude Code.

The request becomes an Anthropic Messages request (:mod:`ccr.convert.openai_client`), is routed
and sent by ``engine.route``/``engine.open`` exactly as ``/v1/messages`` requests are (rules,
router scripts, transformers), and the answer is converted back: a
``chat.completion``, or ``chat.completion.chunk`` events ending with ``data: [DONE]``. Errors
are OpenAI-shaped (``{"error": {"message", "type", "param", "code"}}``) with the same status;
a failure after streaming began is an ``{"error": ...}`` event, which OpenAI's SDKs raise.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any, cast

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.convert.openai_client import ChunkStream, anthropic_to_chat_completion, chat_to_anthropic
from ccr.convert.schema import check_messages_request
from ccr.errors import ApiError
from ccr.ledger import BudgetExceeded
from ccr.protocol import codec
from ccr.protocol.sse import SSEDecoder
from ccr.server.keepalive import KeepAlive
from ccr.server.messages import parse_body
from ccr.server.state import AppState
from ccr.server.turn import Turn, request_id

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


async def handle_chat_completions(state: AppState, request: Request) -> HTTPResponse | None:
    turn = Turn(state, request)
    try:
        chat = parse_body(request)
        body = chat_to_anthropic(chat)
        check_messages_request(body)  # what /v1/messages checks, on the converted request
        model_name = str(chat["model"])
        options = chat.get("stream_options")
        include_usage = isinstance(options, dict) and options.get("include_usage") is True
        exchange = await turn.open(body, model=model_name)
        headers = {"x-request-id": request_id(), **turn.headers()}
        if not exchange.ctx.stream:
            message = await exchange.json()
            turn.sent()
            return json_response(anthropic_to_chat_completion(message, model=model_name),
                                 headers=headers)
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no", **headers},
        )
        chunks = ChunkStream(model=model_name, include_usage=include_usage)
        decoder = SSEDecoder()
        keepalive = KeepAlive(response, exchange.ping_interval_s, KEEPALIVE)
        try:
            async with aclosing(cast(AsyncGenerator[bytes, None], exchange.events())) as events:
                async for data in events:
                    out = [_data(chunk) for event in decoder.feed(data)
                           for chunk in _convert(chunks, event.event, event.data)]
                    if out:
                        turn.sent()
                        await keepalive.send(b"".join(out))
            if chunks.error is None:
                await keepalive.send(DONE)
        finally:
            keepalive.stop()
        await response.eof()
        return None
    except ApiError as exc:
        turn.refused(exc)
        return openai_error(exc)
    except BaseException as exc:
        turn.crashed(exc)
        raise
    finally:
        turn.close()


def _convert(chunks: ChunkStream, event: str | None, data: str) -> list[dict[str, Any]]:
    if not event or event == "ping" or not data:
        return []
    try:
        parsed = codec.loads(data)
    except ValueError:
        return []
    return chunks.feed(event, parsed) if isinstance(parsed, dict) else []

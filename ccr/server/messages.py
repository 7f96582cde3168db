"""``POST /v1/messages``: parse, route, run the exchange, answer JSON or SSE, log one line."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from contextlib import aclosing, suppress
from typing import Any

from sanic import HTTPResponse, Request
from sanic.response import json as json_response

from ccr.agents import AgentRun, ImageAgent
from ccr.engine.exchange import open_exchange
from ccr.errors import ApiError, InvalidRequest
from ccr.logs import request_line
from ccr.protocol import codec
from ccr.protocol.sse import encode_event
from ccr.routing.context import Route
from ccr.routing.decide import decide
from ccr.routing.prepare import build_context
from ccr.server.state import AppState, Runtime

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")


def no_provider_message(state: AppState) -> str:
    where = str(state.config.path) if state.config.path else str(state.home / "config.json")
    return (
        "ccr has no provider configured. Run `ccr init` to write a starter config, or add a "
        f'provider to {where}: {{"Providers": [{{"name": "deepseek", "api_base_url": '
        '"https://api.deepseek.com/chat/completions", "api_key": "$DEEPSEEK_API_KEY", '
        '"models": ["deepseek-chat"]}], "Router": {"default": "deepseek,deepseek-chat"}}'
    )


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


def image_agent(state: AppState, runtime: Runtime, image_route: str | None, route: Route,
                body: dict[str, Any]) -> AgentRun | None:
    """The image agent for this request, if ``Router.image`` is set and it applies."""
    config = runtime.config
    chain = runtime.chains[(route.provider.name, route.model)]
    if not image_route or chain.protocol == "anthropic":
        return None
    agent = ImageAgent(image_route)
    forced = config.raw.get("forceUseImageAgent") is True
    if not agent.applies(body, forced=forced, route_name=route.name):
        return None

    async def complete(request: dict[str, Any]) -> dict[str, Any]:
        resolved = config.resolve(request["model"])
        if resolved is None or state.upstream is None:
            raise ApiError(f"Router.image {request['model']!r} is not configured", 500)
        provider, model = resolved
        exchange = await open_exchange(
            body=request,
            route=Route(provider, model, "image"),
            chain=runtime.chains[(provider.name, model)],
            upstream=state.upstream,
            input_estimate=state.tokens.count_request(request),
        )
        return await exchange.json()

    return agent.prepare(body, complete)


async def handle_messages(state: AppState, request: Request) -> HTTPResponse | None:
    started = time.monotonic()
    state.stats.requests += 1
    runtime = state.runtime
    runtime.in_flight += 1
    config = runtime.config
    line: dict[str, Any] = {"path": request.path}
    status = 200
    exchange = None
    session_id = None
    try:
        body = parse_body(request)
        _validate_messages_body(body)
        if not config.has_providers:
            raise ApiError(no_provider_message(state), 400)
        await state.tokens.acount_request(body)  # a cold count encodes off the event loop
        ctx = build_context(
            body, request.headers, router=config.router, tokens=state.tokens,
            sessions=state.sessions, projects=state.projects, router_for=runtime.router_for,
        )
        session_id, token_count = ctx.session_id, ctx.token_count
        line.update(session=session_id, model=body.get("model"), tokens=token_count)
        decision = await decide(
            ctx, config, script=runtime.script, script_config=runtime.script_config
        )
        route = decision.route
        line.update(rule=decision.rule, route=route.name)
        if decision.script_error:
            line["script_error"] = decision.script_error
        for warning in decision.warnings:
            log.warning("routing: %s", warning)
        if state.upstream is None:
            state.upstream = state.make_upstream()
        agent = image_agent(state, runtime, ctx.router.image, route, body)
        if agent is not None:
            line["agent"] = "image"
        exchange = await open_exchange(
            body=body,
            route=route,
            chain=runtime.chains[(route.provider.name, route.model)],
            upstream=state.upstream,
            input_estimate=token_count,
            client_headers=ctx.headers,
            agent=agent,
        )
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
        runtime.in_flight -= 1
        if exchange is not None:
            outcome = exchange.outcome
            if outcome.error:
                status = outcome.status
                line["error"] = outcome.error
            usage = outcome.usage
            if usage:
                line.update(input=usage.get("input_tokens"), output=usage.get("output_tokens"),
                            cache_read=usage.get("cache_read_input_tokens") or None,
                            stop=outcome.stop_reason)
                if session_id and not outcome.error:
                    state.sessions.record(session_id, usage, exchange.route.name)
        if status >= 400:
            state.stats.errors += 1
        if request_log.isEnabledFor(logging.INFO):
            line["status"] = status
            line["ms"] = round((time.monotonic() - started) * 1000, 1)
            request_log.info(request_line(line))

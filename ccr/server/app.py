"""The Sanic application: endpoints, auth, and the single place errors become responses."""

from __future__ import annotations

import asyncio
import hmac
import itertools
import logging
import os
import signal
import time
import uuid
from typing import Any

from sanic import HTTPResponse, Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import empty
from sanic.response import json as json_response

from ccr import __version__
from ccr.errors import ApiError, AuthenticationFailed, InvalidRequest, error_body
from ccr.exchange import open_exchange
from ccr.logs import request_line
from ccr.protocol import codec
from ccr.routing.decide import decide
from ccr.routing.prepare import build_context
from ccr.routing.tokens import cl100k_encoding
from ccr.server.reload import ConfigWatcher
from ccr.server.state import AppState

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")

_OPEN_PATHS = frozenset({"/health", "/"})
_app_numbers = itertools.count(1)


def no_provider_message(state: AppState) -> str:
    where = str(state.config.path) if state.config.path else str(state.home / "config.json")
    return (
        "ccr has no provider configured. Run `ccr init` to write a starter config, or add a "
        f'provider to {where}: {{"Providers": [{{"name": "deepseek", "api_base_url": '
        '"https://api.deepseek.com/chat/completions", "api_key": "$DEEPSEEK_API_KEY", '
        '"models": ["deepseek-chat"]}], "Router": {"default": "deepseek,deepseek-chat"}}'
    )


def _on_sighup(watcher: ConfigWatcher) -> None:
    """SIGHUP reloads the config now (only possible when serving from the main thread)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.create_task(watcher.reload("SIGHUP"))
        )
    except (RuntimeError, ValueError, NotImplementedError):
        log.debug("SIGHUP reload not available in this thread")


def create_app(state: AppState, *, name: str | None = None, watch_config: bool = True) -> Sanic:
    app = Sanic(name or f"ccr{next(_app_numbers)}", configure_logging=False)
    app.config.RESPONSE_TIMEOUT = 24 * 3600  # streams end when the upstream's do
    app.config.REQUEST_TIMEOUT = 120
    app.config.KEEP_ALIVE_TIMEOUT = 75
    app.config.REQUEST_MAX_SIZE = 64 * 1024 * 1024
    app.config.NOISY_EXCEPTIONS = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.MOTD = False
    app.config.ACCESS_LOG = False
    app.config.TOUCHUP = False
    app.ctx.state = state

    @app.before_server_start
    async def _open(app: Sanic) -> None:
        if state.upstream is None:
            state.upstream = state.make_upstream()
        await asyncio.to_thread(cl100k_encoding)  # the first request should not pay for it
        await state.runtime.start()
        path = state.config.path
        app.ctx.watcher = ConfigWatcher(state, path) if (watch_config and path) else None
        if app.ctx.watcher is not None:
            app.ctx.watcher.start()
            _on_sighup(app.ctx.watcher)

    @app.after_server_stop
    async def _close(app: Sanic) -> None:
        if app.ctx.watcher is not None:
            await app.ctx.watcher.stop()
        await state.runtime.aclose()
        if state.upstream is not None:
            await state.upstream.aclose()
            state.upstream = None

    @app.on_request
    async def _authenticate(request: Request) -> None:
        key = state.config.apikey
        if not key or request.path in _OPEN_PATHS:
            return
        given = request.headers.get("x-api-key")
        if given is None:
            auth = request.headers.get("authorization", "")
            if auth[:7].lower() == "bearer ":
                given = auth[7:].strip()
        if given is None or not hmac.compare_digest(given.encode(), key.encode()):
            raise AuthenticationFailed()

    @app.exception(Exception)
    async def _error(request: Request, exc: Exception) -> HTTPResponse:
        return error_response(exc)

    @app.head("/")
    async def _head_root(request: Request) -> HTTPResponse:
        return empty(status=200, headers={"content-type": "text/plain"})

    @app.get("/")
    async def _root(request: Request) -> HTTPResponse:
        return json_response({"name": "ccr", "version": __version__, "status": "ok"})

    @app.get("/health")
    async def _health(request: Request) -> HTTPResponse:
        return json_response({
            "status": "ok",
            "version": __version__,
            "uptime_s": round(time.time() - state.stats.started_at, 1),
            "requests": state.stats.requests,
            "errors": state.stats.errors,
            "providers": len(state.config.providers),
            "config": str(state.config.path) if state.config.path else None,
            "reloads": state.reloads,
            "reload_error": state.reload_error,
            "pid": os.getpid(),
        })

    @app.get("/api/sessions/<session_id>")
    async def _session(request: Request, session_id: str) -> HTTPResponse:
        """A session's last-turn usage and route, for status lines (no transcript reading)."""
        usage = state.sessions.get(session_id)
        if usage is None:
            raise ApiError(f"no usage recorded for session {session_id[:64]!r}", 404)
        return json_response({
            "session_id": session_id,
            "input_tokens": usage.input_tokens,
            "output_tokens": usage.output_tokens,
            "cache_read_input_tokens": usage.cache_read_input_tokens,
            "cache_creation_input_tokens": usage.cache_creation_input_tokens,
            "total_input": usage.total_input,
            "turns": usage.turns,
            "route": usage.last_route,
            "updated_at": usage.updated_at,
        })

    @app.get("/v1/models")
    async def _models(request: Request) -> HTTPResponse:
        data = [
            {"type": "model", "id": route, "display_name": route, "created_at": None}
            for route in state.config.routes()
        ]
        return json_response({
            "data": data, "has_more": False,
            "first_id": data[0]["id"] if data else None,
            "last_id": data[-1]["id"] if data else None,
        })

    @app.post("/v1/messages/count_tokens")
    async def _count_tokens(request: Request) -> HTTPResponse:
        body = parse_body(request)
        return json_response({"input_tokens": state.tokens.count_request(body)})

    @app.post("/v1/messages")
    async def _messages(request: Request) -> HTTPResponse | None:
        return await handle_messages(state, request)

    return app


def error_response(exc: Exception) -> HTTPResponse:
    if isinstance(exc, ApiError):
        status, body = exc.status, exc.to_body()
    elif isinstance(exc, SanicException):
        status = exc.status_code
        message = str(exc) or "request failed"
        if status == 404:
            message = f"not found: {message}"
        body = ApiError(message, status).to_body()
    else:
        log.exception("internal error")
        status = 500
        body = error_body("api_error", f"internal error in ccr: {type(exc).__name__}")
    return json_response(body, status=status, headers={"request-id": _request_id()})


def parse_body(request: Request) -> dict[str, Any]:
    try:
        body = codec.loads(request.body or b"")
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidRequest(f"request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


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


def _request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


async def handle_messages(state: AppState, request: Request) -> HTTPResponse | None:
    started = time.monotonic()
    state.stats.requests += 1
    runtime = state.runtime
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
        exchange = await open_exchange(
            body=body,
            route=route,
            chain=runtime.chains[(route.provider.name, route.model)],
            upstream=state.upstream,
            input_estimate=token_count,
            client_headers=ctx.headers,
        )
        line["upstream_ms"] = round((exchange.outcome.upstream_latency_s or 0) * 1000, 1)
        if not exchange.ctx.stream:
            message = await exchange.json()
            return json_response(message, headers={"request-id": _request_id()})
        response = await request.respond(
            content_type="text/event-stream; charset=utf-8",
            headers={"cache-control": "no-cache", "x-accel-buffering": "no",
                     "request-id": _request_id()},
        )
        async for data in exchange.events():
            await response.send(data)
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

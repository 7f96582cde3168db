"""The Sanic application: endpoints, auth, and the single place errors become responses."""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import os
import signal
import time

from sanic import HTTPResponse, Request, Sanic
from sanic.exceptions import SanicException
from sanic.response import empty
from sanic.response import json as json_response

from ccr import __version__
from ccr.context.tokens import cl100k_encoding
from ccr.convert.schema import check_messages_request
from ccr.engine.shared_health import SharedCooldowns
from ccr.errors import ApiError, error_body
from ccr.ledger import BudgetExceeded
from ccr.process import server_pid, worker_number
from ccr.server.auth import ANONYMOUS, RefusalLog, presented_key, refusal
from ccr.server.chat_completions import handle_chat_completions
from ccr.server.console import console_blueprint
from ccr.server.console_guard import is_console_path
from ccr.server.gateway import Gateway
from ccr.server.messages import handle_messages, parse_body
from ccr.server.metrics import add_metrics_route, session_view
from ccr.server.reload import ConfigWatcher
from ccr.server.state import AppState
from ccr.server.turn import request_id
from ccr.state.cooldowns import Cooldowns

log = logging.getLogger("ccr")
request_log = logging.getLogger("ccr.requests")

_OPEN_PATHS = frozenset({"/health", "/"})
_app_numbers = itertools.count(1)


def _on_sighup(watcher: ConfigWatcher) -> None:
    """SIGHUP reloads the config now (only possible when serving from the main thread)."""
    loop = asyncio.get_running_loop()
    try:
        loop.add_signal_handler(
            signal.SIGHUP, lambda: loop.create_task(watcher.reload("SIGHUP"))
        )
    except (RuntimeError, ValueError, NotImplementedError):
        log.debug("SIGHUP reload not available in this thread")


def create_app(state: AppState, *, name: str | None = None, watch_config: bool = True,
               gateway: Gateway | None = None) -> Sanic:
    app = Sanic(name or f"ccr{next(_app_numbers)}", configure_logging=False)
    app.config.RESPONSE_TIMEOUT = 24 * 3600  # streams end when the upstream's do
    app.config.REQUEST_TIMEOUT = 120
    app.config.KEEP_ALIVE_TIMEOUT = 75
    app.config.REQUEST_MAX_SIZE = 64 * 1024 * 1024
    app.config.NOISY_EXCEPTIONS = False
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.config.MOTD = False
    app.config.ACCESS_LOG = False
    # Sanic's touch-up recompiles its request loop without the signal dispatches nobody
    # listens to (about a tenth of a small request's CPU). It rewrites the classes in place,
    # so only the first app of a process runs it; later ones reuse the rewritten methods.
    app.config.TOUCHUP = not getattr(Sanic, "__touched__", False)
    app.ctx.state = state
    app.ctx.gateway = gateway or Gateway.for_config(state.config, state.home)
    add_metrics_route(app)

    @app.before_server_start
    async def _open(app: Sanic) -> None:
        # Built in the background (0.3-1 s): /health answers at once, and the first request
        # usually finds the tokenizer ready.
        app.ctx.warm_up = asyncio.get_running_loop().create_task(
            asyncio.to_thread(cl100k_encoding))
        await state.engine.start()
        await app.ctx.gateway.start()
        state.engine.resilience.shared = SharedCooldowns(Cooldowns(app.ctx.gateway.store))
        # Output limits learned by one instance hold for every instance sharing the store.
        state.stores.output_limits.share(app.ctx.gateway.store)
        path = state.config.path
        app.ctx.watcher = ConfigWatcher(state, path) if (watch_config and path) else None
        if app.ctx.watcher is not None:
            app.ctx.watcher.start()
            _on_sighup(app.ctx.watcher)
        # What startup built (modules, config, tokeniser) lives as long as the process: keep it
        # out of garbage collections, so a collection during a big request stays short.
        gc.freeze()

    @app.after_server_stop
    async def _close(app: Sanic) -> None:
        if app.ctx.watcher is not None:
            await app.ctx.watcher.stop()
        await state.engine.aclose()
        await app.ctx.gateway.aclose()

    refusals = RefusalLog()

    @app.on_request
    async def _authenticate(request: Request) -> None:
        """Every key (APIKEY, APIKEYS, ADMIN_KEY) is checked; the identity goes on the request.
        The console (``/ui``) checks its own admin token instead."""
        auth = app.ctx.gateway.policy(state.config).auth
        given = presented_key(request.headers)
        identity = auth.identify(given)
        if identity is None:
            if request.path not in _OPEN_PATHS and not is_console_path(request.path):
                raise refusal(given, request.path, refusals)
            identity = ANONYMOUS
        request.ctx.identity = identity

    @app.exception(Exception)
    async def _error(request: Request, exc: Exception) -> HTTPResponse:
        return error_response(exc)

    @app.head("/")
    async def _head_root(request: Request) -> HTTPResponse:
        return empty(status=200, headers={"content-type": "text/plain"})

    @app.get("/")
    async def _root(request: Request) -> HTTPResponse:
        return json_response({"name": "ccr", "version": __version__, "status": "ok"})

    worker = worker_number()

    @app.get("/health")
    async def _health(request: Request) -> HTTPResponse:
        gateway: Gateway = app.ctx.gateway
        await gateway.store.check()  # current even when no request touched the store lately
        teams = gateway.health()
        degraded = teams["state"]["status"] != "ok" or (
            teams["ledger"] is not None and teams["ledger"]["status"] != "ok")
        policy = gateway.policy(state.config)
        identity = request.ctx.identity
        if (policy.keys.admin_key and not identity.admin) or (
                policy.auth.required and not identity.authenticated):
            # details (config path, errors, store and ledger state) are for the admin key, or
            # any client key when there is no admin key; the pid stays, as `ccr start` and
            # `ccr status` identify their server by it
            return json_response({"status": "degraded" if degraded else "ok",
                                  "version": __version__, "pid": server_pid(),
                                  "uptime_s": round(time.time() - state.stats.started_at, 1)})
        return json_response({
            "status": "degraded" if degraded else "ok",
            **teams,
            "version": __version__,
            "uptime_s": round(time.time() - state.stats.started_at, 1),
            "requests": state.stats.requests,
            "errors": state.stats.errors,
            "providers": len(state.config.providers),
            "config": str(state.config.path) if state.config.path else None,
            "reloads": state.reloads,
            "reload_error": state.reload_error,
            "router_script_error": getattr(state.engine.script, "load_error", None),
            "scripts": state.engine.scripts_status(),
            "provider_health": state.engine.resilience.health.status(
                state.engine.resilience.providers(state.config)),
            "learned_limits": state.stores.output_limits.snapshot(),
            "pid": server_pid(),
            **({"worker": worker, "worker_pid": os.getpid()} if worker else {}),
        })

    @app.get("/api/sessions/<session_id>")
    async def _session(request: Request, session_id: str) -> HTTPResponse:
        """A session's last-turn usage and route, for status lines (no transcript reading)."""
        shared = await app.ctx.gateway.session(session_id, request.ctx.identity)
        if shared is not None:
            view = await session_view(app.ctx.gateway, session_id, shared)
            view["fallback"] = state.engine.resilience.notes.get(session_id)
            return json_response(view)
        usage = state.stores.sessions.get(session_id) if (
            request.ctx.identity.client is None or request.ctx.identity.admin) else None
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
            "fallback": state.engine.resilience.notes.get(session_id),
        })

    @app.get("/api/providers")
    async def _providers(request: Request) -> HTTPResponse:
        """Each provider's health (keys masked); behind APIKEY like every /api path."""
        engine = state.engine
        resilience = engine.resilience
        return json_response({"providers": resilience.health.status(
            resilience.providers(engine.config))})

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
        check_messages_request(body)
        return json_response({"input_tokens": await state.stores.tokens.acount_request(body)})

    @app.post("/v1/messages")
    async def _messages(request: Request) -> HTTPResponse | None:
        return await handle_messages(state, request)

    @app.post("/v1/chat/completions")
    async def _chat_completions(request: Request) -> HTTPResponse | None:
        return await handle_chat_completions(state, request)

    app.blueprint(console_blueprint())
    return app


def error_response(exc: Exception) -> HTTPResponse:
    headers = {"request-id": request_id()}
    if isinstance(exc, ApiError):
        status, body = exc.status, exc.to_body()
        headers.update(exc.headers)
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
    retry_after = getattr(exc, "retry_after_s", None)
    if isinstance(retry_after, int):
        headers["retry-after"] = str(retry_after)
    if isinstance(exc, BudgetExceeded):
        headers["x-should-retry"] = "false"  # nothing changes before the budget resets
    return json_response(body, status=status, headers=headers)

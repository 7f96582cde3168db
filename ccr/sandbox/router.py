"""``custom_router.py`` as the server sees it: calls to ``router(req, config)`` in the sandbox pool.

Big body fields are sent lazily (the worker asks for the ones the script reads), and the
reply is checked as untrusted data before the host uses it.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
import logging
import time
from collections.abc import Mapping
from typing import Any

from ccr.sandbox.policy import (
    MAX_ERROR_CHARS,
    MAX_FALLBACK_ROUTES,
    MAX_OUTPUT_CHARS,
    MAX_REASON_CHARS,
    MAX_ROUTE_CHARS,
    truncate,
)
from ccr.sandbox.pool import JSON_ENCODER, ScriptPool, Serve, encode_message
from ccr.sandbox.result import ScriptResult
from ccr.sandbox.text import clean_error, clean_output

log = logging.getLogger(__name__)

#: Body fields longer than this (or any list) are sent only when the script reads them.
_LAZY_STR_CHARS = 2048
#: Every this many calls, all big body fields start out pending again, to relearn which ones
#: the script reads (those it read last time are sent up front, saving a round trip).
_RELEARN_EVERY = 64


class RouterScript(ScriptPool):
    """``custom_router.py`` run in persistent sandbox worker processes.

    ``call`` never raises for anything the script does: problems come back as a
    :class:`ScriptResult` with ``value=None`` and a readable ``error``.
    """

    #: Big body fields the script read lately (sent up front), and calls so far.
    _hot: frozenset[str] = frozenset()
    _calls = 0

    def call_sync(self, req: dict[str, Any], config: dict[str, Any]) -> ScriptResult:
        """One call from synchronous code (``ccr route --dry-run``), in a private event loop."""
        once = RouterScript(
            self.path, timeout_ms=self.timeout_ms, memory_mb=self.memory_mb, workers=1,
            max_source_bytes=self.max_source_bytes,
        )

        async def run() -> ScriptResult:
            async with once:
                return await once.call(req, config)

        try:
            asyncio.get_running_loop()
        except RuntimeError:
            result = asyncio.run(run())
        else:  # called from inside a running loop: give the private loop its own thread
            with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
                result = pool.submit(asyncio.run, run()).result()
        if self._start_task is None:
            self.load_error = once.load_error
        return result

    # -- calls -----------------------------------------------------------------------------------

    #: False once a call found no ``on_error`` in the script (until the script changes).
    has_on_error: bool | None = None
    _on_error_version: int = -1

    async def call(self, req: dict[str, Any], config: dict[str, Any]) -> ScriptResult:
        """Run ``router(req, config)``; never raises for anything the script does."""
        return await self._call(req, config, None)

    async def on_error(self, req: dict[str, Any], error: dict[str, Any],
                       config: dict[str, Any]) -> ScriptResult:
        """Run the script's optional ``on_error(req, error, config)`` after a target failed
        before the first byte: its ``value`` is the route to try next, or None (the configured
        fallback). A script without ``on_error`` is not called again until it changes."""
        version = self._versions
        if self.has_on_error is False and self._on_error_version == version:
            return ScriptResult(value=None, error=None, elapsed_ms=0.0, missing=True)
        result = await self._call(req, config, error)
        if result.missing:
            self.has_on_error, self._on_error_version = False, version
        elif result.error is None:
            self.has_on_error = True
        return result

    async def _call(self, req: dict[str, Any], config: dict[str, Any],
                    error: dict[str, Any] | None) -> ScriptResult:
        started = time.perf_counter()
        req = with_clock(req)
        fetched: set[str] = set()
        hot = frozenset[str]()

        def build(version: int) -> tuple[bytes, Serve | None]:
            nonlocal hot
            self._calls += 1
            hot = self._hot if self._calls % _RELEARN_EVERY else frozenset()
            message, body, lazy = _call_message(version, self.timeout_ms, req, config, hot,
                                                error)
            return message, _lazy_server(body, lazy, fetched)

        try:
            trip = await self._round_trip(build)
        except Exception as exc:  # never let the sandbox's own trouble fail the request
            problem = clean_error(f"{self.name}: the sandbox failed ({type(exc).__name__}: "
                                  f"{truncate(str(exc), 120)})")
            log.warning("%s; the built-in rules decide", problem)
            return self._result(started, None, problem)
        if trip.reply is None:
            return self._result(started, None, trip.error, timed_out=trip.timed_out,
                                disabled=trip.disabled)
        self._hot = hot | fetched
        if error is not None and trip.reply.get("missing") is True:
            return self._result(started, None, None, missing=True)
        return self._finish(started, trip.reply, config)

    def _finish(
        self, started: float, reply: dict[str, Any], config: dict[str, Any],
    ) -> ScriptResult:
        """Check a worker's reply as untrusted data and turn it into a result."""
        timed_out = reply.get("timed_out") is True
        value, error = reply.get("value"), reply.get("error")
        error = clean_error(truncate(error, MAX_ERROR_CHARS)) if isinstance(error, str) else None
        fallback: tuple[str, ...] | None = None
        reason: str | None = None
        if isinstance(value, dict):
            value, fallback, reason, problem = _decision_parts(value)
            if problem is not None:
                value, error = None, f"{self.name}: {problem}"
        if value is not None:
            if type(value) is not str or len(value) > MAX_ROUTE_CHARS:
                value, error = None, f"{self.name}: the sandbox sent back an invalid route"
            elif not _is_configured(value, config):
                shown = truncate(value, 80)
                value, error = None, (
                    f"{self.name}: router() returned {shown!r}, which is not a configured "
                    '"provider,model"'
                )
        output = reply.get("output")
        output = clean_output(output[: MAX_OUTPUT_CHARS + 40]) if isinstance(output, str) else ""
        if value is None:
            fallback = reason = None
        return self._result(started, value, error, output=output, timed_out=timed_out,
                            fallback=fallback, reason=reason)

    def _result(
        self, started: float, value: str | None, error: str | None, **extra: Any
    ) -> ScriptResult:
        extra = {k: v for k, v in extra.items() if v is not None}
        elapsed = (time.perf_counter() - started) * 1000
        result = ScriptResult(value=value, error=error, elapsed_ms=elapsed, **extra)
        self.stats.note(error, timed_out=result.timed_out, disabled=result.disabled)
        return result


def with_clock(req: dict[str, Any]) -> dict[str, Any]:
    """``req`` with the fields every call carries: ``now`` (the server's local time, ISO 8601
    with its offset, unless the caller set one, as a dry run's ``--now`` does) and
    ``providers`` (provider health; empty until the server reports it)."""
    if isinstance(req, dict) and ("now" not in req or "providers" not in req):
        now = req.get("now") or datetime.datetime.now().astimezone().isoformat()
        req = {"providers": {}, **req, "now": now}
    return req


def _decision_parts(value: dict[str, Any]
                    ) -> tuple[str | None, tuple[str, ...] | None, str | None, str | None]:
    """A worker's ``{"route", "fallback", "reason"}`` checked again as untrusted data:
    ``(route, fallback, reason, problem)``."""
    route, fallback, reason = value.get("route"), value.get("fallback"), value.get("reason")
    if route is not None and (type(route) is not str or len(route) > MAX_ROUTE_CHARS):
        return None, None, None, "the sandbox sent back an invalid route"
    routes: tuple[str, ...] | None = None
    if fallback is not None:
        if not isinstance(fallback, list) or len(fallback) > MAX_FALLBACK_ROUTES or not all(
                type(r) is str and len(r) <= MAX_ROUTE_CHARS for r in fallback):
            return None, None, None, "the sandbox sent back an invalid fallback list"
        routes = tuple(fallback)
    if reason is not None and type(reason) is not str:
        return None, None, None, "the sandbox sent back an invalid reason"
    return route, routes, clean_error(reason[:MAX_REASON_CHARS]) if reason else None, None


def _call_message(
    version: int,
    timeout_ms: float,
    req: Mapping[str, Any],
    config: Mapping[str, Any],
    hot: frozenset[str],
    error: Mapping[str, Any] | None = None,
) -> tuple[bytes, Mapping[str, Any], frozenset[str]]:
    """The encoded call message, with big body fields not in ``hot`` left for the worker to
    ask for; also the body and the names of those pending fields."""
    if not isinstance(req, Mapping):
        raise TypeError(f"req must be a dict, not {type(req).__name__}")
    body = req.get("body")
    lazy: frozenset[str] = frozenset()
    if isinstance(body, dict):
        lazy = frozenset(k for k, v in body.items() if k not in hot and _is_big(v))
        if lazy:
            req = {**req, "body": {k: None if k in lazy else v for k, v in body.items()}}
    else:
        body = {}
    message = {"op": "call", "v": version, "t": timeout_ms, "req": req, "lazy": sorted(lazy),
               "config": config}
    if error is not None:
        message.update(fn="on_error", error=error)
    return encode_message(message), body, lazy


def _is_big(value: Any) -> bool:
    return isinstance(value, list) or (isinstance(value, str) and len(value) > _LAZY_STR_CHARS)


def _lazy_server(body: Mapping[str, Any], lazy: frozenset[str], fetched: set[str]) -> Any:
    """Answers a worker's ``need`` for one of this call's pending body fields."""

    def serve(key: str) -> bytes:
        if key not in lazy or key in fetched:
            raise LookupError(f"{key!r} is not a pending field")
        fetched.add(key)
        head = b'{"key":' + JSON_ENCODER.encode(key).encode()
        try:
            return head + b',"value":' + JSON_ENCODER.encode(body[key]).encode() + b"}\n"
        except (TypeError, ValueError):
            return head + b',"error":"the field is not JSON data"}\n'

    return serve


def _is_configured(route: str, config: Mapping[str, Any]) -> bool:
    """Whether ``route`` names a provider/model in ``config["Providers"]`` (when it has one)."""
    providers = config.get("Providers") if isinstance(config, Mapping) else None
    if not isinstance(providers, list):
        return True  # nothing to check against: the host's own check decides
    name, comma, model = route.partition(",")
    if not comma:
        return False
    name, model = name.strip().lower(), model.strip().lower()
    for provider in providers:
        if isinstance(provider, Mapping) and str(provider.get("name", "")).lower() == name:
            models = provider.get("models")
            return isinstance(models, list) and any(str(m).lower() == model for m in models)
    return False

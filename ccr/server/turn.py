"""One client request's life on the server, whatever format the client speaks.

Both ``/v1/messages`` and ``/v1/chat/completions`` go through a :class:`Turn`: the gateway
admits it (keys, limits, budgets), the engine routes and opens it, and afterwards the engine,
the gateway (ledger, metrics) and the request log each get what they need, exactly once. The
handlers keep only what differs: parsing their format and writing their answer.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Any

from sanic import Request

from ccr.engine.attempt_loop import AnsweredExchange, OnAccepted, attempts_line, route_headers
from ccr.engine.request import ClientRequest
from ccr.errors import ApiError
from ccr.logs import request_line
from ccr.routing.decide import Decision
from ccr.server.auth import ANONYMOUS, Identity
from ccr.server.gateway import Gateway, Ticket
from ccr.server.state import AppState

request_log = logging.getLogger("ccr.requests")


def request_id() -> str:
    return "req_" + uuid.uuid4().hex[:24]


class Turn:
    """Use as ``turn = Turn(state, request)`` then ``try: ... except ApiError: turn.refused(exc)
    ... finally: turn.close()``; :meth:`open` hands back the exchange and its headers."""

    def __init__(self, state: AppState, request: Request) -> None:
        self.started = time.monotonic()
        self.state = state
        self.request = request
        self.engine = state.engine
        self.gateway: Gateway = request.app.ctx.gateway
        self.identity: Identity = getattr(request.ctx, "identity", ANONYMOUS)
        self.line: dict[str, Any] = {"path": request.path}
        self.status = 200
        self.decision: Decision | None = None
        self.exchange: AnsweredExchange | None = None
        self.ticket: Ticket | None = None
        self.first_byte_s: float | None = None
        self.added_s: float | None = None
        state.stats.requests += 1
        state.idle.started()
        self.engine.in_flight += 1
        self.gateway.metrics.in_flight.inc()

    async def open(self, body: dict[str, Any], *, model: Any,
                   on_accepted: OnAccepted | None = None) -> AnsweredExchange:
        """Admit, route and open ``body`` (an Anthropic Messages request); raises ApiError
        while no event has been sent to the client. ``on_accepted`` gets a stream's response
        headers as soon as they are final (see :meth:`Engine.open`)."""
        engine, gateway, identity = self.engine, self.gateway, self.identity
        projects = engine.stores.projects
        self.ticket = await gateway.admit(engine.config, identity, body, self.request.headers,
                                          projects.locate if projects else None,
                                          want_spend=engine.script is not None)
        ticket = self.ticket
        client_request = ClientRequest(
            body, self.request.headers, client=identity.client,
            session_usage=ticket.session_usage,
            router=gateway.policy(engine.config).client_router(engine.config, identity.client),
            spend=ticket.spend.as_dict() if ticket.spend else None)
        self.decision = decision = await engine.route(client_request)
        gateway.apply_budget(engine.config, ticket, decision)
        ctx = decision.ctx
        assert ctx is not None
        line = self.line
        line.update(session=ctx.session_id, model=model, tokens=ctx.token_count,
                    rule=decision.rule, route=decision.route.name)
        if identity.client:
            line["client"] = identity.client
        if decision.script_error:
            line["script_error"] = decision.script_error
        if decision.reason:
            line["reason"] = decision.reason
        self.exchange = exchange = await engine.open(client_request, decision,
                                                     on_accepted=on_accepted)
        if exchange.agent_name:
            line["agent"] = exchange.agent_name
        upstream_s = exchange.outcome.upstream_latency_s or 0
        line["upstream_ms"] = round(upstream_s * 1000, 1)
        self.added_s = time.monotonic() - self.started - upstream_s
        return exchange

    def headers(self, route_headers: dict[str, str] | None = None) -> dict[str, str]:
        """The ``x-ccr-*`` headers of the answer (``route_headers`` when they were sent before
        the answer was in); the attempts (and a fallback) go on the log line."""
        exchange, decision = self.exchange, self.decision
        assert decision is not None
        # before the answer is in: the headers a stream sends as soon as its upstream began
        headers = exchange.headers if exchange is not None else dict(route_headers or {})
        if decision.reason:
            headers["x-ccr-reason"] = _header_text(decision.reason)
        if exchange is None:
            return headers
        self.line["attempts"] = headers["x-ccr-attempts"]
        if "x-ccr-fallback-from" in headers:
            self.line.update(route=exchange.route.name, fallback_from=decision.route.name)
        self.line["tried"] = attempts_line(exchange.attempts)
        return headers

    def sent(self) -> None:
        """The first byte of the answer went out (for time-to-first-byte)."""
        if self.first_byte_s is None:
            self.first_byte_s = time.monotonic() - self.started

    def refused(self, exc: ApiError) -> None:
        """The answer is ``exc``: note it, with the route headers the client should see."""
        self.status = exc.status
        self.line["error"] = exc.message
        if self.decision is not None and "x-ccr-route" not in exc.headers:
            exc.headers.update(route_headers(self.decision.route, None, None))
        exc.headers.setdefault("x-ccr-attempts", "0")  # refused before any upstream call
        self.line["attempts"] = exc.headers["x-ccr-attempts"]

    def crashed(self, exc: BaseException) -> None:
        self.status = 499 if not isinstance(exc, Exception) else 500
        self.line["error"] = type(exc).__name__

    def close(self) -> None:
        """After the answer, streamed to its end or not: usage, ledger, metrics, one log line."""
        engine, decision, exchange, line = self.engine, self.decision, self.exchange, self.line
        engine.in_flight -= 1
        self.state.idle.ended()
        self.gateway.metrics.in_flight.dec()
        if exchange is not None and decision is not None:
            outcome = exchange.outcome
            if outcome.error:
                self.status = outcome.status
                line["error"] = outcome.error
            usage = outcome.usage
            if usage:
                line.update(input=usage.get("input_tokens"), output=usage.get("output_tokens"),
                            cache_read=usage.get("cache_read_input_tokens") or None,
                            stop=outcome.stop_reason)
            engine.finish(decision, exchange)
        elif decision is not None:
            engine.finish_failed(decision, self.status, line.get("error"))
        if self.ticket is not None:
            self.gateway.done(engine.config, self.ticket, decision=decision, exchange=exchange,
                              status=self.status, first_byte_s=self.first_byte_s,
                              added_s=self.added_s)
        if self.status >= 400:
            self.state.stats.errors += 1
        if request_log.isEnabledFor(logging.INFO):
            line["status"] = self.status
            line["ms"] = round((time.monotonic() - self.started) * 1000, 1)
            request_log.info(request_line(line))


def _header_text(text: str) -> str:
    """One line of printable latin-1, as an HTTP header value must be."""
    return "".join(c if " " <= c <= "~" else "?" for c in text)[:200]

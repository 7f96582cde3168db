"""``GET /metrics`` (Prometheus text format) and the session view with running cost.

``/metrics`` needs a valid key like any other path when keys are configured, and the admin key
when ``METRICS.require_admin`` is set; ``METRICS.enabled: false`` turns it off.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sanic import HTTPResponse, Request, Sanic
from sanic.response import raw

from ccr.errors import ApiError
from ccr.ledger import SpendTracker, Who
from ccr.server.gateway import Gateway


def add_metrics_route(app: Sanic) -> None:
    @app.get("/metrics")
    async def _metrics(request: Request) -> HTTPResponse:
        gateway: Gateway = app.ctx.gateway
        keys = gateway.policy(app.ctx.state.config).keys
        if not keys.metrics_enabled:
            raise ApiError("metrics are turned off (METRICS.enabled is false)", 404)
        if keys.metrics_require_admin and not request.ctx.identity.admin:
            raise ApiError("metrics need the admin key (METRICS.require_admin)", 403)
        body, content_type = gateway.metrics.render()
        return raw(body, content_type=content_type)


async def session_view(gateway: Gateway, session_id: str,
                       record: dict[str, Any]) -> dict[str, Any]:
    """What ``/api/sessions/<id>`` returns from the shared record: the last turn's usage, and
    the session's running cost and today's total (USD) for the status line."""
    client = record.get("client")
    spend = await SpendTracker(gateway.store).spend(
        Who(client=client if isinstance(client, str) else None, session=session_id),
        datetime.now(UTC))
    total_input = sum(int(record.get(k) or 0) for k in (
        "input_tokens", "cache_read_input_tokens", "cache_creation_input_tokens"))
    return {
        "session_id": session_id,
        "input_tokens": record.get("input_tokens", 0),
        "output_tokens": record.get("output_tokens", 0),
        "cache_read_input_tokens": record.get("cache_read_input_tokens", 0),
        "cache_creation_input_tokens": record.get("cache_creation_input_tokens", 0),
        "total_input": total_input,
        "turns": record.get("turns", 0),
        "route": record.get("last_route"),
        "updated_at": record.get("updated_at"),
        "cost_usd": round(spend.session, 6),
        "today_usd": round(spend.client_today if client else spend.router_today, 6),
    }

"""One round trip: Anthropic request → transformer chain → upstream → back to Anthropic.

The server calls :func:`open_exchange` (which fails with a proper HTTP error while nothing has
been sent to the client yet), then either ``json()`` or ``events()`` on what it returns.
Stream events are forwarded as they are converted; nothing is buffered whole.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ccr.agents.base import AgentRun
from ccr.convert.request import anthropic_to_openai
from ccr.engine.converted import ConvertedExchange
from ccr.engine.passthrough import PassthroughExchange
from ccr.engine.roundtrip import BaseExchange, Outcome
from ccr.engine.upstream import Upstream
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.transformers.chain import Chain

__all__ = ["BaseExchange", "Outcome", "open_exchange"]


async def open_exchange(
    *,
    body: dict[str, Any],
    route: Route,
    chain: Chain,
    upstream: Upstream,
    input_estimate: int,
    client_headers: Mapping[str, str] | None = None,
    agent: AgentRun | None = None,
) -> ConvertedExchange | PassthroughExchange:
    """Convert and send; raises :class:`ApiError` (nothing sent to the client yet) on failure.
    An ``agent`` (whose tools ccr runs itself) applies to converted exchanges only."""
    stream = bool(body.get("stream"))
    ctx = TransformContext(provider=route.provider, model=route.model, stream=stream,
                           original=body, state={"client_headers": dict(client_headers or {})})
    if chain.protocol == "anthropic":
        http = chain.endpoint.build_http(body, ctx)
    else:
        unified = anthropic_to_openai(body, route.model)
        http = await chain.arequest(unified, ctx) if chain.is_async else chain.request(unified, ctx)
    started = time.monotonic()
    response = await upstream.open(http, provider=route.provider.name)
    outcome = Outcome(upstream_latency_s=time.monotonic() - started)
    timing = {"idle_s": upstream.timeouts.idle_s, "ping_interval_s": upstream.timeouts.ping_s}
    if chain.protocol == "anthropic":
        return PassthroughExchange(route, ctx, response, input_estimate, outcome, **timing)
    return ConvertedExchange(route, ctx, response, input_estimate, outcome, **timing,
                             chain=chain, upstream=upstream, agent=agent)

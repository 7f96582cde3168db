"""ccr's per-request CPU work on one body, step by step, in this process (no network).

The steps are the ones the server runs for each ``/v1/messages`` request before the upstream
call: parse the JSON, count tokens (warm cache), choose the route, convert to OpenAI, build the
upstream call and serialise it.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
from collections.abc import Callable
from typing import Any

from ccr.config import parse_config
from ccr.context.sessions import session_id_from
from ccr.context.tokens import TokenCounter
from ccr.convert.request import anthropic_to_openai
from ccr.engine.engine import Engine
from ccr.engine.request import ClientRequest
from ccr.protocol import codec
from ccr.routing.context import RequestContext, public_headers
from ccr.routing.decide import decide
from ccr.transformers.base import TransformContext


def _median_us(fn: Callable[[], object], runs: int) -> float:
    fn()  # warm: caches, lazy imports
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def _decide_median_us(ctx: RequestContext, engine: Engine, runs: int) -> float:
    config = engine.config
    await decide(ctx, config)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await decide(ctx, config)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


async def _route_median_us(request: ClientRequest, engine: Engine, runs: int) -> float:
    """The whole of ``Engine.route``: context (warm token count, session) plus the rules."""
    await engine.route(request)
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await engine.route(request)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1e6


def measure(
    body: dict[str, Any], headers: dict[str, str], config: dict[str, Any], runs: int = 1000
) -> dict[str, float]:
    """Median microseconds of each hot-path step on ``body`` (and their sum)."""
    engine = Engine.build(parse_config(config, env={}))
    route_provider = engine.config.providers[0]
    model = route_provider.models[0]
    chain = engine.chains[(route_provider.name, model)]
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    counter = TokenCounter()
    tokens = counter.count_request(body)
    ctx = RequestContext(
        body=body,
        headers=public_headers(headers),
        token_count=tokens,
        router=engine.config.router,
        session_id=session_id_from(headers, body),
    )
    tctx = TransformContext(provider=route_provider, model=model,
                            stream=bool(body.get("stream")), original=body)
    unified = anthropic_to_openai(body, model)
    upstream_body = chain.request(unified, tctx).body

    steps: dict[str, float] = {
        f"parse request ({len(raw) // 1024} KB)": _median_us(lambda: codec.loads(raw), runs),
        "session id + public headers": _median_us(
            lambda: (session_id_from(headers, body), public_headers(headers)), runs
        ),
        "TokenCounter.count_request (warm)": _median_us(
            lambda: counter.count_request(body), runs
        ),
        "routing rules (decide)": asyncio.run(_decide_median_us(ctx, engine, runs)),
        "anthropic_to_openai": _median_us(lambda: anthropic_to_openai(body, model), runs),
        "chain.request (strip_extensions, headers)": _median_us(
            lambda: chain.request(unified, tctx), runs
        ),
        "serialise upstream body": _median_us(
            lambda: codec.dumps(upstream_body),
            runs,
        ),
    }
    steps["sum of the steps"] = sum(steps.values())
    # the same routing work as one call, as the server makes it (not part of the sum)
    steps["Engine.route (context + rules)"] = asyncio.run(
        _route_median_us(ClientRequest(body, headers), engine, runs)
    )
    return steps

"""ccr's CPU per streamed answer, in this process: one 200-chunk OpenAI stream through a
converted exchange's ``events()`` (SSE decode, chain, conversion, SSE encode), no network.

Run from the project root: ``python -m bench.streampath [--chunks 200] [--runs 300]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx

from ccr.config import parse_config
from ccr.engine.converted import ConvertedExchange
from ccr.engine.engine import Engine
from ccr.engine.roundtrip import Outcome
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext

CONFIG: dict[str, Any] = {
    "Providers": [{"name": "fake", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                   "api_key": "k", "models": ["fake-model"]}],
    "Router": {"default": "fake,fake-model"},
}


def openai_stream(chunks: int, *, reads: int = 1) -> list[bytes]:
    """An OpenAI text stream of ``chunks`` deltas, then finish, usage and ``[DONE]``, split
    into ``reads`` reads (1: everything back to back, as a fast upstream's bytes arrive)."""
    def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
        chunk = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
                 "model": "fake-model",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
        return b"data: " + json.dumps(chunk).encode() + b"\n\n"

    events = [event({"role": "assistant", "content": ""})]
    events += [event({"content": f"word{i} "}) for i in range(chunks)]
    events.append(event({}, "stop"))
    usage = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "created": 1,
             "model": "fake-model", "choices": [],
             "usage": {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10}}
    events.append(b"data: " + json.dumps(usage).encode() + b"\n\n")
    events.append(b"data: [DONE]\n\n")
    if reads <= 1:
        return [b"".join(events)]
    size = max(1, len(events) // reads)
    return [b"".join(events[i:i + size]) for i in range(0, len(events), size)]


class _Body(httpx.AsyncByteStream):
    def __init__(self, parts: list[bytes]) -> None:
        self.parts = parts

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for part in self.parts:
            yield part


def exchange(runtime: Engine, parts: list[bytes]) -> ConvertedExchange:
    provider = runtime.config.providers[0]
    route = Route(provider, "fake-model", "default")
    ctx = TransformContext(provider=provider, model="fake-model", stream=True,
                           original={"stream": True}, state={})
    response = httpx.Response(200, stream=_Body(parts))
    return ConvertedExchange(route, ctx, response, 10, Outcome(), idle_s=60.0,
                             ping_interval_s=15.0,
                             chain=runtime.chains[(provider.name, "fake-model")])


async def one_stream(runtime: Engine, parts: list[bytes]) -> bytes:
    out = []
    async for data in exchange(runtime, parts).events():
        out.append(data)
    return b"".join(out)


async def measure(chunks: int, runs: int, reads: int) -> dict[str, float]:
    runtime = Engine.build(parse_config(CONFIG, env={}))
    parts = openai_stream(chunks, reads=reads)
    await one_stream(runtime, parts)
    samples = []
    for _ in range(runs):
        started = time.process_time()
        await one_stream(runtime, parts)
        samples.append(time.process_time() - started)
    return {"median_ms": statistics.median(samples) * 1000,
            "mean_ms": statistics.fmean(samples) * 1000}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.streampath", description=__doc__)
    parser.add_argument("--chunks", type=int, default=200)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--reads", type=int, default=1,
                        help="upstream reads the stream arrives in (1 = back to back)")
    args = parser.parse_args(argv)
    result = asyncio.run(measure(args.chunks, args.runs, args.reads))
    print(f"{args.chunks}-chunk stream in {args.reads} read(s): "
          f"median {result['median_ms']:.3f} ms CPU, mean {result['mean_ms']:.3f} ms")


if __name__ == "__main__":
    main()

"""The load client: N concurrent keep-alive workers timing each request from send to last byte.

One run = a warm-up (discarded) then a fixed number of requests, bounded by a deadline. The
client is httpx (pooled ``AsyncClient``) or the lighter :mod:`bench.rawhttp`. With
``procs > 1`` the workers are spread over that many client processes (spawned interpreters)
that start measuring together, for when one Python client would be the bottleneck.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import math
import multiprocessing
import queue
import signal
import statistics
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx

from bench.rawhttp import RawConnection, RawHttpError

REQUEST_TIMEOUT_S = 30.0
CLIENTS = ("httpx", "raw")
_T = TypeVar("_T")


@dataclass(frozen=True)
class Target:
    """One endpoint and the exact bytes sent to it; ``marker`` must be in every good answer."""

    name: str
    url: str
    content: bytes
    headers: dict[str, str]
    marker: bytes


@dataclass
class RunResult:
    latencies_s: list[float] = field(default_factory=list)
    wall_s: float = 0.0
    errors: int = 0
    first_error: str | None = None
    #: CPU seconds the client process(es) used during the measured part.
    client_cpu_s: float = 0.0
    #: CPU seconds the server under test used during the measured part (None if unknown).
    server_cpu_s: float | None = None
    timed_out: bool = False

    @property
    def count(self) -> int:
        return len(self.latencies_s)

    @property
    def median_ms(self) -> float:
        return statistics.median(self.latencies_s) * 1000 if self.latencies_s else math.nan

    @property
    def p99_ms(self) -> float:
        return percentile(self.latencies_s, 99) * 1000

    @property
    def rps(self) -> float:
        return self.count / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def client_cpu_share(self) -> float:
        """Client CPU seconds per wall second: near 1.0 per client process means the client
        itself limited the request rate."""
        return self.client_cpu_s / self.wall_s if self.wall_s > 0 else math.nan

    @property
    def server_cpu_ms_per_req(self) -> float:
        if self.server_cpu_s is None or not self.count:
            return math.nan
        return self.server_cpu_s * 1000 / self.count

    def to_dict(self) -> dict[str, Any]:
        return {
            "requests": self.count,
            "errors": self.errors,
            "first_error": self.first_error,
            "timed_out": self.timed_out,
            "median_ms": _round(self.median_ms),
            "p99_ms": _round(self.p99_ms),
            "mean_ms": _round(statistics.fmean(self.latencies_s) * 1000)
            if self.latencies_s else None,
            "rps": _round(self.rps, 1),
            "wall_s": _round(self.wall_s),
            "client_cpu_s": _round(self.client_cpu_s),
            "client_cpu_share": _round(self.client_cpu_share),
            "server_cpu_ms_per_req": _round(self.server_cpu_ms_per_req),
        }


def merge(results: list[RunResult]) -> RunResult:
    """One result from several rounds of the same run (walls and CPU times add up)."""
    out = RunResult(server_cpu_s=0.0)
    for result in results:
        out.latencies_s += result.latencies_s
        out.wall_s += result.wall_s
        out.errors += result.errors
        out.first_error = out.first_error or result.first_error
        out.client_cpu_s += result.client_cpu_s
        out.timed_out = out.timed_out or result.timed_out
        if out.server_cpu_s is not None and result.server_cpu_s is not None:
            out.server_cpu_s += result.server_cpu_s
        else:
            out.server_cpu_s = None
    return out


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile (no interpolation), NaN for an empty list."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(pct / 100 * len(ordered)))
    return ordered[rank - 1]


def _round(value: float, digits: int = 3) -> float | None:
    return None if math.isnan(value) else round(value, digits)


# --------------------------------------------------------------------------------------------
# One client process


@dataclass
class _Tally:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None

    def fail(self, message: str) -> None:
        self.errors += 1
        if self.first_error is None:
            self.first_error = message


Poster = Callable[[Target], Awaitable[tuple[int, bytes]]]
_FAILURES = (httpx.HTTPError, RawHttpError, OSError, TimeoutError)


async def _one(post: Poster, target: Target, tally: _Tally) -> None:
    started = time.perf_counter()
    try:
        status, body = await post(target)
    except _FAILURES as exc:
        tally.fail(f"{type(exc).__name__}: {exc}")
        return
    elapsed = time.perf_counter() - started
    if status != 200 or target.marker not in body:
        tally.fail(f"HTTP {status}: {body[:300].decode(errors='replace')}")
        return
    tally.latencies.append(elapsed)


class _Stop:
    """Set by SIGINT/SIGTERM; workers check it before each request."""

    requested = False


async def _phase(
    posters: list[Poster],
    target: Target,
    requests: int,
    deadline: float,
    stop: _Stop,
) -> tuple[_Tally, float, bool]:
    """Send ``requests`` requests, one worker per poster; stop issuing at ``deadline``."""
    tally = _Tally()
    remaining = requests
    expired = False

    async def worker(post: Poster) -> None:
        nonlocal remaining, expired
        while remaining > 0 and not stop.requested:
            if time.monotonic() >= deadline:
                expired = True
                return
            remaining -= 1
            await _one(post, target, tally)

    started = time.perf_counter()
    await asyncio.gather(*(worker(post) for post in posters[: max(1, requests)]))
    return tally, time.perf_counter() - started, expired


@contextlib.asynccontextmanager
async def _posters(kind: str, concurrency: int) -> AsyncIterator[list[Poster]]:
    """One poster per worker: a shared pooled httpx client, or a raw connection each."""
    if kind == "raw":
        connections = [RawConnection(REQUEST_TIMEOUT_S) for _ in range(concurrency)]
        try:
            yield [
                functools.partial(_raw_post, connection) for connection in connections
            ]
        finally:
            for connection in connections:
                await connection.close()
        return
    async with httpx.AsyncClient(
        timeout=REQUEST_TIMEOUT_S,
        limits=httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency),
        trust_env=False,
    ) as client:
        yield [functools.partial(_httpx_post, client)] * concurrency


async def _httpx_post(client: httpx.AsyncClient, target: Target) -> tuple[int, bytes]:
    async with client.stream(
        "POST", target.url, content=target.content, headers=target.headers
    ) as response:
        parts = [chunk async for chunk in response.aiter_raw()]
        return response.status_code, b"".join(parts)


async def _raw_post(connection: RawConnection, target: Target) -> tuple[int, bytes]:
    return await connection.post(target.url, target.headers, target.content)


async def _run_async(
    target: Target,
    concurrency: int,
    requests: int,
    warmup: int,
    max_seconds: float,
    start_gate: Callable[[], None],
    stop: _Stop,
    client_kind: str,
) -> tuple[_Tally, float, float, bool, float]:
    """Warm up, pass ``start_gate``, measure; returns tally, wall, CPU, expired, start time."""
    async with _posters(client_kind, concurrency) as posters:
        if warmup:
            await _phase(posters, target, warmup, time.monotonic() + max_seconds, stop)
        if not stop.requested:
            start_gate()
        cpu_before = time.process_time()
        started_at = time.perf_counter()
        tally, wall, expired = await _phase(
            posters, target, requests, time.monotonic() + max_seconds, stop
        )
        return tally, wall, time.process_time() - cpu_before, expired, started_at


def _new_loop() -> asyncio.AbstractEventLoop:
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


async def _cancel_all(tasks: set[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


def _run(make: Callable[[_Stop], Coroutine[Any, Any, _T]]) -> _T:
    """Run ``make(stop)`` on a fresh (uv)loop; SIGINT or SIGTERM end it with KeyboardInterrupt.

    asyncio.Runner's own SIGINT handling only cancels the main task, and httpx's shielded
    connection cleanup can absorb that cancellation, leaving the workers running; a flag the
    workers check cannot be lost.
    """
    stop = _Stop()
    loop = _new_loop()
    task = loop.create_task(make(stop))
    signals = (signal.SIGINT, signal.SIGTERM)
    previous = {sig: signal.getsignal(sig) for sig in signals}

    def on_signal() -> None:
        stop.requested = True
        task.cancel()

    for sig in signals:
        loop.add_signal_handler(sig, on_signal)
    try:
        result = loop.run_until_complete(task)
    except asyncio.CancelledError:
        if stop.requested:
            raise KeyboardInterrupt from None
        raise
    finally:
        for sig in signals:
            loop.remove_signal_handler(sig)
            signal.signal(sig, previous[sig])
        loop.run_until_complete(_cancel_all(asyncio.all_tasks(loop)))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.close()
    if stop.requested:
        raise KeyboardInterrupt
    return result


# --------------------------------------------------------------------------------------------
# Public entry point


def run_load(
    target: Target,
    *,
    concurrency: int,
    requests: int,
    warmup: int,
    max_seconds: float,
    server_cpu: Callable[[], float | None] = lambda: None,
    procs: int = 1,
    client: str = "httpx",
) -> RunResult:
    """Measure ``target``; ``server_cpu`` reads the server's CPU seconds around the measurement.
    ``client`` is ``httpx`` (pooled AsyncClient) or ``raw`` (see :mod:`bench.rawhttp`)."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {CLIENTS}")
    if procs > 1:
        return _run_multi(target, concurrency, requests, warmup, max_seconds, server_cpu, procs,
                          client)
    cpu_start: list[float | None] = []
    tally, wall, client_cpu, expired, _ = _run(lambda stop: _run_async(
        target, concurrency, requests, warmup, max_seconds,
        start_gate=lambda: cpu_start.append(server_cpu()), stop=stop, client_kind=client,
    ))
    return RunResult(
        latencies_s=tally.latencies,
        wall_s=wall,
        errors=tally.errors,
        first_error=tally.first_error,
        client_cpu_s=client_cpu,
        server_cpu_s=_delta(cpu_start[0] if cpu_start else None, server_cpu()),
        timed_out=expired,
    )


def _delta(before: float | None, after: float | None) -> float | None:
    return None if before is None or after is None else after - before


def _split(total: int, parts: int) -> list[int]:
    base, extra = divmod(total, parts)
    return [base + (1 if i < extra else 0) for i in range(parts)]


def _client_process(
    target: Target,
    concurrency: int,
    requests: int,
    warmup: int,
    max_seconds: float,
    barrier: Any,
    results: Any,
    client: str,
) -> None:
    """Body of one client process of a multi-process run."""
    try:
        tally, wall, cpu, expired, started_at = _run(lambda stop: _run_async(
            target, concurrency, requests, warmup, max_seconds,
            start_gate=lambda: barrier.wait(timeout=max_seconds + 60), stop=stop,
            client_kind=client,
        ))
        results.put((tally.latencies, tally.errors, tally.first_error, started_at,
                     started_at + wall, cpu, expired))
    except BaseException as exc:
        with contextlib.suppress(Exception):
            barrier.abort()
        results.put(exc.__class__.__name__ + f": {exc}")


def _run_multi(
    target: Target,
    concurrency: int,
    requests: int,
    warmup: int,
    max_seconds: float,
    server_cpu: Callable[[], float | None],
    procs: int,
    client: str,
) -> RunResult:
    procs = max(1, min(procs, concurrency, requests))
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(procs + 1)
    results = ctx.Queue()
    workers = [
        ctx.Process(
            target=_client_process,
            args=(target, conc, reqs, wu, max_seconds, barrier, results, client),
            daemon=True,
        )
        for conc, reqs, wu in zip(
            _split(concurrency, procs), _split(requests, procs), _split(warmup, procs), strict=True
        )
    ]
    for worker in workers:
        worker.start()
    try:
        barrier.wait(timeout=2 * max_seconds + 60)
        cpu_before = server_cpu()
        collected = [results.get(timeout=max_seconds + REQUEST_TIMEOUT_S + 30) for _ in workers]
        cpu_after = server_cpu()
    except (queue.Empty, Exception) as exc:
        raise RuntimeError(f"client processes failed: {type(exc).__name__}: {exc}") from None
    finally:
        for worker in workers:
            worker.join(timeout=10)
            if worker.is_alive():
                worker.kill()
    failures = [c for c in collected if isinstance(c, str)]
    if failures:
        raise RuntimeError(f"a client process failed: {failures[0]}")
    out = RunResult(server_cpu_s=_delta(cpu_before, cpu_after))
    starts, ends = [], []
    for latencies, errors, first_error, started_at, ended_at, cpu, expired in collected:
        out.latencies_s += latencies
        out.errors += errors
        out.first_error = out.first_error or first_error
        out.client_cpu_s += cpu
        out.timed_out = out.timed_out or expired
        starts.append(started_at)
        ends.append(ended_at)
    out.wall_s = max(ends) - min(starts)
    return out

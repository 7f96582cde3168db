"""What the team gateway adds to each request, per state-store backend.

Run ``python -m bench.state_store``. For each backend (memory, SQLite on local disk, a real
redis-server on loopback started here) it times, per request, the work before routing
(``Gateway.admit``: rate-limit window, concurrency lease, shared session usage, spend and
budget check) and the work after the answer, which runs in a background task (lease release,
spend counters, session record). A client key with RATE_LIMIT, MAX_CONCURRENT_REQUESTS and a
budget is configured, so every step runs ("full"); "plain" is a single APIKEY with no limits,
no budget and no router script (only the shared session usage is read before routing).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from ccr.config import parse_config
from ccr.config.state import StateSettings
from ccr.server.auth import Identity
from ccr.server.gateway import Gateway
from ccr.state import open_store

CONFIG: dict[str, Any] = {
    "Providers": [{"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                   "models": ["m"]}],
    "Router": {"default": "p,m"},
    "APIKEYS": [{"name": "alice", "key": "alice-key-0123456789", "RATE_LIMIT": "1000000/hour",
                 "MAX_CONCURRENT_REQUESTS": 64}],
    "BUDGETS": [{"name": "daily", "scope": "client", "period": "day", "usd": 1e9}],
    "PRICES": {"p,m": {"input": 1, "output": 2}},
}


class _Exchange:
    def __init__(self) -> None:
        from ccr.engine.roundtrip import Outcome

        self.outcome = Outcome(usage={"input_tokens": 1000, "output_tokens": 100})
        config = parse_config(CONFIG, env={})
        provider = config.providers[0]
        from ccr.routing.context import Route

        self.route = Route(provider, "m", "default")


def _us(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return f"median {statistics.median(ordered) * 1e6:7.0f} µs   p99 {p99 * 1e6:7.0f} µs"


PLAIN = {k: v for k, v in CONFIG.items() if k not in ("APIKEYS", "BUDGETS")}


async def measure(name: str, settings: StateSettings, home: Path, n: int) -> None:
    await _measure(f"{name} full", CONFIG, Identity("alice", False, True), True, settings,
                   home, n)
    await _measure(f"{name} plain", PLAIN, Identity(None, False, True), False, settings, home,
                   n)


async def _measure(name: str, raw: dict[str, Any], identity: Identity, want_spend: bool,
                   settings: StateSettings, home: Path, n: int) -> None:
    config = parse_config(raw, env={})
    gateway = Gateway(open_store(settings, home=home), None)
    await gateway.start()
    body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
    headers = {"x-claude-code-session-id": "bench-session"}
    exchange = _Exchange()
    before: list[float] = []
    after: list[float] = []
    for _ in range(n + 50):
        t0 = time.perf_counter()
        ticket = await gateway.admit(config, identity, body, headers, want_spend=want_spend)
        t1 = time.perf_counter()
        await gateway._record(config, ticket, None, exchange, 200, 1.0, None, None)
        t2 = time.perf_counter()
        before.append(t1 - t0)
        after.append(t2 - t1)
    await gateway.aclose()
    print(f"{name:13s} before routing: {_us(before[50:])}   after (background): "
          f"{_us(after[50:])}")


async def main(n: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        await measure("memory", StateSettings(kind="memory"), home, n)
        await measure("sqlite", StateSettings(kind="sqlite", url=f"sqlite://{home}/s.db"), home, n)
        try:
            from tests.support.redis_server import RedisServer

            server = RedisServer(home / "redis")
        except Exception as exc:  # pytest.skip raises too when the binary is absent
            print(f"redis    skipped: {exc}")
            return
        try:
            await measure("redis", StateSettings(kind="redis", url=server.url), home, n)
        finally:
            server.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per backend")
    args = parser.parse_args()
    asyncio.run(main(args.n))

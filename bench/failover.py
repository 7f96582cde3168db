"""Failover under load: a primary that fails a share of requests, a healthy fallback.

``python -m bench.failover`` runs ``ccr serve`` against a flaky primary (30% of requests fail:
mixed 429, 500 and resets before the first byte) and a healthy fallback, 1,000 JSON requests
from 16 clients, and checks that every one succeeds: once with ``COOLDOWN`` effectively off
and no retry (every request tries the primary first: the failover path itself) and once with
the defaults (one retry after a 0.25-0.5 s backoff; three failures cool the primary for
30 s). Then it measures what a ``fallback`` section costs requests that need none: the same
healthy primary with and without fallbacks configured, 1 and 16 clients, in alternating
rounds.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.load import RunResult, Target, merge, run_load
from bench.procs import Children, free_port, hermetic_env, read_first_line, wait_until_healthy
from bench.servers import start_fake

BODY = {"model": "claude-sonnet-4-5", "max_tokens": 256,
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}]}
MARKER = b'"type":"message"'
#: The healthy comparison alternates the two configs (ABBA...) this many times.
ROUNDS = 6


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _config(port: int, primary: str, backup: str | None, **extra: Any) -> dict[str, Any]:
    providers = [{"name": "primary", "api_base_url": primary, "api_key": "sk-bench-primary",
                  "models": ["fake-model"]}]
    config: dict[str, Any] = {"HOST": "127.0.0.1", "PORT": port, "LOG": False,
                              "Providers": providers,
                              "Router": {"default": "primary,fake-model"}, **extra}
    if backup is not None:
        providers.append({"name": "backup", "api_base_url": backup,
                          "api_key": "sk-bench-backup", "models": ["fake-model"]})
        config["fallback"] = {"default": ["backup,fake-model"]}
    return config


def _ccr(children: Children, workdir: Path, name: str, config: dict[str, Any]) -> str:
    home = workdir / name
    home.mkdir(parents=True)
    path = home / "config.json"
    path.write_text(json.dumps(config))
    port = config["PORT"]
    child = children.spawn(name, [sys.executable, "-m", "ccr", "serve", "--config", str(path),
                                  "--port", str(port)],
                           env=hermetic_env(CCR_HOME=str(home), HOME=str(home)))
    base = f"http://127.0.0.1:{port}"
    wait_until_healthy(child, f"{base}/health")
    return base


def _target(base: str) -> Target:
    return Target("ccr", f"{base}/v1/messages", json.dumps(BODY).encode(),
                  {"content-type": "application/json"}, MARKER)


def _run(base: str, clients: int, requests: int) -> RunResult:
    return run_load(_target(base), concurrency=clients, requests=requests,
                    warmup=min(100, requests // 10), max_seconds=300)


def _flaky(children: Children, rate: float) -> str:
    child = children.spawn("flaky-upstream", [sys.executable, "-m", "bench.flaky_server",
                                              str(rate)], env=hermetic_env(), stdout_pipe=True)
    return f"http://127.0.0.1:{int(read_first_line(child))}/v1/chat/completions"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--failure-rate", type=float, default=0.3)
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    parser.add_argument("--healthy-only", action="store_true",
                        help="only compare healthy requests with and without fallbacks")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp, Children(Path(tmp)) as children:
        workdir = Path(tmp)
        backup = start_fake(children).chat_url
        flaky = "" if args.healthy_only else _flaky(children, args.failure_rate)
        runs = {
            "failover, no retry, no cooldown": _config(free_port(), flaky, backup,
                                                       COOLDOWN={"failures": 1_000_000},
                                                       RETRY={"max_retries": 0}),
            "failover, default RETRY and COOLDOWN": _config(free_port(), flaky, backup),
        }
        for name, config in ({} if args.healthy_only else runs).items():
            _log(f"{name}: {args.requests} requests at {args.clients} clients")
            result = _run(_ccr(children, workdir, name.replace(", ", "-").replace(" ", "-"),
                               config), args.clients, args.requests)
            results[name] = result.to_dict()
        healthy = start_fake(children).chat_url
        plain = _ccr(children, workdir, "no-fallback", _config(free_port(), healthy, None))
        guarded = _ccr(children, workdir, "with-fallback", _config(free_port(), healthy, backup))
        for clients in (1, args.clients):
            # Interleaved rounds, so drift in the machine's load falls on both alike.
            rounds: dict[str, list[RunResult]] = {"no fallback": [], "with fallback": []}
            pair = [("no fallback", plain), ("with fallback", guarded)]
            for index in range(ROUNDS):
                for name, base in pair if index % 2 == 0 else pair[::-1]:
                    rounds[name].append(_run(base, clients, args.requests // ROUNDS))
            for name, parts in rounds.items():
                _log(f"healthy, {name}: {args.requests} requests at {clients} clients")
                results[f"healthy, {name}, {clients} clients"] = merge(parts).to_dict()
    if args.json:
        print(json.dumps(results, indent=2))
        return
    print("| run | requests | errors | median ms | p99 ms | req/s |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['requests']} | {r['errors']} | {r['median_ms']:.2f} | "
              f"{r['p99_ms']:.2f} | {r['rps']:.0f} |")


if __name__ == "__main__":
    main()

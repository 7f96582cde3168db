"""What ccr adds to a request: latency (median, p99) and throughput, ccr vs. the upstream direct.

A fake OpenAI upstream runs in its own process; ccr runs as ``python -m ccr serve`` in front of
it. The same client sends the Anthropic request to ccr and the equivalent OpenAI request to the
fake directly; the difference is what ccr costs. Run from the project root::

    python -m bench.latency                 # Markdown table on stdout
    python -m bench.latency --json          # the same as JSON
    python -m bench.latency --ccr-node      # also the Node.js claude-code-router 2.0.0
    python -m bench.latency --profile       # cProfile the ccr server, print its hot spots
    python -m bench.latency --client httpx  # load client httpx instead of bench.rawhttp
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from bench import hotpath
from bench.load import CLIENTS, RunResult, Target, merge, run_load
from bench.node_ccr import NodeUnavailable, node_version, start_node_ccr
from bench.procs import (
    PROJECT_ROOT,
    Child,
    ChildFailed,
    Children,
    free_port,
    own_cpu_seconds,
    system_busy_seconds,
)
from bench.profiling import hot_spots
from bench.report import (
    DIRECT,
    Goal,
    Row,
    client_notes,
    markdown_table,
    problems,
    rows_to_json,
    verdict_lines,
    verdicts,
)
from bench.servers import (
    FAKE_MODEL,
    PROVIDER_KEY,
    FakeServer,
    Server,
    router_config,
    start_ccr,
    start_fake,
)
from ccr.convert.request import anthropic_to_openai, strip_extensions

DEFAULT_FIXTURE = PROJECT_ROOT.parent / "shared" / "fixtures" / "claude-code" / "01-plain.json"
SMALL = "small"
PLAIN = "01-plain"
CCR = "ccr"
NODE = "node-ccr-2.0.0"
GOALS = [
    Goal("<= 1 ms added median, small request", SMALL, ("json", "stream"), 1.0),
    Goal("<= 3 ms added median, 78 KB request streamed", PLAIN, ("stream",), 3.0),
]
REPLY_TEXT = b"Hello from fake."
_DROPPED_HEADERS = frozenset({
    "authorization", "x-api-key", "content-length", "host", "connection", "accept-encoding",
    "transfer-encoding",
})


@dataclass(frozen=True)
class Case:
    """A request body as a client sends it to ccr (``stream`` is set per mode)."""

    name: str
    body: dict[str, Any]
    headers: dict[str, str]
    path: str
    requests: int


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _dumps(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()


# --------------------------------------------------------------------------------------------
# Cases and targets


def small_case(requests: int) -> Case:
    body = {
        "model": "claude-sonnet-4-5",
        "max_tokens": 1024,
        "messages": [{"role": "user", "content": "Say hello in one short sentence."}],
    }
    headers = {"content-type": "application/json", "anthropic-version": "2023-06-01"}
    return Case(SMALL, body, headers, "/v1/messages", requests)


def plain_case(path: Path, requests: int) -> Case | None:
    """Claude Code's recorded first turn, with its own headers minus credentials; None if absent."""
    if not path.exists():
        return None
    recorded = json.loads(path.read_text())
    headers = {k: v for k, v in recorded.get("headers", {}).items()
               if k.lower() not in _DROPPED_HEADERS}
    headers["content-type"] = "application/json"
    return Case(PLAIN, recorded["body"], headers, recorded.get("path") or "/v1/messages", requests)


def direct_target(case: Case, stream: bool, fake_chat_url: str) -> Target:
    """The OpenAI request ccr would send for ``case``, sent straight to the fake."""
    body = strip_extensions(anthropic_to_openai({**case.body, "stream": stream}, FAKE_MODEL))
    headers = {
        "content-type": "application/json",
        "accept": "text/event-stream" if stream else "application/json",
        "authorization": f"Bearer {PROVIDER_KEY}",
    }
    return Target(DIRECT, fake_chat_url, _dumps(body), headers,
                  marker=b"data: [DONE]" if stream else REPLY_TEXT)


def router_target(name: str, case: Case, stream: bool, base_url: str) -> Target:
    return Target(name, base_url + case.path, _dumps({**case.body, "stream": stream}),
                  dict(case.headers), marker=b"message_stop" if stream else REPLY_TEXT)


# --------------------------------------------------------------------------------------------
# Facts and the in-process hot path


def machine_facts() -> dict[str, Any]:
    facts: dict[str, Any] = {
        "cpu_count": os.cpu_count(),
        "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu_model": _cpu_model(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }
    for package in ("httpx", "sanic", "uvloop", "tiktoken"):
        try:
            facts[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            facts[package] = None
    return facts


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return None


def measure_hotpath(cases: list[Case], runs: int) -> dict[str, dict[str, float]]:
    config = router_config("http://127.0.0.1:9/v1/chat/completions", 3456)
    return {
        case.name: hotpath.measure({**case.body, "stream": True}, case.headers, config, runs)
        for case in cases
    }


# --------------------------------------------------------------------------------------------
# Running


@dataclass
class Settings:
    warmup: int
    concurrencies: list[int]
    max_seconds: float
    client_procs: int
    rounds: int
    client: str


def _measure(target: Target, child: Child | None, requests: int, warmup: int, conc: int,
             settings: Settings) -> RunResult:
    cpu: Callable[[], float | None] = child.cpu_seconds if child else (lambda: None)
    return run_load(
        target,
        concurrency=conc,
        requests=requests,
        warmup=warmup,
        max_seconds=settings.max_seconds,
        server_cpu=cpu,
        procs=settings.client_procs if conc > 1 else 1,
        client=settings.client,
    )


def _measure_row(row: Row, targets: list[tuple[Target, Child]], requests: int,
                 settings: Settings) -> None:
    """Alternate the targets over ``settings.rounds`` rounds, so that a burst of load from
    elsewhere on the machine falls on all of them rather than on one."""
    rounds: dict[str, list[RunResult]] = {t.name: [] for t, _ in targets}
    per_round = [requests // settings.rounds + (1 if i < requests % settings.rounds else 0)
                 for i in range(settings.rounds)]
    # Later rounds only re-open the keep-alive connections (each round has a fresh client).
    rewarm = min(settings.warmup, 2 * row.concurrency)
    for index, count in enumerate(per_round):
        if not count:
            continue
        for target, child in targets:
            warmup = settings.warmup if index == 0 else rewarm
            rounds[target.name].append(
                _measure(target, child, count, warmup, row.concurrency, settings)
            )
    for target, _ in targets:
        result = merge(rounds[target.name])
        row.results[target.name] = result
        _log(f"  {row.case:8} {row.mode:6} c={row.concurrency:<3} {target.name:15} "
             f"median {result.median_ms:7.2f} ms  p99 {result.p99_ms:7.2f} ms  "
             f"{result.rps:7,.0f} req/s  errors {result.errors}")


def run_all(cases: list[Case], modes: list[str], fake: FakeServer, routers: dict[str, Server],
            settings: Settings) -> list[Row]:
    rows = []
    for case in cases:
        for mode in modes:
            stream = mode == "stream"
            for conc in settings.concurrencies:
                row = Row(case.name, mode, conc)
                targets = [(direct_target(case, stream, fake.chat_url), fake.child)]
                targets += [(router_target(name, case, stream, server.base_url), server.child)
                            for name, server in routers.items()]
                _measure_row(row, targets, case.requests, settings)
                rows.append(row)
    return rows


def _served_requests(server: Server) -> int:
    try:
        return int(httpx.get(server.base_url + "/health", trust_env=False, timeout=5)
                   .json()["requests"])
    except (httpx.HTTPError, ValueError, KeyError):
        return 0


@dataclass
class Measured:
    rows: list[Row]
    routers: list[str]
    elapsed_s: float
    facts: dict[str, Any]
    notes: list[str]
    profile_text: str | None = None


def run_servers(args: argparse.Namespace, cases: list[Case], modes: list[str],
                settings: Settings) -> Measured:
    """Start the fake upstream and the routers, measure every row, stop them all."""
    profile_out = (Path(tempfile.gettempdir()) / f"ccr-serve-{os.getpid()}.prof"
                   if args.profile else None)
    facts: dict[str, Any] = {"loadavg_before": [round(v, 2) for v in os.getloadavg()]}
    notes: list[str] = []
    profile_text = None
    with tempfile.TemporaryDirectory(prefix="ccr-bench-") as tmp, Children(Path(tmp)) as children:
        workdir = Path(tmp)
        fake = start_fake(children)
        facts["fake_upstream_loop"] = fake.loop
        routers: dict[str, Server] = {
            CCR: start_ccr(children, workdir, fake.chat_url, free_port(), profile_out=profile_out)
        }
        if args.ccr_node:
            routers[NODE] = start_node_ccr(children, workdir, fake.chat_url, free_port())
        _log(f"fake upstream {fake.base_url} ({fake.loop}); "
             + ", ".join(f"{n} {s.base_url}" for n, s in routers.items()))
        busy_before, ours_before = system_busy_seconds(), own_cpu_seconds(children.running)
        started = time.monotonic()
        rows = run_all(cases, modes, fake, routers, settings)
        elapsed = time.monotonic() - started
        busy_after, ours_after = system_busy_seconds(), own_cpu_seconds(children.running)
        if busy_before is not None and busy_after is not None:
            foreign = max(0.0, (busy_after - busy_before) - (ours_after - ours_before))
            facts["other_processes_cpu_share"] = round(foreign / elapsed, 3)
            if foreign / elapsed > 0.1:
                notes.append(f"other processes kept {foreign / elapsed:.0%} of a CPU busy during "
                             "the runs: the numbers are noisier than on an idle machine")
        if profile_out is not None:
            served = _served_requests(routers[CCR])
            routers[CCR].child.stop(sig=signal.SIGINT)  # Sanic stops cleanly, cProfile writes
            if profile_out.exists():
                profile_text = hot_spots(profile_out, served)
            else:
                notes.append("ccr did not write its profile (it did not exit cleanly)")
    return Measured(rows, list(routers), elapsed, facts, notes, profile_text)


# --------------------------------------------------------------------------------------------
# CLI


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000,
                        help="measured requests per run, small request (default 2000)")
    parser.add_argument("--big-requests", type=int, default=500,
                        help="measured requests per run, 78 KB request (default 500)")
    parser.add_argument("--warmup", type=int, default=200,
                        help="discarded requests before each run (default 200)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help="concurrent clients of the throughput runs (default 16); "
                             "every case also runs with 1 client")
    parser.add_argument("--max-seconds", type=float, default=120.0,
                        help="time limit of each warm-up and each measured run (default 120)")
    parser.add_argument("--rounds", type=int, default=4,
                        help="split each run into this many rounds, alternating direct and "
                             "router (default 4)")
    parser.add_argument("--client", choices=CLIENTS, default="raw",
                        help="load client: raw (minimal keep-alive HTTP/1.1, ~0.1 ms CPU per "
                             "request) or httpx (AsyncClient, ~0.5 ms); default raw, so the "
                             "client takes less CPU from the servers it measures")
    parser.add_argument("--client-procs", type=int, default=1,
                        help="client processes sharing the concurrent workers (default 1)")
    parser.add_argument("--cases", default=f"{SMALL},{PLAIN}",
                        help=f"comma-separated subset of {SMALL},{PLAIN}")
    parser.add_argument("--modes", default="json,stream", help="comma-separated subset of "
                        "json,stream")
    parser.add_argument("--fixture", type=Path, default=DEFAULT_FIXTURE,
                        help="recorded Claude Code request for the big case")
    parser.add_argument("--hotpath-runs", type=int, default=1000,
                        help="runs per step of the in-process hot-path timing (0 skips it)")
    parser.add_argument("--ccr-node", action="store_true",
                        help="also measure the Node.js claude-code-router 2.0.0 "
                             "(npm-installed into bench/.node on first use)")
    parser.add_argument("--profile", action="store_true",
                        help="run ccr under cProfile and print its hot spots "
                             "(latencies are then inflated)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of Markdown")
    args = parser.parse_args(argv)
    if min(args.requests, args.big_requests, args.concurrency, args.client_procs,
           args.rounds) < 1:
        parser.error("--requests, --big-requests, --concurrency, --client-procs and --rounds "
                     "must be >= 1")
    if args.warmup < 0 or args.max_seconds <= 0:
        parser.error("--warmup must be >= 0 and --max-seconds > 0")
    return args


def build_cases(args: argparse.Namespace, notes: list[str]) -> list[Case]:
    wanted = {c.strip() for c in args.cases.split(",") if c.strip()}
    cases = []
    if SMALL in wanted:
        cases.append(small_case(args.requests))
    if PLAIN in wanted:
        plain = plain_case(args.fixture, args.big_requests)
        if plain is None:
            notes.append(f"{PLAIN} skipped: {args.fixture} not found")
        else:
            cases.append(plain)
    return cases


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    notes: list[str] = []
    cases = build_cases(args, notes)
    modes = [m for m in ("json", "stream") if m in args.modes.split(",")]
    if not cases or not modes:
        _log("nothing to run: no case or no mode selected")
        return 2
    facts = machine_facts()
    if args.ccr_node:
        try:
            facts["node"] = node_version()
        except NodeUnavailable as exc:
            _log(f"error: {exc}")
            return 3
    settings = Settings(
        warmup=args.warmup,
        concurrencies=sorted({1, args.concurrency}),
        max_seconds=args.max_seconds,
        client_procs=args.client_procs,
        rounds=args.rounds,
        client=args.client,
    )
    hot = {}
    if args.hotpath_runs > 0:
        _log(f"timing ccr's hot path in-process ({args.hotpath_runs} runs per step) ...")
        hot = measure_hotpath(cases, args.hotpath_runs)

    try:
        measured = run_servers(args, cases, modes, settings)
    except (NodeUnavailable, ChildFailed) as exc:
        _log(f"error: {exc}")
        return 3
    rows, routers = measured.rows, measured.routers
    facts.update(measured.facts)
    notes += measured.notes
    checks = [c for router in routers for c in verdicts(rows, GOALS, router)]
    notes += client_notes(rows, args.client_procs)
    if args.profile:
        notes.append("ccr ran under cProfile: its latencies are inflated")
    document = {
        "machine": facts,
        "settings": {
            "requests_small": args.requests, "requests_big": args.big_requests,
            "warmup": args.warmup, "concurrencies": settings.concurrencies,
            "client_procs": args.client_procs, "max_seconds": args.max_seconds,
            "rounds": args.rounds, "client": args.client, "elapsed_s": round(measured.elapsed_s, 1),
        },
        "hotpath_median_us": {k: {s: round(v, 1) for s, v in steps.items()}
                              for k, steps in hot.items()},
        "runs": rows_to_json(rows),
        "targets": checks,
        "problems": problems(rows),
        "notes": notes,
    }
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        print(_markdown(document, rows, checks, measured.profile_text))
    return 1 if document["problems"] else 0


def _markdown(document: dict[str, Any], rows: list[Row], checks: list[dict[str, Any]],
              profile_text: str | None) -> str:
    facts = document["machine"]
    settings = document["settings"]
    out = [
        "## ccr latency benchmark", "",
        f"Machine: {facts['cpu_count']} CPUs ({facts['cpus_usable']} usable), "
        f"{facts['cpu_model'] or 'unknown CPU'}; {facts['implementation']} {facts['python']} "
        f"on {facts['platform']}; httpx {facts['httpx']}, sanic {facts['sanic']}, "
        f"uvloop {facts['uvloop']}; fake upstream on {facts.get('fake_upstream_loop')}"
        + (f"; node {facts['node']}" if facts.get("node") else "") + ".",
        f"Runs: {settings['warmup']} warm-up then {settings['requests_small']} (small) / "
        f"{settings['requests_big']} (78 KB) requests each, concurrency "
        f"{settings['concurrencies']}, in {settings['rounds']} rounds alternating direct and "
        f"router, {settings['client_procs']} {settings['client']} client process(es); "
        f"{settings['elapsed_s']} s in "
        f"all. Load average before: {facts.get('loadavg_before')}; other processes' CPU "
        f"during the runs: {facts.get('other_processes_cpu_share', 'n/a')} CPUs.",
        "", "Latencies in ms, send to last byte; router CPU/req = router process CPU ms per "
        "request.", "",
        markdown_table(rows), "",
        "### Targets (1 client)", "", *verdict_lines(checks), "",
    ]
    for case, steps in document["hotpath_median_us"].items():
        out += [f"### ccr hot path in-process, {case} (median µs of 1 call)", "",
                "| step | µs |", "|---|---:|"]
        out += [f"| {step} | {value:,.1f} |" for step, value in steps.items()]
        out.append("")
    if document["problems"]:
        out += ["### Problems", "", *[f"- {p}" for p in document["problems"]], ""]
    if document["notes"]:
        out += ["### Notes", "", *[f"- {n}" for n in document["notes"]], ""]
    if profile_text:
        out += [profile_text]
    return "\n".join(out)


def _interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, _interrupt)  # clean up children and temp files on SIGTERM too
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        _log("interrupted; child processes stopped")
        sys.exit(130)

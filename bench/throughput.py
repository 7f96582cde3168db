"""Throughput under load, ccr beside the Node.js claude-code-router 2.0.0 in one run.

Two upstreams (:mod:`bench.stream_upstream`) run in their own processes: one writes each
200-chunk answer back to back, the other spaces its chunks 5 ms apart. Every router under test
(``ccr serve --workers 1``, ``ccr serve --workers 2``, CCR 2.0.0) gets the same config with both
as providers; the client picks one with the ``provider,model`` model name. The measurements
run in rounds, each router in turn within a round (the order rotating), so background load on
this shared machine falls on all of them alike, and the report gives ratios to CCR 2.0.0.

Measured, per router:

- ``rate@16`` / ``rate@64``: streams per second, chunks back to back, 16 and 64 clients, and the
  router's CPU (all its processes) per stream;
- ``ttfb``: 16 clients on the spaced upstream, median time to the first response byte and to the
  first ``content_block_delta``;
- ``added``: one client, median time for the 78 KB Claude Code request and a 700 KB
  conversation streamed, minus the same request sent to the upstream directly;
- ``gap p99``: 16 streams on the spaced upstream while 4 cold 700 KB requests arrive: the 99th
  percentile of the time between two reads of those streams (and the same without the cold
  requests, which is what the machine alone gives);
- idle RSS of each router process at the end, after ``IDLE_S`` without requests.

Run from the project root: ``python -m bench.throughput [--rounds 3] [--json]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.bodies import PLAIN_FIXTURE, conversation, load_fixture
from bench.load import percentile
from bench.node_ccr import CLI as NODE_CLI
from bench.node_ccr import NodeUnavailable, ensure_installed, node_version
from bench.procs import Children, free_port, hermetic_env, read_first_line, wait_until_healthy
from ccr.convert.request import anthropic_to_openai, strip_extensions

MODEL = "fake-model"
KEY = "sk-bench-upstream-key"
CCR1, CCR2, NODE = "ccr", "ccr --workers 2", "CCR 2.0.0"
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
_PAGE = os.sysconf("SC_PAGE_SIZE")
#: How long the routers sit idle before their RSS is read (ccr gives freed memory back to the
#: system after a second without requests, at most every five seconds).
IDLE_S = 6.0


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# -- processes ---------------------------------------------------------------------------------


def tree_pids(root: int) -> list[int]:
    """``root`` and all its descendants (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += parents.get(pid, [])
    return out


def tree_cpu_s(root: int) -> float:
    total = 0.0
    for pid in tree_pids(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    return total


def rss_mib(pid: int) -> float:
    try:
        pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    except (OSError, IndexError, ValueError):
        return math.nan
    return pages * _PAGE / 2**20


def machine_busy_s() -> float:
    ticks = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(ticks) - ticks[3] - ticks[4]) / _CLOCK_TICKS


@dataclass
class Router:
    name: str
    base_url: str
    pid: int
    #: Processes that do the serving (the workers under a supervisor, else the server).
    servers: list[int] = field(default_factory=list)


def router_config(fast_url: str, spaced_url: str, port: int) -> dict[str, Any]:
    def provider(name: str, url: str) -> dict[str, Any]:
        return {"name": name, "api_base_url": url, "api_key": KEY, "models": [MODEL]}

    return {"HOST": "127.0.0.1", "PORT": port, "LOG": False,
            "Providers": [provider("fast", fast_url), provider("spaced", spaced_url)],
            "Router": {"default": f"fast,{MODEL}"}}


def start_upstream(children: Children, name: str, chunks: int, gap_ms: float) -> str:
    child = children.spawn(name, [sys.executable, "-m", "bench.stream_upstream", "--chunks",
                                  str(chunks), "--gap-ms", str(gap_ms)],
                           env=hermetic_env(), stdout_pipe=True)
    return f"http://127.0.0.1:{int(read_first_line(child))}/v1/chat/completions"


def start_ccr(children: Children, workdir: Path, config: dict[str, Any], workers: int,
              name: str) -> Router:
    home = workdir / f"ccr-home-{workers}"
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.json").write_text(json.dumps(config))
    user_home = workdir / "user-home"
    user_home.mkdir(exist_ok=True)
    child = children.spawn(f"ccr-{workers}", [
        sys.executable, "-m", "ccr", "serve", "--config", str(home / "config.json"),
        "--port", str(config["PORT"]), *(["--workers", str(workers)] if workers > 1 else [])],
        env=hermetic_env(CCR_HOME=str(home), HOME=str(user_home)))
    base = f"http://127.0.0.1:{config['PORT']}"
    wait_until_healthy(child, f"{base}/health")
    deadline = time.monotonic() + 30
    servers = [child.pid]
    while workers > 1 and time.monotonic() < deadline:
        servers = [p for p in tree_pids(child.pid) if p != child.pid]
        if len(servers) >= workers:
            break
        time.sleep(0.1)
    time.sleep(1.0 if workers > 1 else 0.0)  # every worker listening
    return Router(name, base, child.pid, servers)


def start_node(children: Children, workdir: Path, config: dict[str, Any]) -> Router:
    ensure_installed()
    home = workdir / "node-home"
    (home / ".claude-code-router").mkdir(parents=True, exist_ok=True)
    (home / ".claude-code-router" / "config.json").write_text(json.dumps(config))
    node = shutil.which("node") or "node"
    child = children.spawn("node-ccr", [node, str(NODE_CLI), "start"],
                           env=hermetic_env(HOME=str(home)), cwd=home)
    base = f"http://127.0.0.1:{config['PORT']}"
    wait_until_healthy(child, f"{base}/health")
    return Router(NODE, base, child.pid, [child.pid])


# -- the client --------------------------------------------------------------------------------


class Connection:
    """One keep-alive connection; times each streamed answer from the request's last byte."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, request: bytes, *, gaps: list[float] | None = None
                   ) -> tuple[float, float, float]:
        """Send, read the whole answer; (first byte, first content delta, end) in seconds
        after sending. ``gaps`` collects the time between reads once the stream has begun."""
        if self.writer is None or self.writer.is_closing():
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.reader, self.writer
        assert reader is not None
        started = time.perf_counter()
        writer.write(request)
        first = token = math.nan
        buffer = b""
        body_start = -1
        length = -1
        last = started
        while True:
            data = await reader.read(262144)
            now = time.perf_counter()
            if not data:
                raise ConnectionError("the router closed the connection")
            if math.isnan(first):
                first = now - started
            elif gaps is not None:
                gaps.append(now - last)
            last = now
            buffer += data
            if math.isnan(token) and b"content_block_delta" in data:
                token = now - started
            if body_start < 0:
                end = buffer.find(b"\r\n\r\n")
                if end < 0:
                    continue
                body_start = end + 4
                head = buffer[:end].lower()
                if not head.startswith(b"http/1.1 200"):
                    raise ConnectionError(buffer[:300].decode(errors="replace"))
                if b"content-length:" in head:
                    length = int(head.split(b"content-length:", 1)[1].split(b"\r\n", 1)[0])
            if length >= 0:
                if len(buffer) - body_start >= length:
                    break
            elif buffer.endswith(b"\r\n0\r\n\r\n"):
                break
        if b"message_stop" not in buffer[-4096:] and b'"finish_reason":"stop"' not in buffer:
            raise ConnectionError("the stream did not finish: " + buffer[-300:].decode(
                errors="replace"))
        return first, token, time.perf_counter() - started

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def http_request(url: str, body: dict[str, Any], headers: dict[str, str] | None = None
                 ) -> bytes:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    lines = [f"POST {parts.path} HTTP/1.1", f"Host: {parts.hostname}:{parts.port}",
             "Content-Type: application/json", f"Content-Length: {len(content)}",
             "x-api-key: bench", "anthropic-version: 2023-06-01"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()
              if k.lower() not in ("content-length", "host", "content-type", "x-api-key",
                                   "anthropic-version", "connection", "accept-encoding")]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + content


def address(url: str) -> tuple[str, int]:
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or 80


def small_body(provider: str) -> dict[str, Any]:
    return {"model": f"{provider},{MODEL}", "max_tokens": 1024, "stream": True,
            "messages": [{"role": "user", "content": "Write a long answer."}]}


def direct_body(body: dict[str, Any]) -> dict[str, Any]:
    """The OpenAI request a router sends upstream for ``body`` (the direct baseline)."""
    return strip_extensions(anthropic_to_openai(body, MODEL))


@dataclass
class RateResult:
    streams: int = 0
    wall_s: float = 0.0
    cpu_s: float = 0.0
    errors: int = 0
    first_error: str | None = None

    @property
    def rps(self) -> float:
        return self.streams / self.wall_s if self.wall_s else math.nan

    @property
    def cpu_ms(self) -> float:
        return self.cpu_s * 1000 / self.streams if self.streams else math.nan


async def rate(url: str, request: bytes, clients: int, seconds: float, pid: int | None
               ) -> RateResult:
    host, port = address(url)
    result = RateResult()
    connections = [Connection(host, port) for _ in range(clients)]
    for connection in connections:  # connect and warm every connection first
        await connection.post(request)
    deadline = time.perf_counter() + seconds
    cpu_before = tree_cpu_s(pid) if pid else 0.0

    async def worker(connection: Connection) -> None:
        while time.perf_counter() < deadline:
            try:
                await connection.post(request)
            except (OSError, ConnectionError) as exc:
                result.errors += 1
                result.first_error = result.first_error or str(exc)[:200]
                connection.close()
                connection.writer = None
                continue
            result.streams += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker(c) for c in connections))
    result.wall_s = time.perf_counter() - started
    result.cpu_s = (tree_cpu_s(pid) - cpu_before) if pid else 0.0
    for connection in connections:
        connection.close()
    return result


async def ttfb(url: str, request: bytes, clients: int, seconds: float
               ) -> tuple[list[float], list[float]]:
    host, port = address(url)
    firsts: list[float] = []
    tokens: list[float] = []
    connections = [Connection(host, port) for _ in range(clients)]
    deadline = time.perf_counter() + seconds

    async def worker(connection: Connection, delay: float) -> None:
        await asyncio.sleep(delay)  # start spread out, as independent clients would
        while time.perf_counter() < deadline:
            first, token, _ = await connection.post(request)
            firsts.append(first)
            tokens.append(token)

    await asyncio.gather(*(worker(c, i * 0.0031) for i, c in enumerate(connections)))
    for connection in connections:
        connection.close()
    return firsts, tokens


async def sequential(url: str, request: bytes, count: int) -> list[float]:
    host, port = address(url)
    connection = Connection(host, port)
    times = []
    try:
        await connection.post(request)
        for _ in range(count):
            times.append((await connection.post(request))[2])
    finally:
        connection.close()
    return times


async def gaps_under_cold_counts(url: str, stream_request: bytes, cold: list[bytes],
                                 streams: int) -> tuple[list[float], float]:
    """Inter-read gaps of ``streams`` open spaced streams while the ``cold`` requests run;
    also how long the cold requests took."""
    host, port = address(url)
    gaps: list[float] = []
    connections = [Connection(host, port) for _ in range(streams)]
    for connection in connections:
        await connection.post(stream_request)  # connected and warm

    async def open_stream(connection: Connection) -> None:
        await connection.post(stream_request, gaps=gaps)

    async def cold_requests() -> float:
        if not cold:
            return 0.0
        await asyncio.sleep(0.15)
        started = time.perf_counter()
        await asyncio.gather(*(Connection(host, port).post(body) for body in cold))
        return time.perf_counter() - started

    cold_task = asyncio.ensure_future(cold_requests())
    await asyncio.gather(*(open_stream(c) for c in connections))
    cold_s = await cold_task
    for connection in connections:
        connection.close()
    return gaps, cold_s


# -- the run ------------------------------------------------------------------------------------


@dataclass
class Sample:
    values: dict[str, list[float]] = field(default_factory=dict)

    def add(self, key: str, *values: float) -> None:
        self.values.setdefault(key, []).extend(v for v in values if not math.isnan(v))

    def median(self, key: str) -> float:
        values = self.values.get(key) or []
        return statistics.median(values) if values else math.nan

    def p99(self, key: str) -> float:
        return percentile(self.values.get(key) or [], 99) * 1000


def run(args: argparse.Namespace) -> dict[str, Any]:
    base, headers = load_fixture(PLAIN_FIXTURE)
    plain = {**base, "model": f"fast,{MODEL}", "stream": True}
    convo = {**conversation(base, 700_000), "model": f"fast,{MODEL}", "stream": True}
    with tempfile.TemporaryDirectory(prefix="ccr-throughput-") as tmp, Children(Path(tmp)) as kids:
        workdir = Path(tmp)
        fast = start_upstream(kids, "upstream-fast", args.chunks, 0)
        spaced = start_upstream(kids, "upstream-spaced", args.spaced_chunks, args.gap_ms)
        routers: list[Router] = []
        workers = [int(w) for w in args.workers.split(",")]
        for count in workers:
            name = CCR1 if count == 1 else f"ccr --workers {count}"
            _log(f"starting {name}")
            routers.append(start_ccr(kids, workdir, router_config(fast, spaced, free_port()),
                                     count, name))
        notes: list[str] = []
        if not args.no_node:
            try:
                version = node_version()
                _log(f"starting {NODE} (node {version})")
                routers.append(start_node(kids, workdir, router_config(fast, spaced,
                                                                       free_port())))
            except NodeUnavailable as exc:
                notes.append(f"CCR 2.0.0 not measured: {exc}")
        results = {router.name: Sample() for router in routers}
        direct = Sample()
        busy_before, wall_before = machine_busy_s(), time.monotonic()
        for round_number in range(args.rounds):
            order = routers[round_number % len(routers):] + routers[:round_number % len(routers)]
            _log(f"round {round_number + 1}/{args.rounds}: " + ", ".join(r.name for r in order))
            for clients in (16, 64):
                upstream = asyncio.run(rate(fast, http_request(fast, direct_body(
                    small_body("fast"))), clients, args.seconds, None))
                direct.add(f"rate{clients}", upstream.rps)
            for body_name, body, count in (("plain", plain, args.plain_requests),
                                           ("convo", convo, args.convo_requests)):
                times = asyncio.run(sequential(fast, http_request(fast, direct_body(body)),
                                               count))
                direct.add(body_name, *times)
            for router in order:
                sample = results[router.name]
                url = router.base_url + "/v1/messages"
                for clients in (16, 64):
                    result = asyncio.run(rate(url, http_request(url, small_body("fast")),
                                              clients, args.seconds, router.pid))
                    sample.add(f"rate{clients}", result.rps)
                    sample.add(f"cpu{clients}", result.cpu_ms)
                    sample.add("errors", result.errors)
                    if result.first_error:
                        notes.append(f"{router.name}: {result.first_error}")
                firsts, tokens = asyncio.run(ttfb(url, http_request(url, small_body("spaced")),
                                                  16, args.seconds))
                sample.add("ttfb", *firsts)
                sample.add("ttft", *tokens)
                for body_name, body, count in (("plain", plain, args.plain_requests),
                                               ("convo", convo, args.convo_requests)):
                    sample.add(body_name, *asyncio.run(sequential(
                        url, http_request(url, body, headers), count)))
                cold = [http_request(url, conversation(base, 700_000, seed=1000 * round_number
                                                       + 10 * i + routers.index(router))
                                     | {"model": f"fast,{MODEL}", "stream": True}, headers)
                        for i in range(4)]
                quiet, _ = asyncio.run(gaps_under_cold_counts(
                    url, http_request(url, small_body("spaced")), [], 16))
                sample.add("gap_quiet", *quiet)
                gaps, cold_s = asyncio.run(gaps_under_cold_counts(
                    url, http_request(url, small_body("spaced")), cold, 16))
                sample.add("gap", *gaps)
                sample.add("cold_s", cold_s)
        busy = machine_busy_s() - busy_before
        wall = time.monotonic() - wall_before
        time.sleep(IDLE_S)
        rss = {router.name: [round(rss_mib(pid), 1) for pid in router.servers]
               for router in routers}
    return {"routers": [r.name for r in routers], "results": results, "direct": direct,
            "rss": rss, "notes": notes, "machine_busy_share": busy / wall / (os.cpu_count() or 1),
            "args": vars(args)}


# -- the report ------------------------------------------------------------------------------


def summarise(outcome: dict[str, Any]) -> dict[str, dict[str, float]]:
    direct: Sample = outcome["direct"]
    table: dict[str, dict[str, float]] = {}
    for name in outcome["routers"]:
        sample: Sample = outcome["results"][name]
        table[name] = {
            "rate16": sample.median("rate16"),
            "rate64": sample.median("rate64"),
            "cpu_ms": sample.median("cpu16"),
            "ttfb_ms": sample.median("ttfb") * 1000,
            "ttft_ms": sample.median("ttft") * 1000,
            "added_plain_ms": (sample.median("plain") - direct.median("plain")) * 1000,
            "added_convo_ms": (sample.median("convo") - direct.median("convo")) * 1000,
            "gap_p99_ms": sample.p99("gap"),
            "gap_quiet_p99_ms": sample.p99("gap_quiet"),
            "rss_mib": max(outcome["rss"].get(name) or [math.nan]),
            "errors": sum(sample.values.get("errors", [])),
        }
    table["upstream alone"] = {"rate16": direct.median("rate16"),
                               "rate64": direct.median("rate64")}
    return table


def _fmt(value: float, digits: int = 1) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) \
        else f"{value:,.{digits}f}"


def markdown(outcome: dict[str, Any], table: dict[str, dict[str, float]]) -> str:
    node = table.get(NODE)
    columns = [("rate16", "streams/s @16", 0), ("rate64", "streams/s @64", 0),
               ("cpu_ms", "CPU ms/stream", 2), ("ttfb_ms", "TTFB ms (spaced, 16)", 1),
               ("ttft_ms", "first delta ms", 1), ("added_plain_ms", "added ms, 78 KB", 2),
               ("added_convo_ms", "added ms, 700 KB", 2),
               ("gap_quiet_p99_ms", "gap p99 ms, no cold requests", 1),
               ("gap_p99_ms", "gap p99 ms, 4 cold 700 KB", 1),
               ("rss_mib", "idle RSS MiB/process", 0)]
    lines = ["| router | " + " | ".join(title for _, title, _ in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for name, row in table.items():
        cells = []
        for key, _, digits in columns:
            value = row.get(key, math.nan)
            cell = _fmt(value, digits)
            if node is not None and name != NODE and key in ("rate16", "rate64") \
                    and not math.isnan(value):
                cell += f" ({value / node[key]:.1f}×)"
            cells.append(cell)
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def targets(table: dict[str, dict[str, float]]) -> list[tuple[str, bool | None, str]]:
    node = table.get(NODE)
    one, two = table.get(CCR1), table.get("ccr --workers 2")
    checks: list[tuple[str, bool | None, str]] = []

    def ratio(row: dict[str, float] | None, key: str) -> float:
        return row[key] / node[key] if row and node else math.nan

    for label, row, want in (("--workers 2", two, 4.0), ("one worker", one, 3.0)):
        for key in ("rate16", "rate64"):
            value = ratio(row, key)
            checks.append((f"streams/s {key[4:]} clients, {label} >= {want:g}x CCR 2.0.0",
                           None if math.isnan(value) else value >= want, f"{value:.2f}x"))
    if one:
        checks.append(("CPU per 200-chunk stream <= 1.0 ms", one["cpu_ms"] <= 1.0,
                       f"{one['cpu_ms']:.2f} ms"))
        if node:
            checks.append(("TTFB at 16 clients, chunks 5 ms apart <= CCR 2.0.0's",
                           one["ttfb_ms"] <= node["ttfb_ms"],
                           f"{one['ttfb_ms']:.1f} vs {node['ttfb_ms']:.1f} ms"))
        checks.append(("added median, 78 KB streamed <= 1.0 ms", one["added_plain_ms"] <= 1.0,
                       f"{one['added_plain_ms']:.2f} ms"))
        checks.append(("added median, 700 KB streamed <= 4 ms", one["added_convo_ms"] <= 4.0,
                       f"{one['added_convo_ms']:.2f} ms"))
        checks.append(("gap p99 of 16 streams under 4 cold 700 KB requests <= 10 ms",
                       one["gap_p99_ms"] <= 10.0, f"{one['gap_p99_ms']:.1f} ms"))
    for name in (CCR1, "ccr --workers 2"):
        if name in table:
            checks.append((f"idle RSS <= 120 MiB per worker ({name})",
                           table[name]["rss_mib"] <= 120, f"{table[name]['rss_mib']:.0f} MiB"))
    return checks


def machine() -> str:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} cores, {cpu}, Linux {platform.release()}, Python " \
           f"{platform.python_version()}"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.throughput", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=3.0, help="per rate/TTFB measurement")
    parser.add_argument("--chunks", type=int, default=200, help="chunks per fast stream")
    parser.add_argument("--spaced-chunks", type=int, default=200,
                        help="chunks per spaced stream")
    parser.add_argument("--gap-ms", type=float, default=5.0)
    parser.add_argument("--plain-requests", type=int, default=60)
    parser.add_argument("--convo-requests", type=int, default=20)
    parser.add_argument("--workers", default="1,2", help="ccr worker counts to run")
    parser.add_argument("--no-node", action="store_true", help="skip CCR 2.0.0")
    parser.add_argument("--json", action="store_true")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    outcome = run(args)
    table = summarise(outcome)
    checks = targets(table)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    if args.json:
        print(json.dumps({"date": stamp, "machine": machine(), "table": table,
                          "targets": [{"target": t, "met": m, "value": v} for t, m, v in checks],
                          "rss": outcome["rss"], "notes": outcome["notes"],
                          "machine_busy_share": outcome["machine_busy_share"]}, indent=2))
        return 0
    print(f"{stamp}; {machine()}; machine busy {outcome['machine_busy_share']:.0%} of all cores "
          "during the run\n")
    print(markdown(outcome, table))
    print()
    for target, met, value in checks:
        mark = "n/a" if met is None else ("met" if met else "NOT met")
        print(f"- {target}: {value} ({mark})")
    for note in dict.fromkeys(outcome["notes"]):
        print(f"- note: {note}")
    return 0


Callback = Callable[[], None]

if __name__ == "__main__":
    raise SystemExit(main())

"""Turning measured runs into the Markdown table, the target verdicts and the JSON document."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from bench.load import RunResult

DIRECT = "direct"


@dataclass
class Row:
    """One case/mode/concurrency: the direct baseline and each router measured against it."""

    case: str
    mode: str
    concurrency: int
    results: dict[str, RunResult] = field(default_factory=dict)

    @property
    def direct(self) -> RunResult:
        return self.results[DIRECT]

    def routers(self) -> list[str]:
        return [name for name in self.results if name != DIRECT]

    def added_median_ms(self, router: str) -> float:
        return self.results[router].median_ms - self.direct.median_ms

    def added_p99_ms(self, router: str) -> float:
        return self.results[router].p99_ms - self.direct.p99_ms


@dataclass(frozen=True)
class Goal:
    """An upper bound on the added median at concurrency 1 for the rows matching it."""

    label: str
    case: str
    modes: tuple[str, ...]
    limit_ms: float


def _ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"


def _signed_ms(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:+.2f}"


def _rps(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:,.0f}"


_HEADER = (
    "| case | mode | conc | router | direct p50 | direct p99 | router p50 | router p99 "
    "| added p50 | added p99 | req/s direct | req/s router | router CPU/req |"
)
_RULE = "|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"


def markdown_table(rows: list[Row]) -> str:
    """Latencies in ms; CPU/req is the router process's CPU time per request, in ms."""
    lines = [_HEADER, _RULE]
    for row in rows:
        direct = row.direct
        for router in row.routers():
            result = row.results[router]
            lines.append(
                f"| {row.case} | {row.mode} | {row.concurrency} | {router} "
                f"| {_ms(direct.median_ms)} | {_ms(direct.p99_ms)} "
                f"| {_ms(result.median_ms)} | {_ms(result.p99_ms)} "
                f"| {_signed_ms(row.added_median_ms(router))} "
                f"| {_signed_ms(row.added_p99_ms(router))} "
                f"| {_rps(direct.rps)} | {_rps(result.rps)} "
                f"| {_ms(result.server_cpu_ms_per_req)} |"
            )
    return "\n".join(lines)


def problems(rows: list[Row]) -> list[str]:
    """Errors and cut-short runs, one line each, so a bad number is never read as good."""
    out = []
    for row in rows:
        for name, result in row.results.items():
            where = f"{row.case} {row.mode} c={row.concurrency} {name}"
            if result.errors:
                out.append(f"{where}: {result.errors} failed requests, first: {result.first_error}")
            if result.timed_out:
                out.append(f"{where}: stopped at the time limit after {result.count} requests")
    return out


def client_notes(rows: list[Row], client_procs: int) -> list[str]:
    """Runs whose client used (nearly) all the CPU it had: their req/s measure the client."""
    out = []
    for row in rows:
        for name, result in row.results.items():
            share = result.client_cpu_share
            limit = client_procs if row.concurrency > 1 else 1
            if not math.isnan(share) and share >= 0.85 * limit:
                out.append(f"{row.case} {row.mode} c={row.concurrency} {name}: the client used "
                           f"{share:.0%} of a CPU, so this req/s is a bound of the client too")
    return out


def verdicts(rows: list[Row], goals: list[Goal], router: str) -> list[dict[str, Any]]:
    """Each goal checked on ``router`` at concurrency 1 (the cleanest added-latency number)."""
    out = []
    for goal in goals:
        for row in rows:
            if (row.case != goal.case or row.mode not in goal.modes or row.concurrency != 1
                    or router not in row.results):
                continue
            added = row.added_median_ms(router)
            out.append({
                "goal": goal.label,
                "case": row.case,
                "mode": row.mode,
                "router": router,
                "added_median_ms": None if math.isnan(added) else round(added, 3),
                "limit_ms": goal.limit_ms,
                "met": (not math.isnan(added)) and added <= goal.limit_ms,
            })
    return out


def verdict_lines(checks: list[dict[str, Any]]) -> list[str]:
    lines = []
    for check in checks:
        added = check["added_median_ms"]
        shown = "n/a" if added is None else f"{added:.2f} ms"
        status = "met" if check["met"] else "MISSED"
        lines.append(f"- {check['router']} {check['case']} {check['mode']}, 1 client: added median "
                     f"{shown} (target <= {check['limit_ms']:g} ms): {status}")
    return lines


def rows_to_json(rows: list[Row]) -> list[dict[str, Any]]:
    out = []
    for row in rows:
        for router in row.routers():
            added_median = row.added_median_ms(router)
            added_p99 = row.added_p99_ms(router)
            out.append({
                "case": row.case,
                "mode": row.mode,
                "concurrency": row.concurrency,
                "router": router,
                "direct": row.direct.to_dict(),
                "via_router": row.results[router].to_dict(),
                "added_median_ms": None if math.isnan(added_median) else round(added_median, 3),
                "added_p99_ms": None if math.isnan(added_p99) else round(added_p99, 3),
            })
    return out

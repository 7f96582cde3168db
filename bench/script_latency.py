"""The latency a typical router script adds to routing a real Claude Code request.

Times ``ccr.routing.decide.decide`` in this process on ``01-plain.json`` (the 78 KB first turn
Claude Code sends) without a script, and with ``router_scripts/task_type.py`` run through the
sandbox exactly as the server runs it (the engine's runner: worker processes, JSON lines).
The script is timed twice: on the request as recorded ("say hello": it reads the last user
message, finds no task word and falls through to the built-in rules) and with that message
changed to a question (it returns a route). A script that only returns None shows the cost of
the sandbox round trip itself.

    .venv/bin/python -m bench.script_latency              # Markdown table on stdout
    .venv/bin/python -m bench.script_latency --calls 5000
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ccr.config import Config, parse_config, script_view
from ccr.context.tokens import TokenCounter
from ccr.engine.engine import Engine
from ccr.routing.context import RequestContext
from ccr.routing.decide import decide
from ccr.routing.prepare import build_context

PROJECT = Path(__file__).resolve().parents[1]
FIXTURE = PROJECT.parent / "shared" / "fixtures" / "claude-code" / "01-plain.json"
SCRIPT = PROJECT / "router_scripts" / "task_type.py"
#: The median the script may add, per the project's target.
TARGET_MEDIAN_MS = 0.3
WARMUP_CALLS = 100
ROUNDS = 4

_URL = "http://127.0.0.1:9/v1/chat/completions"
_CONFIG: dict[str, Any] = {
    "Providers": [
        {"name": "openrouter", "api_base_url": _URL, "api_key": "sk-bench",
         "models": ["anthropic/claude-sonnet-4"]},
        {"name": "deepseek", "api_base_url": _URL, "api_key": "sk-bench",
         "models": ["deepseek-chat", "deepseek-reasoner"]},
    ],
    "Router": {"default": "deepseek,deepseek-chat"},
    "CUSTOM_ROUTER_OPTIONS": {"task_routes": {
        "review": "openrouter,anthropic/claude-sonnet-4",
        "implement": "deepseek,deepseek-chat",
        "reasoning": "deepseek,deepseek-reasoner",
    }},
    "LOG": False,
}


@dataclass
class Case:
    name: str
    ctx: RequestContext
    script: Any
    #: The rule every call must end in (checked, so a broken script cannot look fast).
    rule: str
    samples: list[float]


def _ask_a_question(body: dict[str, Any]) -> dict[str, Any]:
    """The body with its last user text block replaced by a question (a reasoning task)."""
    changed = copy.deepcopy(body)
    for message in reversed(changed["messages"]):
        if message.get("role") == "user" and isinstance(message.get("content"), list):
            message["content"][-1]["text"] = "Why does the login page hang after a deploy?"
            return changed
    raise ValueError("the fixture has no user message with text blocks")


def _context(config: Config, record: dict[str, Any], body: dict[str, Any]) -> RequestContext:
    return build_context(body, record.get("headers") or {}, router=config.router,
                         tokens=TokenCounter())


async def _time_calls(case: Case, config: Config, view: dict[str, Any], calls: int) -> None:
    for _ in range(calls):
        started = time.perf_counter()
        decision = await decide(case.ctx, config, script=case.script, script_config=view)
        case.samples.append((time.perf_counter() - started) * 1000)
        if decision.rule != case.rule or decision.script_error:
            raise RuntimeError(f"{case.name}: rule {decision.rule}, error {decision.script_error}")


async def _started(config: Config) -> Any:
    script = Engine.build(config).script
    await script.start()
    if script.load_error:
        raise RuntimeError(script.load_error)
    return script


async def run(calls: int, folder: Path) -> list[Case]:
    record = json.loads(FIXTURE.read_text())
    config = parse_config({**_CONFIG, "CUSTOM_ROUTER_PATH": str(SCRIPT)}, env={})
    view = script_view(config)
    empty_path = folder / "custom_router.py"
    empty_path.write_text("def router(req, config):\n    return None\n")
    empty = await _started(parse_config({**_CONFIG, "CUSTOM_ROUTER_PATH": str(empty_path)},
                                        env={}))
    script = await _started(config)
    body = record["body"]
    cases = [
        Case("no script", _context(config, record, body), None, "default", []),
        Case("script that returns None", _context(config, record, body), empty, "default", []),
        Case("task_type.py, falls through", _context(config, record, body), script,
             "default", []),
        Case("task_type.py, returns a route", _context(config, record, _ask_a_question(body)),
             script, "custom", []),
    ]
    try:
        for case in cases:
            await _time_calls(case, config, view, WARMUP_CALLS)
            case.samples.clear()
        per_round = max(1, calls // ROUNDS)
        for _ in range(ROUNDS):  # interleaved, so background load falls on every case
            for case in cases:
                await _time_calls(case, config, view, per_round)
    finally:
        await script.aclose()
        await empty.aclose()
    return cases


def _p99(samples: list[float]) -> float:
    return statistics.quantiles(samples, n=100)[98]


def report(cases: list[Case], tokens: int) -> str:
    base = cases[0]
    base_median, base_p99 = statistics.median(base.samples), _p99(base.samples)
    lines = [
        f"decide() on 01-plain.json ({FIXTURE.stat().st_size // 1024} KB, {tokens} tokens), "
        f"{len(base.samples)} timed calls per case, Python {sys.version.split()[0]}",
        "",
        "| case | median ms | p99 ms | added median ms | added p99 ms |",
        "|---|---:|---:|---:|---:|",
    ]
    for case in cases:
        median, p99 = statistics.median(case.samples), _p99(case.samples)
        added = "" if case is base else f"{median - base_median:.3f}"
        added_p99 = "" if case is base else f"{p99 - base_p99:.3f}"
        lines.append(f"| {case.name} | {median:.3f} | {p99:.3f} | {added} | {added_p99} |")
    worst = max(statistics.median(c.samples) for c in cases[2:]) - base_median
    verdict = "meets" if worst <= TARGET_MEDIAN_MS else "MISSES"
    lines += ["", f"task_type.py adds {worst:.3f} ms (median): {verdict} the "
              f"{TARGET_MEDIAN_MS} ms target."]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.script_latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=2000, help="timed calls per case")
    args = parser.parse_args(argv)
    if not FIXTURE.exists():
        print(f"skipped: {FIXTURE} is not available (the shared Claude Code fixtures)")
        return 0
    with tempfile.TemporaryDirectory() as folder:
        cases = asyncio.run(run(args.calls, Path(folder)))
    print(report(cases, cases[0].ctx.token_count))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

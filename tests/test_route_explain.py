"""``ccr route --dry-run`` with a clock (``--now``), explanations (``--explain``), a load error
shown once, and replays of recorded traffic against another config or script."""

from __future__ import annotations

import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from ccr.context.records import build_record
from tests.support.claude_code_requests import later_turn, local, shared
from tests.support.recorded import facts
from tests.support.route_helpers import (
    DEFAULT_ROUTE,
    PROJECT,
    route_rows,
    run_route,
    write_config,
    write_json,
    write_script,
)

TIME_OF_DAY = PROJECT / "router_scripts" / "time_of_day.py"
NIGHT = "ollama,qwen2.5-coder:latest"
RULE_NAMES = ["explicit", "subagent", "longContext", "background", "webSearch", "think",
              "image", "default"]


def plain(tmp_path: Path) -> Path:
    return write_json(tmp_path / "plain.json", local("plain"))


# -- --now ------------------------------------------------------------------------------------


@pytest.mark.slow
def test_now_switches_a_time_of_day_script_to_its_night_branch(tmp_path: Path) -> None:
    config = write_config(tmp_path, TIME_OF_DAY)
    night = route_rows(run_route(config, plain(tmp_path), args=(
        "--json", "--now", "2026-12-06T03:30")))[0]
    day = route_rows(run_route(config, plain(tmp_path), args=(
        "--json", "--now", "2026-12-06T12:00")))[0]
    assert (night["rule"], night["route"]) == ("custom", NIGHT)
    assert (day["rule"], day["route"]) == ("default", DEFAULT_ROUTE)


@pytest.mark.slow
def test_now_with_an_offset_is_read_in_the_scripts_timezone(tmp_path: Path) -> None:
    config = write_config(tmp_path, TIME_OF_DAY, options={"timezone": "+09:00"})
    # 18:30 UTC is 03:30 in Tokyo
    row = route_rows(run_route(config, plain(tmp_path), args=(
        "--json", "--now", "2026-12-06T18:30+00:00")))[0]
    assert row["route"] == NIGHT


@pytest.mark.slow
def test_now_without_an_offset_is_local_time(tmp_path: Path) -> None:
    config = write_config(tmp_path, TIME_OF_DAY)
    row = route_rows(run_route(config, plain(tmp_path), args=(
        "--json", "--explain", "--now", "2026-06-01T03:30"), env={"TZ": "CCR-9"}))[0]
    assert row["explain"]["now"] == "2026-06-01T03:30:00+09:00"
    assert row["route"] == NIGHT


def test_a_malformed_now_is_a_usage_error(tmp_path: Path) -> None:
    result = run_route(write_config(tmp_path, None), plain(tmp_path), args=("--now", "3am"))
    assert result.returncode == 2
    assert "--now needs a time like 2026-12-06T23:30" in result.stderr


# -- --explain --------------------------------------------------------------------------------


def test_explain_lists_every_rule_with_its_verdict_and_reason(tmp_path: Path) -> None:
    config = write_config(tmp_path, None, Router={
        "default": DEFAULT_ROUTE, "longContext": "gemini,gemini-2.5-pro",
        "longContextThreshold": 60000})
    result = run_route(config, plain(tmp_path), args=("--explain",))
    assert result.returncode == 0, result.stderr
    now, *explained = result.stdout.partition("explain:\n")[2].splitlines()
    assert now.split()[0] == "now"
    assert [line.split()[0] for line in explained] == RULE_NAMES
    tokens = int(next(line for line in result.stdout.splitlines()
                      if line.startswith("tokens:")).split()[1])
    long_context = next(line for line in explained if line.split()[0] == "longContext")
    assert long_context.split(None, 2)[2] == f"{tokens:,} tokens ≤ threshold 60,000"
    assert explained[-1].endswith("Router.default  <- decides")


def test_explain_on_the_recorded_say_hello_request_gives_its_token_count(
    tmp_path: Path
) -> None:
    recorded = write_json(tmp_path / "01.json", shared("01-plain"))
    config = write_config(tmp_path, None, Router={
        "default": DEFAULT_ROUTE, "longContext": "gemini,gemini-2.5-pro"})
    result = run_route(config, recorded, args=("--explain",))
    assert "longContext  -" in result.stdout
    assert f"{facts('01-plain')['tokens']:,} tokens ≤ threshold 60,000" in result.stdout


def test_explain_in_json_holds_the_script_result_and_the_rules(tmp_path: Path) -> None:
    script = write_script(tmp_path, "def router(req, config):\n    print(req.prompt)\n"
                                    "    return None\n")
    config = write_config(tmp_path, script)
    row = route_rows(run_route(config, plain(tmp_path), args=("--json", "--explain")))[0]
    explanation = row["explain"]
    assert [v["rule"] for v in explanation["rules"]] == RULE_NAMES
    assert explanation["decided_by"] == "default"
    assert explanation["script"]["returned"] is None
    assert explanation["script"]["output"] == "say hello\n"
    assert explanation["script"]["ms"] >= 0
    think = next(v for v in explanation["rules"] if v["rule"] == "think")
    assert think == {"rule": "think", "route": None, "reason": "Router.think is not set",
                     "configured": True}


def test_without_explain_the_json_has_no_explanation(tmp_path: Path) -> None:
    row = route_rows(run_route(write_config(tmp_path, None), plain(tmp_path),
                               args=("--json",)))[0]
    assert "explain" not in row


def test_a_script_that_does_not_load_is_reported_once(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_script(tmp_path, "def router(req, config)\n"))
    folder = tmp_path / "requests"
    for name in ("a", "b", "c"):
        write_json(folder / f"{name}.json", local("plain"))
    result = run_route(config, folder)
    assert result.returncode == 0
    assert result.stderr.count("SyntaxError") == 1, result.stderr
    assert "SyntaxError" not in result.stdout
    assert result.stdout.count("router script not loaded (see above)") == 3


# -- replaying records ------------------------------------------------------------------------

PRICES = {"openrouter,anthropic/claude-sonnet-4": {"input": 3.0, "output": 15.0,
                                                   "cache_read": 0.3},
          "deepseek,deepseek-chat": {"input": 0.27, "output": 1.10},
          "ollama,qwen2.5-coder:latest": {"input": 0.0, "output": 0.0}}


def a_record(recorded: dict[str, Any], at: str, route: str, *, rule: str = "default",
             usage: dict[str, int] | None = None) -> dict[str, Any]:
    return build_record(
        body=recorded["body"], headers=recorded["headers"],
        session_id=recorded["headers"].get("X-Claude-Code-Session-Id"),
        at=datetime.datetime.fromisoformat(at), rule=rule, route=route, status=200,
        usage=usage or {"input_tokens": 1_000_000, "output_tokens": 100_000,
                        "cache_read_input_tokens": 1_000_000}, latency_ms=900)


def write_records(folder: Path, records: list[dict[str, Any]]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "records-20261206-000000-1-0001.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records))
    return folder


def records_at_three_times(tmp_path: Path) -> Path:
    return write_records(tmp_path / "records", [
        a_record(local("plain"), "2026-12-06T03:30:00+00:00", DEFAULT_ROUTE),
        a_record(local("tool-result"), "2026-12-06T12:00:00+00:00", DEFAULT_ROUTE),
        a_record(later_turn("review the diff"), "2026-12-06T04:10:00+00:00", DEFAULT_ROUTE),
    ])


def test_replay_against_a_new_config_reports_exactly_the_requests_that_change(
    tmp_path: Path
) -> None:
    records = records_at_three_times(tmp_path)
    old = write_config(tmp_path, None)
    new_folder = tmp_path / "new"
    new_folder.mkdir()
    new = write_config(new_folder, TIME_OF_DAY)
    result = run_route(old, records, args=("--json", "--against", str(new)))
    assert result.returncode == 0, result.stderr
    *rows, summary = route_rows(result)
    changed = {row["source"]: row["route"] for row in rows if row["changed"]}
    assert changed == {"records-20261206-000000-1-0001.jsonl:1": NIGHT,
                       "records-20261206-000000-1-0001.jsonl:3": NIGHT}
    assert all(row["recorded_route"] == DEFAULT_ROUTE for row in rows)
    assert summary["summary"]["changed"] == 2 and summary["summary"]["requests"] == 3
    assert summary["summary"]["before"] == {DEFAULT_ROUTE: 3}
    assert summary["summary"]["after"] == {NIGHT: 2, DEFAULT_ROUTE: 1}


def test_replay_with_a_new_script_uses_each_records_time(tmp_path: Path) -> None:
    records = records_at_three_times(tmp_path)
    config = write_config(tmp_path, None)
    result = run_route(config, records, args=("--json", "--script", str(TIME_OF_DAY)))
    *rows, _summary = route_rows(result)
    assert [row["route"] for row in rows] == [NIGHT, DEFAULT_ROUTE, NIGHT]


def test_replay_estimates_the_cost_difference_from_recorded_usage(tmp_path: Path) -> None:
    records = records_at_three_times(tmp_path)
    new_folder = tmp_path / "new"
    new_folder.mkdir()
    new = write_config(new_folder, TIME_OF_DAY, PRICES=PRICES)
    result = run_route(write_config(tmp_path, None), records, args=("--against", str(new)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "2 of 3 requests change route" in out
    # each request: 1M input, 100K output, 1M cache reads: sonnet $3 + $1.5 + $0.3, ollama $0
    assert "estimated cost of the recorded usage: $14.4000 before, $4.8000 after (-9.6000)" in out
    header = out.splitlines()[0].split()
    assert header == ["request", "before", "after", "rule", "tokens", "note"]


def test_replay_summary_counts_routes_before_and_after(tmp_path: Path) -> None:
    records = records_at_three_times(tmp_path)
    result = run_route(write_config(tmp_path, None), records,
                       args=("--script", str(TIME_OF_DAY)))
    summary = result.stdout.split("requests change route\n")[1].splitlines()
    table = {line.split()[0]: line.split()[1:] for line in summary[1:3]}
    assert table == {NIGHT: ["0", "2"], DEFAULT_ROUTE: ["3", "1"]}
    assert "no PRICES for these routes" in result.stdout


def test_records_written_by_the_server_replay_as_recorded(tmp_path: Path) -> None:
    records = records_at_three_times(tmp_path)
    result = run_route(write_config(tmp_path, None), records, args=("--json",))
    *rows, summary = route_rows(result)
    assert not any(row["changed"] for row in rows)
    assert summary["summary"]["changed"] == 0

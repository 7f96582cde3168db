"""Every example in ``router_scripts/`` on Claude Code's own requests (the committed copies, and
the full recordings where present), run as a user runs them: ``ccr route --dry-run --json``."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from ccr.sandbox import RouterScript
from tests.support.claude_code_requests import later_turn, local, shared
from tests.support.route_helpers import (
    DEFAULT_ROUTE,
    PROJECT,
    route_rows,
    run_route,
    write_config,
    write_json,
)

pytestmark = pytest.mark.e2e

SCRIPTS = PROJECT / "router_scripts"
NIGHT = "ollama,qwen2.5-coder:latest"
CHEAP = "deepseek,deepseek-chat"
REVIEW = "openrouter,google/gemini-2.5-pro"


def with_model(recorded: dict[str, Any], model: str) -> dict[str, Any]:
    changed = copy.deepcopy(recorded)
    changed["body"]["model"] = model
    return changed


def requests() -> dict[str, dict[str, Any]]:
    """Claude Code's requests by what they are."""
    return {
        "say-hello": local("plain"),
        "tool-result": local("tool-result"),
        "subagent": local("subagent"),
        "haiku": local("haiku-thinking-enabled"),
        "review-turn": later_turn("review the diff in app.py"),
        "slash-model": with_model(local("plain"), "deepseek,deepseek-reasoner"),
    }


def route(tmp_path: Path, script: str, *args: str, options: dict[str, Any] | None = None,
          only: tuple[str, ...] = ()) -> dict[str, dict[str, Any]]:
    """Rows by request name, for ``router_scripts/<script>`` over :func:`requests`."""
    folder = tmp_path / "requests"
    for name, recorded in requests().items():
        if not only or name in only:
            write_json(folder / f"{name}.json", recorded)
    config = write_config(tmp_path, SCRIPTS / script, options=options)
    result = run_route(config, folder, args=("--json", *args))
    assert result.returncode == 0, result.stderr
    rows = {row["source"].removesuffix(".json"): row for row in route_rows(result)}
    for row in rows.values():
        assert row["script_error"] is None, row
    return rows


def routed(row: dict[str, Any]) -> str | None:
    """The script's route, or None when it fell through to the built-in rules."""
    return row["route"] if row["rule"] == "custom" else None


# -- time of day --------------------------------------------------------------------------------


def test_time_of_day_at_night_sends_every_turn_but_a_slash_model_one_to_the_night_model(
    tmp_path: Path
) -> None:
    rows = route(tmp_path, "time_of_day.py", "--now", "2026-12-06T03:30")
    assert {name: routed(row) for name, row in rows.items()} == {
        "say-hello": NIGHT, "tool-result": NIGHT, "subagent": NIGHT, "haiku": NIGHT,
        "review-turn": NIGHT, "slash-model": "deepseek,deepseek-reasoner"}


def test_time_of_day_by_day_leaves_every_turn_to_the_built_in_rules(tmp_path: Path) -> None:
    rows = route(tmp_path, "time_of_day.py", "--now", "2026-12-06T12:00",
                 only=("say-hello", "subagent"))
    assert {routed(row) for row in rows.values()} == {None}


def test_time_of_day_reads_the_hour_in_its_timezone_option(tmp_path: Path) -> None:
    rows = route(tmp_path, "time_of_day.py", "--now", "2026-12-06T12:00-05:00",
                 options={"timezone": "+10:00"}, only=("say-hello",))
    assert routed(rows["say-hello"]) == NIGHT  # 17:00 UTC is 03:00 at +10:00


# -- task type ----------------------------------------------------------------------------------

TASKS = {"review": REVIEW, "implement": "deepseek,deepseek-chat",
         "reasoning": "deepseek,deepseek-reasoner"}


def test_task_type_reads_what_the_person_typed_not_claude_codes_agent_list(
    tmp_path: Path
) -> None:
    rows = route(tmp_path, "task_type.py", options={"task_routes": TASKS})
    assert {name: routed(row) for name, row in rows.items()} == {
        "say-hello": None,        # the agent list after it mentions "review"
        "tool-result": None,      # "TOOLTEST please run echo"
        "subagent": None,         # "SUBAGENT: reply with the word hi"
        "haiku": None,
        "review-turn": REVIEW,
        "slash-model": "deepseek,deepseek-reasoner",
    }


def test_task_type_on_the_full_recorded_requests(tmp_path: Path) -> None:
    folder = tmp_path / "requests"
    for name in ("01-plain", "03-bash-turn2-tool-result", "06-haiku-thinking-enabled",
                 "10-task-subagent-request"):
        write_json(folder / f"{name}.json", shared(name))
    config = write_config(tmp_path, SCRIPTS / "task_type.py", options={"task_routes": TASKS})
    rows = route_rows(run_route(config, folder, args=("--json",)))
    assert [(row["rule"], row["script_error"]) for row in rows] == [("default", None)] * 4


# -- token budget ---------------------------------------------------------------------------


def test_token_budget_sends_a_request_over_its_size_to_the_long_context_route(
    tmp_path: Path
) -> None:
    options = {"long_context_route": "gemini,gemini-2.5-pro", "big_request_tokens": 1000,
               "tiny_request_tokens": 10, "cheap_route": NIGHT}
    rows = route(tmp_path, "token_budget.py", options=options,
                 only=("say-hello", "slash-model"))
    assert rows["say-hello"]["token_count"] > 1000
    assert routed(rows["say-hello"]) == "gemini,gemini-2.5-pro"
    assert routed(rows["slash-model"]) == "deepseek,deepseek-reasoner"


# -- project --------------------------------------------------------------------------------


def test_project_routes_the_first_request_of_a_session_by_its_working_directory(
    tmp_path: Path
) -> None:
    options = {"project_routes": {"-home-dev-project$": CHEAP}}
    rows = route(tmp_path, "project_based.py", options=options,
                 only=("say-hello", "subagent", "slash-model"))
    assert rows["say-hello"]["project"] == "-home-dev-project"
    assert routed(rows["say-hello"]) == CHEAP
    assert routed(rows["subagent"]) == CHEAP
    assert routed(rows["slash-model"]) == "deepseek,deepseek-reasoner"


# -- subagent -------------------------------------------------------------------------------


def test_subagent_routes_subagents_by_their_type_and_keeps_the_main_agent(
    tmp_path: Path
) -> None:
    options = {"subagent_route": CHEAP, "subagent_routes": {"general-purpose": NIGHT}}
    rows = route(tmp_path, "subagent_aware.py", options=options,
                 only=("say-hello", "subagent", "tool-result"))
    assert {name: routed(row) for name, row in rows.items()} == {
        "say-hello": None, "subagent": NIGHT, "tool-result": None}


# -- session spend --------------------------------------------------------------------------


@pytest.mark.slow
def test_session_spend_switches_to_the_cheap_route_past_the_budget(tmp_path: Path) -> None:
    options = {"cheap_route": CHEAP, "budget_usd": 2.0}
    over = route(tmp_path / "over", "session_spend.py", "--session-input", "1000000",
                 options=options, only=("say-hello",))
    under = route(tmp_path / "under", "session_spend.py", "--session-input", "100000",
                  options=options, only=("say-hello",))
    fresh = route(tmp_path / "fresh", "session_spend.py", options=options, only=("say-hello",))
    assert routed(over["say-hello"]) == CHEAP      # 1M tokens at $3/M = $3 > $2
    assert routed(under["say-hello"]) is None      # $0.30
    assert routed(fresh["say-hello"]) is None


# -- provider health ------------------------------------------------------------------------

HEALTH_ROUTES = ["deepseek,deepseek-chat", "openrouter,anthropic/claude-sonnet-4",
                 "ollama,qwen2.5-coder:latest"]
CONFIG = {"Providers": [{"name": "deepseek", "models": ["deepseek-chat"]},
                        {"name": "openrouter", "models": ["anthropic/claude-sonnet-4"]},
                        {"name": "ollama", "models": ["qwen2.5-coder:latest"]}],
          "CUSTOM_ROUTER_OPTIONS": {"routes": HEALTH_ROUTES}}
#: Appended to provider_health.py: router() answers what on_error() says after a failure of
#: the route router() chose first.
AFTER_A_FAILURE = """

first_choice = router


def router(req, config):
    return on_error(req, {"route": first_choice(req, config), "status": 503}, config)
"""


async def health_route(tmp_path: Path, providers: dict[str, Any], *,
                       after_failure: bool = False) -> str | None:
    source = (SCRIPTS / "provider_health.py").read_text()
    path = tmp_path / "custom_router.py"
    path.write_text(source + (AFTER_A_FAILURE if after_failure else ""))
    async with RouterScript(path, timeout_ms=1000, workers=1) as script:
        result = await script.call({"body": local("plain")["body"], "providers": providers},
                                   CONFIG)
    assert result.error is None, result.error
    return result.value


async def test_provider_health_uses_the_first_route_when_nothing_is_reported(
    tmp_path: Path
) -> None:
    assert await health_route(tmp_path, {}) == HEALTH_ROUTES[0]


async def test_provider_health_skips_a_provider_reported_unhealthy(tmp_path: Path) -> None:
    assert await health_route(tmp_path, {"deepseek": {"healthy": False}}) == HEALTH_ROUTES[1]


async def test_provider_health_on_error_moves_to_another_healthy_provider(
    tmp_path: Path
) -> None:
    chosen = await health_route(tmp_path, {"openrouter": {"healthy": False}},
                                after_failure=True)
    assert chosen == HEALTH_ROUTES[2]


def test_provider_health_in_a_dry_run_picks_its_first_route(tmp_path: Path) -> None:
    rows = route(tmp_path, "provider_health.py",
                 options={"routes": ["deepseek,deepseek-chat", DEFAULT_ROUTE]},
                 only=("say-hello", "slash-model"))
    assert routed(rows["say-hello"]) == "deepseek,deepseek-chat"
    assert routed(rows["slash-model"]) == "deepseek,deepseek-reasoner"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.py")))
def test_every_example_honours_a_model_picked_with_slash_model(
    tmp_path: Path, script: str
) -> None:
    options = {"cheap_route": CHEAP} if script == "session_spend.py" else None
    rows = route(tmp_path, script, options=options, only=("slash-model",))
    assert rows["slash-model"]["route"] == "deepseek,deepseek-reasoner"

"""The example router scripts in ``router_scripts/``, each run as a user would: through
``ccr route --dry-run --json`` with a config pointing ``CUSTOM_ROUTER_PATH`` at it.

Each script's requests are routed in one dry run (a folder of request files) and every test
checks one row of it. ``token_budget.py``'s session rule needs session history, which only a
running server has, so that one behaviour is checked against a real server.
"""

from __future__ import annotations

import copy
import datetime
import json
import re
import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_upstream import FakeUpstream, Usage, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.route_helpers import (
    DEFAULT_ROUTE,
    PROJECT,
    message,
    route_rows,
    run_route,
    shared_fixture,
    write_config,
    write_json,
)

pytestmark = pytest.mark.e2e

SCRIPTS = PROJECT / "router_scripts"
EXAMPLE_CONFIG = PROJECT / "examples" / "config-router-script.json"

Rows = dict[str, dict[str, Any]]


def route_script(folder: Path, script: str, requests: dict[str, Any], *,
                 options: dict[str, Any] | None = None, env: dict[str, str] | None = None,
                 home: Path | None = None, **extra: Any) -> Rows:
    """Dry-run ``requests`` (name -> body or recorded request) through ``router_scripts/script``;
    the rows by request name."""
    config = write_config(folder, SCRIPTS / script, options=options, **extra)
    for name, request in requests.items():
        write_json(folder / "requests" / f"{name}.json", request)
    result = run_route(config, folder / "requests", args=("--json",), env=env, home=home)
    assert result.returncode == 0, result.stderr
    return {row["source"].removesuffix(".json"): row for row in route_rows(result)}


def recorded(body: dict[str, Any], **headers: str) -> dict[str, Any]:
    """A request in the recorded ``{"method","path","headers","body"}`` form."""
    return {"method": "POST", "path": "/v1/messages?beta=true", "headers": headers, "body": body}


def assert_falls_through(row: dict[str, Any]) -> None:
    assert (row["rule"], row["route"], row["script_error"]) == ("default", DEFAULT_ROUTE, None)


def assert_routed(row: dict[str, Any], route: str) -> None:
    assert (row["rule"], row["route"], row["script_error"]) == ("custom", route, None)


# -- time_of_day.py ---------------------------------------------------------------------------

NIGHT = "ollama,qwen2.5-coder:latest"


def utc_offset_for_local_hour(hour: int) -> int:
    """The UTC offset (hours, -11..12) at which the local hour is ``hour`` right now."""
    offset = (hour - datetime.datetime.now(datetime.UTC).hour) % 24
    return offset - 24 if offset > 12 else offset


def tz_for_local_hour(hour: int) -> str:
    """A POSIX ``TZ`` value whose local hour is ``hour`` now (``TZ`` counts west positive).
    The hours tests pick are at least an hour inside or outside their windows."""
    return f"CCR{-utc_offset_for_local_hour(hour)}"


def route_at(tmp_path: Path, hour: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
    rows = route_script(tmp_path, "time_of_day.py", {"req": message("hello")}, options=options,
                        env={"TZ": tz_for_local_hour(hour)})
    return rows["req"]


def test_time_of_day_sends_requests_at_3am_to_the_night_model(tmp_path: Path) -> None:
    assert_routed(route_at(tmp_path, 3, {"night_route": NIGHT}), NIGHT)


def test_time_of_day_falls_through_at_noon(tmp_path: Path) -> None:
    assert_falls_through(route_at(tmp_path, 12, {"night_route": NIGHT}))


def test_time_of_day_night_route_defaults_to_a_local_ollama_model(tmp_path: Path) -> None:
    assert_routed(route_at(tmp_path, 3), "ollama,qwen2.5-coder:latest")


def test_time_of_day_window_comes_from_the_options(tmp_path: Path) -> None:
    options = {"night_route": "deepseek,deepseek-chat", "night_hours": [11, 14]}
    assert_routed(route_at(tmp_path, 12, options), "deepseek,deepseek-chat")


def test_time_of_day_window_can_wrap_past_midnight(tmp_path: Path) -> None:
    assert_routed(route_at(tmp_path, 23, {"night_hours": [21, 6]}), NIGHT)


def test_time_of_day_utc_offset_option_replaces_the_server_time_zone(tmp_path: Path) -> None:
    options = {"utc_offset_hours": utc_offset_for_local_hour(3)}
    assert_routed(route_at(tmp_path, 12, options), NIGHT)


def test_time_of_day_malformed_window_is_a_readable_script_error(tmp_path: Path) -> None:
    row = route_at(tmp_path, 3, {"night_hours": [2]})
    assert row["route"] == DEFAULT_ROUTE
    assert re.match(r"time_of_day\.py:\d+: ValueError: night_hours must be \[start_hour, "
                    r"end_hour\]", row["script_error"]), row["script_error"]


# -- task_type.py -----------------------------------------------------------------------------

TASK_ROUTES = {
    "review": "openrouter,google/gemini-2.5-pro",
    "implement": "deepseek,deepseek-chat",
    "reasoning": "deepseek,deepseek-reasoner",
}
REMINDER = ("<system-reminder>\nAs you answer, explain why and review the code base.\n"
            "</system-reminder>")


def task_requests() -> dict[str, Any]:
    tool_turn = message("Implement a --verbose flag for the CLI")
    tool_turn["messages"] += [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "Bash", "input": {"command": "ls"}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": "why.py review.py"}]},
    ]
    return {
        "review": message("Please review the diff in src/app.py"),
        "implement": message([{"type": "text", "text": REMINDER},
                              {"type": "text", "text": "write a parser for the config file"}]),
        "reasoning": message("Why does the build fail on CI?"),
        "first-word-wins": message("Explain the failing test, then fix it"),
        "reminder-only": message([{"type": "text", "text": REMINDER},
                                  {"type": "text", "text": "hello there"}]),
        "tool-result-turn": tool_turn,
        "no-task-words": message("hello there"),
    }


@pytest.fixture(scope="module")
def task_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    return route_script(tmp_path_factory.mktemp("task"), "task_type.py", task_requests(),
                        options={"task_routes": TASK_ROUTES})


def test_task_type_sends_review_requests_to_the_review_model(task_rows: Rows) -> None:
    assert_routed(task_rows["review"], TASK_ROUTES["review"])


def test_task_type_sends_implementation_requests_to_the_coding_model(task_rows: Rows) -> None:
    assert_routed(task_rows["implement"], TASK_ROUTES["implement"])


def test_task_type_sends_why_questions_to_the_reasoning_model(task_rows: Rows) -> None:
    assert_routed(task_rows["reasoning"], TASK_ROUTES["reasoning"])


def test_task_type_the_kind_named_first_in_the_message_wins(task_rows: Rows) -> None:
    assert_routed(task_rows["first-word-wins"], TASK_ROUTES["reasoning"])


def test_task_type_ignores_words_inside_system_reminders(task_rows: Rows) -> None:
    assert_falls_through(task_rows["reminder-only"])


def test_task_type_routes_a_tool_result_turn_by_the_last_typed_message(task_rows: Rows) -> None:
    assert_routed(task_rows["tool-result-turn"], TASK_ROUTES["implement"])


def test_task_type_falls_through_without_task_words(task_rows: Rows) -> None:
    assert_falls_through(task_rows["no-task-words"])


def test_task_type_default_routes_apply_without_options(tmp_path: Path) -> None:
    rows = route_script(tmp_path, "task_type.py", {"req": message("why is it slow?")})
    assert_routed(rows["req"], "deepseek,deepseek-reasoner")


def test_task_type_a_null_route_switches_its_kind_off(tmp_path: Path) -> None:
    options = {"task_routes": {**TASK_ROUTES, "reasoning": None}}
    rows = route_script(tmp_path, "task_type.py", {"req": message("why is it slow?")},
                        options=options)
    assert_falls_through(rows["req"])


def test_task_type_patterns_and_new_kinds_come_from_the_options(tmp_path: Path) -> None:
    options = {
        "task_routes": {"docs": "ollama,qwen2.5-coder:latest"},
        "task_patterns": {"docs": r"\b(document|readme)\b", "review": r"\bcheck\b"},
    }
    rows = route_script(tmp_path, "task_type.py", {
        "docs": message("update the README for the new flag"),
        "review": message("check my change"),
    }, options=options)
    assert_routed(rows["docs"], "ollama,qwen2.5-coder:latest")
    assert_routed(rows["review"], "openrouter,anthropic/claude-sonnet-4")


def test_task_type_reads_a_real_claude_code_request(tmp_path: Path) -> None:
    plain = shared_fixture("01-plain")
    asking = copy.deepcopy(plain)
    for message_ in asking["body"]["messages"]:
        if message_["role"] == "user":
            message_["content"][-1]["text"] = "Why does the login page hang?"
    rows = route_script(tmp_path, "task_type.py", {"plain": plain, "asking": asking},
                        options={"task_routes": TASK_ROUTES})
    assert_falls_through(rows["plain"])  # "say hello"
    assert_routed(rows["asking"], TASK_ROUTES["reasoning"])


# -- token_budget.py --------------------------------------------------------------------------

BUDGET_OPTIONS = {
    "long_context_route": "openrouter,google/gemini-2.5-pro",
    "cheap_route": "ollama,qwen2.5-coder:latest",
    "big_request_tokens": 2000,
    "tiny_request_tokens": 200,
}


@pytest.fixture(scope="module")
def budget_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    return route_script(tmp_path_factory.mktemp("budget"), "token_budget.py", {
        "tiny": message("thanks!"),
        "medium": message("word " * 600),
        "big": message("word " * 3000),
    }, options=BUDGET_OPTIONS)


def test_token_budget_sends_big_requests_to_the_long_context_model(budget_rows: Rows) -> None:
    assert budget_rows["big"]["token_count"] > BUDGET_OPTIONS["big_request_tokens"]
    assert_routed(budget_rows["big"], BUDGET_OPTIONS["long_context_route"])


def test_token_budget_sends_tiny_requests_to_the_cheap_model(budget_rows: Rows) -> None:
    assert budget_rows["tiny"]["token_count"] <= BUDGET_OPTIONS["tiny_request_tokens"]
    assert_routed(budget_rows["tiny"], BUDGET_OPTIONS["cheap_route"])


def test_token_budget_falls_through_for_ordinary_requests(budget_rows: Rows) -> None:
    assert_falls_through(budget_rows["medium"])


def test_token_budget_defaults_to_the_router_slots(tmp_path: Path) -> None:
    router = {"default": DEFAULT_ROUTE, "background": "ollama,qwen2.5-coder:latest",
              "longContext": "openrouter,google/gemini-2.5-pro", "longContextThreshold": 2000}
    rows = route_script(tmp_path, "token_budget.py", {
        "tiny": message("thanks!"), "big": message("word " * 3000),
    }, Router=router)
    assert_routed(rows["tiny"], "ollama,qwen2.5-coder:latest")
    assert_routed(rows["big"], "openrouter,google/gemini-2.5-pro")


def test_token_budget_sends_the_next_turn_of_a_long_session_to_the_long_context_model(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    config = fake_config(fake, CUSTOM_ROUTER_PATH=str(SCRIPTS / "token_budget.py"),
                         CUSTOM_ROUTER_OPTIONS={"long_context_route": "fake,fake-model-large",
                                                "long_session_tokens": 50000,
                                                "tiny_request_tokens": 200})
    server = make_ccr(config)
    fake.enqueue(text("a long answer", usage=Usage(prompt=70000, completion=10)))

    def ask(session: str) -> str:
        response = httpx.post(f"{server.base_url}/v1/messages", json=message("word " * 600),
                              headers={"x-claude-code-session-id": session}, timeout=10)
        assert response.status_code == 200, response.text
        return fake.chat_requests[-1].body["model"]

    assert ask("long-session") == "fake-model"  # nothing known about the session yet
    assert ask("long-session") == "fake-model-large"  # its last turn used 70K input tokens
    assert ask("other-session") == "fake-model"


# -- project_based.py -------------------------------------------------------------------------

PROJECT_ROUTES = {
    "-webapp$": "gemini,gemini-2.5-pro",
    "-home-me-src-": "deepseek,deepseek-chat",
}
SESSIONS = {
    "webapp": "-home-me-src-webapp",
    "infra": "-home-me-src-infra",
    "webapp-api": "-home-me-src-webapp-api",
    "notes": "-home-me-notes",
}


@pytest.fixture(scope="module")
def project_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    folder = tmp_path_factory.mktemp("projects")
    home = folder / "home"
    requests = {}
    for name, project in SESSIONS.items():
        session = f"{name}-0000-session"
        transcript = home / ".claude" / "projects" / project / f"{session}.jsonl"
        transcript.parent.mkdir(parents=True)
        transcript.write_text("{}\n")
        requests[name] = recorded(message("hi"), **{"X-Claude-Code-Session-Id": session})
    requests["unknown-session"] = recorded(
        message("hi"), **{"X-Claude-Code-Session-Id": "no-transcript-session"})
    requests["no-session"] = message("hi")
    return route_script(folder, "project_based.py", requests,
                        options={"project_routes": PROJECT_ROUTES}, home=home)


def test_project_based_routes_a_project_by_its_folder_name(project_rows: Rows) -> None:
    assert project_rows["infra"]["project"] == "-home-me-src-infra"
    assert_routed(project_rows["infra"], "deepseek,deepseek-chat")


def test_project_based_first_matching_pattern_wins(project_rows: Rows) -> None:
    assert_routed(project_rows["webapp"], "gemini,gemini-2.5-pro")


def test_project_based_patterns_are_regular_expressions(project_rows: Rows) -> None:
    assert_routed(project_rows["webapp-api"], "deepseek,deepseek-chat")


def test_project_based_falls_through_for_unmapped_projects(project_rows: Rows) -> None:
    assert project_rows["notes"]["project"] == "-home-me-notes"
    assert_falls_through(project_rows["notes"])


def test_project_based_falls_through_without_a_known_project(project_rows: Rows) -> None:
    assert project_rows["unknown-session"]["project"] is None
    assert_falls_through(project_rows["unknown-session"])
    assert_falls_through(project_rows["no-session"])


# -- subagent_aware.py ------------------------------------------------------------------------

SUBAGENT = "ollama,qwen2.5-coder:latest"
BILLING = "x-anthropic-billing-header: cc_version=2.1.197.a39; cc_entrypoint=sdk-cli;"


def with_system(first_block: str) -> dict[str, Any]:
    return message("find the config loader", system=[
        {"type": "text", "text": first_block},
        {"type": "text", "text": "You are an agent for Claude Code."},
    ])


@pytest.fixture(scope="module")
def subagent_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    return route_script(tmp_path_factory.mktemp("subagent"), "subagent_aware.py", {
        "billing-mark": with_system(BILLING + " cc_is_subagent=true;"),
        "agent-header": recorded(with_system(BILLING),
                                 **{"x-claude-code-agent-id": "aaf2f6dd18a2ad587"}),
        "main": recorded(with_system(BILLING)),
        "string-system": message("hi", system="You are a helpful assistant."),
    }, options={"subagent_route": SUBAGENT})


def test_subagent_aware_spots_the_billing_line_mark(subagent_rows: Rows) -> None:
    assert_routed(subagent_rows["billing-mark"], SUBAGENT)


def test_subagent_aware_spots_the_agent_id_header(subagent_rows: Rows) -> None:
    assert_routed(subagent_rows["agent-header"], SUBAGENT)


def test_subagent_aware_leaves_the_main_agent_to_the_built_in_rules(subagent_rows: Rows) -> None:
    assert_falls_through(subagent_rows["main"])
    assert_falls_through(subagent_rows["string-system"])


def test_subagent_aware_routes_the_main_agent_when_main_route_is_set(tmp_path: Path) -> None:
    options = {"subagent_route": SUBAGENT, "main_route": "deepseek,deepseek-chat"}
    rows = route_script(tmp_path, "subagent_aware.py", {"main": with_system(BILLING)},
                        options=options)
    assert_routed(rows["main"], "deepseek,deepseek-chat")


def test_subagent_aware_on_real_claude_code_requests(tmp_path: Path) -> None:
    rows = route_script(tmp_path, "subagent_aware.py", {
        "subagent": shared_fixture("10-task-subagent-request"),
        "main": shared_fixture("01-plain"),
    }, options={"subagent_route": SUBAGENT})
    assert_routed(rows["subagent"], SUBAGENT)
    assert_falls_through(rows["main"])


# -- custom_router.py (the template) ----------------------------------------------------------


def test_template_falls_through_without_options(tmp_path: Path) -> None:
    rows = route_script(tmp_path, "custom_router.py", {"req": message("hi")})
    assert_falls_through(rows["req"])


@pytest.fixture(scope="module")
def template_rows(tmp_path_factory: pytest.TempPathFactory) -> Rows:
    reminder = {"type": "text", "text": "<system-reminder>a quick question</system-reminder>"}
    return route_script(tmp_path_factory.mktemp("template"), "custom_router.py", {
        "opus": message("hi", model="claude-opus-4-8"),
        "sonnet": message("hi", model="claude-sonnet-5"),
        "quick-opus": message("Quick question: what is a monad?", model="claude-opus-4-8"),
        "reminder-only": message([reminder, {"type": "text", "text": "hi"}],
                                 model="claude-sonnet-5"),
    }, options={"model_routes": {"opus": "deepseek,deepseek-reasoner"},
                "keyword_routes": {"quick question": "ollama,qwen2.5-coder:latest"}})


def test_template_maps_the_requested_model_to_a_route(template_rows: Rows) -> None:
    assert_routed(template_rows["opus"], "deepseek,deepseek-reasoner")
    assert_falls_through(template_rows["sonnet"])


def test_template_keyword_in_the_last_user_message_wins_over_the_model(
    template_rows: Rows,
) -> None:
    assert_routed(template_rows["quick-opus"], "ollama,qwen2.5-coder:latest")


def test_template_ignores_keywords_inside_system_reminders(template_rows: Rows) -> None:
    assert_falls_through(template_rows["reminder-only"])


# -- the example config -----------------------------------------------------------------------


def test_example_config_routes_through_its_script(tmp_path: Path) -> None:
    config = json.loads(EXAMPLE_CONFIG.read_text())
    home = tmp_path / "home"
    script = home / config["CUSTOM_ROUTER_PATH"].removeprefix("~/")
    script.parent.mkdir(parents=True)
    shutil.copy(SCRIPTS / "task_type.py", script)
    config_path = tmp_path / "config.json"
    config_path.write_text(json.dumps(config))
    for name, body in {"review": message("review my patch"), "hi": message("hi")}.items():
        write_json(tmp_path / "requests" / f"{name}.json", body)
    result = run_route(config_path, tmp_path / "requests", args=("--json",), home=home,
                       env={"OPENROUTER_API_KEY": "sk-or", "DEEPSEEK_API_KEY": "sk-ds"})
    assert result.returncode == 0, result.stderr
    rows = {r["source"]: r for r in route_rows(result)}
    review = config["CUSTOM_ROUTER_OPTIONS"]["task_routes"]["review"]
    assert (rows["review.json"]["rule"], rows["review.json"]["route"]) == ("custom", review)
    assert (rows["hi.json"]["rule"], rows["hi.json"]["route"]) == (
        "default", config["Router"]["default"])
    assert rows["hi.json"]["script_error"] is None

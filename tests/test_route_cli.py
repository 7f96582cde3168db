"""``ccr route --dry-run`` as a user runs it: a subprocess on request files, with a router script.

The helpers that run it and read its rows are in :mod:`tests.support.route_helpers`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tests.support.recorded import recorded, recorded_dir, recorded_names
from tests.support.route_helpers import (
    DEFAULT_ROUTE,
    message,
    route_one,
    route_rows,
    run_route,
    write_config,
    write_json,
    write_script,
)

pytestmark = pytest.mark.e2e

#: The readable form of a script error: ``custom_router.py:LINE: Type: message``.
SCRIPT_ERROR = re.compile(r"^custom_router\.py:(\d+): (\w+): (.+)$")


# -- scripts used below -----------------------------------------------------------------------

ECHO_HEADER = '''\
def router(req, config):
    if req.headers.get("x-team") == "research":
        return "deepseek,deepseek-reasoner"
    return None
'''

BY_SESSION = '''\
def router(req, config):
    if req.session_id == "0b5c-test-session":
        return "ollama,qwen2.5-coder:latest"
    return None
'''

BY_WORD = '''\
def router(req, config):
    text = req.body["messages"][-1]["content"]
    if "cheap" in text:
        return "ollama,qwen2.5-coder:latest"
    if "reason" in text:
        return "deepseek,deepseek-reasoner"
    return None
'''

RAISES = '''\
def router(req, config):
    total = req.token_count
    return "deepseek,deepseek-chat" if total / 0 else None
'''

UNCONFIGURED = '''\
def router(req, config):
    return "deepseek,deepseek-v9"
'''

DOES_NOT_COMPILE = '''\
def router(req, config):
    return "deepseek,deepseek-chat" if
'''

LOOPS = '''\
def router(req, config):
    while True:
        pass
'''


@pytest.fixture
def by_word(tmp_path: Path) -> Path:
    return write_config(tmp_path, write_script(tmp_path, BY_WORD))


# -- output shapes ----------------------------------------------------------------------------


def test_a_single_request_prints_route_rule_tokens_and_script_time(by_word: Path,
                                                                   tmp_path: Path) -> None:
    request = write_json(tmp_path / "req.json", message("please be cheap"))
    result = run_route(by_word, request)
    assert result.returncode == 0, result.stderr
    fields = dict(re.findall(r"^(\w[\w ]*):\s+(.*)$", result.stdout, re.M))
    assert fields["route"] == "ollama,qwen2.5-coder:latest"
    assert fields["rule"] == "custom"
    assert int(fields["tokens"]) > 0
    assert re.fullmatch(r"\d+\.\d\d ms", fields["script"])


def test_json_output_gives_route_rule_tokens_and_script_fields(by_word: Path,
                                                               tmp_path: Path) -> None:
    request = write_json(tmp_path / "req.json", message("time to reason"))
    row = route_one(by_word, request)
    assert row["route"] == "deepseek,deepseek-reasoner"
    assert row["rule"] == "custom"
    assert row["token_count"] > 0
    assert row["error"] is None and row["script_error"] is None
    assert isinstance(row["script_ms"], float) and row["script_ms"] >= 0


def test_without_a_script_there_is_no_script_time(tmp_path: Path) -> None:
    config = write_config(tmp_path, None)
    row = route_one(config, write_json(tmp_path / "req.json", message("hi")))
    assert row["route"] == DEFAULT_ROUTE and row["rule"] == "default"
    assert row["script_ms"] is None


def test_a_directory_gives_one_row_per_request_and_a_count_per_route(
    by_word: Path, tmp_path: Path
) -> None:
    folder = tmp_path / "requests"
    write_json(folder / "a.json", message("cheap one"))
    write_json(folder / "b.json", message("another cheap one"))
    write_json(folder / "c.json", message("reason about it"))
    write_json(folder / "d.json", message("nothing special"))
    (folder / "notes.txt").write_text("not a request")
    result = run_route(by_word, folder)
    assert result.returncode == 0, result.stderr
    rows, _, summary = result.stdout.partition("\n\n")
    header, *lines = rows.splitlines()
    assert header.split() == ["request", "rule", "route", "tokens", "note"]
    by_source = {line.split()[0]: line.split()[1:3] for line in lines}
    assert by_source == {
        "a.json": ["custom", "ollama,qwen2.5-coder:latest"],
        "b.json": ["custom", "ollama,qwen2.5-coder:latest"],
        "c.json": ["custom", "deepseek,deepseek-reasoner"],
        "d.json": ["default", DEFAULT_ROUTE],
    }
    counts = {line.split()[1]: int(line.split()[0]) for line in summary.strip().splitlines()}
    assert counts == {"ollama,qwen2.5-coder:latest": 2, "deepseek,deepseek-reasoner": 1,
                      DEFAULT_ROUTE: 1}


def test_a_jsonl_file_gives_one_row_per_line(by_word: Path, tmp_path: Path) -> None:
    lines = [message("cheap"), message("reason"), message("plain")]
    requests = tmp_path / "requests.jsonl"
    requests.write_text("\n".join(json.dumps(line) for line in lines) + "\n\n")
    rows = route_rows(run_route(by_word, requests, args=("--json",)))
    assert [(r["source"], r["route"]) for r in rows] == [
        ("requests.jsonl:1", "ollama,qwen2.5-coder:latest"),
        ("requests.jsonl:2", "deepseek,deepseek-reasoner"),
        ("requests.jsonl:3", DEFAULT_ROUTE),
    ]


# -- request forms and options ----------------------------------------------------------------


def test_header_option_reaches_the_script_lower_cased(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_script(tmp_path, ECHO_HEADER))
    request = write_json(tmp_path / "req.json", message("hi"))
    assert route_one(config, request)["route"] == DEFAULT_ROUTE
    row = route_one(config, request, "--header", "X-Team: research")
    assert row["route"] == "deepseek,deepseek-reasoner"


def test_a_header_without_a_colon_is_a_usage_error(by_word: Path, tmp_path: Path) -> None:
    request = write_json(tmp_path / "req.json", message("hi"))
    result = run_route(by_word, request, args=("--header", "x-team research"))
    assert result.returncode == 2
    assert "--header needs K:V" in result.stderr


def test_session_id_option_sets_the_session_the_script_sees(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_script(tmp_path, BY_SESSION))
    request = write_json(tmp_path / "req.json", message("hi"))
    row = route_one(config, request, "--session-id", "0b5c-test-session")
    assert row["session_id"] == "0b5c-test-session"
    assert row["route"] == "ollama,qwen2.5-coder:latest"


def test_recorded_request_form_uses_its_headers(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_script(tmp_path, ECHO_HEADER))
    record = {"method": "POST", "path": "/v1/messages?beta=true",
              "headers": {"X-Team": "research", "X-Claude-Code-Session-Id": "rec-session-1",
                          "Authorization": "Bearer sk-client"},
              "body": message("hi")}
    row = route_one(config, write_json(tmp_path / "recorded.json", record))
    assert row["route"] == "deepseek,deepseek-reasoner"
    assert row["session_id"] == "rec-session-1"


def test_a_recorded_request_that_is_not_a_messages_call_is_skipped(by_word: Path,
                                                                   tmp_path: Path) -> None:
    folder = tmp_path / "recorded"
    write_json(folder / "00-head.json",
               {"method": "HEAD", "path": "/", "headers": {}, "body": ""})
    write_json(folder / "01-post.json", {"method": "POST", "path": "/v1/messages",
                                         "headers": {}, "body": message("cheap")})
    result = run_route(by_word, folder, args=("--json",))
    assert result.returncode == 0, result.stderr
    rows = {r["source"]: r for r in route_rows(result)}
    assert rows["00-head.json"]["skipped"] and rows["00-head.json"]["route"] is None
    assert rows["01-post.json"]["route"] == "ollama,qwen2.5-coder:latest"


def test_claude_code_recordings_route_with_a_script_reading_their_messages(
    by_word: Path, tmp_path: Path,
) -> None:
    result = run_route(by_word, recorded_dir(tmp_path), args=("--json",))
    rows = route_rows(result)
    routed = [r for r in rows if not r["skipped"]]
    posts = [name for name in recorded_names() if recorded(name)["method"] == "POST"]
    assert sorted(r["source"] for r in routed) == [f"{name}.json" for name in posts]
    assert all(r["route"] and r["error"] is None for r in routed), routed
    assert result.returncode == 0


# -- script problems fall through to the built-in rules ---------------------------------------


def test_a_script_that_raises_falls_through_with_its_file_line_and_error(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, write_script(tmp_path, RAISES))
    row = route_one(config, write_json(tmp_path / "req.json", message("hi")))
    assert row["route"] == DEFAULT_ROUTE and row["rule"] == "default"
    match = SCRIPT_ERROR.match(row["script_error"])
    assert match is not None, row["script_error"]
    assert match.groups() == ("3", "ZeroDivisionError", "division by zero")


def test_text_output_shows_the_script_error(tmp_path: Path) -> None:
    config = write_config(tmp_path, write_script(tmp_path, RAISES))
    result = run_route(config, write_json(tmp_path / "req.json", message("hi")))
    assert f"route:        {DEFAULT_ROUTE}" in result.stdout
    assert "script error: custom_router.py:3: ZeroDivisionError: division by zero" \
        in result.stdout


def test_a_script_that_does_not_compile_falls_through_and_names_the_line(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, write_script(tmp_path, DOES_NOT_COMPILE))
    result = run_route(config, write_json(tmp_path / "req.json", message("hi")),
                       args=("--json",))
    row = route_rows(result)[0]
    assert row["route"] == DEFAULT_ROUTE
    assert row["script_error"].startswith("custom_router.py:2: SyntaxError")
    assert "router script: custom_router.py:2: SyntaxError" in result.stderr


def test_a_script_returning_an_unconfigured_route_falls_through_with_an_error(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, write_script(tmp_path, UNCONFIGURED))
    row = route_one(config, write_json(tmp_path / "req.json", message("hi")))
    assert row["route"] == DEFAULT_ROUTE and row["rule"] == "default"
    assert "deepseek,deepseek-v9" in row["script_error"]
    assert "not a configured" in row["script_error"]


def test_a_script_that_runs_too_long_falls_through_reporting_the_timeout(
    tmp_path: Path,
) -> None:
    config = write_config(tmp_path, write_script(tmp_path, LOOPS),
                          CUSTOM_ROUTER_TIMEOUT_MS=100)
    row = route_one(config, write_json(tmp_path / "req.json", message("hi")))
    assert row["route"] == DEFAULT_ROUTE
    assert "timed out after 100 ms" in row["script_error"]


def test_a_missing_script_file_falls_through_saying_so(tmp_path: Path) -> None:
    config = write_config(tmp_path, tmp_path / "custom_router.py")
    row = route_one(config, write_json(tmp_path / "req.json", message("hi")))
    assert row["route"] == DEFAULT_ROUTE
    assert row["script_error"].startswith("custom_router.py: cannot read the script")


# -- exit status ------------------------------------------------------------------------------


def test_exit_status_is_0_when_every_request_is_routed(by_word: Path, tmp_path: Path) -> None:
    folder = tmp_path / "requests"
    write_json(folder / "a.json", message("cheap"))
    write_json(folder / "b.json", message("plain"))
    assert run_route(by_word, folder).returncode == 0


def test_exit_status_is_1_when_a_request_cannot_be_routed(by_word: Path,
                                                          tmp_path: Path) -> None:
    folder = tmp_path / "requests"
    write_json(folder / "a.json", message("cheap"))
    write_json(folder / "b.json", {"model": "claude-sonnet-4"})
    (folder / "c.json").write_text("{not json")
    result = run_route(by_word, folder, args=("--json",))
    assert result.returncode == 1
    rows = {r["source"]: r for r in route_rows(result)}
    assert rows["a.json"]["error"] is None
    assert "no messages list" in rows["b.json"]["request_error"]
    assert "not JSON" in rows["c.json"]["request_error"]


def test_exit_status_is_2_for_an_invalid_config(tmp_path: Path) -> None:
    config = write_config(tmp_path, None, Router={"default": 42})
    result = run_route(config, write_json(tmp_path / "req.json", message("hi")))
    assert result.returncode == 2
    assert "invalid configuration" in result.stderr


def test_only_dry_runs_are_supported(by_word: Path, tmp_path: Path) -> None:
    result = run_route(by_word, write_json(tmp_path / "req.json", message("hi")),
                       dry_run="--no-dry-run")
    assert result.returncode == 2
    assert "only supports --dry-run" in result.stderr


def test_a_dry_run_shows_the_fallback_list_the_server_would_try(tmp_path: Path) -> None:
    config = write_config(tmp_path, None, fallback={
        "default": ["deepseek,deepseek-chat", "ollama,qwen2.5-coder:latest"]})
    request = write_json(tmp_path / "hello.json", message("say hello"))

    row = route_one(config, request)
    plain = run_route(config, request)

    assert row["route"] == DEFAULT_ROUTE
    assert row["fallback"] == ["deepseek,deepseek-chat", "ollama,qwen2.5-coder:latest"]
    assert "fallback:     deepseek,deepseek-chat → ollama,qwen2.5-coder:latest" in plain.stdout

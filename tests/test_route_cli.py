"""``ccr route --dry-run`` as a user runs it: a subprocess on request files, with a router script.

The helpers here (``write_config``, ``run_route``, ``route_rows``) are also what the example
router script tests use.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

PROJECT = Path(__file__).resolve().parents[1]
CLAUDE_CODE_FIXTURES = PROJECT.parent / "shared" / "fixtures" / "claude-code"

#: Providers a typical user config has; a dry run never calls them.
PROVIDERS: list[dict[str, Any]] = [
    {"name": "openrouter", "api_base_url": "http://127.0.0.1:9/api/v1/chat/completions",
     "api_key": "sk-or-test", "models": ["anthropic/claude-sonnet-4", "google/gemini-2.5-pro"]},
    {"name": "deepseek", "api_base_url": "http://127.0.0.1:9/chat/completions",
     "api_key": "sk-ds-test", "models": ["deepseek-chat", "deepseek-reasoner"]},
    {"name": "ollama", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
     "api_key": "ollama", "models": ["qwen2.5-coder:latest"]},
    {"name": "gemini", "api_base_url": "http://127.0.0.1:9/v1beta/models/",
     "api_key": "gm-test", "models": ["gemini-2.5-pro"]},
]
DEFAULT_ROUTE = "openrouter,anthropic/claude-sonnet-4"

#: The readable form of a script error: ``custom_router.py:LINE: Type: message``.
SCRIPT_ERROR = re.compile(r"^custom_router\.py:(\d+): (\w+): (.+)$")


def write_config(folder: Path, script: Path | None, *, options: dict[str, Any] | None = None,
                 **extra: Any) -> Path:
    """A config.json in ``folder`` using ``script`` as the router script."""
    config: dict[str, Any] = {
        "Providers": PROVIDERS,
        "Router": {"default": DEFAULT_ROUTE},
        "LOG": False,
    }
    if script is not None:
        config["CUSTOM_ROUTER_PATH"] = str(script)
    if options is not None:
        config["CUSTOM_ROUTER_OPTIONS"] = options
    config.update(extra)
    path = folder / "config.json"
    path.write_text(json.dumps(config, indent=2))
    return path


def write_script(folder: Path, source: str) -> Path:
    path = folder / "custom_router.py"
    path.write_text(source)
    return path


def message(text: str | list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A small Anthropic Messages body with one user message."""
    return {"model": "claude-sonnet-4", "max_tokens": 1024,
            "messages": [{"role": "user", "content": text}], **extra}


def write_json(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def run_route(config: Path, *requests: Path, args: tuple[str, ...] = (),
              env: dict[str, str] | None = None, home: Path | None = None,
              dry_run: str = "--dry-run") -> subprocess.CompletedProcess[str]:
    """``python -m ccr route --dry-run REQUESTS --config CONFIG ARGS`` with HOME/CCR_HOME in a
    private folder (so ``~/.claude/projects`` is the test's own)."""
    home = home or config.parent / "home"
    home.mkdir(parents=True, exist_ok=True)
    environ = {k: v for k, v in os.environ.items() if "proxy" not in k.lower() and k != "TZ"}
    environ.update(HOME=str(home), CCR_HOME=str(home / ".claude-code-router"))
    environ.update(env or {})
    command = [sys.executable, "-m", "ccr", "route", dry_run, *map(str, requests),
               "--config", str(config), *args]
    return subprocess.run(command, cwd=PROJECT, env=environ, capture_output=True, text=True,
                          timeout=60)


def route_rows(result: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    """The objects ``--json`` printed: one indented object, or one object per line."""
    out = result.stdout.strip()
    assert out, f"no output (status {result.returncode}): {result.stderr}"
    if out.startswith("{\n"):
        return [json.loads(out)]
    return [json.loads(line) for line in out.splitlines()]


def route_one(config: Path, request: Path, *args: str, **kwargs: Any) -> dict[str, Any]:
    result = run_route(config, request, args=("--json", *args), **kwargs)
    rows = route_rows(result)
    assert len(rows) == 1
    return rows[0]


def shared_fixture(name: str) -> dict[str, Any]:
    path = CLAUDE_CODE_FIXTURES / f"{name}.json"
    if not path.exists():
        pytest.skip(f"shared fixture {name} not available")
    return json.loads(path.read_text())


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
    by_source = {line.split()[0]: line.split()[1:3] for line in rows.splitlines()}
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
    by_word: Path,
) -> None:
    if not CLAUDE_CODE_FIXTURES.is_dir():
        pytest.skip("shared Claude Code fixtures not available")
    result = run_route(by_word, CLAUDE_CODE_FIXTURES, args=("--json",))
    rows = route_rows(result)
    routed = [r for r in rows if not r["skipped"]]
    assert routed, "no Messages request among the recordings"
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

"""``ccr statusline``: Claude Code's status JSON in, one line out, numbers from the server.

A real ccr server (in-process) in front of the fake upstream serves one streamed turn; the
status line then shows that session's route, tokens, context use and cost. Without a server,
or for an unknown session, it still prints one short line and exits 0.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ccr.cli.main import app
from ccr.cli.statusline import Settings, fetch_usage
from tests.support.ccr_server import CcrServer, free_port
from tests.support.fake_upstream import FakeUpstream, Usage, text
from tests.support.fixtures import MakeCcr, fake_config

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[1]
PROMPT, CACHED, COMPLETION = 1234, 200, 56
WINDOW = 10_000
PRICE = {"input": 1.5, "output": 4.0, "cache_read": 0.5}
STATUS_SECTION = {
    "context_windows": {"fake,fake-model": WINDOW},
    "prices": {"fake,fake-model": PRICE},
}


def claude_code_status(session_id: str, transcript: Path) -> dict[str, Any]:
    """What Claude Code sends a status line command (its own numbers are for Claude models)."""
    return {
        "hook_event_name": "Status",
        "session_id": session_id,
        "transcript_path": str(transcript),
        "cwd": "/home/user/project",
        "model": {"id": "claude-sonnet-5", "display_name": "Sonnet 5"},
        "workspace": {"current_dir": "/home/user/project", "project_dir": "/home/user/project"},
        "version": "2.1.197",
        "output_style": {"name": "default"},
        "cost": {"total_cost_usd": 0.42, "total_duration_ms": 4500,
                 "total_api_duration_ms": 2300, "total_lines_added": 3,
                 "total_lines_removed": 1},
        "exceeds_200k_tokens": False,
        "context_window": {"total_input_tokens": 99999, "total_output_tokens": 999,
                           "context_window_size": 200000, "used_percentage": 50},
    }


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "ccr-home"
    home.mkdir()
    monkeypatch.setenv("CCR_HOME", str(home))
    monkeypatch.delenv("NO_COLOR", raising=False)
    return home


def _write_config(home: Path, port: int, **extra: Any) -> None:
    (home / "config.json").write_text(json.dumps({"HOST": "127.0.0.1", "PORT": port, **extra}))


def _one_turn(server: CcrServer, fake: FakeUpstream, session_id: str,
              api_key: str | None = None) -> None:
    fake.enqueue(text("Hello.", usage=Usage(prompt=PROMPT, completion=COMPLETION,
                                            cached=CACHED)))
    headers = {"X-Claude-Code-Session-Id": session_id}
    if api_key:
        headers["x-api-key"] = api_key
    response = httpx.post(f"{server.base_url}/v1/messages", headers=headers, timeout=20, json={
        "model": "claude-sonnet-5", "max_tokens": 100, "stream": True,
        "messages": [{"role": "user", "content": "hi"}],
    })
    assert response.status_code == 200
    assert "message_stop" in response.text


def _statusline(stdin: str, *args: str, env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, ["statusline", *args], input=stdin, env=env)
    assert result.exit_code == 0
    return result.stdout


@pytest.fixture
def served(home: Path, fake: FakeUpstream, make_ccr: MakeCcr) -> tuple[CcrServer, str]:
    """A server that has seen one streamed turn of a session; the config file points at it."""
    server = make_ccr(fake_config(fake))
    session_id = str(uuid.uuid4())
    _one_turn(server, fake, session_id)
    _write_config(home, server.port, StatusLine=STATUS_SECTION)
    return server, session_id


def test_status_line_shows_the_sessions_route_tokens_context_and_cost(
    served: tuple[CcrServer, str], home: Path, tmp_path: Path
) -> None:
    _, session_id = served
    transcript = tmp_path / "transcript.jsonl"
    os.mkfifo(transcript)  # opening it to read would block: the line must not read it
    stdin = json.dumps(claude_code_status(session_id, transcript))

    result = subprocess.run(
        [sys.executable, "-m", "ccr", "statusline", "--no-color"], input=stdin, text=True,
        capture_output=True, cwd=ROOT, timeout=10, env={**os.environ, "CCR_HOME": str(home)},
    )

    uncached = PROMPT - CACHED
    cost = (uncached * PRICE["input"] + CACHED * PRICE["cache_read"]
            + COMPLETION * PRICE["output"]) / 1e6
    assert result.returncode == 0
    assert result.stdout.count("\n") == 1
    assert result.stdout.strip() == (
        f"fake,fake-model | in {PROMPT / 1000:.1f}k out {COMPLETION} | "
        f"ctx {100 * PROMPT / WINDOW:.0f}% of {WINDOW // 1000}k | ~${cost:.4f}"
    )


def test_the_numbers_are_the_servers_last_turn_not_claude_codes(
    served: tuple[CcrServer, str], fake: FakeUpstream
) -> None:
    server, session_id = served
    fake.enqueue(text("Again.", usage=Usage(prompt=3000, completion=7)))
    httpx.post(f"{server.base_url}/v1/messages", timeout=20,
               headers={"X-Claude-Code-Session-Id": session_id},
               json={"model": "claude-sonnet-5", "max_tokens": 100, "stream": True,
                     "messages": [{"role": "user", "content": "more"}]})

    line = _statusline(json.dumps({"session_id": session_id}), "--no-color")

    assert "in 3k out 7" in line
    assert "ctx 30%" in line


def test_colours_by_default_and_none_with_no_color(served: tuple[CcrServer, str]) -> None:
    stdin = json.dumps({"session_id": served[1]})

    coloured = _statusline(stdin)
    env_plain = _statusline(stdin, env={"NO_COLOR": "1"})
    flag_plain = _statusline(stdin, "--no-color")

    assert "\x1b[" in coloured
    assert "\x1b[" not in env_plain
    assert env_plain == flag_plain


def test_powerline_theme_from_the_config(served: tuple[CcrServer, str], home: Path) -> None:
    server, session_id = served
    _write_config(home, server.port, StatusLine={**STATUS_SECTION, "theme": "powerline"})
    stdin = json.dumps({"session_id": session_id})

    coloured = _statusline(stdin)
    plain = _statusline(stdin, "--no-color")
    overridden = _statusline(stdin, "--no-color", "--theme", "plain")

    assert "\ue0b0" in coloured and "\x1b[48;5;" in coloured
    assert "\ue0b1" in plain and "\x1b[" not in plain
    assert " | " in overridden and "\ue0b1" not in overridden


def test_ccr_current_style_powerline_is_honoured(served: tuple[CcrServer, str],
                                                 home: Path) -> None:
    server, session_id = served
    _write_config(home, server.port, StatusLine={"enabled": True, "currentStyle": "powerline"})

    assert "\ue0b1" in _statusline(json.dumps({"session_id": session_id}), "--no-color")


def test_default_context_window_and_no_cost_without_prices(
    served: tuple[CcrServer, str], home: Path
) -> None:
    server, session_id = served
    _write_config(home, server.port)

    line = _statusline(json.dumps({"session_id": session_id}), "--no-color").strip()

    assert line.endswith(f"ctx {100 * PROMPT / 128_000:.0f}% of 128k")
    assert "$" not in line


def test_context_window_per_model_name(served: tuple[CcrServer, str], home: Path) -> None:
    server, session_id = served
    _write_config(home, server.port, StatusLine={"context_window": 1_000_000,
                                                 "context_windows": {"fake-model": 2000}})

    line = _statusline(json.dumps({"session_id": session_id}), "--no-color")

    assert f"ctx {100 * PROMPT / 2000:.0f}% of 2k" in line


def test_a_config_that_does_not_load_still_gives_the_numbers(
    served: tuple[CcrServer, str], home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server, session_id = served
    monkeypatch.delenv("CCR_TEST_UNSET_KEY", raising=False)
    _write_config(home, server.port, Providers=[{
        "name": "x", "api_base_url": "https://x.example.com/v1", "api_key": "$CCR_TEST_UNSET_KEY",
        "models": ["m"]}])

    assert "fake,fake-model" in _statusline(json.dumps({"session_id": session_id}))


def test_unknown_session_says_no_usage_yet(served: tuple[CcrServer, str]) -> None:
    line = _statusline(json.dumps({"session_id": str(uuid.uuid4())}))

    assert line == "ccr: no usage yet\n"


@pytest.mark.parametrize("stdin", ["", "not json", "[1, 2]", '{"session_id": 7}'])
def test_no_usable_session_id_is_still_one_line(home: Path, stdin: str) -> None:
    assert _statusline(stdin) == "ccr: no session\n"


def test_no_server_running_is_one_line_and_exit_zero(home: Path, tmp_path: Path) -> None:
    _write_config(home, free_port())
    stdin = json.dumps(claude_code_status(str(uuid.uuid4()), tmp_path / "t.jsonl"))

    result = subprocess.run(
        [sys.executable, "-m", "ccr", "statusline"], input=stdin, text=True,
        capture_output=True, cwd=ROOT, timeout=10, env={**os.environ, "CCR_HOME": str(home)},
    )

    assert result.returncode == 0
    assert result.stdout == "ccr: not running\n"
    assert result.stderr == ""


def test_a_server_that_does_not_answer_is_given_up_on_quickly() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        settings = Settings(host="127.0.0.1", port=silent.getsockname()[1])

        started = time.monotonic()
        line, usage = fetch_usage(settings, "any-session")
        elapsed = time.monotonic() - started

    assert (line, usage) == ("ccr: not running", None)
    assert elapsed < 1.0


@pytest.fixture
def keyed(home: Path, fake: FakeUpstream, make_ccr: MakeCcr) -> tuple[CcrServer, str]:
    server = make_ccr(fake_config(fake, APIKEY="ccr-secret-key"))
    session_id = str(uuid.uuid4())
    _one_turn(server, fake, session_id, api_key="ccr-secret-key")
    return server, session_id


def test_the_apikey_from_the_config_is_sent(keyed: tuple[CcrServer, str], home: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    server, session_id = keyed
    monkeypatch.setenv("CCR_TEST_STATUS_KEY", "ccr-secret-key")
    _write_config(home, server.port, APIKEY="$CCR_TEST_STATUS_KEY")

    assert "fake,fake-model" in _statusline(json.dumps({"session_id": session_id}))


def test_a_wrong_apikey_is_one_short_line(keyed: tuple[CcrServer, str], home: Path) -> None:
    server, session_id = keyed
    _write_config(home, server.port, APIKEY="wrong")

    assert _statusline(json.dumps({"session_id": session_id})) == "ccr: APIKEY rejected\n"

"""The real Claude Code CLI through a real ``ccr serve`` when providers fail.

While the primary provider is down, Claude Code still completes a Bash tool round trip (the
fallback answers every turn); when a failure is permanent (a refused provider key, a wrong ccr
APIKEY), Claude Code prints ccr's message within seconds instead of retrying for minutes.
The CLI comes from ``CCR_CLAUDE_BIN`` or ``claude`` on PATH (see test_claude_code_cli.py).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.cli_helpers import find_claude
from tests.support.fake_upstream import Call, FakeUpstream, Recorded, Reply, text, tool_calls
from tests.support.fault_upstream import refuse_keys, refused_url
from tests.support.serve_process import ServeProcess

pytestmark = [pytest.mark.cli, pytest.mark.slow, pytest.mark.e2e]

CLI_VERSION = "2.1.197"
TOOL_OUTPUT = "hi-from-the-fallback"
APIKEY = "ccr-key-for-the-cli-test"
PERMANENT_WITHIN_S = 5.0


def _content_text(message: dict[str, Any]) -> str:
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(p.get("text", "") for p in content if isinstance(p, dict))
    return ""


def _greeting_model(request: Recorded) -> Reply:
    """Call Bash once, then report what it printed; side requests get a short text."""
    results = [m for m in request.messages if m.get("role") == "tool"]
    if results:
        return text(f"The command printed: {_content_text(results[-1]).strip()}")
    tools = request.body.get("tools") if isinstance(request.body, dict) else None
    if not any(t.get("function", {}).get("name") == "Bash" for t in tools or []):
        return text("ok")
    return tool_calls([Call("Bash", {"command": f"echo {TOOL_OUTPUT}",
                                     "description": "Print a greeting"})])


@pytest.fixture(scope="module")
def claude_binary() -> str:
    return find_claude()


@pytest.fixture(scope="module")
def fallback() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.handler = _greeting_model
        yield fake


def _serve(home: Path, config: dict[str, Any]) -> ServeProcess:
    path = home / "config.json"
    path.write_text(json.dumps(config))
    return ServeProcess(home=home, config_path=path, start_timeout_s=15)


def _claude(binary: str, url: str, tmp: Path, *, token: str = "test",
            timeout_s: float = 120) -> tuple[subprocess.CompletedProcess[str], float]:
    home = tmp / "claude-home"
    home.mkdir(exist_ok=True)
    (home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "lastOnboardingVersion": CLI_VERSION, "numStartups": 1}))
    workdir = tmp / "workdir"
    workdir.mkdir(exist_ok=True)
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "ANTHROPIC_BASE_URL": url,
           "ANTHROPIC_AUTH_TOKEN": token, "ANTHROPIC_API_KEY": "", "DISABLE_TELEMETRY": "1",
           "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1"}
    command = [binary, "-p", "run the greeting command", "--output-format", "json",
               "--allowedTools", "Bash"]
    started = time.monotonic()
    try:
        cli = subprocess.run(command, cwd=workdir, env=env, capture_output=True, text=True,
                             timeout=timeout_s, stdin=subprocess.DEVNULL, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"claude did not finish within {timeout_s}s; stdout: {exc.stdout!r}",
                    pytrace=False)
    return cli, time.monotonic() - started


def _result(cli: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    try:
        parsed = json.loads(cli.stdout)
    except ValueError:
        pytest.fail(f"claude printed no JSON:\nstdout {cli.stdout}\nstderr {cli.stderr}",
                    pytrace=False)
    assert isinstance(parsed, dict)
    return parsed


def test_claude_code_completes_a_tool_round_trip_while_the_primary_is_down(
        claude_binary: str, fallback: FakeUpstream, tmp_path: Path) -> None:
    config = {
        "Providers": [
            {"name": "primary", "api_base_url": refused_url(), "api_key": "sk-primary-0000",
             "models": ["m"]},
            {"name": "backup", "api_base_url": fallback.chat_url, "api_key": "sk-backup-0000",
             "models": ["fake-model"]},
        ],
        "Router": {"default": "primary,m", "background": "primary,m", "think": "primary,m"},
        "fallback": {"default": ["backup,fake-model"], "background": ["backup,fake-model"],
                     "think": ["backup,fake-model"]},
        "LOG": True,
    }
    with _serve(tmp_path, config) as server:
        cli, _ = _claude(claude_binary, server.url, tmp_path)
    result = _result(cli)
    assert cli.returncode == 0 and result.get("is_error") is not True, cli.stdout
    assert TOOL_OUTPUT in result["result"]
    assert any(m.get("role") == "tool" for r in fallback.chat_requests for m in r.messages)
    log = (tmp_path / "logs" / "ccr.log").read_text()
    assert "fallback_from=primary,m" in log


def test_claude_code_prints_a_refused_provider_key_within_seconds(
        claude_binary: str, tmp_path: Path, record_property: Any) -> None:
    with FakeUpstream() as upstream:
        upstream.handler = refuse_keys(["sk-mistyped-key-0000"])
        config = {
            "Providers": [{"name": "primary", "api_base_url": upstream.chat_url,
                           "api_key": "sk-mistyped-key-0000", "models": ["m"]}],
            "Router": {"default": "primary,m", "background": "primary,m"},
        }
        with _serve(tmp_path, config) as server:
            cli, elapsed = _claude(claude_binary, server.url, tmp_path, timeout_s=60)
    record_property("seconds_to_error", round(elapsed, 2))
    result = _result(cli)
    assert result.get("is_error") is True
    assert "Check the api_key of primary" in cli.stdout
    assert elapsed < PERMANENT_WITHIN_S, f"took {elapsed:.1f}s"


def test_claude_code_prints_a_wrong_ccr_apikey_within_seconds(
        claude_binary: str, fallback: FakeUpstream, tmp_path: Path, record_property: Any) -> None:
    config = {
        "Providers": [{"name": "backup", "api_base_url": fallback.chat_url,
                       "api_key": "sk-backup-0000", "models": ["fake-model"]}],
        "Router": {"default": "backup,fake-model"},
        "APIKEY": APIKEY,
    }
    with _serve(tmp_path, config) as server:
        cli, elapsed = _claude(claude_binary, server.url, tmp_path, token="not-the-key",
                               timeout_s=60)
    record_property("seconds_to_error", round(elapsed, 2))
    assert "APIKEY" in cli.stdout + cli.stderr, cli.stdout
    assert elapsed < PERMANENT_WITHIN_S, f"took {elapsed:.1f}s"
    log = (tmp_path / "logs" / "ccr.log").read_text()
    assert "the client key does not match APIKEY" in log
    assert "not-the-key" not in log

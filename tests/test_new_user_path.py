"""A new user's path, with the real Claude Code CLI: ``ccr init``, export one key, ``ccr code``.

The only changes to the starter config are the ones a test needs: DeepSeek's URL points at a
fake upstream (no network here) and the port is a free one. Everything else (the deepseek
transformer chain, the Router, ``ccr code`` starting a server and stopping it afterwards) is
what the user gets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.ccr_server import free_port
from tests.support.cli_helpers import CLI_VERSION, find_claude
from tests.support.fake_upstream import Call, FakeUpstream, Recorded, Reply, text, tool_calls

pytestmark = [pytest.mark.cli, pytest.mark.e2e]

PROJECT_ROOT = Path(__file__).resolve().parents[1]
USER_KEY = "sk-new-user-key"


def _model(request: Recorded) -> Reply:
    results = [m for m in request.messages if m.get("role") == "tool"]
    if results:
        return text(f"It printed {results[-1]['content']}".strip())
    names = [t["function"]["name"] for t in (request.body or {}).get("tools") or []]
    if "Bash" not in names:
        return text("ok")
    return tool_calls([Call("Bash", {"command": "echo first-run-ok", "description": "greet"})])


def _ccr(*args: str, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "ccr", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=180,
                          stdin=subprocess.DEVNULL, check=False)


def test_init_export_one_key_and_ccr_code_runs_claude_through_ccr(tmp_path: Path) -> None:
    claude = find_claude()
    ccr_home, home, work = tmp_path / "ccr-home", tmp_path / "home", tmp_path / "work"
    home.mkdir()
    work.mkdir()
    (home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "lastOnboardingVersion": CLI_VERSION, "numStartups": 1}))
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env.update(CCR_HOME=str(ccr_home), HOME=str(home), CLAUDE_PATH=claude,
               CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC="1")
    env.pop("DEEPSEEK_API_KEY", None)

    with FakeUpstream() as fake:
        fake.handler = _model
        init = _ccr("init", env=env, cwd=work)
        assert init.returncode == 0, init.stderr
        assert "DEEPSEEK_API_KEY" in init.stdout
        config = ccr_home / "config.json"
        starter = config.read_text()
        config.write_text(
            starter.replace("https://api.deepseek.com/chat/completions", fake.chat_url)
            .replace('"PORT": 3456', f'"PORT": {free_port()}')
        )

        env["DEEPSEEK_API_KEY"] = USER_KEY  # the one thing the user does
        run = _ccr("code", "-p", "run the greeting command", "--output-format", "json",
                   "--allowedTools", "Bash", env=env, cwd=work)
        assert run.returncode == 0, f"{run.stdout}\n{run.stderr}"
        result = json.loads(run.stdout)
        assert "first-run-ok" in result["result"]
        chats = fake.chat_requests
        assert {r.headers["authorization"] for r in chats} == {f"Bearer {USER_KEY}"}
        assert any(any(m.get("role") == "tool" for m in r.messages) for r in chats)
        assert {r.body["model"] for r in chats} <= {"deepseek-chat", "deepseek-reasoner"}

    status = _ccr("status", env=env, cwd=work)
    assert status.returncode == 3, "ccr code should stop the server it started when it exits"

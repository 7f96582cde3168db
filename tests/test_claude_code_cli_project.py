"""The real Claude Code CLI: a one-shot ``claude -p`` in a folder whose project has a Router
override is routed by that override, though Claude Code has written no transcript yet.

ccr reads the working directory Claude Code states in its system prompt, so the project is known
from the session's first request. Claude Code runs with its own throw-away ``HOME``, so ccr
cannot find its transcripts at all: only the working directory can place the request. Runs when
the CLI is available (``CCR_CLAUDE_BIN`` or ``claude`` on PATH), like test_claude_code_cli.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_helpers import find_claude
from tests.support.fake_upstream import FakeUpstream, Recorded, text
from tests.support.serve_process import ServeProcess

pytestmark = [pytest.mark.cli, pytest.mark.slow, pytest.mark.e2e]

CLI_VERSION = "2.1.197"
PROMPT = "say hello through the router"
CLI_TIMEOUT_S = 120.0


def project_folder(path: Path) -> str:
    """The folder name Claude Code keeps this directory's sessions under."""
    return re.sub(r"[^A-Za-z0-9]", "-", str(path))


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream() as fake:
        fake.handler = lambda request: text("Hello!")
        yield fake


@pytest.fixture(scope="module")
def workdirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return {name: Path(os.path.realpath(tmp_path_factory.mktemp(name)))
            for name in ("with-override", "without-override")}


@pytest.fixture(scope="module")
def ccr_url(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream,
            workdirs: dict[str, Path]) -> Iterator[str]:
    home = tmp_path_factory.mktemp("ccr-home")
    config = {
        "Providers": [{"name": "fake", "api_base_url": upstream.chat_url,
                       "api_key": "sk-fake-upstream", "models": ["fake-model", "project-model"]}],
        "Router": {"default": "fake,fake-model", "background": "fake,fake-model"},
        "LOG": False,
    }
    (home / "config.json").write_text(json.dumps(config))
    override = home / project_folder(workdirs["with-override"]) / "config.json"
    override.parent.mkdir(parents=True)
    override.write_text(json.dumps({"Router": {"default": "fake,project-model"}}))
    with ServeProcess(home=home, config_path=home / "config.json") as server:
        yield server.url


def run_claude(workdir: Path, ccr_url: str, home: Path) -> subprocess.CompletedProcess[str]:
    (home / ".claude.json").write_text(json.dumps(
        {"hasCompletedOnboarding": True, "lastOnboardingVersion": CLI_VERSION, "numStartups": 1}))
    env = {
        "PATH": os.environ.get("PATH", ""), "HOME": str(home),
        "ANTHROPIC_BASE_URL": ccr_url, "ANTHROPIC_AUTH_TOKEN": "test", "ANTHROPIC_API_KEY": "",
        "DISABLE_TELEMETRY": "1", "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1",
    }
    return subprocess.run([find_claude(), "-p", PROMPT, "--output-format", "json"],
                          cwd=workdir, env=env, capture_output=True, text=True,
                          timeout=CLI_TIMEOUT_S, stdin=subprocess.DEVNULL, check=False)


def models_asked_for_the_prompt(requests: list[Recorded]) -> list[str]:
    """The upstream model of every request that carries the person's prompt."""
    return [str(r.body.get("model")) for r in requests
            if isinstance(r.body, dict) and PROMPT.encode() in r.raw]


@pytest.fixture(scope="module")
def routed(tmp_path_factory: pytest.TempPathFactory, upstream: FakeUpstream, ccr_url: str,
           workdirs: dict[str, Path]) -> dict[str, list[str]]:
    find_claude()
    models: dict[str, list[str]] = {}
    for name, workdir in workdirs.items():
        upstream.clear()
        upstream.handler = lambda request: text("Hello!")
        cli = run_claude(workdir, ccr_url, tmp_path_factory.mktemp(f"claude-home-{name}"))
        assert cli.returncode == 0, f"{cli.stdout}\n{cli.stderr}"
        models[name] = models_asked_for_the_prompt(upstream.chat_requests)
    return models


def test_one_shot_claude_in_a_project_with_an_override_is_routed_by_it(
    routed: dict[str, list[str]]
) -> None:
    assert routed["with-override"], "no request carried the prompt"
    assert set(routed["with-override"]) == {"project-model"}


def test_one_shot_claude_elsewhere_keeps_the_global_router(
    routed: dict[str, list[str]]
) -> None:
    assert routed["without-override"], "no request carried the prompt"
    assert set(routed["without-override"]) == {"fake-model"}

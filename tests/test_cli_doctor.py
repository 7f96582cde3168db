"""``ccr doctor`` finds each first-day problem and says how to fix it: a typo'd key, an unset
variable, a busy port, a Claude Code settings file overriding ANTHROPIC_BASE_URL, a missing
onboarding flag, a missing Claude Code, broken transformers."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ccr.cli.doctor import FAIL, OK, WARN, Check, run_checks
from ccr.cli.main import app
from tests.support.ccr_server import free_port


class Setup:
    """A user's machine in a folder: CCR_HOME, HOME, a project folder and a stand-in claude."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.home = root / "home"
        self.ccr_home = self.home / ".claude-code-router"
        self.project = root / "project"
        self.bin = root / "bin"
        for folder in (self.ccr_home, self.project, self.bin):
            folder.mkdir(parents=True)
        claude = self.bin / "claude"
        claude.write_text(f"#!{sys.executable}\nprint('2.1.197 (Claude Code)')\n")
        claude.chmod(0o755)
        self.port = free_port()
        self.config({"Providers": [{"name": "ds", "api_base_url": "https://api.ds.com/v1/chat",
                                    "api_key": "$DS_KEY", "models": ["chat"]}],
                     "Router": {"default": "ds,chat"}})
        (self.home / ".claude.json").write_text(json.dumps({"hasCompletedOnboarding": True}))
        self.env = {"PATH": str(self.bin), "DS_KEY": "sk-test", "HOME": str(self.home)}
        monkeypatch.setenv("CCR_HOME", str(self.ccr_home))

    def config(self, data: dict[str, Any]) -> None:
        (self.ccr_home / "config.json").write_text(json.dumps({"PORT": self.port, **data}))

    def checks(self) -> list[Check]:
        return list(run_checks(None, self.env, self.home, self.project))

    def failures(self) -> list[Check]:
        return [c for c in self.checks() if c.status == FAIL]


@pytest.fixture
def setup(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Setup:
    return Setup(tmp_path, monkeypatch)


def named(checks: list[Check], name: str) -> list[Check]:
    return [c for c in checks if c.name == name]


def test_a_healthy_setup_has_no_failures(setup: Setup) -> None:
    checks = setup.checks()
    assert [c for c in checks if c.status != OK] == []
    assert "2.1.197 (Claude Code)" in named(checks, "claude code")[0].detail


def test_a_typo_d_key_is_a_warning_with_did_you_mean(setup: Setup) -> None:
    setup.config({"Providers": [], "Routr": {}})
    warnings = [c for c in setup.checks() if c.status == WARN and "Routr" in c.detail]
    assert len(warnings) == 1
    assert 'did you mean "Router"' in warnings[0].detail


def test_an_unset_variable_is_named_with_where_it_is_used(setup: Setup) -> None:
    del setup.env["DS_KEY"]
    failed = setup.failures()
    env_fail = named(failed, "environment")
    assert env_fail and "DS_KEY is not set (used by Providers[0].api_key)" in env_fail[0].detail
    assert "export DS_KEY" in env_fail[0].fix


@pytest.fixture
def busy_port(setup: Setup) -> Iterator[None]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", setup.port))
        holder.listen()
        yield


@pytest.mark.slow
def test_a_busy_port_is_a_failure_naming_it(setup: Setup, busy_port: None) -> None:
    (port,) = named(setup.failures(), "port")
    assert f"port {setup.port}" in port.detail and "already in use" in port.detail
    assert "--port" in port.fix


@pytest.mark.parametrize("where", ["user", "project-local"])
def test_claude_settings_overriding_the_base_url_are_named(setup: Setup, where: str) -> None:
    folder = setup.home / ".claude" if where == "user" else setup.project / ".claude"
    folder.mkdir()
    name = "settings.json" if where == "user" else "settings.local.json"
    (folder / name).write_text(json.dumps({"env": {"ANTHROPIC_BASE_URL":
                                                   "https://api.anthropic.com"}}))
    (found,) = named(setup.failures(), "claude settings")
    assert str(folder / name) in found.detail and "ANTHROPIC_BASE_URL" in found.detail
    assert "remove" in found.fix


def test_settings_pointing_at_ccr_itself_are_fine(setup: Setup) -> None:
    (setup.home / ".claude").mkdir()
    (setup.home / ".claude" / "settings.json").write_text(json.dumps(
        {"env": {"ANTHROPIC_BASE_URL": f"http://127.0.0.1:{setup.port}"},
         "statusLine": {"type": "command", "command": "ccr statusline"}}))
    checks = setup.checks()
    assert named(checks, "claude settings")[0].status == OK
    assert "wired in" in named(checks, "status line")[0].detail


def test_a_missing_onboarding_flag_is_named(setup: Setup) -> None:
    (setup.home / ".claude.json").write_text(json.dumps({"numStartups": 1}))
    (found,) = named(setup.failures(), "onboarding")
    assert "Please run /login" in found.detail and "ccr code" in found.fix


def test_missing_claude_code_says_it_is_installed_separately(setup: Setup) -> None:
    (setup.bin / "claude").unlink()
    (found,) = named(setup.failures(), "claude code")
    assert "installed separately" in found.detail and "npm install" in found.fix


def test_a_broken_transformer_file_is_named(setup: Setup) -> None:
    plugin = setup.ccr_home / "plugin.py"
    plugin.write_text("class P:\n    name = 'p'\n    def transform_request(self\n")
    setup.config({"transformers": [{"path": str(plugin)}]})
    (found,) = named(setup.failures(), "config")
    assert "plugin.py:3: SyntaxError" in found.detail


@pytest.mark.slow
def test_the_command_prints_one_line_per_check_and_fails_on_failure(
    setup: Setup, busy_port: None,
) -> None:
    result = CliRunner().invoke(app, ["doctor"], env=setup.env)
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.startswith("FAIL port:") for line in lines)
    assert any(line.startswith("     fix:") for line in lines)
    assert "failed" in lines[-1]


def test_transformer_chains_are_loaded(setup: Setup) -> None:
    setup.config({"Providers": [{"name": "ds", "api_base_url": "https://api.ds.com/v1/chat",
                                 "api_key": "$DS_KEY", "models": ["chat"],
                                 "transformer": {"use": ["deepseek"]}}],
                  "Router": {"default": "ds,chat"}})
    (check,) = named(setup.checks(), "transformers")
    assert check.status == OK


def test_an_unknown_transformer_name_is_a_failure(setup: Setup) -> None:
    setup.config({"Providers": [{"name": "ds", "api_base_url": "https://api.ds.com/v1/chat",
                                 "api_key": "$DS_KEY", "models": ["chat"],
                                 "transformer": {"use": ["no-such-transformer"]}}],
                  "Router": {"default": "ds,chat"}})
    (check,) = named(setup.failures(), "transformers")
    assert "no-such-transformer" in check.detail

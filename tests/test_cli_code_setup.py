"""``ccr code`` sets Claude Code up: ccr's status line through ``--settings`` (unless turned
off), the onboarding flag that keeps the login screen away, and ``CLAUDE_PATH`` from the
config."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.cli_helpers import CcrHome
from tests.test_cli_code import Claude, code

pytestmark = pytest.mark.e2e


@pytest.fixture
def ccr(tmp_path: Path) -> Iterator[CcrHome]:
    with CcrHome(tmp_path) as home:
        yield home


@pytest.fixture
def claude(tmp_path: Path) -> Claude:
    folder = tmp_path / "claude"
    folder.mkdir()
    return Claude(folder)


def test_claude_gets_the_status_line_through_settings(ccr: CcrHome, claude: Claude) -> None:
    result = code(ccr, claude, "-p", "hi")
    assert result.returncode == 0, result.stderr
    argv = claude.recorded()["argv"]
    assert argv[0] == "--settings" and argv[2:] == ["-p", "hi"]
    line = json.loads(argv[1])["statusLine"]
    assert line["type"] == "command" and line["command"].endswith("statusline")


def test_no_statusline_flag_turns_it_off_and_stays_with_ccr(ccr: CcrHome,
                                                            claude: Claude) -> None:
    result = code(ccr, claude, "--no-statusline", "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["argv"] == ["-p", "hi"]


def test_statusline_disabled_in_the_config(ccr: CcrHome, claude: Claude) -> None:
    ccr.write_config({"LOG": False, "PORT": ccr.port, "StatusLine": {"enabled": False}})
    result = code(ccr, claude, "-p", "hi")
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["argv"] == ["-p", "hi"]


def test_own_settings_are_left_alone(ccr: CcrHome, claude: Claude) -> None:
    result = code(ccr, claude, "--settings", "mine.json")
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["argv"] == ["--settings", "mine.json"]


def test_the_onboarding_flag_is_set_and_other_state_kept(ccr: CcrHome, claude: Claude,
                                                         tmp_path: Path) -> None:
    state = tmp_path / ".claude.json"
    state.write_text(json.dumps({"numStartups": 4, "projects": {"/x": {}}}))
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert json.loads(state.read_text()) == {"numStartups": 4, "projects": {"/x": {}},
                                             "hasCompletedOnboarding": True}


def test_a_missing_state_file_is_created_with_the_flag(ccr: CcrHome, claude: Claude,
                                                       tmp_path: Path) -> None:
    result = code(ccr, claude)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / ".claude.json").read_text()) == {
        "hasCompletedOnboarding": True}


def test_claude_path_from_the_config_is_used(ccr: CcrHome, claude: Claude) -> None:
    ccr.write_config({"LOG": False, "PORT": ccr.port, "CLAUDE_PATH": str(claude.path)})
    env = claude.env()
    del env["CLAUDE_PATH"]
    result = ccr.run("code", "-p", "x", env={**env, "CLAUDE_PATH": ""})
    assert result.returncode == 0, result.stderr
    assert claude.recorded()["argv"][-2:] == ["-p", "x"]

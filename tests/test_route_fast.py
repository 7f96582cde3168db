"""``ccr route`` parsed by hand (the entry point's fast path) reads every command line the way
typer does, or leaves it to typer; either way the user sees the same output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

import ccr.cli.route
from ccr.cli.main import _load, app
from ccr.cli.route_fast import FLAGS, VALUES, parse
from ccr.cli.route_run import RouteArgs
from tests.support.route_helpers import message, write_config, write_json

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Request files, a folder of them, configs and a script; paths relative to ``tmp_path``,
    which is the working directory (as a user types them)."""
    monkeypatch.chdir(tmp_path)
    write_json(tmp_path / "req.json", message("hello"))
    write_json(tmp_path / "other.json", message("hello again"))
    write_json(tmp_path / "folder" / "a.json", message("a"))
    write_json(tmp_path / "folder" / "b.json", message("b"))
    write_json(tmp_path / "broken.json", {"model": "m"})
    write_config(tmp_path, None)
    (tmp_path / "against").mkdir()
    write_config(tmp_path / "against", None, Router={"default": "deepseek,deepseek-chat"})
    (tmp_path / "invalid").mkdir()
    write_config(tmp_path / "invalid", None, Router={"default": 42})
    (tmp_path / "custom_router.py").write_text("def router(req, config):\n    return None\n")
    return {"req": "req.json", "other": "other.json", "folder": "folder",
            "broken": "broken.json", "config": "config.json",
            "against": "against/config.json", "invalid": "invalid/config.json",
            "script": "custom_router.py"}


def expand(template: list[str], files: dict[str, str]) -> list[str]:
    return [arg.format(**files) for arg in template]


def typer_parse(args: list[str], monkeypatch: pytest.MonkeyPatch) -> RouteArgs | int:
    """What typer hands the command for ``ccr route ARGS``, or its exit status when it refuses
    them."""
    seen: list[RouteArgs] = []

    def capture(parsed: RouteArgs) -> int:
        seen.append(parsed)
        return 0

    monkeypatch.setattr(ccr.cli.route, "run", capture)
    result = CliRunner().invoke(app, ["route", *args])
    return seen[0] if seen else result.exit_code


# -- parsing --------------------------------------------------------------------------------

ACCEPTED = [
    ["--dry-run", "{req}"],
    ["{req}"],
    ["--dry-run", "{req}", "{other}", "{folder}"],
    ["{req}", "--dry-run", "--json", "--config", "{config}"],
    ["--dry-run", "{req}", "-c", "{config}"],
    ["--dry-run", "{req}", "--config={config}"],
    ["--dry-run", "{req}", "--config", "no-such-config.json"],
    ["--dry-run", "{req}", "-H", "X-Team: research", "--header", "x-a:1", "--header=x-b:2"],
    ["--dry-run", "{req}", "-H", "-x:starts with a dash"],
    ["--dry-run", "{req}", "--session-id", "abc", "--session-input", "120000"],
    ["--dry-run", "{req}", "--session-input=0", "--session-id="],
    ["--dry-run", "{req}", "--strict", "--explain", "--now", "2026-12-06T23:30+09:00"],
    ["--dry-run", "{req}", "--no-strict", "--no-explain", "--now=2026-12-06 23:30"],
    ["--dry-run", "{req}", "--against", "{against}", "--script", "{script}"],
    ["--no-dry-run", "{req}"],
    ["--dry-run", "{req}", "--header", "no colon", "--now", "not a time"],
]


@pytest.mark.parametrize("template", ACCEPTED, ids=" ".join)
def test_a_command_line_typer_accepts_is_parsed_to_the_same_arguments(
    template: list[str], files: dict[str, str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    args = expand(template, files)
    fast = parse(args)
    assert fast is not None
    assert fast == typer_parse(args, monkeypatch)


DECLINED = [
    [],
    ["--help"],
    ["--dry-run", "{req}", "--help"],
    ["--dry-run"],
    ["--dry-run", "missing.json"],
    ["--dry-run", "-"],
    ["--dry-run", "--", "{req}"],
    ["--dry-run", "{req}", "--jsn"],
    ["--dry-run", "{req}", "--json=yes"],
    ["--dry-run", "{req}", "--config"],
    ["--dry-run", "{req}", "--config", "{folder}"],
    ["--dry-run", "{req}", "--config="],
    ["--dry-run", "{req}", "-c{config}"],
    ["--dry-run", "{req}", "--config", "{config}", "--config", "{config}"],
    ["--dry-run", "--no-dry-run", "{req}"],
    ["--dry-run", "{req}", "--session-input", "-1"],
    ["--dry-run", "{req}", "--session-input", "many"],
    ["--dry-run", "{req}", "--session-input", " 5"],
    ["--dry-run", "{req}", "--against", "missing.json"],
    ["--dry-run", "{req}", "--script", "{folder}"],
]


@pytest.mark.parametrize("template", DECLINED, ids=lambda t: " ".join(t) or "(nothing)")
def test_a_command_line_needing_typers_judgement_is_left_to_typer(
    template: list[str], files: dict[str, str],
) -> None:
    assert parse(expand(template, files)) is None


def test_the_hand_parser_knows_exactly_the_options_of_the_typer_command() -> None:
    command = _load("route")
    declared = {name for param in command.params if param.param_type_name == "option"
                for name in (*param.opts, *param.secondary_opts)}
    assert declared == set(FLAGS) | set(VALUES)


def test_shell_completion_is_left_to_typer(files: dict[str, str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("_CCR_COMPLETE", "bash_complete")
    assert parse(expand(["--dry-run", "{req}"], files)) is None


# -- the same answer both ways (real processes) ---------------------------------------------

#: ``ccr ARGS`` straight through the typer app, as the entry point does for what it declines.
THROUGH_TYPER = ("import sys\nfrom ccr.cli.main import app\n"
                 "app(args=sys.argv[1:], prog_name='ccr')\n")

SAME_ANSWER = [
    ["route", "--dry-run", "{req}", "-c", "{config}"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "--json"],
    ["route", "--dry-run", "{folder}", "-c", "{config}"],
    ["route", "--dry-run", "{folder}", "{req}", "-c", "{config}", "--json"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "--explain", "--now",
     "2026-12-06T23:30+09:00"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "--session-input", "200000",
     "--session-id", "s-1"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "--against", "{against}"],
    ["route", "--dry-run", "{req}", "{broken}", "-c", "{config}"],
    ["route", "--dry-run", "{req}", "-c", "{invalid}"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "-H", "no colon"],
    ["route", "--dry-run", "{req}", "-c", "{config}", "--now", "yesterday"],
    ["route", "--no-dry-run", "{req}", "-c", "{config}"],
    ["route", "--dry-run", "missing.json", "-c", "{config}"],
    ["route", "--dry-run", "{req}", "--jsn"],
    ["route", "--help"],
]


def run_ccr(argv: list[str], cwd: Path, *,
            through_typer: bool) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    env.update(PYTHONPATH=str(PROJECT), HOME=str(cwd), CCR_HOME=str(cwd / "home"),
               NO_COLOR="1", TZ="UTC")
    code = ["-c", THROUGH_TYPER] if through_typer else ["-m", "ccr"]
    return subprocess.run([sys.executable, *code, *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=60)


def without_timings(out: str) -> Any:
    """JSON output without the per-request timings (they differ from run to run)."""
    if not out.lstrip().startswith("{"):
        return out
    objects = [json.loads(out)] if out.startswith("{\n") else [
        json.loads(line) for line in out.splitlines()]
    for item in objects:
        item.pop("elapsed_ms", None)
    return objects


@pytest.mark.e2e
@pytest.mark.parametrize("template", SAME_ANSWER, ids=" ".join)
def test_the_fast_path_answers_as_typer_does(template: list[str], files: dict[str, str],
                                            tmp_path: Path) -> None:
    argv = expand(template, files)
    fast = run_ccr(argv, tmp_path, through_typer=False)
    typed = run_ccr(argv, tmp_path, through_typer=True)
    assert (fast.returncode, without_timings(fast.stdout), fast.stderr) == (
        typed.returncode, without_timings(typed.stdout), typed.stderr)


# -- ending the process ---------------------------------------------------------------------


def run_entry(setup: str, argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """``ccr ARGV`` through the entry point after ``setup`` ran in the same interpreter."""
    code = f"{setup}\nfrom ccr.cli.entry import main\nmain({argv!r})\n"
    env = {**os.environ, "PYTHONPATH": str(PROJECT), "HOME": str(cwd),
           "CCR_HOME": str(cwd / "home")}
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.e2e
def test_exit_handlers_still_run_after_a_dry_run(files: dict[str, str], tmp_path: Path) -> None:
    setup = "import atexit, sys\natexit.register(lambda: sys.stderr.write('handler ran\\n'))"
    done = run_entry(setup, expand(["route", "--dry-run", "{req}", "-c", "{config}"], files),
                     tmp_path)
    assert done.returncode == 0
    assert done.stdout.startswith("route:")
    assert done.stderr == "handler ran\n"


@pytest.mark.e2e
def test_a_thread_still_running_is_waited_for(files: dict[str, str], tmp_path: Path) -> None:
    setup = ("import sys, threading, time\n"
             "def late():\n    time.sleep(0.3)\n    sys.stderr.write('thread finished\\n')\n"
             "threading.Thread(target=late).start()")
    done = run_entry(setup, expand(["route", "--dry-run", "{broken}", "-c", "{config}"], files),
                     tmp_path)
    assert done.returncode == 1
    assert done.stderr == "thread finished\n"

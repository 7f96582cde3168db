"""The CLI starts fast: ``ccr statusline`` loads no typer, rich, asyncio or pydantic, ``ccr
route --dry-run`` no typer, pydantic or HTTP client, ``ccr --help`` loads no command module, a
command loads only its own module; ``ccr --version`` works."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ccr import __version__
from ccr.cli.commands import COMMANDS
from ccr.cli.main import app

pytestmark = pytest.mark.e2e

HEAVY = ("typer", "rich", "asyncio", "pydantic", "sanic", "httpx", "aiohttp", "json5")


def loaded_after(args: list[str], tmp_path: Path, stdin: str = "") -> tuple[list[str], str]:
    """The modules ``ccr ARGS`` imported (top-level names), and what it printed."""
    code = (  # read at exit: ``ccr route`` ends the process itself (exit handlers run)
        "import atexit, sys, json\n"
        "atexit.register(lambda: sys.stderr.write("
        "json.dumps(sorted({m.split('.')[0] for m in sys.modules}))))\n"
        f"sys.argv = ['ccr', *{args!r}]\n"
        "from ccr.cli.entry import main\n"
        "main()\n"
    )
    env = {"CCR_HOME": str(tmp_path / "home"), "HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True,
                          text=True, env=env, timeout=30)
    return json.loads(done.stderr.strip().splitlines()[-1]), done.stdout


def test_statusline_loads_no_typer_rich_asyncio_or_pydantic(tmp_path: Path) -> None:
    modules, out = loaded_after(["statusline"], tmp_path, json.dumps({"session_id": "s"}))
    assert out == "ccr: not running\n"
    assert not [m for m in HEAVY if m in modules]


def test_statusline_options_take_the_fast_path_too(tmp_path: Path) -> None:
    config = tmp_path / "c.json"
    config.write_text('{"PORT": 1}')
    modules, out = loaded_after(["statusline", "--config", str(config), "--theme=powerline",
                                 "--no-color"], tmp_path, json.dumps({"session_id": "s"}))
    assert out == "ccr: not running\n"
    assert "typer" not in modules


def test_statusline_help_goes_to_the_full_parser(tmp_path: Path) -> None:
    modules, out = loaded_after(["statusline", "--help"], tmp_path)
    assert "--theme" in out and "typer" in modules


def test_a_route_dry_run_loads_no_typer_pydantic_or_http_client(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({
        "Providers": [{"name": "p", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
                       "models": ["m"]}],
        "Router": {"default": "p,m"}, "LOG": False}))
    request = tmp_path / "req.json"
    request.write_text(json.dumps({"model": "m", "max_tokens": 8,
                                   "messages": [{"role": "user", "content": "Say hi."}]}))
    modules, out = loaded_after(["route", "--dry-run", str(request), "--config", str(config)],
                                tmp_path)
    assert out.startswith("route:        p,m\n")
    assert not [m for m in ("typer", "rich", "pydantic", "sanic", "httpx", "aiohttp", "json_repair")
                if m in modules]


def test_route_help_goes_to_the_full_parser(tmp_path: Path) -> None:
    modules, out = loaded_after(["route", "--help"], tmp_path)
    assert "--session-input" in out and "typer" in modules


def test_help_lists_every_command_without_loading_any(tmp_path: Path) -> None:
    modules, out = loaded_after(["--help"], tmp_path)
    for name, _, _ in COMMANDS:
        assert f"  {name} " in out
    assert "typer" not in modules and "ccr" in modules


def test_a_command_loads_only_its_own_module(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from ccr.cli.main import app\n"
        "CliRunner().invoke(app, ['logs', '-n', '1'])\n"
        "print(sorted(m for m in sys.modules if m.startswith('ccr.cli.')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={"CCR_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}, timeout=30)
    loaded = set(eval(done.stdout.strip().splitlines()[-1]))
    assert "ccr.cli.logs" in loaded
    assert not loaded & {"ccr.cli.serve", "ccr.cli.model", "ccr.cli.route", "ccr.cli.code"}


def test_version_flag_prints_the_version(tmp_path: Path) -> None:
    assert loaded_after(["--version"], tmp_path)[1] == f"ccr {__version__}\n"
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"ccr {__version__}\n"


def test_the_typer_app_still_lists_and_runs_commands() -> None:
    result = CliRunner().invoke(app, ["--help"])
    assert result.exit_code == 0
    assert "statusline" in result.output and "doctor" in result.output
    result = CliRunner().invoke(app, ["no-such-command"])
    assert result.exit_code == 2 and "No such command" in result.output

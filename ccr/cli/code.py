"""``ccr code``: run Claude Code through ccr, starting ccr in the background when needed.

Every argument goes to ``claude`` exactly as typed. The server is shared: each running
``ccr code`` registers itself (``<CCR_HOME>/code-sessions/``), and a server that ``ccr code``
started is stopped only by the last ``ccr code`` using it; one started by ``ccr start`` or run
in the foreground is never stopped here.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

import typer
from typer.core import TyperCommand

from ccr.cli.activate import client_environment
from ccr.cli.service import client_config, debug_enabled, fail, guarded, start_locked
from ccr.config import Config, ccr_home, load_config, write_text_atomic
from ccr.errors import ConfigError
from ccr.service.daemon import (
    OWNER_CODE,
    DaemonError,
    base_url,
    fetch_health,
    lock,
    register_session,
    release_server,
    running_server,
)

#: ``command not found``, as shells report it.
EXIT_NOT_FOUND = 127
_FORWARDED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: ``ccr code --no-statusline ...``: do not pass ccr's status line to Claude Code.
NO_STATUSLINE = "--no-statusline"


class _PassThroughCommand(TyperCommand):
    """Hands every argument to ``claude`` untouched: no option parsing, ``--`` kept.

    Only a leading ``--help`` or ``--no-statusline`` is ccr's; a leading ``--`` is dropped so
    that ``ccr code -- --help`` passes ``--help`` on.
    """

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args[:1] == ["--help"]:
            return super().parse_args(ctx, args)
        ctx.meta[NO_STATUSLINE] = args[:1] == [NO_STATUSLINE]
        if ctx.meta[NO_STATUSLINE]:
            args = args[1:]
        passthrough = args[1:] if args[:1] == ["--"] else list(args)
        super().parse_args(ctx, [])
        ctx.args = passthrough
        return passthrough

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), f"[{NO_STATUSLINE}] [CLAUDE ARGS]..."]


def register(app: typer.Typer) -> None:
    app.command(
        "code", cls=_PassThroughCommand,
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
    )(code)


def code(ctx: typer.Context) -> None:
    """Run Claude Code (`claude`, or $CLAUDE_PATH) through ccr; starts ccr when needed.

    Every argument goes to claude unchanged; `ccr code -- --help` shows claude's help.

    A ccr started here stops when the last `ccr code` using it exits.

    NON_INTERACTIVE_MODE in the config (CI): claude gets CI=true, FORCE_COLOR=0, no stdin.

    Claude Code gets ccr's status line (--settings) unless `ccr code --no-statusline`, the
    config says "StatusLine": {"enabled": false}, or you pass --settings yourself. The
    onboarding flag in ~/.claude.json is set, so Claude Code skips its login screen.

    Options belong to claude, so ccr's own errors show tracebacks with CCR_DEBUG=1.

    Example: ccr code -p "explain this repo" --model deepseek,deepseek-chat
    """
    args = list(ctx.args)
    debug = debug_enabled()
    claude = _find_claude(_configured_claude())
    with guarded(debug):
        target = _attach()
    try:
        env = _claude_environment(target, os.environ)
        mark_onboarded(env)
        if not ctx.meta.get(NO_STATUSLINE) and _statusline_wanted(target.config, args):
            args = [*statusline_settings_args(), *args]
        exit_code = _run_claude(claude, args, env,
                                interactive=not target.config.non_interactive_mode)
    finally:
        if target.server_pid is not None:
            _release(target.server_pid)
    raise typer.Exit(exit_code)


@dataclass(frozen=True)
class _Target:
    url: str
    host: str
    config: Config
    #: The background server this ``ccr code`` registered with (None: a foreground server).
    server_pid: int | None


def _configured_claude() -> str | None:
    """``CLAUDE_PATH`` from the config (the environment variable wins over it)."""
    try:
        return load_config(None).claude_path
    except ConfigError:
        return None  # reported, with a hint, when the server is attached


def _find_claude(configured: str | None = None) -> str:
    wanted = os.environ.get("CLAUDE_PATH", "").strip() or configured or "claude"
    found = shutil.which(os.path.expanduser(wanted))
    if found is None:
        fail(f"cannot find Claude Code ({wanted!r} is not an executable on PATH)",
             "install it with `npm install -g @anthropic-ai/claude-code`, or set CLAUDE_PATH "
             "to the claude executable", EXIT_NOT_FOUND)
    return found


def _statusline_wanted(config: Config, args: list[str]) -> bool:
    if config.status_line.get("enabled") is False:
        return False
    return not any(a == "--settings" or a.startswith("--settings=") for a in args)


def statusline_settings_args() -> list[str]:
    """``--settings`` for claude with ccr's status line, as CCR passes it."""
    found = shutil.which("ccr")
    command = "ccr statusline" if found else f"{shlex.quote(sys.executable)} -m ccr statusline"
    settings = {"statusLine": {"type": "command", "command": command, "padding": 0}}
    return ["--settings", json.dumps(settings)]


def claude_state_file(env: Mapping[str, str]) -> Path:
    """Claude Code's own state file: ``$CLAUDE_CONFIG_DIR/.claude.json`` or ``~/.claude.json``."""
    folder = env.get("CLAUDE_CONFIG_DIR", "").strip()
    if folder:
        return Path(folder).expanduser() / ".claude.json"
    home = env.get("HOME", "").strip()
    return (Path(home) if home else Path.home()) / ".claude.json"


def mark_onboarded(env: Mapping[str, str]) -> None:
    """Set ``hasCompletedOnboarding`` so Claude Code does not open its login screen ("Please run
    /login") although a key and ccr's URL are in its environment. Other contents are kept; a
    file that is not a JSON object is left alone."""
    path = claude_state_file(env)
    try:
        data = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    except (OSError, ValueError):
        return
    if not isinstance(data, dict) or data.get("hasCompletedOnboarding") is True:
        return
    data["hasCompletedOnboarding"] = True
    try:
        write_text_atomic(path, json.dumps(data, indent=2) + "\n", keep_backups=0)
    except OSError as exc:
        typer.echo(f"ccr: could not set hasCompletedOnboarding in {path}: {exc}", err=True)


def _attach() -> _Target:
    """Use the running ccr (background or foreground) or start one, and register with it.

    All under one lock, so another ``ccr code`` exiting meanwhile cannot find the server
    unused and stop it before this one is registered.
    """
    home = ccr_home()
    with lock(home):
        record = running_server(home)
        if record is not None:
            register_session(home, record.pid)
            return _Target(record.url, record.host, client_config(record.config), record.pid)
        cfg = load_config(None)
        if fetch_health(cfg.host, cfg.port, apikey=cfg.apikey) is not None:
            return _Target(base_url(cfg.host, cfg.port), cfg.host, cfg, None)
        record = start_locked(home, cfg, host=None, port=None, owner=OWNER_CODE).record
        register_session(home, record.pid)
    return _Target(record.url, record.host, cfg, record.pid)


def _release(server_pid: int) -> None:
    home = ccr_home()
    try:
        with lock(home):
            release_server(home, server_pid)
    except (DaemonError, OSError) as exc:
        typer.echo(f"ccr: could not stop the server ccr code started: {exc}", err=True)


def _claude_environment(target: _Target, current: Mapping[str, str]) -> dict[str, str]:
    env = {**current, **client_environment(target.config, target.url, target.host, current)}
    if "no_proxy" in current:  # some tools read only the lower-case spelling
        env["no_proxy"] = env["NO_PROXY"]
    if target.config.non_interactive_mode:
        env.update(CI="true", FORCE_COLOR="0")
    return env


def _run_claude(claude: str, args: list[str], env: dict[str, str], *, interactive: bool) -> int:
    """Run claude and return its exit status (128+N when a signal N ended it)."""
    holder: list[subprocess.Popen[bytes]] = []
    with _forwarding_signals(holder):
        try:
            process = subprocess.Popen([claude, *args], env=env,
                                       stdin=None if interactive else subprocess.DEVNULL)
        except OSError as exc:
            fail(f"cannot run {claude}: {exc.strerror or exc}",
                 "check CLAUDE_PATH, or reinstall Claude Code", EXIT_NOT_FOUND)
        holder.append(process)
        returncode = process.wait()
    return 128 - returncode if returncode < 0 else returncode


@contextlib.contextmanager
def _forwarding_signals(holder: list[subprocess.Popen[bytes]]) -> Iterator[None]:
    """While claude runs, signals meant for the session reach claude and ccr code waits.

    Ctrl-C in a terminal already reaches claude (same process group), so SIGINT is passed on
    only when no terminal delivered it; SIGTERM and SIGHUP are always passed on.
    """
    terminal_delivers_sigint = _in_foreground_of_terminal()

    def forward(signum: int, frame: FrameType | None) -> None:
        if signum == signal.SIGINT and terminal_delivers_sigint:
            return
        for process in holder:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signum)

    previous = {sig: signal.signal(sig, forward) for sig in _FORWARDED}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _in_foreground_of_terminal() -> bool:
    """Whether this process group gets the terminal's Ctrl-C (claude is in the same group)."""
    for stream in (sys.stdin, sys.stdout, sys.stderr):
        try:
            return os.tcgetpgrp(stream.fileno()) == os.getpgrp()
        except (OSError, AttributeError, ValueError):
            continue
    return False

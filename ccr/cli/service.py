"""``ccr start``, ``ccr stop``, ``ccr restart``, ``ccr status``: ccr as a background service.

The process rules live in :mod:`ccr.service.daemon`; this module turns them into commands,
messages and exit codes (``status`` follows LSB: 0 running, 3 not running). The small helpers at
the top are shared with ``ccr code`` and ``ccr activate``.
"""

from __future__ import annotations

import contextlib
import os
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, NoReturn

import typer

from ccr.cli.options import ConfigOption
from ccr.config import Config, ccr_home, load_config
from ccr.errors import ConfigError
from ccr.service.daemon import (
    OWNER_START,
    DaemonError,
    Progress,
    StartResult,
    live_sessions,
    lock,
    read_record,
    running_server,
    start_server,
    stop_server,
)

DebugOption = Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")]
HostOption = Annotated[str | None, typer.Option(help="Address to listen on (overrides HOST).")]
PortOption = Annotated[int | None, typer.Option(help="Port to listen on (overrides PORT).")]

#: ``ccr status`` exit codes, as LSB init scripts and ``systemctl status`` use them.
STATUS_RUNNING = 0
STATUS_NOT_RUNNING = 3


def register(app: typer.Typer) -> None:
    app.command("start")(start)
    app.command("stop")(stop)
    app.command("restart")(restart)
    app.command("status")(status)


# --------------------------------------------------------------------------------------------
# Shared by the service commands, ``ccr code`` and ``ccr activate``


def debug_enabled(flag: bool = False) -> bool:
    """``--debug`` or ``CCR_DEBUG=1``: show tracebacks instead of one-line errors."""
    return flag or os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes")


def fail(message: str, hint: str, code: int = 1) -> NoReturn:
    typer.echo(f"ccr: {message}\nhint: {hint}", err=True)
    raise typer.Exit(code)


@contextlib.contextmanager
def guarded(debug: bool) -> Iterator[None]:
    """Turn the errors a command can meet into ``ccr: …`` / ``hint: …`` and an exit code."""
    try:
        yield
    except DaemonError as exc:
        if debug:
            traceback.print_exc()
        if exc.output:
            typer.echo(exc.output, err=True)
        fail(exc.message, exc.hint)
    except ConfigError as exc:
        if debug:
            traceback.print_exc()
        fail(f"invalid configuration\n{exc}", "fix the config file and run the command again",
             2)
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if debug:
            raise
        fail(f"unexpected error: {type(exc).__name__}: {exc}",
             "run the command again with --debug (or CCR_DEBUG=1) to see the traceback")


def progress() -> Progress:
    """A spinner on stderr while waiting (nothing when stderr is not a terminal)."""
    from rich.console import Console

    console = Console(stderr=True)
    if not console.is_terminal:
        return lambda _text: contextlib.nullcontext()
    return lambda text: console.status(f"{text}…")


class _LenientEnv(Mapping[str, str]):
    """The environment, with unset variables read as empty (see :func:`client_config`)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self._env = env

    def __getitem__(self, key: str) -> str:
        return self._env.get(key, "")

    def __contains__(self, key: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._env)

    def __len__(self) -> int:
        return len(self._env)


def client_config(path: Path | str | None) -> Config:
    """The config a client of a *running* server reads (APIKEY, API_TIMEOUT_MS, ...).

    The server already resolved its provider keys; a shell that lacks one of those variables
    must still be able to talk to it, so unset variables count as empty here.
    """
    try:
        return load_config(path)
    except ConfigError:
        return load_config(path, env=_LenientEnv(os.environ))


def _absolute(path: Path | None) -> Path | None:
    return path.expanduser().resolve() if path is not None else None


def start_background(cfg: Config, *, host: str | None, port: int | None,
                     owner: str) -> StartResult:
    """Start ``ccr serve`` for ``cfg`` in the background unless one runs already."""
    home = ccr_home()
    with lock(home):
        return start_locked(home, cfg, host=host, port=port, owner=owner)


def start_locked(home: Path, cfg: Config, *, host: str | None, port: int | None,
                 owner: str) -> StartResult:
    """:func:`start_background` for a caller that already holds :func:`ccr.service.daemon.lock`."""
    return start_server(
        home, host=host or cfg.host, port=port or cfg.port,
        config_path=_absolute(cfg.path), owner=owner, progress=progress(), apikey=cfg.apikey,
    )


# --------------------------------------------------------------------------------------------
# Commands


def start(
    config: ConfigOption = None,
    host: HostOption = None,
    port: PortOption = None,
    debug: DebugOption = False,
) -> None:
    """Start ccr in the background (it keeps running until `ccr stop`).

    Output goes to $CCR_HOME/logs/serve.out, the PID file is $CCR_HOME/ccr.pid.

    Example: ccr start --port 3456 --config ~/.claude-code-router/config.json
    """
    with guarded(debug_enabled(debug)):
        cfg = load_config(config)
        result = start_background(cfg, host=host, port=port, owner=OWNER_START)
    _print_started(result, host=host, port=port)


def _print_started(result: StartResult, *, host: str | None, port: int | None) -> None:
    record = result.record
    if result.started:
        typer.echo(f"ccr is running at {record.url} (pid {record.pid})")
        return
    typer.echo(f"ccr is already running at {record.url} (pid {record.pid})")
    if (host and host != record.host) or (port and port != record.port):
        typer.echo("note: it keeps its address; run `ccr restart` with the new options to "
                   "change it", err=True)


def stop(
    timeout: Annotated[float | None, typer.Option(
        help="Seconds to wait for a graceful exit before killing it "
        "(default: SHUTDOWN_TIMEOUT_MS + 5 s).", min=0)] = None,
    debug: DebugOption = False,
) -> None:
    """Stop the background ccr (open streams may finish first, up to SHUTDOWN_TIMEOUT_MS).

    Example: ccr stop
    """
    home = ccr_home()
    with guarded(debug_enabled(debug)):
        _stop(home, timeout)


def _stop(home: Path, timeout: float | None) -> None:
    with lock(home):
        record = running_server(home)
        users = len(live_sessions(home, record.pid)) if record else 0
        result = stop_server(home, timeout_s=timeout, progress=progress())
    stopped = result.record
    if result.outcome == "not-running":
        typer.echo("ccr is not running")
    elif result.outcome == "stale":
        which = f" for pid {stopped.pid}" if stopped else ""
        typer.echo(f"ccr is not running (removed a stale PID file{which})")
    elif stopped is not None:
        how = "stopped" if result.outcome == "stopped" else "did not exit in time and was killed"
        typer.echo(f"ccr {how} (pid {stopped.pid}, {stopped.url})")
        if users:
            typer.echo(f"note: {users} `ccr code` session(s) were using it", err=True)


def restart(
    config: Annotated[Path | None, typer.Option(
        "--config", "-c", help="Config file (default: the running server's, else "
        "$CCR_HOME/config.json).", dir_okay=False)] = None,
    host: HostOption = None,
    port: PortOption = None,
    debug: DebugOption = False,
) -> None:
    """Stop the background ccr (if running) and start it again.

    HOST and PORT are read from the config again, so this applies a changed address.

    Example: ccr restart --port 3457
    """
    home = ccr_home()
    with guarded(debug_enabled(debug)):
        previous = read_record(home)
        if config is None and previous is not None and previous.config:
            config = Path(previous.config)
        cfg = load_config(config)  # a broken config must not stop the running server
        _stop(home, None)
        result = start_background(cfg, host=host, port=port, owner=OWNER_START)
    _print_started(result, host=host, port=port)


def status(
    config: ConfigOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
    debug: DebugOption = False,
) -> None:
    """Show whether ccr runs: PID, address, uptime, version, config, requests, reload errors,
    and config warnings.

    Exit status: 0 running, 3 not running.

    Example: ccr status --json
    """
    from ccr.cli.status import run

    raise typer.Exit(run(config, as_json, debug))

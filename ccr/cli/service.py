"""``ccr start``, ``ccr stop``, ``ccr restart``, ``ccr status``: ccr as a background service.

The process rules live in :mod:`ccr.service.daemon`; this module turns them into commands,
messages and exit codes (``status`` follows LSB: 0 running, 3 not running). The small helpers at
the top are shared with ``ccr code`` and ``ccr activate``.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import time
import traceback
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer

from ccr.cli.serve import ConfigOption
from ccr.config import Config, ccr_home, load_config
from ccr.errors import ConfigError
from ccr.service.daemon import (
    OWNER_CODE,
    OWNER_START,
    DaemonError,
    Progress,
    StartResult,
    base_url,
    connect_host,
    fetch_health,
    live_sessions,
    lock,
    pid_file,
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
        config_path=_absolute(cfg.path), owner=owner, progress=progress(),
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
    """Show whether ccr runs: PID, address, uptime, version, config, requests, reload errors.

    Exit status: 0 running, 3 not running.

    Example: ccr status --json
    """
    with guarded(debug_enabled(debug)):
        info = _status(ccr_home(), config)
    if as_json:
        typer.echo(json.dumps(info))
    else:
        _print_status(info)
    raise typer.Exit(STATUS_RUNNING if info["running"] else STATUS_NOT_RUNNING)


def _status(home: Path, config: Path | None) -> dict[str, Any]:
    record = read_record(home)
    info: dict[str, Any] = {
        "running": False, "pid": None, "url": None, "host": None, "port": None,
        "started_by": None, "uptime_s": None, "version": None, "config": None,
        "requests": None, "errors": None, "reloads": None, "reload_error": None,
        "healthy": False, "code_sessions": 0, "scripts": [],
        "stale_pid_file": pid_file(home).exists() and running_server(home) is None,
    }
    if record is not None and not info["stale_pid_file"]:
        health = fetch_health(record.host, record.port)
        info.update(
            running=True, pid=record.pid, url=record.url, host=record.host, port=record.port,
            started_by="ccr code" if record.owner == OWNER_CODE else "ccr start",
            uptime_s=round(time.time() - record.started_at, 1) if record.started_at else None,
            config=record.config, code_sessions=len(live_sessions(home, record.pid)),
        )
        _merge_health(info, health)
        info["providers"] = _providers(record.host, record.port, record.config, config)
        return info
    # Not started in the background: maybe a `ccr serve` runs in the foreground.
    try:
        cfg = load_config(config)
    except ConfigError:
        return info
    health = fetch_health(cfg.host, cfg.port)
    if health is not None:
        info.update(running=True, pid=health.get("pid"), url=base_url(cfg.host, cfg.port),
                    host=cfg.host, port=cfg.port, started_by="foreground")
        _merge_health(info, health)
        info["providers"] = fetch_providers(cfg.host, cfg.port, cfg.apikey)
    return info


def _providers(host: str, port: int, recorded: str | None,
               config: Path | None) -> list[dict[str, Any]] | None:
    """The running server's provider health, authenticated with its config's APIKEY."""
    try:
        cfg = load_config(config or (Path(recorded) if recorded else None))
    except ConfigError:
        return fetch_providers(host, port, None)
    return fetch_providers(host, port, cfg.apikey)


def fetch_providers(host: str, port: int, apikey: str | None,
                    timeout_s: float = 1.0) -> list[dict[str, Any]] | None:
    """``GET /api/providers``: each provider's health (keys masked), or None."""
    conn = http.client.HTTPConnection(connect_host(host), port, timeout=timeout_s)
    headers = {"x-api-key": apikey} if apikey else {}
    try:
        conn.request("GET", "/api/providers", headers=headers)
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            return None
        data = json.loads(body)
    except (OSError, ValueError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    providers = data.get("providers") if isinstance(data, dict) else None
    return providers if isinstance(providers, list) else None


def provider_lines(providers: list[dict[str, Any]]) -> list[str]:
    """One line per provider (and one per key of a pool) for ``ccr status``."""
    lines = []
    for p in providers:
        state = str(p.get("state", "?"))
        if state == "cooling":
            state += f" {p.get('cooldown_s', 0):g} s"
        parts = [f"{p.get('provider', '?'):<14}{state:<14}",
                 f"errors {100 * float(p.get('error_rate') or 0):.0f}%"]
        if p.get("p50_ms") is not None:
            parts.append(f"p50 {float(p['p50_ms']):.0f} ms")
        parts.append(f"in flight {p.get('in_flight', 0)}")
        if p.get("reason"):
            parts.append(f"({p['reason']})")
        lines.append("  ".join(parts))
        keys = p.get("keys") or []
        if len(keys) > 1 or any(k.get("state") != "ok" for k in keys):
            shown = [f"{k.get('key')} {k.get('state')}" for k in keys]
            lines.append("  keys: " + ", ".join(shown))
    return lines


def _merge_health(info: dict[str, Any], health: Mapping[str, Any] | None) -> None:
    if health is None:
        return
    info["healthy"] = health.get("status") in ("ok", "degraded")
    for key in ("uptime_s", "version", "config", "requests", "errors", "reloads",
                "reload_error", "scripts", "state", "ledger"):
        if health.get(key) is not None or key == "reload_error":
            info[key] = health.get(key)


def _print_status(info: Mapping[str, Any]) -> None:
    if not info["running"]:
        note = " (its PID file is stale: that process is gone or not ccr)" if info[
            "stale_pid_file"] else ""
        typer.echo(f"ccr is not running{note}")
        typer.echo("start it with `ccr start` (or just run `ccr code`)")
        return
    typer.echo(f"ccr is running at {info['url']}")
    rows: list[tuple[str, Any]] = [("pid", info["pid"])]
    if not info["healthy"]:
        rows.append(("health", f"not answering on {info['url']}/health"))
    if info["uptime_s"] is not None:
        rows.append(("uptime", _duration(float(info["uptime_s"]))))
    rows += [("version", info["version"]), ("config", info["config"] or "built-in defaults")]
    if info["requests"] is not None:
        errors = info["errors"] or 0
        rows.append(("requests", f"{info['requests']} ({errors} error{'s' * (errors != 1)})"))
    started_by = info["started_by"]
    if started_by == "ccr code":
        started_by += " (stops when the last `ccr code` using it exits)"
    elif started_by == "foreground":
        started_by = "`ccr serve` in the foreground (no PID file)"
    rows.append(("started by", started_by))
    if info["code_sessions"]:
        rows.append(("ccr code", f"{info['code_sessions']} session(s) using it"))
    for part in ("state", "ledger"):  # the shared state store and the usage ledger
        detail = info.get(part)
        if isinstance(detail, Mapping) and detail.get("status") == "degraded":
            rows.append((part, f"{detail.get('backend')} DEGRADED: {detail.get('error')}"))
    if info["reload_error"]:
        rows.append(("reload error", f"{info['reload_error']} (still running the previous "
                     "config)"))
    for script in info.get("scripts") or []:
        rows.append(_script_row(script))
    for key, value in rows:
        if value is not None:
            typer.echo(f"  {key + ':':<14}{value}")
    if info.get("providers"):
        typer.echo("  providers:")
        for line in provider_lines(info["providers"]):
            typer.echo(f"    {line}")


def _script_row(script: Mapping[str, Any]) -> tuple[str, str]:
    """One router script or user transformer: file, version, counts, last error, switch-off."""
    label = "router script" if script.get("kind") == "router" else "transformer"
    version = script.get("version")
    loaded = f"v{version}" if version is not None else "not loaded"
    parts = [f"{script.get('path')} ({loaded})",
             f"{script.get('calls', 0)} calls, {script.get('errors', 0)} errors, "
             f"{script.get('timeouts', 0)} timeouts"]
    if script.get("switched_off"):
        parts.append(f"SWITCHED OFF for {script.get('switched_off_for_s')}s after "
                     f"{script.get('switched_off_why')}")
    if script.get("load_error"):
        parts.append(f"load error: {script['load_error']}")
    if script.get("last_error"):
        parts.append(f"last error: {script['last_error']}")
    return label, "; ".join(parts)


def _duration(seconds: float) -> str:
    total = int(seconds)
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d {hours}h {minutes}m"
    if hours:
        return f"{hours}h {minutes}m"
    if minutes:
        return f"{minutes}m {secs}s"
    return f"{secs}s"

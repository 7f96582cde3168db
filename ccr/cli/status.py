"""``ccr status``: whether ccr runs, and what the config holds that ccr ignores.

Answered without typer (see :mod:`ccr.cli.entry`): scripts and prompts call it often, and its
work (a PID file, one local HTTP request, the config) costs less than loading the CLI toolkit.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ccr.config import ccr_home, load_config
from ccr.errors import ConfigError
from ccr.service.daemon import (
    OWNER_CODE,
    base_url,
    fetch_health,
    live_sessions,
    pid_file,
    read_record,
    running_server,
)

#: Exit codes, as LSB init scripts and ``systemctl status`` use them.
STATUS_RUNNING = 0
STATUS_NOT_RUNNING = 3


def _echo(text: str) -> None:
    sys.stdout.write(text + "\n")


def run(config: Path | str | None, as_json: bool, debug: bool) -> int:
    """Print the status; 0 when ccr runs, 3 when not, 1 on an unexpected error."""
    debug = debug or os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes")
    try:
        info = _status(ccr_home(), Path(config) if config else None)
        info["config_warnings"] = _config_warnings(info.get("config") or config)
    except Exception as exc:
        if debug:
            traceback.print_exc()
        sys.stderr.write(f"ccr: unexpected error: {type(exc).__name__}: {exc}\nhint: run the "
                         "command again with --debug (or CCR_DEBUG=1) to see the traceback\n")
        return 1
    if as_json:
        _echo(json.dumps(info))
    else:
        _print_status(info)
    sys.stdout.flush()
    return STATUS_RUNNING if info["running"] else STATUS_NOT_RUNNING


def fast_main(args: list[str]) -> int | None:
    """``ccr status ARGS`` without typer; None when ``args`` need the full parser."""
    config: str | None = None
    as_json = debug = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("--config", "-c"):
            if not eq:
                if not rest:
                    return None
                value = rest.pop(0)
            config = value
        elif arg == "--json":
            as_json = True
        elif arg == "--debug":
            debug = True
        else:
            return None
    return run(config, as_json, debug)


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
        health = fetch_health(record.host, record.port, apikey=_apikey(record.config or config))
        info.update(
            running=True, pid=record.pid, url=record.url, host=record.host, port=record.port,
            started_by="ccr code" if record.owner == OWNER_CODE else "ccr start",
            uptime_s=round(time.time() - record.started_at, 1) if record.started_at else None,
            config=record.config, code_sessions=len(live_sessions(home, record.pid)),
        )
        _merge_health(info, health)
        return info
    # Not started in the background: maybe a `ccr serve` runs in the foreground.
    try:
        cfg = load_config(config)
    except ConfigError:
        return info
    health = fetch_health(cfg.host, cfg.port, apikey=cfg.apikey)
    if health is not None:
        info.update(running=True, pid=health.get("pid"), url=base_url(cfg.host, cfg.port),
                    host=cfg.host, port=cfg.port, started_by="foreground")
        _merge_health(info, health)
    return info


def _config_warnings(config: Path | str | None) -> list[str]:
    """What the config holds that ccr ignores (typos, CCR-only keys), as ``path: message``."""
    try:
        return [f"{path}: {message}" for path, message in load_config(config).warnings]
    except ConfigError:
        return []


def _apikey(config: Path | str | None) -> str | None:
    """The key the server's config asks clients for (its ``/health`` details need it)."""
    try:
        return load_config(config).apikey
    except ConfigError:
        return None


def _merge_health(info: dict[str, Any], health: Mapping[str, Any] | None) -> None:
    if health is None:
        return
    info["healthy"] = health.get("status") in ("ok", "degraded")
    for key in ("uptime_s", "version", "config", "requests", "errors", "reloads",
                "reload_error", "scripts", "state", "ledger"):
        if health.get(key) is not None or key == "reload_error":
            info[key] = health.get(key)


def _print_status(info: Mapping[str, Any]) -> None:
    _print_running(info)
    for warning in info.get("config_warnings") or ():
        _echo(f"config warning: {warning}")


def _print_running(info: Mapping[str, Any]) -> None:
    if not info["running"]:
        note = " (its PID file is stale: that process is gone or not ccr)" if info[
            "stale_pid_file"] else ""
        _echo(f"ccr is not running{note}")
        _echo("start it with `ccr start` (or just run `ccr code`)")
        return
    _echo(f"ccr is running at {info['url']}")
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
            _echo(f"  {key + ':':<14}{value}")


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

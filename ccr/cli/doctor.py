"""``ccr doctor``: every first-day problem checked at once, one line each, with the fix.

The most common one is Claude Code's "Please run /login" screen although ccr runs: a Claude
Code settings file that sets ``ANTHROPIC_BASE_URL`` (or a key) overrides what ``ccr code``
passes, or the onboarding flag is missing. Those, the config (typos included), the variables it
refers to, the port, the Claude Code install, the status line, the router script and the
transformers are each checked here; ``--online`` also reaches every provider's host.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import typer

from ccr.cli.options import ConfigOption, DebugOption
from ccr.config.env import referenced_variables
from ccr.config.model import Config
from ccr.config.paths import ccr_home
from ccr.errors import ConfigError

OK, WARN, FAIL = "ok", "warn", "FAIL"
#: Claude Code settings that send it somewhere other than ccr, or with another key.
OVERRIDING_ENV = ("ANTHROPIC_BASE_URL", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")
STATUSLINE_COMMAND = "ccr statusline"


class Check(NamedTuple):
    status: str
    name: str
    detail: str
    fix: str = ""


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)


def doctor(
    config: ConfigOption = None,
    online: bool = typer.Option(False, "--online", help="Also connect to every provider's host."),
    debug: DebugOption = False,
) -> None:
    """Check the config, the variables it uses, the port, Claude Code's install and settings,
    the status line, the router script and transformers; print one line per check and the fix.

    Exit status: 0 when nothing failed (warnings allowed), 1 otherwise.

    Example: ccr doctor --online
    """
    checks = list(run_checks(config, os.environ, Path.home(), Path.cwd(), online=online,
                             debug=debug))
    for check in checks:
        typer.echo(f"{check.status:<4} {check.name}: {check.detail}")
        if check.fix:
            typer.echo(f"     fix: {check.fix}")
    failed = sum(c.status == FAIL for c in checks)
    warned = sum(c.status == WARN for c in checks)
    typer.echo(f"\n{len(checks)} checks: {failed} failed, {warned} warning(s)")
    raise typer.Exit(1 if failed else 0)


def run_checks(config_path: Path | None, env: Mapping[str, str], home: Path, cwd: Path, *,
               online: bool = False, debug: bool = False) -> Iterator[Check]:
    """Every check, in the order a new user meets the problems."""
    from ccr.config import load_config, read_config_data

    path = Path(config_path).expanduser() if config_path else ccr_home() / "config.json"
    written: dict[str, Any] = {}
    if path.exists():
        try:
            written = read_config_data(path)
        except ConfigError:
            pass
    yield from _variables(written, env)
    cfg: Config | None = None
    try:
        cfg = load_config(config_path, env=env)
    except ConfigError as exc:
        yield Check(FAIL, "config", str(exc).replace("\n", "\n     "),
                    f"edit {path} (JSON5: comments and trailing commas are fine)")
    else:
        where = str(cfg.path) if cfg.path else f"none at {path}: running on built-in defaults"
        yield Check(OK if cfg.has_providers else WARN, "config",
                    f"{where} ({len(cfg.providers)} provider(s))",
                    "" if cfg.has_providers else "run `ccr init` to write a starter config")
        for key_path, message in cfg.warnings:
            yield Check(WARN, "config", f"{key_path}: {message}", f"edit {path}")
    if cfg is not None:
        yield _port(cfg.host, cfg.port, cfg.apikey)
        yield from _sandboxed(cfg, debug)
    url = _ccr_url(cfg)
    yield _claude_install(env, cfg.claude_path if cfg else None)
    settings = list(_claude_settings_files(home, cwd))
    yield from _settings_overrides(settings, url)
    yield _onboarding(home)
    yield _statusline(settings)
    if online and cfg is not None:
        yield from _providers_reachable(cfg)


# -- config ------------------------------------------------------------------------------------


def _variables(written: Mapping[str, Any], env: Mapping[str, str]) -> Iterator[Check]:
    seen: set[str] = set()
    for key_path, name in referenced_variables(written):
        if name in seen:
            continue
        seen.add(name)
        if name in env:
            yield Check(OK, "environment", f"{name} is set (used by {key_path})")
        else:
            yield Check(FAIL, "environment", f"{name} is not set (used by {key_path})",
                        f"export {name}=... in your shell profile, or write the value into "
                        "the config")


def _port(host: str, port: int, apikey: str | None) -> Check:
    from ccr.service.daemon import DaemonError, check_port_free, fetch_health

    try:
        check_port_free(host, port, apikey)
    except DaemonError as exc:
        if fetch_health(host, port, apikey=apikey) is not None:
            return Check(OK, "port", f"{host}:{port} is served by ccr (running)")
        return Check(FAIL, "port", exc.message, exc.hint)
    return Check(OK, "port", f"{host}:{port} is free for ccr")


def _sandboxed(cfg: Config, debug: bool) -> Iterator[Check]:
    """The router script and the transformers, loaded as the server loads them."""
    if cfg.custom_router_path:
        from ccr.sandbox import RouterScript

        script = RouterScript(cfg.custom_router_path, timeout_ms=cfg.custom_router_timeout_ms,
                              memory_mb=cfg.custom_router_memory_mb, workers=1)
        script.call_sync({"body": {"model": "doctor", "messages": []}, "headers": {},
                          "token_count": 0, "session_id": None}, {})
        problem = script.load_error
        if problem:
            yield Check(FAIL, "router script", problem, f"fix {cfg.custom_router_path}")
        else:
            yield Check(OK, "router script", f"{cfg.custom_router_path} loads")
    if cfg.transformers or any(p.transformer for p in cfg.providers):
        from ccr.transformers import check_chains

        try:
            check_chains(cfg)
        except ConfigError as exc:
            yield Check(FAIL, "transformers", str(exc).replace("\n", "\n     "),
                        "fix the named file or transformer entry")
        else:
            yield Check(OK, "transformers", f"{len(cfg.transformers)} file(s) and every "
                        "provider's transformer chain load")


def _ccr_url(cfg: Config | None) -> str:
    from ccr.service.daemon import base_url

    if cfg is None:
        return base_url("127.0.0.1", 3456)
    return base_url(cfg.host, cfg.port)


# -- Claude Code ---------------------------------------------------------------------------------


def _claude_install(env: Mapping[str, str], configured: str | None) -> Check:
    wanted = env.get("CLAUDE_PATH", "").strip() or configured or "claude"
    found = shutil.which(os.path.expanduser(wanted), path=env.get("PATH"))
    if found is None:
        return Check(FAIL, "claude code", f"{wanted!r} is not an executable on PATH (Claude Code "
                     "is installed separately from ccr)",
                     "npm install -g @anthropic-ai/claude-code, or set CLAUDE_PATH (environment "
                     "or config) to the claude executable")
    try:
        done = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=15,
                              env={**env, "DISABLE_AUTOUPDATER": "1"})
        version = (done.stdout or done.stderr).strip().splitlines()[0] if (
            done.stdout or done.stderr).strip() else "unknown version"
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Check(FAIL, "claude code", f"{found} does not run ({exc})",
                     "reinstall Claude Code")
    return Check(OK, "claude code", f"{found} ({version})")


def _claude_settings_files(home: Path, cwd: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Claude Code's settings files that exist, highest precedence last."""
    candidates = [
        home / ".claude" / "settings.json",
        cwd / ".claude" / "settings.json",
        cwd / ".claude" / "settings.local.json",
        Path("/etc/claude-code/managed-settings.json"),
    ]
    for path in candidates:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            yield path, data


def _settings_overrides(settings: list[tuple[Path, dict[str, Any]]],
                        url: str) -> Iterator[Check]:
    found = False
    for path, data in settings:
        env = data.get("env")
        if isinstance(env, dict):
            for name in OVERRIDING_ENV:
                value = env.get(name)
                if name == "ANTHROPIC_BASE_URL" and isinstance(value, str) and (
                        value.rstrip("/") == url.rstrip("/")):
                    continue
                if value is not None:
                    found = True
                    shown = value if name == "ANTHROPIC_BASE_URL" else "(set)"
                    yield Check(FAIL, "claude settings", f"{path} sets env.{name} = {shown}, "
                                "which overrides what `ccr code` passes (Claude Code then "
                                'shows "Please run /login" or bypasses ccr)',
                                f'remove "{name}" from "env" in {path}')
        if data.get("apiKeyHelper"):
            found = True
            yield Check(WARN, "claude settings", f"{path} sets apiKeyHelper, whose key Claude "
                        "Code sends instead of ccr's", f'remove "apiKeyHelper" from {path}')
    if not found:
        yield Check(OK, "claude settings", "no settings file overrides ANTHROPIC_BASE_URL or "
                    "the key")


def _onboarding(home: Path) -> Check:
    path = home / ".claude.json"
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        data = None
    if isinstance(data, dict) and data.get("hasCompletedOnboarding") is True:
        return Check(OK, "onboarding", f"{path} has hasCompletedOnboarding")
    return Check(FAIL, "onboarding", f"{path} lacks hasCompletedOnboarding: Claude Code opens "
                 'its login screen ("Please run /login") instead of using ccr',
                 "run `ccr code` once (it sets the flag), or add "
                 '"hasCompletedOnboarding": true to that file')


def _statusline(settings: list[tuple[Path, dict[str, Any]]]) -> Check:
    for path, data in settings:
        line = data.get("statusLine")
        if isinstance(line, dict) and STATUSLINE_COMMAND in str(line.get("command", "")):
            return Check(OK, "status line", f"wired in {path}")
    return Check(OK, "status line", "`ccr code` passes it to Claude Code (--settings); plain "
                 "`claude` shows it only when ~/.claude/settings.json has "
                 '{"statusLine": {"type": "command", "command": "ccr statusline"}}')


# -- providers -----------------------------------------------------------------------------------


def _providers_reachable(cfg: Config) -> Iterator[Check]:
    for provider in cfg.providers:
        parts = urlsplit(provider.api_base_url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        proxy = cfg.proxy_for(provider.api_base_url)
        target = urlsplit(proxy) if proxy else None
        address = (target.hostname or "", target.port or 80) if target else (host, port)
        via = f" via proxy {target.hostname}:{address[1]}" if target else ""
        try:
            with socket.create_connection(address, timeout=5):
                pass
        except OSError as exc:
            yield Check(FAIL, f"provider {provider.name}", f"cannot reach {host}:{port}{via} "
                        f"({exc.strerror or exc})",
                        "check the network, the api_base_url, or PROXY_URL/HTTPS_PROXY")
        else:
            yield Check(OK, f"provider {provider.name}", f"{host}:{port} reachable{via}")

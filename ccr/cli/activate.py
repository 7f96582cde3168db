"""``ccr activate``: shell lines that point Claude Code (and Anthropic SDKs) at ccr.

``eval "$(ccr activate)"`` sets the variables in the current shell, so plain ``claude`` goes
through ccr; ``--unset`` prints the lines that undo it. The same variables are what ``ccr code``
gives the ``claude`` it runs (:func:`client_environment`).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from ccr.cli.options import ConfigOption
from ccr.cli.service import DebugOption, client_config, debug_enabled, guarded
from ccr.config import Config, ccr_home
from ccr.service.daemon import base_url, connect_host, fetch_health, running_server

#: Addresses that must never go through an HTTP proxy to reach ccr.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
#: Where ``ccr activate`` keeps the user's previous ``NO_PROXY`` for ``--unset`` to restore.
SAVED_NO_PROXY = "CCR_SAVED_NO_PROXY"
#: What the user had in NO_PROXY when it was unset (an empty value would be ambiguous).
_UNSET_MARK = "-"

CLIENT_VARIABLES = (
    "ANTHROPIC_BASE_URL", "ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "API_TIMEOUT_MS",
    "DISABLE_TELEMETRY", "DISABLE_COST_WARNINGS", "NO_PROXY",
)


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    sh = "sh"
    fish = "fish"
    powershell = "powershell"


def register(app: typer.Typer) -> None:
    app.command("activate")(activate)


def merge_no_proxy(current: str | None, hosts: Iterable[str]) -> str:
    """``current`` (comma-separated) with ``hosts`` appended where missing, order kept."""
    entries = [e.strip() for e in (current or "").split(",") if e.strip()]
    for host in hosts:
        if host not in entries:
            entries.append(host)
    return ",".join(entries)


def client_environment(cfg: Config, url: str, host: str,
                       current: Mapping[str, str]) -> dict[str, str]:
    """The variables that make Claude Code talk to ccr at ``url`` (and only to it)."""
    no_proxy = current.get("NO_PROXY") or current.get("no_proxy")
    extra = connect_host(host).strip("[]")
    return {
        "ANTHROPIC_BASE_URL": url,
        "ANTHROPIC_AUTH_TOKEN": cfg.apikey or "ccr",
        # Empty, so a real Anthropic key in the environment is not used (or sent to ccr).
        "ANTHROPIC_API_KEY": "",
        "API_TIMEOUT_MS": str(cfg.api_timeout_ms),
        "DISABLE_TELEMETRY": "1",
        "DISABLE_COST_WARNINGS": "1",
        "NO_PROXY": merge_no_proxy(no_proxy, (*LOOPBACK_NAMES, extra)),
    }


# --------------------------------------------------------------------------------------------
# Quoting, per shell


def quote(shell: Shell, value: str) -> str:
    """``value`` as a single-quoted literal the shell reads back unchanged."""
    if shell is Shell.fish:
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if shell is Shell.powershell:
        return "'" + value.replace("'", "''") + "'"
    return "'" + value.replace("'", "'\\''") + "'"


def set_line(shell: Shell, name: str, value: str) -> str:
    if shell is Shell.fish:
        return f"set -gx {name} {quote(shell, value)}"
    if shell is Shell.powershell:
        return f"$env:{name} = {quote(shell, value)}"
    return f"export {name}={quote(shell, value)}"


def unset_line(shell: Shell, name: str) -> str:
    if shell is Shell.fish:
        return f"set -e {name}"
    if shell is Shell.powershell:
        return f"Remove-Item Env:{name} -ErrorAction SilentlyContinue"
    return f"unset {name}"


def activate_lines(shell: Shell, env: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """Set every variable; remember the user's own NO_PROXY once, for ``--unset``."""
    lines = [set_line(shell, name, value) for name, value in env.items()]
    if SAVED_NO_PROXY not in current:
        lines.append(set_line(shell, SAVED_NO_PROXY, current.get("NO_PROXY", _UNSET_MARK)))
    return lines


def deactivate_lines(shell: Shell, current: Mapping[str, str]) -> list[str]:
    """Unset every variable; NO_PROXY goes back to what it was before ``ccr activate``."""
    lines = [unset_line(shell, name) for name in CLIENT_VARIABLES if name != "NO_PROXY"]
    saved = current.get(SAVED_NO_PROXY)
    if saved is not None:
        if saved == _UNSET_MARK:
            lines.append(unset_line(shell, "NO_PROXY"))
        else:
            lines.append(set_line(shell, "NO_PROXY", saved))
        lines.append(unset_line(shell, SAVED_NO_PROXY))
    return lines


def default_shell(environ: Mapping[str, str]) -> Shell:
    """The user's shell from ``$SHELL`` (PowerShell when only ``PSModulePath`` says so)."""
    name = Path(environ.get("SHELL", "")).name.lower()
    if name in ("pwsh", "powershell", "pwsh.exe", "powershell.exe"):
        return Shell.powershell
    for shell in Shell:
        if name == shell.value:
            return shell
    if not name and environ.get("PSModulePath"):
        return Shell.powershell
    return Shell.bash


# --------------------------------------------------------------------------------------------
# The command


def activate(
    shell: Annotated[Shell | None, typer.Option(
        help="Shell syntax to print (default: from $SHELL).", case_sensitive=False)] = None,
    unset: Annotated[bool, typer.Option(
        "--unset", help="Print the lines that undo a previous activate.")] = False,
    config: ConfigOption = None,
    debug: DebugOption = False,
) -> None:
    """Print shell commands that point Claude Code at ccr (ANTHROPIC_BASE_URL, token, ...).

    bash/zsh: eval "$(ccr activate)"   fish: ccr activate | source
    PowerShell: ccr activate --shell powershell | Out-String | Invoke-Expression
    Undo with --unset the same way.

    Example: eval "$(ccr activate)" && claude
    """
    chosen = shell or default_shell(os.environ)
    if unset:
        lines = deactivate_lines(chosen, os.environ)
    else:
        with guarded(debug_enabled(debug)):
            cfg, url, host, running = _target(config)
        lines = activate_lines(chosen, client_environment(cfg, url, host, os.environ),
                               os.environ)
        if not running:
            typer.echo(f"ccr: note: nothing answers at {url} yet; start it with `ccr start`",
                       err=True)
    typer.echo("\n".join(lines))


def _target(config: Path | None) -> tuple[Config, str, str, bool]:
    """The config and address clients should use: the running server's, else the config's."""
    record = running_server(ccr_home())
    if record is not None and config is None:
        return client_config(record.config), record.url, record.host, True
    cfg = client_config(config)
    if record is not None and record.port == cfg.port:
        return cfg, record.url, record.host, True
    running = fetch_health(cfg.host, cfg.port, apikey=cfg.apikey) is not None
    return cfg, base_url(cfg.host, cfg.port), cfg.host, running

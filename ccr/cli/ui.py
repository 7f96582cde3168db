"""``ccr ui``: open the web console, starting ccr in the background when it is not running.

The console needs the admin token (not the clients' ``APIKEY``); this command creates it on
first use under ``CCR_HOME`` (owner-only) and prints it. The browser is opened on the bare URL
by default: a token in a URL would show in the process list of the browser it launches.
"""

from __future__ import annotations

import webbrowser
from typing import Annotated

import typer

from ccr.cli.serve import ConfigOption
from ccr.cli.service import DebugOption, client_config, debug_enabled, guarded, start_background
from ccr.config import ccr_home, load_config
from ccr.service.daemon import OWNER_START, base_url, fetch_health, running_server
from ccr.ui.token import ensure_token, rotate_token, token_path

CONSOLE_PATH = "/ui/"


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)


def ui(
    config: ConfigOption = None,
    no_browser: Annotated[bool, typer.Option(
        "--no-browser", help="Only print the URL and the token.")] = False,
    token_in_url: Annotated[bool, typer.Option(
        "--token-in-url", help="Open the browser already logged in (the token goes into the "
        "URL's #fragment, which other local users can see in the process list).")] = False,
    new_token: Annotated[bool, typer.Option(
        "--new-token", help="Replace the admin token; every open console session ends.")]
    = False,
    debug: DebugOption = False,
) -> None:
    """Open the web console: providers, routes, the config file, the router script, requests,
    usage. Starts ccr in the background when it is not running.

    Example: ccr ui --no-browser   (on a machine without a browser: open the URL elsewhere
    through an SSH tunnel, e.g. ssh -L 3456:127.0.0.1:3456 host)
    """
    home = ccr_home()
    with guarded(debug_enabled(debug)):
        token = rotate_token(home) if new_token else ensure_token(home)
        url, started = _server_url(config)
    console = url + CONSOLE_PATH
    if started:
        typer.echo(f"ccr started in the background at {url} (`ccr stop` stops it)")
    typer.echo(f"ccr console: {console}")
    typer.echo(f"admin token: {token}")
    typer.echo(f"  (kept in {token_path(home)}; `ccr ui --new-token` replaces it)", err=True)
    if no_browser:
        return
    target = f"{console}#token={token}" if token_in_url else console
    try:
        opened = webbrowser.open(target, new=2)
    except webbrowser.Error:
        opened = False
    if not opened:
        typer.echo("no browser to open here: open the URL above and paste the token", err=True)


def _server_url(config: ConfigOption) -> tuple[str, bool]:
    """The running server's address, starting one when none answers."""
    home = ccr_home()
    record = running_server(home)
    if record is not None:
        return record.url, False
    cfg = client_config(config)
    if fetch_health(cfg.host, cfg.port) is not None:  # `ccr serve` in the foreground
        return base_url(cfg.host, cfg.port), False
    result = start_background(load_config(config), host=None, port=None, owner=OWNER_START)
    return result.record.url, result.started

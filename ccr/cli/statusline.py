"""``ccr statusline``: one line for Claude Code's status bar, from the running server's numbers.

Claude Code runs the status line command after each message with its status JSON on stdin. The
line asks the server for the session's last turn (``GET /api/sessions/<id>``, 300 ms at most)
instead of reading the transcript, and it never fails: whatever goes wrong, it prints a short
line and exits 0 (Claude Code shows nothing for a command that fails).

Config (all optional), under ``"StatusLine"``::

    "theme": "plain" | "powerline"          (CCR's "currentStyle" is read too)
    "context_window": 128000                 tokens, for the context percentage
    "context_windows": {"deepseek,deepseek-chat": 64000}     per route (or per model name)
    "prices": {"deepseek,deepseek-chat": {"input": 0.27, "output": 1.10,
               "cache_read": 0.07, "cache_write": 0.27}}     USD per million tokens
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeGuard
from urllib.parse import quote

from ccr.config.env import substitute
from ccr.config.paths import ccr_home_str
from ccr.service.localhttp import http_get

if TYPE_CHECKING:
    import typer

# This module runs on every Claude Code status refresh: it imports neither typer, rich,
# asyncio, pathlib, dataclasses nor the config validator (see :func:`fast_main`).

DEFAULT_HOST = "127.0.0.1"  # as ccr.config.model, whose import costs more than this command
DEFAULT_PORT = 3456

DEFAULT_CONTEXT_WINDOW = 128_000
#: How long the status line waits for the server (Claude Code refreshes it often).
TIMEOUT_S = 0.3
THEMES = ("plain", "powerline")

NOT_RUNNING = "ccr: not running"
NO_USAGE = "ccr: no usage yet"
NO_SESSION = "ccr: no session"
REJECTED = "ccr: APIKEY rejected"
UNAVAILABLE = "ccr: status unavailable"

_RESET = "\x1b[0m"
_POWERLINE_ARROW = "\ue0b0"
_POWERLINE_THIN = "\ue0b1"


def register(app: typer.Typer) -> None:
    import typer

    def statusline(
        config: str | None = typer.Option(
            None, "--config", "-c", help="Config file (default: $CCR_HOME/config.json)."),
        theme: str | None = typer.Option(
            None, "--theme", help="plain or powerline (default: StatusLine.theme in the "
            "config, else plain)."),
        no_color: bool = typer.Option(
            False, "--no-color", help="No ANSI colours (also when NO_COLOR is set)."),
        debug: bool = typer.Option(False, "--debug", help="Show tracebacks on stderr."),
    ) -> None:
        """Print one status line for Claude Code: route, last-turn tokens, context use, cost.

        It reads Claude Code's status JSON on stdin and always exits 0. In
        ~/.claude/settings.json: {"statusLine": {"type": "command", "command": "ccr statusline"}}
        (`ccr code` passes that to Claude Code itself).

        Example: echo '{"session_id": "abc"}' | ccr statusline --theme powerline
        """
        raise typer.Exit(run(config, theme, no_color, debug))

    app.command("statusline")(statusline)


def run(config: str | None, theme: str | None, no_color: bool, debug: bool) -> int:
    """Print the line for the status JSON on stdin; always 0 (Claude Code hides a failure)."""
    try:
        stdin = "" if sys.stdin is None or sys.stdin.isatty() else sys.stdin.read()
        color = not no_color and not os.environ.get("NO_COLOR")
        path = config or os.path.join(ccr_home_str(), "config.json")
        line = status_line(stdin, config_path=path, theme=theme, color=color)
    except Exception:
        if debug or os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes"):
            traceback.print_exc()
        line = UNAVAILABLE
    sys.stdout.write(line + "\n")  # ANSI colours kept: Claude Code shows them from a pipe
    sys.stdout.flush()
    return 0


def fast_main(args: list[str]) -> int | None:
    """``ccr statusline ARGS`` without typer; None when ``args`` need the full parser
    (``--help``, a typo), which then explains them."""
    config: str | None = None
    theme: str | None = None
    no_color = debug = False
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        name, eq, value = arg.partition("=")
        if name in ("--config", "-c", "--theme") and not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if name in ("--config", "-c"):
            config = value
        elif name == "--theme":
            theme = value
        elif arg == "--no-color":
            no_color = True
        elif arg == "--debug":
            debug = True
        else:
            return None
    return run(config, theme, no_color, debug)


class Settings(NamedTuple):
    """What the status line needs from the config, read leniently (never an error)."""

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    apikey: str | None = None
    theme: str = "plain"
    context_window: int = DEFAULT_CONTEXT_WINDOW
    context_windows: Mapping[str, Any] | None = None
    prices: Mapping[str, Any] | None = None

    def window_for(self, route: str | None) -> int:
        value = _lookup(self.context_windows, route)
        return int(value) if _positive(value) else self.context_window

    def cost(self, route: str | None, usage: Mapping[str, Any]) -> float | None:
        """The last turn's estimated cost in USD, or None without prices for the route."""
        price = _lookup(self.prices, route)
        if not isinstance(price, Mapping):
            return None
        rate_in = _number(price.get("input"))
        rate_out = _number(price.get("output"))
        if rate_in is None or rate_out is None:
            return None
        rate_read = _number(price.get("cache_read"))
        rate_write = _number(price.get("cache_write"))
        total = (
            _tokens(usage, "input_tokens") * rate_in
            + _tokens(usage, "output_tokens") * rate_out
            + _tokens(usage, "cache_read_input_tokens") * (rate_in if rate_read is None
                                                           else rate_read)
            + _tokens(usage, "cache_creation_input_tokens") * (rate_in if rate_write is None
                                                               else rate_write)
        )
        return total / 1_000_000


def load_settings(path: str) -> Settings:
    """HOST, PORT, APIKEY and StatusLine from the config; defaults for whatever is unusable."""
    raw = _read_leniently(path)
    section = _substituted(raw.get("StatusLine"))
    section = section if isinstance(section, Mapping) else {}
    host = _substituted(raw.get("HOST"))
    port = _substituted(raw.get("PORT"))
    apikey = _substituted(raw.get("APIKEY"))
    theme = section.get("theme") or section.get("currentStyle")
    window = section.get("context_window")
    return Settings(
        host=host.strip() if isinstance(host, str) and host.strip() else DEFAULT_HOST,
        port=int(port) if _positive(port) or (isinstance(port, str) and port.isdigit())
        else DEFAULT_PORT,
        apikey=apikey if isinstance(apikey, str) and apikey.strip() else None,
        theme=theme if theme in THEMES else "plain",
        context_window=int(window) if _positive(window) else DEFAULT_CONTEXT_WINDOW,
        context_windows=_mapping(section.get("context_windows")),
        # PRICES (the ledger's table) wins over the older StatusLine.prices
        prices={**(_mapping(section.get("prices")) or {}),
                **(_mapping(_substituted(raw.get("PRICES"))) or {})} or None,
    )


def status_line(stdin: str, *, config_path: str | os.PathLike[str], theme: str | None = None,
                color: bool = True) -> str:
    """The whole command without I/O on stdout: the line to print for this stdin."""
    session_id = _session_id(stdin)
    if session_id is None:
        return NO_SESSION
    settings = load_settings(os.path.expanduser(os.fspath(config_path)))
    outcome, usage = fetch_usage(settings, session_id)
    if usage is None:
        return outcome
    chosen = theme.strip().lower() if isinstance(theme, str) else settings.theme
    return render(usage, settings, theme=chosen if chosen in THEMES else "plain", color=color)


def fetch_usage(settings: Settings, session_id: str,
                timeout_s: float = TIMEOUT_S) -> tuple[str, dict[str, Any] | None]:
    """``(fallback line, usage)``: the session's usage from the server, or why there is none."""
    host = _connect_host(settings.host)
    headers = {"accept": "application/json"}
    if settings.apikey:
        headers["x-api-key"] = settings.apikey
    try:
        status, body = http_get(host, settings.port,
                                f"/api/sessions/{quote(session_id, safe='')}", headers,
                                timeout_s)
    except (OSError, ValueError):
        return NOT_RUNNING, None
    if status == 404:
        return NO_USAGE, None
    if status in (401, 403):
        return REJECTED, None
    if status != 200:
        return UNAVAILABLE, None
    try:
        usage = json.loads(body)
    except ValueError:
        return UNAVAILABLE, None
    return (UNAVAILABLE, None) if not isinstance(usage, dict) else ("", usage)


class _Segment(NamedTuple):
    text: str
    #: 256-colour palette numbers: foreground in the plain theme, background in powerline.
    color: int


def render(usage: Mapping[str, Any], settings: Settings, *, theme: str = "plain",
           color: bool = True) -> str:
    """Route, last-turn tokens in/out, context use and (with prices) the estimated cost."""
    route = usage.get("route") if isinstance(usage.get("route"), str) else None
    total_input = _tokens(usage, "total_input")
    window = settings.window_for(route)
    percent = 100.0 * total_input / window
    segments = [
        _Segment(route or "ccr", 39),
        _Segment(f"in {_count(total_input)} out {_count(_tokens(usage, 'output_tokens'))}", 246),
        _Segment(f"ctx {percent:.0f}% of {_count(window)}", _level_color(percent)),
    ]
    cost = settings.cost(route, usage)
    if cost is not None:
        segments.append(_Segment(f"~${_money(cost)}", 141))
    session_cost, today = usage.get("cost_usd"), usage.get("today_usd")
    if isinstance(session_cost, int | float) and isinstance(today, int | float) and (
            session_cost or today):
        # the server's running totals at the configured prices (a team gateway's ledger)
        segments.append(_Segment(f"session ${_money(session_cost)} · today ${_money(today)}",
                                 141))
    fallback = usage.get("fallback")
    if isinstance(fallback, str) and fallback:
        segments.append(_Segment(fallback[:60], 208))
    if theme == "powerline":
        return _powerline(segments, color)
    return _plain(segments, color)


def _plain(segments: list[_Segment], color: bool) -> str:
    if not color:
        return " | ".join(s.text for s in segments)
    separator = f"\x1b[38;5;240m | {_RESET}"
    return separator.join(f"\x1b[38;5;{s.color}m{s.text}{_RESET}" for s in segments)


def _powerline(segments: list[_Segment], color: bool) -> str:
    if not color:
        return f" {_POWERLINE_THIN} ".join(s.text for s in segments)
    out = []
    for i, s in enumerate(segments):
        out.append(f"\x1b[48;5;{s.color}m\x1b[38;5;16m {s.text} ")
        after = f"\x1b[48;5;{segments[i + 1].color}m" if i + 1 < len(segments) else _RESET
        out.append(f"{after}\x1b[38;5;{s.color}m{_POWERLINE_ARROW}")
    return "".join(out) + _RESET


def _level_color(percent: float) -> int:
    if percent < 50:
        return 78
    if percent < 80:
        return 214
    return 203


def _count(n: int) -> str:
    """Token counts as people read them: 850, 12.3k, 128k, 1.2M."""
    if n < 1000:
        return str(n)
    if n < 100_000:
        return f"{n / 1000:.1f}k".replace(".0k", "k")
    if n < 1_000_000:
        return f"{n // 1000}k"
    return f"{n / 1_000_000:.1f}M".replace(".0M", "M")


def _money(usd: float) -> str:
    return f"{usd:.4f}" if usd < 0.01 else f"{usd:.2f}"


def _session_id(stdin: str) -> str | None:
    try:
        data = json.loads(stdin) if stdin.strip() else {}
    except ValueError:
        return None
    value = data.get("session_id") if isinstance(data, dict) else None
    return value.strip() if isinstance(value, str) and value.strip() else None


def _connect_host(host: str) -> str:
    """Where to reach a server bound to ``host``: a wildcard address means this machine."""
    name = host.strip().strip("[]")
    if name in ("0.0.0.0", "", "::"):
        return "127.0.0.1"
    return name


def _read_leniently(path: str) -> dict[str, Any]:
    """The config as written, or ``{}``: plain JSON first, JSON5 (comments) only when needed."""
    try:
        with open(path, encoding="utf-8-sig") as file:
            text = file.read()
    except (OSError, UnicodeDecodeError):
        return {}
    try:
        data = json.loads(text)
    except ValueError:
        try:
            import json5

            data = json5.loads(text)
        except (ValueError, RecursionError):
            return {}
    except RecursionError:
        return {}
    return data if isinstance(data, dict) else {}


def _substituted(value: Any) -> Any:
    """``value`` with ``$VAR`` references resolved, or None when one is not set."""
    if value is None:
        return None
    result, problems = substitute(value, os.environ)
    return None if problems else result


def _lookup(table: Mapping[str, Any] | None, route: str | None) -> Any:
    """A per-route entry: the ``provider,model`` key, else the model name alone (any case)."""
    if not table or not route:
        return None
    model = route.partition(",")[2]
    by_key = {str(k).strip().lower(): v for k, v in table.items()}
    for key in (route.lower(), model.lower()):
        if key and key in by_key:
            return by_key[key]
    return None


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


def _positive(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return None


def _tokens(usage: Mapping[str, Any], key: str) -> int:
    value = usage.get(key)
    if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
        return int(value)
    return 0

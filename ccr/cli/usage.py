"""``ccr usage``: totals from the usage ledger, grouped, as a table with bars, JSON or CSV.

It reads the ledger the server writes: ``LEDGER`` in the config (a shared Postgres), else the
SQLite file under ``CCR_HOME``.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import re
import time
from datetime import UTC, datetime
from typing import Annotated

import typer

from ccr.cli.serve import ConfigOption
from ccr.config import ccr_home, load_config
from ccr.errors import ConfigError
from ccr.ledger.store import GROUPS, Total

_SINCE = re.compile(r"\s*(\d+)\s*([mhdw])\s*\Z", re.IGNORECASE)
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400, "w": 7 * 86_400}
_BAR_WIDTH = 24
_EIGHTHS = " ▏▎▍▌▋▊▉█"


def register(app: typer.Typer) -> None:
    app.command("usage")(usage)


def parse_since(value: str, now: float | None = None) -> float | None:
    """``7d``, ``24h``, ``30m``, ``2w``, a date ``2026-12-01`` (UTC), or ``all`` (None)."""
    text = value.strip().lower()
    if text == "all":
        return None
    current = time.time() if now is None else now
    match = _SINCE.match(text)
    if match:
        return current - int(match.group(1)) * _UNIT_S[match.group(2).lower()]
    try:
        day = datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=UTC)
    except ValueError:
        raise typer.BadParameter("use 30m, 24h, 7d, 2w, a date like 2026-12-01, or all") from None
    return day.timestamp()


def usage(
    since: Annotated[str, typer.Option("--since", help="How far back: 30m, 24h, 7d, 2w, a date "
                                       "(2026-12-01) or all.")] = "7d",
    by: Annotated[str | None, typer.Option(
        "--by", help=f"Group by: {', '.join(GROUPS)}.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="Print CSV.")] = False,
    config: ConfigOption = None,
) -> None:
    """Show requests, tokens and cost from the usage ledger.

    Example: ccr usage --since 7d --by client
    """
    if by is not None and by not in GROUPS:
        raise typer.BadParameter(f"choose one of {', '.join(GROUPS)}", param_hint="--by")
    start = parse_since(since)
    try:
        cfg = load_config(config)
    except ConfigError as exc:
        typer.echo(f"ccr: invalid configuration\n{exc}", err=True)
        raise typer.Exit(2) from None
    settings = cfg.gateway.ledger
    if settings.kind == "off":
        typer.echo("ccr: the usage ledger is turned off (LEDGER.enabled is false)", err=True)
        raise typer.Exit(1)
    try:
        groups, total = asyncio.run(_read(settings, start, by))
    except Exception as exc:  # the ledger's own error says what is wrong (no secrets in it)
        from ccr.config.redact import redact_text

        typer.echo(f"ccr: cannot read the usage ledger: {redact_text(str(exc))}", err=True)
        raise typer.Exit(1) from None
    if as_json:
        typer.echo(json.dumps({"since": start, "by": by, "total": total.as_dict(),
                               "groups": [g.as_dict() for g in groups]}, indent=2))
    elif as_csv:
        typer.echo(to_csv(groups, total, by), nl=False)
    else:
        typer.echo(to_table(groups, total, by, since))


async def _read(settings: object, start: float | None,
                by: str | None) -> tuple[list[Total], Total]:
    from ccr.config.ledger import LedgerSettings
    from ccr.ledger.open import open_ledger_store

    assert isinstance(settings, LedgerSettings)
    store = open_ledger_store(settings, home=ccr_home())
    assert store is not None
    try:
        if settings.kind == "sqlite" and not settings.sqlite_path(ccr_home()).exists():
            empty = Total(None, 0, 0, 0, 0, 0, 0.0, 0)
            return [], empty
        await store.open()
        [total] = await store.totals(since=start)
        groups = await store.totals(since=start, by=by) if by else []
        return groups, total
    finally:
        await store.aclose()


_FIELDS = ("requests", "input_tokens", "output_tokens", "cache_read_tokens",
           "cache_write_tokens", "cost_usd", "errors")


def to_csv(groups: list[Total], total: Total, by: str | None) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([by or "total", *_FIELDS])
    for row in [*groups, total] if by else [total]:
        data = row.as_dict()
        writer.writerow([row.key if row.key is not None else "total",
                         *(data[f] for f in _FIELDS)])
    return out.getvalue()


def _bar(value: float, largest: float) -> str:
    if largest <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / largest * _BAR_WIDTH * 8))
    return "█" * (eighths // 8) + (_EIGHTHS[eighths % 8] if eighths % 8 else "")


def _tokens(n: int) -> str:
    if n >= 10_000_000:
        return f"{n / 1_000_000:.0f}M"
    if n >= 1_000_000:
        return f"{n / 1_000_000:.1f}M"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    return str(n)


def to_table(groups: list[Total], total: Total, by: str | None, since: str) -> str:
    """A plain table; with ``--by``, a bar per group scaled to the largest cost (or tokens,
    when nothing is priced)."""
    title = f"usage since {since}" if since.strip().lower() != "all" else "usage (all time)"
    if total.requests == 0:
        return f"{title}: no requests recorded"
    use_cost = total.cost_usd > 0
    header = [by or "", "requests", "input", "output", "cache r/w", "cost $", ""]
    rows: list[list[str]] = []
    largest = max((g.cost_usd if use_cost else g.input_tokens + g.output_tokens)
                  for g in groups) if groups else 0

    def cells(t: Total, name: str, bar: str) -> list[str]:
        return [name, str(t.requests), _tokens(t.input_tokens), _tokens(t.output_tokens),
                f"{_tokens(t.cache_read_tokens)}/{_tokens(t.cache_write_tokens)}",
                f"{t.cost_usd:.4f}" if t.cost_usd < 1 else f"{t.cost_usd:.2f}", bar]

    for g in groups:
        measure = g.cost_usd if use_cost else g.input_tokens + g.output_tokens
        rows.append(cells(g, g.key if g.key is not None else "(none)", _bar(measure, largest)))
    rows.append(cells(total, "total", ""))
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [title]
    for r in [header, *rows]:
        first = r[0].ljust(widths[0])
        rest = [r[i].rjust(widths[i]) for i in range(1, len(r) - 1)]
        lines.append("  ".join([first, *rest, r[-1]]).rstrip())
    if total.errors:
        lines.append(f"{total.errors} of {total.requests} requests failed")
    return "\n".join(lines)

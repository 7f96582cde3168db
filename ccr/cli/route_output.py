"""What ``ccr route --dry-run`` prints: one request's fields, a table of many (with a header
row), ``--explain`` blocks, and for replayed records the routes before and after with a summary
of what changes and what it would cost."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ccr.cli.echo import echo

if TYPE_CHECKING:
    from ccr.cli.route_run import Row

NOT_LOADED = "router script not loaded (see above)"


def print_rows(rows: Sequence[Row], *, as_json: bool, many: bool, load_error: str | None,
               prices: Any = None) -> None:
    """Print the rows; the script's load error goes to stderr once, not once per row."""
    if load_error:
        echo(f"router script: {load_error}", err=True)
    replay = any(r.recorded is not None for r in rows)
    if as_json:
        _print_json(rows, many=many, summary=_summary(rows, prices) if replay else None)
        return
    if not many and not replay:
        _print_one(rows[0], load_error)
        return
    _print_table(rows, load_error, replay=replay)
    echo("")
    if replay:
        _print_summary(_summary(rows, prices))
    else:
        counts = Counter((r.route or "(error)") for r in rows if not r.skipped)
        for name, count in counts.most_common():
            echo(f"{count:>6}  {name}")


def _print_json(rows: Sequence[Row], *, many: bool, summary: dict[str, Any] | None) -> None:
    if many or summary is not None:
        for row in rows:
            echo(json.dumps(row.as_json()))
        if summary is not None:
            echo(json.dumps({"summary": summary}))
    else:
        echo(json.dumps(rows[0].as_json(), indent=2))


def _status(row: Row, load_error: str | None) -> str:
    if row.script_error and row.script_error == load_error:
        script = NOT_LOADED
    else:
        script = row.script_error or ""
    parts = [p for p in (row.error, script, row.skipped, *row.warnings) if p]
    return "; ".join(parts)


def _print_one(row: Row, load_error: str | None) -> None:
    fields: list[tuple[str, Any]] = [
        ("route", row.route or "-"), ("rule", row.rule or "-"),
        ("tokens", row.token_count), ("session", row.session_id or "-"),
        ("project", row.project or "-"),
    ]
    if row.fallback:
        fields.append(("fallback", " → ".join(row.fallback)))
    if row.script_ms is not None:
        fields.append(("script", f"{row.script_ms:.2f} ms"))
    if row.script_error:
        shown = NOT_LOADED if row.script_error == load_error else row.script_error
        fields.append(("script error", shown))
    if row.script_output:
        fields.append(("script print", row.script_output.rstrip()))
    for key, value in (("error", row.error), ("skipped", row.skipped)):
        if value:
            fields.append((key, value))
    for warning in row.warnings:
        fields.append(("warning", warning))
    for key, value in fields:
        echo(f"{key + ':':<14}{value}")
    if row.explanation is not None:
        echo("explain:")
        _print_explanation(row.explanation, indent="  ")


def _print_table(rows: Sequence[Row], load_error: str | None, *, replay: bool) -> None:
    width = max([len("request"), *(len(r.source) for r in rows)])
    if replay:
        route_width = max([len("before"), *(len(r.recorded.route or "-") for r in rows
                                            if r.recorded is not None)])
        echo(f"{'request':<{width}}  {'before':<{route_width}}    {'after':<32} "
                   f"{'rule':<12} {'tokens':>7}  note")
    else:
        echo(f"{'request':<{width}}  {'rule':<12} {'route':<32} {'tokens':>7}  note")
    for r in rows:
        tokens = r.token_count if r.token_count is not None else "-"
        status = _status(r, load_error)
        if replay:
            before = (r.recorded.route if r.recorded is not None else None) or "-"
            mark = "->" if r.changed else "=="
            echo(f"{r.source:<{width}}  {before:<{route_width}} {mark} "
                       f"{r.route or '-':<32} {r.rule or '-':<12} {tokens:>7}  {status}")
        else:
            echo(f"{r.source:<{width}}  {r.rule or '-':<12} {r.route or '-':<32} "
                       f"{tokens:>7}  {status}")
        if r.explanation is not None:
            _print_explanation(r.explanation, indent=" " * (width + 2))


def _print_explanation(explanation: dict[str, Any], *, indent: str) -> None:
    if explanation.get("now"):
        echo(f"{indent}{'now':<13}{explanation['now']}")
    script = explanation.get("script")
    decided = explanation.get("decided_by")
    if script is not None:
        ms = f" ({script['ms']:.2f} ms)" if script.get("ms") is not None else ""
        if script.get("error"):
            what = f"failed{ms}: {script['error']}"
        elif script.get("returned"):
            what = f"returned {script['returned']}{ms}"
        else:
            what = f"returned None{ms}: the built-in rules decide"
        echo(f"{indent}{'script':<13}{what}")
        for line in (script.get("output") or "").rstrip().splitlines():
            echo(f"{indent}{'':<13}print: {line}")
    first = True
    for verdict in explanation.get("rules") or []:
        route = verdict.get("route")
        mark = ""
        if route and verdict.get("configured") and first:
            mark = "  <- decides" if decided != "custom" else "  <- would decide without the script"
            first = False
        shown = route or "-"
        echo(f"{indent}{verdict['rule']:<13}{shown:<32} {verdict['reason']}{mark}")


# -- replays ------------------------------------------------------------------------------------


def _summary(rows: Sequence[Row], prices: Any) -> dict[str, Any]:
    """How many replayed requests change route, the counts by route before and after, and the
    estimated cost of the recorded usage at each side's routes."""
    replayed = [r for r in rows if r.recorded is not None and not r.error and not r.skipped]
    before = Counter(r.recorded.route or "(none)" for r in replayed if r.recorded is not None)
    after = Counter(r.route or "(none)" for r in replayed)
    cost_before = cost_after = 0.0
    priced = unpriced = 0
    for r in replayed:
        assert r.recorded is not None
        old = _cost(prices, r.recorded.route, r.recorded.usage)
        new = _cost(prices, r.route, r.recorded.usage)
        if old is None or new is None:
            unpriced += 1
            continue
        priced += 1
        cost_before += old
        cost_after += new
    return {
        "requests": len(replayed),
        "changed": sum(1 for r in replayed if r.changed),
        "before": dict(before.most_common()),
        "after": dict(after.most_common()),
        "cost_before_usd": round(cost_before, 6) if priced else None,
        "cost_after_usd": round(cost_after, 6) if priced else None,
        "priced": priced,
        "unpriced": unpriced,
    }


def _cost(prices: Any, route: str | None, usage: dict[str, Any]) -> float | None:
    """USD for a record's Anthropic usage at ``route``'s price, or None without one."""
    if prices is None or not route or not usage:
        return None

    def count(name: str) -> int:
        value = usage.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else 0

    cost = prices.cost(route, {
        "input_tokens": count("input_tokens"), "output_tokens": count("output_tokens"),
        "cache_read_tokens": count("cache_read_input_tokens"),
        "cache_write_tokens": count("cache_creation_input_tokens"),
    })
    return float(cost) if cost is not None else None


def _print_summary(summary: dict[str, Any]) -> None:
    echo(f"{summary['changed']} of {summary['requests']} requests change route")
    routes = sorted(set(summary["before"]) | set(summary["after"]),
                    key=lambda name: (-summary["after"].get(name, 0), name))
    width = max([len("route"), *(len(name) for name in routes)])
    echo(f"{'route':<{width}}  {'before':>6}  {'after':>6}")
    for name in routes:
        echo(f"{name:<{width}}  {summary['before'].get(name, 0):>6}  "
                   f"{summary['after'].get(name, 0):>6}")
    if summary["cost_before_usd"] is None:
        echo("estimated cost: no PRICES for these routes")
        return
    before, after = summary["cost_before_usd"], summary["cost_after_usd"]
    note = f" ({summary['unpriced']} requests without prices left out)" if summary[
        "unpriced"] else ""
    echo(f"estimated cost of the recorded usage: ${before:.4f} before, ${after:.4f} after "
               f"({after - before:+.4f}){note}")

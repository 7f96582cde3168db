"""Reading the cProfile output of a profiled ``ccr serve`` into short hot-spot tables."""

from __future__ import annotations

import pstats
from pathlib import Path

from bench.procs import PROJECT_ROOT

_CCR_DIR = str(PROJECT_ROOT / "ccr") + "/"


def _where(file: str, line: int, func: str) -> str:
    short = file
    for prefix in (str(PROJECT_ROOT) + "/", "/site-packages/"):
        if prefix in file:
            short = file.split(prefix, 1)[1]
    return f"{short}:{line} {func}"


def hot_spots(path: Path, requests: int, top: int = 20) -> str:
    """Markdown: ccr's own functions by self time and by cumulative time, then all code by
    self time; times are µs per request served."""
    stats = pstats.Stats(str(path))
    entries = [
        (file, line, func, ncalls, tottime, cumtime)
        for (file, line, func), (_, ncalls, tottime, cumtime, _) in stats.stats.items()  # type: ignore[attr-defined]
    ]
    per_req = 1e6 / max(1, requests)

    def table(title: str, chosen: list[tuple[str, int, str, int, float, float]]) -> list[str]:
        lines = [f"### {title}", "", "| function | calls/req | self µs/req | cum µs/req |",
                 "|---|---:|---:|---:|"]
        for file, line, func, ncalls, tottime, cumtime in chosen:
            lines.append(f"| `{_where(file, line, func)}` | {ncalls / max(1, requests):.1f} "
                         f"| {tottime * per_req:.1f} | {cumtime * per_req:.1f} |")
        return [*lines, ""]

    ours = [e for e in entries if e[0].startswith(_CCR_DIR)]
    out = [f"Profile of ccr serve over {requests} requests ({path}); cProfile inflates "
           "every number, compare them with each other only.", ""]
    out += table("ccr code by self time", sorted(ours, key=lambda e: -e[4])[:top])
    out += table("ccr code by cumulative time", sorted(ours, key=lambda e: -e[5])[:top])
    out += table("all code by self time", sorted(entries, key=lambda e: -e[4])[:top])
    return "\n".join(out)

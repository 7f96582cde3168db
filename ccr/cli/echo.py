"""``typer.echo`` without typer, for commands that also run on the entry point's fast path.

The same bytes come out either way: a line and a newline, ANSI escapes removed when the
stream is not a terminal (as click does), flushed at once.
"""

from __future__ import annotations

import re
import sys

_ANSI = re.compile(r"\033\[[;?0-9]*[a-zA-Z]")


def echo(text: str = "", *, err: bool = False) -> None:
    """Write ``text`` and a newline to stdout (stderr with ``err``), as ``typer.echo`` does."""
    stream = sys.stderr if err else sys.stdout
    if stream is None:
        return
    line = text + "\n"
    try:
        terminal = stream.isatty()
    except Exception:  # a replaced stream without isatty counts as a file, as in click
        terminal = False
    if not terminal:
        line = _ANSI.sub("", line)
    stream.write(line)
    stream.flush()

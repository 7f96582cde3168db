"""The ``ccr`` executable: answers ``--version``, ``--help``, ``statusline``, ``status`` and
``route`` before loading typer, then hands everything else to the typer app.

``ccr statusline`` runs on every Claude Code status refresh, so it must cost little more than
the interpreter itself; ``ccr --help`` should not import every command to list them; ``ccr
route --dry-run`` is run in loops and CI, where typer would cost more than the routing.
"""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args in ([], ["--help"], ["-h"]):
        from ccr.cli.commands import help_text

        sys.stdout.write(help_text())
        sys.exit(0)
    if args in (["--version"], ["-V"]):
        from ccr import __version__

        sys.stdout.write(f"ccr {__version__}\n")
        sys.exit(0)
    if args[:1] == ["statusline"]:
        from ccr.cli.statusline import fast_main

        code = fast_main(args[1:])
        if code is not None:
            sys.exit(code)
    if args[:1] == ["status"]:
        from ccr.cli.status import fast_main as status_main

        code = status_main(args[1:])
        if code is not None:
            sys.exit(code)
    if args[:1] == ["route"]:
        from ccr.cli.route_fast import fast_main as route_main
        from ccr.cli.route_fast import finish

        code = route_main(args[1:])
        if code is not None:
            finish(code)
    from ccr.cli.main import app

    app(args=args, prog_name="ccr")

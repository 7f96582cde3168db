"""``ccr route`` without typer: its options parsed by hand for the entry point.

Loading typer (and the pydantic it validates with) costs more than routing a request, and
``ccr route --dry-run`` is run in loops and CI. The parser accepts only command lines typer
would accept the same way; anything else (``--help``, a typo, a missing file, a repeated
option) returns None, and typer then answers with its own message and exit status.
"""

from __future__ import annotations

import errno
import os
import stat
import sys
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from ccr.cli.route_run import RouteArgs

#: Flags: option → (field, value).
FLAGS: dict[str, tuple[str, bool]] = {
    "--dry-run": ("dry_run", True), "--no-dry-run": ("dry_run", False),
    "--json": ("as_json", True),
    "--strict": ("strict", True), "--no-strict": ("strict", False),
    "--explain": ("explain", True), "--no-explain": ("explain", False),
}
#: Options that take a value: option → field.
VALUES: dict[str, str] = {
    "--config": "config", "-c": "config",
    "--session-id": "session_id",
    "--header": "headers", "-H": "headers",
    "--session-input": "session_input",
    "--now": "now",
    "--against": "against",
    "--script": "script",
}
#: Options holding a file: field → whether it must exist (a folder is never taken).
_PATHS: dict[str, bool] = {"config": False, "against": True, "script": True}
#: click's environment variable for shell completion (typer answers it).
_COMPLETION_VAR = "_CCR_COMPLETE"


def fast_main(args: list[str]) -> int | None:
    """Run ``ccr route ARGS``; None when ``args`` need typer's parser."""
    parsed = parse(args)
    if parsed is None:
        return None
    from ccr.cli.route_run import run

    try:
        return run(parsed)
    except KeyboardInterrupt:
        return 130  # as typer: no traceback
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        # the reader went away (``| head``): stop quietly, as typer does
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        return 1


def finish(code: int) -> NoReturn:
    """End the process once the dry run has printed everything, skipping the interpreter's
    teardown: freeing the tokeniser's tables and a few hundred modules would take a sixth of
    the run and change nothing. Exit handlers still run; while another thread lives (one to
    join), the process ends the usual way."""
    import atexit
    import threading

    if threading.active_count() > 1:
        sys.exit(code)
    atexit._run_exitfuncs()
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except OSError:
        sys.exit(code)  # Python reports what it cannot write
    os._exit(code)


def parse(args: list[str]) -> RouteArgs | None:
    """``ccr route``'s arguments as typer would parse them, or None when typer must decide."""
    if os.environ.get(_COMPLETION_VAR):
        return None
    flags: dict[str, bool] = {}
    values: dict[str, str] = {}
    headers: list[str] = []
    requests: list[str] = []
    rest = list(args)
    while rest:
        arg = rest.pop(0)
        if not arg.startswith("-"):
            if not _path_ok(arg, must_exist=True, folder_ok=True):
                return None
            requests.append(arg)
            continue
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in FLAGS and not eq:
            flag_field, flag = FLAGS[name]
            if flag_field in flags:
                return None
            flags[flag_field] = flag
            continue
        field = VALUES.get(name)
        if field is None:
            return None  # --help, --, -, a typo, -cPATH: typer explains or handles them
        if not eq:
            if not rest:
                return None
            value = rest.pop(0)
        if field == "headers":
            headers.append(value)
        elif field in values or not _valid(field, value):
            return None
        else:
            values[field] = value
    if not requests:
        return None
    return _route_args(requests, flags, values, headers)


def _valid(field: str, value: str) -> bool:
    """Whether typer would take ``value`` for ``field`` as it is."""
    if field == "session_input":
        return value.isascii() and value.isdigit()
    if field in _PATHS:
        return _path_ok(value, must_exist=_PATHS[field], folder_ok=False)
    return True


def _path_ok(value: str, *, must_exist: bool, folder_ok: bool) -> bool:
    """A path as typer checks it: not empty; when it exists, readable (and not a folder
    unless ``folder_ok``)."""
    if not value:
        return False
    try:
        mode = os.stat(value).st_mode
    except OSError:
        return not must_exist
    return (folder_ok or not stat.S_ISDIR(mode)) and os.access(value, os.R_OK)


def _route_args(requests: list[str], flags: dict[str, bool], values: dict[str, str],
                headers: list[str]) -> RouteArgs:
    from pathlib import Path

    from ccr.cli.route_run import RouteArgs

    def path(field: str) -> Path | None:
        return Path(values[field]) if field in values else None

    return RouteArgs(
        tuple(Path(r) for r in requests),
        dry_run=flags.get("dry_run", True),
        config=path("config"),
        as_json=flags.get("as_json", False),
        session_id=values.get("session_id"),
        headers=tuple(headers),
        session_input=int(values["session_input"]) if "session_input" in values else None,
        strict=flags.get("strict", False),
        now=values.get("now"),
        explain=flags.get("explain", False),
        against=path("against"),
        script=path("script"),
    )

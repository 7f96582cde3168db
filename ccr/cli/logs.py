"""``ccr logs``: the end of the request log, optionally one session's lines, optionally followed.

The server writes ``<CCR_HOME>/logs/ccr.log`` through a rotating handler, which renames the file
and starts a new one; following keeps reading the old file to its end, then switches.
"""

from __future__ import annotations

import os
import re
import sys
import time
import traceback
from collections import deque
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Annotated, NoReturn

import typer

from ccr.cli.options import ConfigOption
from ccr.config import ccr_home, default_config_path, read_config_data
from ccr.logs import REQUEST_LOG_FILE, lines_backwards

#: How often ``--follow`` looks for new lines and for a rotated file.
POLL_INTERVAL_S = 0.2

Match = Callable[[str], bool]


def register(app: typer.Typer) -> None:
    app.command("logs")(logs)


def log_path() -> Path:
    return ccr_home() / "logs" / REQUEST_LOG_FILE


def logs(
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines "
                                         "(Ctrl-C to stop).")] = False,
    session: Annotated[str | None, typer.Option(
        "--session", help="Only lines of this Claude Code session id.")] = None,
    lines: Annotated[int, typer.Option("--lines", "-n", min=0,
                                       help="How many lines to print from the end.")] = 50,
    config: ConfigOption = None,
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks on errors.")] = False,
) -> None:
    """Print the last lines of the request log (<CCR_HOME>/logs/ccr.log).

    Example: ccr logs -f --session 5f0c...  (one Claude Code session, as it happens)
    """
    path = log_path()
    match = session_matcher(session)
    try:
        if not path.exists() and not follow:
            _fail(f"no log file at {path}", _no_log_hint(config))
        position = snapshot(path)
        if position is not None:
            for line in tail(path, lines, match, end=position[1]):
                _out(line)
        if follow:
            if position is None:
                typer.echo(f"waiting for {path} to appear (Ctrl-C to stop)", err=True)
            for line in follow_lines(path, match, start=position):
                _out(line)
    except KeyboardInterrupt:
        return
    except BrokenPipeError:
        _quiet_stdout()
    except OSError as exc:
        if debug or os.environ.get("CCR_DEBUG", "").strip().lower() in ("1", "true", "yes"):
            traceback.print_exc()
        _fail(f"cannot read {path}: {exc.strerror or exc}", "check the file's permissions")


_RECORD = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d")


def session_matcher(session: str | None) -> Match:
    """A test for lines of one session (``session=<id>`` as a whole field of a record that
    starts with its timestamp: a continuation line, indented by the log formatter, cannot pass
    for one), or for any line."""
    if not session:
        return lambda line: True
    field = re.compile(r'(?:^|\s)session="?' + re.escape(session.strip()) + r'"?(?=\s|$)')
    return lambda line: _RECORD.match(line) is not None and field.search(line) is not None


def tail(path: Path, count: int, match: Match, *, end: int | None = None) -> list[str]:
    """The last ``count`` matching lines of ``path`` (up to byte ``end``), read backwards."""
    if count <= 0:
        return []
    found: deque[str] = deque()
    for line in _reversed_lines(path, end):
        if match(line):
            found.appendleft(line)
            if len(found) >= count:
                break
    return list(found)


def _reversed_lines(path: Path, end: int | None) -> Iterator[str]:
    with path.open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        yield from lines_backwards(f, size if end is None else min(end, size))


def snapshot(path: Path) -> tuple[int, int] | None:
    """``(inode, size)`` of ``path`` now: where following continues after a tail."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_ino, st.st_size


def follow_lines(path: Path, match: Match, *, start: tuple[int, int] | None = None,
                 interval_s: float = POLL_INTERVAL_S,
                 stop: Callable[[], bool] | None = None) -> Iterator[str]:
    """Matching lines of ``path`` as they are written, across rotations and truncation.

    ``start`` (from :func:`snapshot`) continues where a tail stopped; without it the file is
    read from its beginning. Runs until ``stop()`` is true (or forever).
    """
    handle: IO[bytes] | None = None
    inode: int | None = None
    pending = b""
    resume = start
    try:
        while stop is None or not stop():
            if handle is None:
                handle, inode = _open(path, resume)
                resume = None
            if handle is not None:
                data = handle.read()
                if data:
                    pending += data
                    *complete, pending = pending.split(b"\n")
                    for raw in complete:
                        line = raw.decode("utf-8", "replace")
                        if match(line):
                            yield line
                    continue
                state = _changed(path, handle, inode)
                if state == "rotated":
                    pending += handle.read()  # written just before the rename
                    handle.close()
                    handle, inode = None, None
                    lines, pending = pending.split(b"\n"), b""
                    for raw in lines:
                        line = raw.decode("utf-8", "replace")
                        if raw and match(line):
                            yield line
                    continue
                if state == "truncated":
                    handle.seek(0)
                    pending = b""
                    continue
            time.sleep(interval_s)
    finally:
        if handle is not None:
            handle.close()


def _open(path: Path, resume: tuple[int, int] | None) -> tuple[IO[bytes] | None, int | None]:
    """Open ``path``; at ``resume``'s offset when it is still the same file, else at 0."""
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        return None, None
    inode = os.fstat(handle.fileno()).st_ino
    if resume is not None and resume[0] == inode:
        handle.seek(min(resume[1], os.fstat(handle.fileno()).st_size))
    return handle, inode


def _changed(path: Path, handle: IO[bytes], inode: int | None) -> str | None:
    """``"rotated"`` when ``path`` is now another file, ``"truncated"`` when it shrank."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    if st.st_ino != inode:
        return "rotated"
    if st.st_size < handle.tell():
        return "truncated"
    return None


def _no_log_hint(config: Path | None) -> str:
    path = (config or default_config_path()).expanduser()
    try:
        data = read_config_data(path) if path.exists() else {}
    except Exception:
        data = {}
    flag = data.get("LOG")
    if flag is False or (isinstance(flag, str) and flag.strip().lower() == "false"):
        return (f'logging is off ("LOG": false in {path}); set it to true and ccr writes the '
                "log from the next request")
    return ("ccr writes it while the server runs with \"LOG\": true (the default): start it "
            "with `ccr serve` or `ccr code`; `ccr logs -f` waits for it")


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _quiet_stdout() -> None:
    """After a closed pipe (``ccr logs | head``), stop Python complaining at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except OSError:
        pass


def _fail(message: str, hint: str, code: int = 1) -> NoReturn:
    typer.echo(f"ccr: {message}\nhint: {hint}", err=True)
    raise typer.Exit(code)

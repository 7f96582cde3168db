"""Logging: one line per request to the console and to rotating files under ``<CCR_HOME>/logs``.

Lines are built from values ccr chose to log (never headers or config), and every line goes
through :func:`ccr.config.redact_text` on its way out as a second guard against secrets.
"""

from __future__ import annotations

import logging
import logging.handlers
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from ccr.config import redact_text

if TYPE_CHECKING:
    from ccr.config.model import Config

LOGGER_NAME = "ccr"
REQUESTS_LOGGER = "ccr.requests"
REQUEST_LOG_FILE = "ccr.log"

_LEVELS = {
    "trace": logging.DEBUG,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
    "fatal": logging.CRITICAL,
}


#: Characters a logged value must not carry raw: a newline could start a forged log line, ANSI
#: escapes and carriage returns rewrite a terminal (scripts and upstreams choose such texts).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_CONTROL_IN_TEXT = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")


def _escape_control(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        text = _CONTROL_IN_TEXT.sub(_escape_control, super().format(record))
        # Lines and tabs stay; every line after the first is indented, so none can pass for a
        # record of its own.
        return redact_text(text.replace("\n", "\n    "))


def setup_logging(*, home: Path, enabled: bool, level: str, console: bool = True) -> logging.Logger:
    """Configure the ``ccr`` logger (idempotent: handlers are replaced, not stacked)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    logger.setLevel(_LEVELS.get(level.lower(), logging.INFO))
    logger.propagate = False
    formatter = _RedactingFormatter("%(asctime)s %(levelname)s %(message)s")
    if console:
        stream = logging.StreamHandler()
        stream.setFormatter(formatter)
        logger.addHandler(stream)
    if enabled:
        folder = home / "logs"
        try:
            folder.mkdir(parents=True, exist_ok=True)
            file = logging.handlers.RotatingFileHandler(
                folder / REQUEST_LOG_FILE, maxBytes=10 * 1024 * 1024, backupCount=5,
                encoding="utf-8",
            )
        except OSError as exc:
            logger.warning("cannot write logs under %s: %s", folder, exc)
        else:
            file.setFormatter(formatter)
            logger.addHandler(file)
    if not logger.handlers:
        logger.addHandler(logging.NullHandler())
    # LOG: false silences the per-request lines; warnings and errors still reach the console.
    logging.getLogger(REQUESTS_LOGGER).setLevel(logging.INFO if enabled else logging.WARNING)
    return logger


def request_line(fields: dict[str, Any]) -> str:
    """``key=value`` pairs in a fixed order; values with spaces are quoted."""
    parts = []
    for key, value in fields.items():
        if value is None:
            continue
        text = _CONTROL.sub(_escape_control, str(value))
        if not text or any(c in text for c in ' "='):
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


#: Settings read once when the server starts: a reload cannot change them.
RESTART_KEYS = (("HOST", "host"), ("PORT", "port"))


def apply_reload(old: Config, new: Config, home: Path) -> list[str]:
    """Carry a reloaded config's logging settings over (``LOG``, ``LOG_LEVEL``), and name the
    changed keys that need a restart; returns those keys."""
    if (old.log, old.log_level) != (new.log, new.log_level):
        setup_logging(home=home, enabled=new.log, level=new.log_level)
        logging.getLogger(LOGGER_NAME).info("logging now LOG=%s LOG_LEVEL=%s",
                                            str(new.log).lower(), new.log_level)
    changed = [key for key, attr in RESTART_KEYS if getattr(old, attr) != getattr(new, attr)]
    for key in changed:
        logging.getLogger(LOGGER_NAME).warning(
            "config reload: %s changed; it takes effect when ccr restarts (`ccr restart`)", key)
    return changed


#: How much of a log file a backwards read takes at a time.
_BLOCK = 64 * 1024


def lines_backwards(handle: IO[bytes], end: int, *, unfinished: bool = True) -> Iterator[str]:
    """The lines of ``handle`` before byte ``end``, last first, read in blocks so a long log is
    never read whole. ``unfinished``: whether text after the last newline (a line still being
    written) counts as a line."""
    rest = b""
    position = end
    last_block = True
    while position > 0:
        start = max(0, position - _BLOCK)
        handle.seek(start)
        parts = (handle.read(position - start) + rest).split(b"\n")
        position = start
        if last_block:
            last_block = False
            if not unfinished or parts[-1] == b"":
                parts.pop()
        rest = parts.pop(0) if parts else b""
        for part in reversed(parts):
            yield part.decode("utf-8", "replace")
    if rest:
        yield rest.decode("utf-8", "replace")

"""Logging: one line per request to the console and to rotating files under ``<CCR_HOME>/logs``.

Lines are built from values ccr chose to log (never headers or config), and every line goes
through :func:`ccr.config.redact_text` on its way out as a second guard against secrets.
"""

from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path
from typing import Any

from ccr.config import redact_text

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


class _RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact_text(super().format(record))


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
        text = str(value)
        if not text or any(c in text for c in ' "='):
            text = '"' + text.replace('"', "'") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)

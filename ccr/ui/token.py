"""The console's admin token: separate from the clients' ``APIKEY``, kept owner-only on disk.

Whoever holds it can change the config (and so spend provider credits), so it is generated from
the OS's random source on first use, written with mode 0600 before any byte of it exists on
disk, and never logged by the server. ``ccr ui`` prints it; the server reads the same file.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path

TOKEN_FILE_NAME = "ui-token"
#: 32 random bytes, URL-safe: long enough that guessing is hopeless, short enough to paste.
_TOKEN_BYTES = 32
_MIN_LENGTH = 32


def token_path(home: Path) -> Path:
    return home / TOKEN_FILE_NAME


def read_token(home: Path) -> str | None:
    """The stored token, or None when there is none (or it is unusable: too short, unreadable)."""
    try:
        text = token_path(home).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text if len(text) >= _MIN_LENGTH else None


def ensure_token(home: Path) -> str:
    """The stored token, generating it (mode 0600, created exclusively) when there is none."""
    existing = read_token(home)
    if existing is not None:
        return existing
    home.mkdir(parents=True, exist_ok=True)
    return _write_new(home, replace=token_path(home).exists())


def rotate_token(home: Path) -> str:
    """A new token replacing the old one: every console session logged in with it ends."""
    home.mkdir(parents=True, exist_ok=True)
    return _write_new(home, replace=True)


def _write_new(home: Path, *, replace: bool) -> str:
    token = secrets.token_urlsafe(_TOKEN_BYTES)
    path = token_path(home)
    if replace:
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="ascii") as out:
                out.write(token + "\n")
            os.replace(tmp, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return token
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process (the server, or `ccr ui`) won the race
        found = read_token(home)
        if found is not None:
            return found
        return _write_new(home, replace=True)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(token + "\n")
    return token


def token_matches(given: str | None, expected: str | None) -> bool:
    """Constant-time comparison; no token on either side never matches."""
    if not given or not expected:
        return False
    return hmac.compare_digest(given.encode(), expected.encode())

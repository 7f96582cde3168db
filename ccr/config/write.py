"""Safe config writing: validate first, replace atomically, keep a few backups.

A config file holds provider keys and is read live by a running server, so a write must never
leave it empty, half-written or invalid (the Node.js router once replaced a user's config with
an empty one). An edit changes only what changed in the text (:mod:`ccr.config.json5edit`), so
comments and layout survive; a change that cannot be made that way rewrites the file as plain
JSON. Either way the previous file is kept as a timestamped backup next to it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import json5

from ccr.config.json5edit import patch
from ccr.config.load import parse_config
from ccr.config.model import Config
from ccr.errors import ConfigError

DEFAULT_KEEP_BACKUPS = 3
#: A new config file holds API keys: readable by its owner only.
NEW_FILE_MODE = 0o600
_STAMP_FORMAT = "%Y%m%dT%H%M%S"
_BACKUP_STAMP = re.compile(r"\d{8}T\d{6}\.\d{3}(?:-\d+)?")

Check = Callable[[Config], object]


@dataclass(frozen=True)
class Written:
    """What :func:`write_config` did: where, the backup of the old file, and lost comments."""

    path: Path
    backup: Path | None
    #: The replaced file had comments, which the new (plain JSON) file no longer has.
    dropped_comments: bool


def read_config_data(path: Path | str) -> dict[str, Any]:
    """The config file as written (JSON5 parsed, ``$VAR`` references kept), for editing."""
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigError("config file not found", file=str(file)) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the config file: {exc}", file=str(file)) from None
    if not text.strip():
        raise ConfigError("the file is empty", file=str(file))
    try:
        data = json5.loads(text)
    except (ValueError, RecursionError) as exc:
        raise ConfigError(f"not valid JSON5: {exc}", file=str(file)) from None
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a JSON object, got {type(data).__name__}",
                          file=str(file))
    return data


def has_comments(text: str) -> bool:
    """Whether JSON5 ``text`` holds a ``//`` or ``/* */`` comment outside its strings."""
    quote: str | None = None
    escaped = False
    for i, char in enumerate(text):
        if quote is not None:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == quote:
                quote = None
        elif char in "\"'":
            quote = char
        elif char == "/" and text[i + 1: i + 2] in ("/", "*"):
            return True
    return False


def validate_config_data(data: Any, *, env: Mapping[str, str] | None = None,
                         file: str | None = None, check: Check | None = None) -> Config:
    """The :class:`Config` that ``data`` would load as, or :class:`ConfigError`.

    ``$VAR`` references are substituted in a copy (from ``env``, default the process
    environment), so ``data`` itself is left as written. ``check`` is run on the result too:
    the layers that know the transformers pass :func:`ccr.transformers.check_chains`, so a
    write fails on an unknown transformer exactly as the server's load would.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"the config must be a JSON object, got {type(data).__name__}",
                          file=file)
    config = parse_config(copy.deepcopy(data), env=env, file=file)
    if check is not None:
        check(config)
    return config


def write_config(path: Path | str, data: dict[str, Any], *,
                 keep_backups: int = DEFAULT_KEEP_BACKUPS, env: Mapping[str, str] | None = None,
                 check: Check | None = None) -> Written:
    """Validate ``data``, then replace the file at ``path`` with it as JSON, atomically.

    Raises :class:`ConfigError` (the file untouched) when ``data`` is invalid, or when it is
    empty while the current file is not. The old file is kept as
    ``<name>.<UTC timestamp>.bak`` and only the ``keep_backups`` newest backups remain.
    """
    target = _real_target(Path(path))
    validate_config_data(data, env=env, file=str(target), check=check)
    previous = _read_text(target)
    if not data and previous is not None and previous.strip():
        raise ConfigError("refusing to replace the config with an empty one; delete the file "
                          "first if that is what you want", file=str(target))
    text = _edited_in_place(previous, data)
    kept = text is not None
    if text is None:
        text = json.dumps(data, indent=2, ensure_ascii=False) + "\n"
    backup = write_text_atomic(target, text, keep_backups=keep_backups)
    return Written(path=target, backup=backup,
                   dropped_comments=not kept and previous is not None and has_comments(previous))


def _edited_in_place(previous: str | None, data: dict[str, Any]) -> str | None:
    """The previous file with only the changes made (comments and layout kept), or None when
    that cannot be done safely (then the file is rewritten as JSON)."""
    if previous is None or not previous.strip():
        return None
    try:
        old = json5.loads(previous)
    except (ValueError, RecursionError):
        return None
    text = patch(previous, old, data)
    if text is None:
        return None
    try:
        return text if json5.loads(text) == data else None
    except (ValueError, RecursionError):
        return None


def write_text_atomic(path: Path | str, text: str, *,
                      keep_backups: int = DEFAULT_KEEP_BACKUPS) -> Path | None:
    """Replace ``path`` with ``text`` so readers see the old file or the new one, never a mix.

    A temporary file in the same folder is written, flushed to disk and renamed over ``path``.
    The mode of an existing file is kept; a new file gets 0600. Returns the backup of the old
    file, or None when there was no old file (or ``keep_backups`` is 0).
    """
    target = _real_target(Path(path))
    folder = target.parent
    folder.mkdir(parents=True, exist_ok=True)
    mode = _mode_of(target)
    backup = backup_config(target) if keep_backups > 0 and target.exists() else None
    fd, tmp_name = tempfile.mkstemp(dir=folder, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fchmod(out.fileno(), mode)
            os.fsync(out.fileno())
        os.replace(tmp_name, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise
    _fsync_dir(folder)
    if keep_backups > 0:
        prune_backups(target, keep=keep_backups)
    return backup


def backup_config(path: Path | str) -> Path:
    """Copy ``path`` (mode included) to ``<name>.<UTC timestamp>.bak`` beside it."""
    source = Path(path)
    now = datetime.now(UTC)
    stamp = f"{now.strftime(_STAMP_FORMAT)}.{now.microsecond // 1000:03d}"
    backup = source.with_name(f"{source.name}.{stamp}.bak")
    n = 0
    while backup.exists():
        n += 1
        backup = source.with_name(f"{source.name}.{stamp}-{n}.bak")
    shutil.copy2(source, backup)
    return backup


def list_backups(path: Path | str) -> list[Path]:
    """The backups of ``path`` made by :func:`backup_config`, oldest first."""
    source = Path(path)
    prefix, suffix = f"{source.name}.", ".bak"
    found = []
    try:
        entries = list(source.parent.iterdir())
    except OSError:
        return []
    for entry in entries:
        name = entry.name
        if name.startswith(prefix) and name.endswith(suffix):
            stamp = name[len(prefix): -len(suffix)]
            if _BACKUP_STAMP.fullmatch(stamp):
                found.append((_stamp_key(stamp), entry))
    return [entry for _, entry in sorted(found)]


def prune_backups(path: Path | str, *, keep: int = DEFAULT_KEEP_BACKUPS) -> list[Path]:
    """Delete all but the ``keep`` newest backups of ``path``; returns the deleted ones."""
    backups = list_backups(path)
    doomed = backups[: max(len(backups) - keep, 0)]
    for old in doomed:
        with contextlib.suppress(FileNotFoundError):
            old.unlink()
    return doomed


def _stamp_key(stamp: str) -> tuple[str, int]:
    """Sort key: the timestamp, then the collision counter as a number (``-10`` after ``-9``)."""
    base, _, counter = stamp.partition("-")
    return base, int(counter or 0)


def _real_target(path: Path) -> Path:
    """Write through a symlinked config (dotfile setups) instead of replacing the link."""
    path = path.expanduser()
    return Path(os.path.realpath(path)) if path.is_symlink() else path


def _mode_of(path: Path) -> int:
    try:
        return stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return NEW_FILE_MODE


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the current config: {exc}", file=str(path)) from None


def _fsync_dir(folder: Path) -> None:
    """Make the rename itself durable (best effort: not every platform can open a folder)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)

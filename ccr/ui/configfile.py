"""Reading and writing the config file for the console, with the same checks as the CLI.

Every write is validated first (:func:`ccr.config.validate_config_data`, the loader's own
messages), replaces the file atomically and keeps the same timestamped backups as ``ccr model``;
anything that fails leaves the file as it was. The text editor saves the user's own text
(comments kept); structured edits (providers, routes) rewrite the file as JSON, as
``ccr model`` does.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json5

from ccr.config import (
    InvalidConfig,
    list_backups,
    read_config_data,
    validate_config_data,
    write_config,
    write_text_atomic,
)
from ccr.errors import CcrError, ConfigError
from ccr.ui.masking import (
    MaskedText,
    PlaceholderError,
    mask_text,
    scrub,
    scrub_assignments,
    secret_values,
    unmask_text,
)

#: What the editor starts from when there is no config file yet.
EMPTY_CONFIG = '{\n  "Providers": [],\n  "Router": {}\n}\n'


class SaveRefused(CcrError):
    """A write that was not made; ``problems`` are ``(key path, message)`` pairs to show."""

    def __init__(self, message: str, problems: list[dict[str, str]] | None = None,
                 status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.problems = problems or []
        self.status = status


@dataclass(frozen=True)
class Disk:
    """The config file as it is now: its text (None when absent) and parsed data."""

    path: Path
    raw: str | None
    data: dict[str, Any]

    @property
    def secrets(self) -> list[str]:
        return secret_values(self.data)

    def masked(self) -> MaskedText:
        return mask_text(self.raw if self.raw is not None else EMPTY_CONFIG, self.data)


def read_disk(path: Path) -> Disk:
    """The file's text and data; an unparsable file still gives its text (data empty)."""
    try:
        raw = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        return Disk(path, None, {})
    except (OSError, UnicodeDecodeError) as exc:
        raise SaveRefused(f"cannot read {path}: {exc}", status=500) from None
    try:
        data = json5.loads(raw) if raw.strip() else {}
    except (ValueError, RecursionError):
        data = {}
    return Disk(path, raw, data if isinstance(data, dict) else {})


def problems_of(exc: ConfigError, secrets: list[str]) -> list[dict[str, str]]:
    if isinstance(exc, InvalidConfig):
        return [{"path": p, "message": scrub(m, secrets)} for p, m in exc.problems]
    return [{"path": exc.key_path or "", "message": scrub(str(exc), secrets)}]


def check_data(data: Any, path: Path, secrets: list[str]) -> None:
    """Raise :class:`SaveRefused` with the loader's messages unless ``data`` would load."""
    try:
        validate_config_data(data, file=str(path))
    except ConfigError as exc:
        problems = problems_of(exc, secrets)
        raise SaveRefused(scrub(str(exc), secrets), problems) from None


def parse_text(text: str, disk: Disk, version: str | None) -> tuple[str, dict[str, Any]]:
    """Edited editor text back to the real text (secrets restored) and its data."""
    current = disk.masked()
    if version is not None and version != current.version:
        raise SaveRefused("the config file changed on disk since you opened it: reload it "
                          "(your edit is kept in the editor) and apply the change again",
                          status=409)
    try:
        restored = unmask_text(text, current)
    except PlaceholderError as exc:
        raise SaveRefused(str(exc)) from None
    if not restored.strip():
        raise SaveRefused("the config is empty: write {} to run on defaults")
    try:
        data = json5.loads(restored)
    except (ValueError, RecursionError) as exc:
        raise SaveRefused(f"not valid JSON5: {scrub(str(exc), disk.secrets)}",
                          [{"path": "", "message": f"not valid JSON5: "
                            f"{scrub(str(exc), disk.secrets)}"}]) from None
    if not isinstance(data, dict):
        raise SaveRefused(f"the config must be a JSON object, got {type(data).__name__}")
    return restored, data


def check_text(path: Path, text: str, version: str | None) -> dict[str, Any]:
    """Validation as you type: the problems (none when it would load) and the diff."""
    disk = read_disk(path)
    shown = disk.masked()
    result: dict[str, Any] = {"ok": True, "problems": []}
    typed: list[str] = []  # keys typed into the editor are not echoed back either
    try:
        _, data = parse_text(text, disk, version)
        typed = secret_values(data)
        check_data(data, path, disk.secrets + typed)
    except SaveRefused as exc:
        result.update(ok=False, message=exc.message,
                      problems=exc.problems or [{"path": "", "message": exc.message}])
    result["diff"] = unified_diff(shown.text,
                                  scrub_assignments(scrub(text, disk.secrets + typed)))
    return result


def save_text(path: Path, text: str, version: str | None) -> dict[str, Any]:
    """Check and write the editor's text as the file (a backup of the old one is kept)."""
    disk = read_disk(path)
    restored, data = parse_text(text, disk, version)
    check_data(data, path, disk.secrets + secret_values(data))
    backup = write_text_atomic(path, restored if restored.endswith("\n") else restored + "\n")
    return {"saved": str(path), "backup": backup.name if backup else None}


def save_data(path: Path, data: dict[str, Any]) -> dict[str, Any]:
    """Check and write a structurally edited config as JSON (as ``ccr model`` does)."""
    secrets = secret_values(read_disk(path).data) + secret_values(data)
    check_data(data, path, secrets)
    try:
        written = write_config(path, data)
    except ConfigError as exc:
        raise SaveRefused(scrub(str(exc), secrets), problems_of(exc, secrets)) from None
    return {"saved": str(written.path), "backup": written.backup.name if written.backup else None,
            "dropped_comments": written.dropped_comments}


def editable_data(path: Path) -> dict[str, Any]:
    """The config as written (``$VAR`` kept), for a structured edit; {} when there is none."""
    if not path.exists():
        return {}
    try:
        return read_config_data(path)
    except ConfigError as exc:
        raise SaveRefused(f"{exc} (fix it on the Config file page first)") from None


def unified_diff(before: str, after: str) -> str:
    lines = difflib.unified_diff(before.splitlines(), after.splitlines(), "on disk", "edited",
                                 lineterm="")
    return "\n".join(lines)


def backups(path: Path) -> list[dict[str, Any]]:
    """The config's backups, newest first (name, size, modification time)."""
    found = []
    for backup in reversed(list_backups(path)):
        try:
            st = backup.stat()
        except OSError:
            continue
        found.append({"name": backup.name, "size": st.st_size, "mtime": st.st_mtime})
    return found


def _backup_path(path: Path, name: str) -> Path:
    """A backup of ``path`` by its file name; only names :func:`list_backups` lists exist."""
    for backup in list_backups(path):
        if backup.name == name:
            return backup
    raise SaveRefused(f"no backup named {name[:100]!r}", status=404)


def backup_text(path: Path, name: str) -> dict[str, Any]:
    """A backup's text, secrets masked, and its diff against the file on disk."""
    backup = _backup_path(path, name)
    disk = read_disk(backup)
    current = read_disk(path)
    masked = disk.masked().text if disk.raw is not None else ""
    current_masked = mask_text(current.raw or "", current.data).text if current.raw else ""
    # A backup's secrets may differ from the current file's: mask both sets in both texts.
    everything = disk.secrets + current.secrets
    return {"name": name, "text": scrub(masked, everything),
            "diff": unified_diff(scrub(current_masked, everything), scrub(masked, everything))}


def restore_backup(path: Path, name: str) -> dict[str, Any]:
    """Make a backup the config again, if it loads (the current file is backed up first)."""
    backup = _backup_path(path, name)
    disk = read_disk(backup)
    if disk.raw is None or not disk.raw.strip():
        raise SaveRefused(f"backup {name} is empty")
    try:
        data = json5.loads(disk.raw)
    except (ValueError, RecursionError) as exc:
        raise SaveRefused(f"backup {name} is not valid JSON5: {exc}") from None
    check_data(data, path, disk.secrets)
    new_backup = write_text_atomic(path, disk.raw)
    return {"saved": str(path), "restored": name,
            "backup": new_backup.name if new_backup else None}

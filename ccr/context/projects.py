"""Project- and session-level Router overrides, found from a Claude Code request.

The project is the folder Claude Code keeps a working directory's transcripts in
(``<claude projects>/<project>/<session_id>.jsonl``). It is read first from the working
directory Claude Code states in its system prompt, which every request carries (the first one
of a session too, before its transcript exists), and second from the transcript's location. Users
may put ``<CCR_HOME>/<project>/config.json`` and ``<CCR_HOME>/<project>/<session_id>.json`` next
to the global config, and their ``Router`` object replaces the global one for that work.
Lookups run on every request, so answers are cached and the filesystem is touched only when a
cached answer has expired.
"""

from __future__ import annotations

import copy
import logging
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import json5
from cachetools import LRUCache, TTLCache

from ccr.protocol import claude_code

log = logging.getLogger("ccr")

PROJECT_CONFIG_NAME = "config.json"
TRANSCRIPT_SUFFIX = ".jsonl"
OVERRIDE_SUFFIX = ".json"
_MAX_NAME_LENGTH = 255
_FORBIDDEN_IN_NAME = ("/", "\\", "\0", "..")

#: A file's identity for the parse cache: an edit changes its mtime or size.
_FileKey = tuple[str, int, int]


@dataclass(frozen=True)
class _Override:
    """One parsed override file: its Router object, or why it cannot be used."""

    router: dict[str, Any] | None = None
    error: str | None = None
    #: Its ``fallback`` object (CCR v2 shape: rule -> list of routes), if it has one.
    fallback: dict[str, Any] | None = None


class ProjectLocator:
    """Maps session ids to Claude Code projects and reads their Router overrides.

    A found project is remembered for ``hit_ttl`` seconds; a session with no transcript yet is
    looked up again after ``miss_ttl`` (its transcript appears after its first request). Whether
    an override file exists, and its mtime and size, are re-checked after ``stat_ttl``; the file
    is parsed again only when they change. Meant for use from one event loop.
    """

    def __init__(
        self,
        claude_projects_dir: Path,
        ccr_home: Path,
        *,
        hit_ttl: float = 3600.0,
        miss_ttl: float = 5.0,
        stat_ttl: float = 5.0,
        timer: Callable[[], float] = time.monotonic,
        maxsize: int = 1024,
    ) -> None:
        self._projects_dir = Path(claude_projects_dir)
        self._ccr_home = Path(ccr_home)
        self._hits: TTLCache[str, str] = TTLCache(maxsize=maxsize, ttl=hit_ttl, timer=timer)
        self._misses: TTLCache[str, bool] = TTLCache(maxsize=maxsize, ttl=miss_ttl, timer=timer)
        self._stats: TTLCache[str, tuple[int, int] | None] = TTLCache(
            maxsize=maxsize, ttl=stat_ttl, timer=timer
        )
        self._parsed: LRUCache[_FileKey, _Override] = LRUCache(maxsize=256)
        #: Why the last :meth:`router_override` call found no usable override, if a file broke.
        self.last_error: str | None = None

    def locate(self, session_id: str | None, body: Any = None) -> str | None:
        """The request's project: from the working directory in ``body``'s system prompt, else
        from where ``session_id``'s transcript is; None when neither says."""
        if isinstance(body, dict):
            project = claude_code.project(body)
            if project is not None:
                return project
        return self.project_for(session_id) if session_id else None

    def project_for(self, session_id: str) -> str | None:
        """The project folder name holding ``<session_id>.jsonl``, or None."""
        if not is_safe_file_name(session_id):
            return None
        project = self._hits.get(session_id)
        if project is not None:
            return project
        if session_id in self._misses:
            return None
        project = self._scan_for(session_id + TRANSCRIPT_SUFFIX)
        if project is None:
            self._misses[session_id] = True
        else:
            self._hits[session_id] = project
        return project

    def router_override(
        self, session_id: str | None, project: str | None = None
    ) -> dict[str, Any] | None:
        """The Router of the session's override file, else of its project's, else None.

        ``project`` is the request's project when the caller knows it (see :meth:`locate`);
        otherwise it is looked up from the session's transcript. A broken file gives None, sets
        :attr:`last_error` and is logged (once per version of the file).
        """
        self.last_error = None
        for override in self._overrides(session_id, project):
            if override.error is not None:
                self.last_error = override.error
                return None
            if override.router is not None:
                return copy.deepcopy(override.router)
        return None

    def fallback_override(
        self, session_id: str | None, project: str | None = None
    ) -> dict[str, Any] | None:
        """The ``fallback`` of the session's override file, else of its project's, else None
        (``project`` as for :meth:`router_override`). Its routes are checked where they are
        used (an unknown one is skipped)."""
        for override in self._overrides(session_id, project):
            if override.error is None and override.fallback is not None:
                return copy.deepcopy(override.fallback)
        return None

    def _scan_for(self, transcript_name: str) -> str | None:
        try:
            with os.scandir(self._projects_dir) as entries:
                folders = sorted(entry.name for entry in entries if entry.is_dir())
        except OSError:
            return None
        for name in folders:
            if (self._projects_dir / name / transcript_name).is_file():
                return name
        return None

    def _overrides(self, session_id: str | None, project: str | None) -> Iterator[_Override]:
        """The session's override file, then its project's, those that exist, in that order."""
        if project is None and session_id is not None:
            project = self.project_for(session_id)
        if project is None or not is_safe_file_name(project):
            return
        folder = self._ccr_home / project
        names = [PROJECT_CONFIG_NAME]
        if session_id is not None and is_safe_file_name(session_id):
            names.insert(0, session_id + OVERRIDE_SUFFIX)
        for name in names:
            override = self._load(folder / name)
            if override is not None:
                yield override

    def _load(self, path: Path) -> _Override | None:
        """The parsed override at ``path``, or None when there is no such file."""
        stat = self._stat(path)
        if stat is None:
            return None
        key = (str(path), *stat)
        override = self._parsed.get(key)
        if override is None:
            try:
                override = _parse_override(path)
            except FileNotFoundError:
                return None
            self._parsed[key] = override
            if override.error is not None:  # once per version of the file
                log.warning("override file ignored, the global Router is used: %s",
                            override.error)
        return override

    def _stat(self, path: Path) -> tuple[int, int] | None:
        key = str(path)
        if key in self._stats:
            return self._stats[key]
        try:
            result = path.stat()
            stat: tuple[int, int] | None = (result.st_mtime_ns, result.st_size)
        except OSError:
            stat = None
        self._stats[key] = stat
        return stat


def _parse_override(path: Path) -> _Override:
    """Read one override file; every problem except a vanished file becomes an error value."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        return _Override(error=f"{path}: cannot read: {exc}")
    try:
        data = json5.loads(text)
    except Exception as exc:  # json5 raises ValueError, but deep nesting can hit others
        return _Override(error=f"{path}: invalid JSON: {exc}")
    if not isinstance(data, dict):
        return _Override(error=f"{path}: the top level must be an object")
    fallback = data.get("fallback")
    if fallback is not None and not isinstance(fallback, dict):
        return _Override(error=f"{path}: fallback must be an object")
    router = data.get("Router")
    if router is None:
        return _Override(fallback=fallback)
    if not isinstance(router, dict):
        return _Override(error=f"{path}: Router must be an object")
    return _Override(router=router, fallback=fallback)


def is_safe_file_name(name: object) -> bool:
    """True when ``name`` can be used as one file name: no separators, ``..`` or NUL."""
    return (
        isinstance(name, str)
        and 0 < len(name) <= _MAX_NAME_LENGTH
        and name != "."
        and not any(part in name for part in _FORBIDDEN_IN_NAME)
    )

"""The per-request knowledge stores, kept across config reloads (a reload builds a new engine
and hands these over, so session usage and cached token counts survive it)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ccr.context.projects import ProjectLocator
from ccr.context.sessions import SessionStore
from ccr.context.tokens import TokenCounter


@dataclass
class Stores:
    tokens: TokenCounter = field(default_factory=TokenCounter)
    sessions: SessionStore = field(default_factory=SessionStore)
    projects: ProjectLocator | None = None
    #: ``<CCR_HOME>``, where opt-in records are written (None: nowhere to record).
    home: Path | None = None

    @classmethod
    def for_home(cls, home: Path, *, claude_projects: Path | None = None) -> Stores:
        """Stores reading Claude Code's transcripts under ``~/.claude/projects`` (or the given
        folder) and project overrides under ``home``."""
        return cls(projects=ProjectLocator(
            claude_projects or Path.home() / ".claude" / "projects", home,
        ), home=home)

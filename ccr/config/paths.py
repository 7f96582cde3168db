"""Where ccr keeps its files: one home directory, shared with the Node.js claude-code-router."""

from __future__ import annotations

import os
from pathlib import Path

#: The directory CCR (Node.js) uses, so an existing setup is picked up unchanged.
_DEFAULT_HOME_NAME = ".claude-code-router"


def ccr_home() -> Path:
    """``$CCR_HOME`` when set (``~`` expanded), else ``~/.claude-code-router``."""
    override = os.environ.get("CCR_HOME", "").strip()
    if override:
        return Path(override).expanduser()
    return Path.home() / _DEFAULT_HOME_NAME


def default_config_path() -> Path:
    return ccr_home() / "config.json"

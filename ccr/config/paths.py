"""Where ccr keeps its files: one home directory, shared with the Node.js claude-code-router."""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

#: The directory CCR (Node.js) uses, so an existing setup is picked up unchanged.
_DEFAULT_HOME_NAME = ".claude-code-router"


def ccr_home_str() -> str:
    """:func:`ccr_home` as a string, for ``ccr statusline``'s fast path (no ``pathlib``)."""
    override = os.environ.get("CCR_HOME", "").strip()
    if override:
        return os.path.expanduser(override)
    return os.path.join(os.path.expanduser("~"), _DEFAULT_HOME_NAME)


def ccr_home() -> Path:
    """``$CCR_HOME`` when set (``~`` expanded), else ``~/.claude-code-router``."""
    from pathlib import Path

    return Path(ccr_home_str())


def default_config_path() -> Path:
    return ccr_home() / "config.json"

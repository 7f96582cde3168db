"""``RECORD``: whether each ``/v1/messages`` request is written to ``<CCR_HOME>/records``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Records kept on disk, all files together, before the oldest are deleted.
DEFAULT_MAX_MB = 200.0

@dataclass(frozen=True)
class RecordSettings:
    enabled: bool = False
    max_mb: float = DEFAULT_MAX_MB

    @classmethod
    def from_config(cls, raw: Mapping[str, Any]) -> RecordSettings:
        """``RECORD`` read leniently: anything but ``{"enabled": true}`` leaves it off."""
        section = raw.get("RECORD")
        if not isinstance(section, Mapping) or section.get("enabled") is not True:
            return cls()
        max_mb = section.get("max_mb")
        if isinstance(max_mb, int | float) and not isinstance(max_mb, bool) and max_mb > 0:
            return cls(True, float(max_mb))
        return cls(True, DEFAULT_MAX_MB)

"""How a place in the config is named in messages: ``Providers[0].api_key``, ``Router.think``."""

from __future__ import annotations

import json
import re

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def child_path(parent: str, key: str | int) -> str:
    """The key path of ``parent[key]``: ``Providers[0]``, ``Router.think``, ``x["qwen2.5"]``."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if _IDENTIFIER.match(key):
        return f"{parent}.{key}" if parent else key
    return f"{parent}[{json.dumps(key, ensure_ascii=False)}]"

"""``cleancache``: remove every ``cache_control`` mark, for servers that reject the field.

Marks are looked for where clients and transformers put them: on messages, their content parts
and tools; tool parameter schemas are left alone (a property may be called ``cache_control``).
"""

from __future__ import annotations

from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class CleanCache(Transformer):
    name = "cleancache"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        strip_cache_control(request)
        return request


def strip_cache_control(request: dict[str, Any]) -> None:
    """Remove ``cache_control`` from the messages, their parts and the tools of ``request``."""
    request.pop("cache_control", None)
    for message in request.get("messages") or ():
        if not isinstance(message, dict):
            continue
        message.pop("cache_control", None)
        content = message.get("content")
        if isinstance(content, list):
            for part in content:
                if isinstance(part, dict):
                    part.pop("cache_control", None)
    for tool in request.get("tools") or ():
        if isinstance(tool, dict):
            tool.pop("cache_control", None)
            function = tool.get("function")
            if isinstance(function, dict):
                function.pop("cache_control", None)

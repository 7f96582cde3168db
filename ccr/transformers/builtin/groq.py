"""``groq``: what Groq's OpenAI-compatible API rejects or reports differently.

Out: no ``cache_control`` marks, no ``$schema`` in tool parameters, no ``reasoning`` object.
Back: Groq streams usage under ``x_groq.usage`` on the last chunk; it is moved to ``usage``.
"""

from __future__ import annotations

from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin.cleancache import strip_cache_control
from ccr.transformers.registry import register


@register
class Groq(Transformer):
    name = "groq"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        strip_cache_control(request)
        request.pop("reasoning", None)
        for tool in request.get("tools") or ():
            function = tool.get("function") if isinstance(tool, dict) else None
            parameters = function.get("parameters") if isinstance(function, dict) else None
            if isinstance(function, dict) and isinstance(parameters, dict) and \
                    "$schema" in parameters:
                # A copy: the schema is shared with the client's request.
                function["parameters"] = {k: v for k, v in parameters.items() if k != "$schema"}
        return request

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        extra = chunk.get("x_groq")
        if isinstance(extra, dict) and isinstance(extra.get("usage"), dict) and not chunk.get(
            "usage"
        ):
            chunk["usage"] = extra["usage"]
        return [chunk]

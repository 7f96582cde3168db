"""``streamoptions``: ask for usage in streams, or keep ``stream_options`` away from servers
that reject it.

Option ``include_usage`` (default true): true sets ``stream_options.include_usage`` on streamed
requests (as CCR does); false removes ``stream_options``. Never sent without streaming (OpenAI
rejects ``stream_options`` there).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class StreamOptions(Transformer):
    name = "streamoptions"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        include = self.options.get("include_usage", True)
        if not isinstance(include, bool):
            raise ValueError('"include_usage" must be true or false')
        self.include_usage = include

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        if not self.include_usage or not request.get("stream"):
            request.pop("stream_options", None)
            return request
        current = request.get("stream_options")
        request["stream_options"] = {
            **(current if isinstance(current, Mapping) else {}),
            "include_usage": True,
        }
        return request

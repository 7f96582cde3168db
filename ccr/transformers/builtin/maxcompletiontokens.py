"""``maxcompletiontokens``: send ``max_completion_tokens`` instead of ``max_tokens``.

OpenAI's reasoning models (o-series, gpt-5) reject ``max_tokens``. Option
``max_completion_tokens`` (a positive integer) caps the value sent.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class MaxCompletionTokens(Transformer):
    name = "maxcompletiontokens"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self.limit = self.positive_int_option("max_completion_tokens")

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        value = request.pop("max_tokens", None)
        if value is None:
            value = request.get("max_completion_tokens")
        if self.limit is not None and (not isinstance(value, int) or value > self.limit):
            value = self.limit
        if value is not None:
            request["max_completion_tokens"] = value
        return request

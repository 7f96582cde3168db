"""``maxtoken``: cap ``max_tokens`` for upstreams that reject large values."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class MaxToken(Transformer):
    name = "maxtoken"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        limit = self.positive_int_option("max_tokens")
        if limit is None:
            raise ValueError('"max_tokens" must be a positive integer')
        self.limit = limit

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        current = request.get("max_tokens")
        if not isinstance(current, int) or current > self.limit:
            request["max_tokens"] = self.limit
        return request

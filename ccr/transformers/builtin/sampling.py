"""``sampling``: fixed sampling parameters for a model, whatever the client sends.

Options (each optional, as in CCR): ``temperature``, ``top_p``, ``top_k``,
``repetition_penalty`` replace the request's value (``null`` removes the field, for servers
that reject it); ``max_tokens`` caps the request's value.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register

SAMPLING_FIELDS = ("temperature", "top_p", "top_k", "repetition_penalty")


@register
class Sampling(Transformer):
    name = "sampling"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        for key in SAMPLING_FIELDS:
            value = self.options.get(key)
            if value is not None and type(value) not in (int, float):
                raise ValueError(f'"{key}" must be a number or null')
        self.limit = self.positive_int_option("max_tokens")

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        for key in SAMPLING_FIELDS:
            if key not in self.options:
                continue
            if self.options[key] is None:
                request.pop(key, None)
            else:
                request[key] = self.options[key]
        current = request.get("max_tokens")
        if self.limit is not None and isinstance(current, int) and current > self.limit:
            request["max_tokens"] = self.limit
        return request

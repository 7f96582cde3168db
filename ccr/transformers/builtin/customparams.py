"""``customparams``: add provider-specific body fields from the options.

CCR semantics: a field the request lacks is added; where both the request and the option hold
an object, they are merged deeply (the option's values win inside); any other field the request
already has is left as the client sent it.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register

#: Fields ccr owns: adding or merging them would break the exchange.
RESERVED = frozenset({"messages", "model", "stream"})


@register
class CustomParams(Transformer):
    name = "customparams"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        refused = sorted(k for k in self.options if k in RESERVED or k.startswith("_"))
        if refused:
            raise ValueError(
                f"cannot set {', '.join(refused)}: ccr sets these fields itself"
            )

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        for key, value in self.options.items():
            if key not in request:
                request[key] = copy.deepcopy(value)
            elif isinstance(request[key], Mapping) and isinstance(value, Mapping):
                request[key] = deep_merge(request[key], value)
        return request


def deep_merge(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``base`` with ``extra`` merged in (``extra`` wins; neither is changed)."""
    out = dict(base)
    for key, value in extra.items():
        if isinstance(out.get(key), Mapping) and isinstance(value, Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out

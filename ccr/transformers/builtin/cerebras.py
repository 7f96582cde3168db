"""``cerebras``: Cerebras's OpenAI-compatible API, as CCR's ``cerebras`` does it.

Cerebras switches the reasoning of its reasoning models (GLM, Qwen) with ``disable_reasoning``
and rejects OpenRouter-style ``reasoning`` objects. CCR sends ``disable_reasoning: false`` unless
the client asked for thinking (then leaves the server's default): reasoning stays on either way.
ccr does the same, and also honours a client that turns thinking off explicitly
(``thinking: {"type": "disabled"}`` → ``disable_reasoning: true``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class Cerebras(Transformer):
    name = "cerebras"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        asked = request.pop("reasoning", None) is not None
        thinking = request.get("_thinking")
        kind = thinking.get("type") if isinstance(thinking, Mapping) else None
        if kind == "disabled":
            request["disable_reasoning"] = True
        elif kind in ("enabled", "adaptive") or asked:
            request.pop("disable_reasoning", None)  # the server's default: reasoning on
        else:
            request["disable_reasoning"] = False
        return request

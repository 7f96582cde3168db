"""``reasoning``: the thinking switch of Qwen-style servers (DashScope, vLLM, SGLang, ...).

The client's ``thinking`` becomes ``enable_thinking`` (with ``thinking_budget`` when it names a
budget) and, as CCR sends it too, ``thinking: {"type": ...}``. A request without ``thinking``
leaves the server's default alone. Option ``enable: false`` (CCR's) turns thinking off always.
The reasoning that comes back (``reasoning_content`` or ``reasoning``) is handled by the core.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class Reasoning(Transformer):
    name = "reasoning"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        enable = self.options.get("enable", True)
        if not isinstance(enable, bool):
            raise ValueError('"enable" must be true or false')
        self.enable = enable

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        wanted = request.get("_thinking")
        if not isinstance(wanted, Mapping):
            wanted = {}
        kind = wanted.get("type")
        if not self.enable or kind == "disabled":
            request["enable_thinking"] = False
            request["thinking"] = {"type": "disabled"}
            request.pop("thinking_budget", None)
        elif kind in ("enabled", "adaptive"):
            request["enable_thinking"] = True
            request["thinking"] = {"type": "enabled"}
            budget = wanted.get("budget_tokens")
            if type(budget) is int and budget > 0:
                request["thinking_budget"] = budget
                request["thinking"]["budget_tokens"] = budget
        return request

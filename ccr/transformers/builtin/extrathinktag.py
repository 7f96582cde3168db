"""``extrathinktag``: reasoning a model writes as ``<think>…</think>`` at the start of its text
becomes a thinking block, as CCR's ``extrathinktag`` does (local reasoning models served by
Ollama, llama.cpp or vLLM without a reasoning parser).

Requests pass unchanged. Answers, whole or streamed: see :mod:`._tagged_reasoning` for which
tags count and how little of a stream is held back.

Option ``opened: true`` is for models whose chat template writes ``<think>`` into the prompt
(DeepSeek-R1 distills, QwQ on servers without a reasoning parser): their answer starts inside
the block and only ``</think>`` appears. Only for models that always think: an answer without
``</think>`` is all reasoning then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._tagged_reasoning import TaggedReasoning
from ccr.transformers.registry import register


@register
class ExtraThinkTag(Transformer):
    name = "extrathinktag"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        opened = self.options.get("opened", False)
        if not isinstance(opened, bool):
            raise ValueError('"opened" must be true or false')
        self.tags = TaggedReasoning("<think>", "</think>", "extrathinktag", opened=opened)

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        return self.tags.response(response)

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        return self.tags.chunk(chunk, ctx.state)

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        return self.tags.end(ctx.state)

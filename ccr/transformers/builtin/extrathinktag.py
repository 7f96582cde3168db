"""``extrathinktag``: reasoning a model writes as ``<think>…</think>`` at the start of its text
becomes a thinking block, as CCR's ``extrathinktag`` does (local reasoning models served by
Ollama, llama.cpp or vLLM without a reasoning parser).

Requests pass unchanged. Answers, whole or streamed: see :mod:`._tagged_reasoning` for which
tags count and how little of a stream is held back.
"""

from __future__ import annotations

from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._tagged_reasoning import TaggedReasoning
from ccr.transformers.registry import register

_TAGS = TaggedReasoning("<think>", "</think>", "extrathinktag")


@register
class ExtraThinkTag(Transformer):
    name = "extrathinktag"

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        return _TAGS.response(response)

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        return _TAGS.chunk(chunk, ctx.state)

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        return _TAGS.end(ctx.state)

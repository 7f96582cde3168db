"""``forcereasoning``: make a model without a reasoning mode reason first, as CCR's
``forcereasoning`` does.

Out: an instruction to write its reasoning inside ``<reasoning_content>…</reasoning_content>``
before answering is added to the latest user turn (or as a user turn after tool results), and the
reasoning of the latest assistant turns (at most :data:`MAX_INTERLEAVED` of them) is written back
into their text in that form, so the model sees the format it is asked to follow. Back: that
block becomes a thinking block, whole or streamed (see :mod:`._tagged_reasoning`).
"""

from __future__ import annotations

from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._tagged_reasoning import TaggedReasoning, history_with_tags
from ccr.transformers.registry import register

OPEN, CLOSE = "<reasoning_content>", "</reasoning_content>"

PROMPT = (
    "Always think before answering. Even if the problem seems simple, always write down your "
    "reasoning process explicitly.\n\n"
    f"Output format:\n{OPEN}\nYour detailed thinking process goes here\n{CLOSE}\n"
    "Your final answer must follow after the closing tag above."
)

#: How many of the latest assistant turns get their reasoning written back into their text.
MAX_INTERLEAVED = 10

_TAGS = TaggedReasoning(OPEN, CLOSE, "forcereasoning")


@register
class ForceReasoning(Transformer):
    name = "forcereasoning"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        messages = request.get("messages")
        if not isinstance(messages, list) or not messages:
            return request
        # Messages may be shared with other requests' copies: replace, never mutate.
        out = list(messages)
        written = 0
        for i in range(len(out) - 1, -1, -1):
            message = out[i]
            if not isinstance(message, dict) or message.get("role") != "assistant":
                continue
            if "thinking" not in message:
                continue
            copy = {k: v for k, v in message.items() if k != "thinking"}
            if written < MAX_INTERLEAVED:
                text = history_with_tags(message, OPEN, CLOSE)
                if text is not None:
                    copy["content"] = text
                    written += 1
            out[i] = copy
        last = out[-1]
        if isinstance(last, dict) and last.get("role") == "user":
            out[-1] = {**last, "content": _with_prompt(last.get("content"))}
        elif isinstance(last, dict) and last.get("role") == "tool":
            out.append({"role": "user", "content": PROMPT})
        request["messages"] = out
        return request

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        return _TAGS.response(response)

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        return _TAGS.chunk(chunk, ctx.state)

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        return _TAGS.end(ctx.state)


def _with_prompt(content: Any) -> Any:
    """The user turn's content with the instruction after it (a string stays a string)."""
    if isinstance(content, list):
        return [*content, {"type": "text", "text": PROMPT}]
    text = content if isinstance(content, str) else ""
    return f"{text}\n\n{PROMPT}" if text else PROMPT

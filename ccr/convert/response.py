"""A non-streamed OpenAI chat completion (unified format) -> an Anthropic message.

Content comes out in Anthropic's order: thinking, text, tool_use. Whitespace-only text is left out:
Anthropic rejects such blocks when Claude Code sends the history back ("text content blocks must
contain non-whitespace text"), and they carry nothing.
"""

from __future__ import annotations

from typing import Any

from ccr.convert.common import (
    anthropic_usage,
    matched_stop,
    new_message_id,
    new_signature,
    new_tool_id,
    parse_arguments,
    raise_upstream_error,
    stop_reason_for,
)
from ccr.errors import ApiError


def openai_to_anthropic(
    resp: dict[str, Any],
    *,
    model: str,
    message_id: str | None = None,
    stop_sequences: list[str] | None = None,
    input_tokens_estimate: int | None = None,
) -> dict[str, Any]:
    """The Anthropic message for ``resp``; raises :class:`ApiError` for an upstream error body."""
    if resp.get("error"):
        raise_upstream_error(resp)
    choices = resp.get("choices")
    if not choices or not isinstance(choices[0], dict):
        raise ApiError("upstream returned a completion without choices", 502)
    choice = choices[0]
    message = choice.get("message") or {}

    content: list[dict[str, Any]] = []
    thinking, signature = _thinking(message)
    if thinking or signature:
        content.append(
            {"type": "thinking", "thinking": thinking, "signature": signature or new_signature()}
        )
    text = _text(message.get("content"))
    if text and not text.isspace():
        content.append({"type": "text", "text": text})
    calls = list(message.get("tool_calls") or ())
    if isinstance(message.get("function_call"), dict):  # the pre-tools OpenAI form
        calls.append({"function": message["function_call"]})
    for call in calls:
        function = call.get("function") or {}
        content.append(
            {
                "type": "tool_use",
                "id": call.get("id") or new_tool_id(),
                "name": function.get("name") or "",
                "input": parse_arguments(function.get("arguments")),
            }
        )

    stop = matched_stop(choice, stop_sequences)
    stop_reason = stop_reason_for(
        choice.get("finish_reason"), has_tool_use=bool(calls), stop_sequence=stop
    )
    return {
        "id": message_id or new_message_id(),
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": content,
        "stop_reason": stop_reason,
        "stop_sequence": stop if stop_reason == "stop_sequence" else None,
        "usage": anthropic_usage(resp.get("usage"), input_tokens_estimate),
    }


def _thinking(message: dict[str, Any]) -> tuple[str, str | None]:
    """Reasoning text and upstream signature, from whichever field the upstream uses."""
    extension = message.get("thinking")
    signature = None
    text = ""
    if isinstance(extension, dict):
        signature = extension.get("signature") or None
        text = extension.get("content") or ""
    for key in ("reasoning_content", "reasoning"):
        value = message.get(key)
        if isinstance(value, str) and value:
            return value, signature
    return text, signature


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # some servers answer with content parts
        return "".join(
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        )
    return ""

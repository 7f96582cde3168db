"""A conversation handed from one provider to another keeps its words, not its signatures.

Thinking blocks carry signatures only the provider that wrote them accepts (Anthropic's
thinking signatures, Gemini's thought signatures); sent to another provider they are a 400
("invalid signature", "corrupted thought signature"). When a request goes to a provider other
than the one that wrote its history (a fallback, or a session that already switched), the
assistant turns' thinking blocks are left out. Pure: the caller's body is not changed.
"""

from __future__ import annotations

from typing import Any

_REASONING = ("thinking", "redacted_thinking")


def _is_reasoning(block: Any) -> bool:
    return isinstance(block, dict) and block.get("type") in _REASONING


def without_foreign_reasoning(body: dict[str, Any], *, anthropic: bool) -> dict[str, Any]:
    """``body`` without thinking blocks in its assistant turns (a copy; ``body`` itself when
    there are none). For an Anthropic-protocol target, ``thinking`` is switched off when the
    last assistant turn calls tools, since Anthropic requires such a turn to start with a
    thinking block of its own when thinking is on."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return body
    changed = False
    out: list[Any] = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if (not isinstance(message, dict) or message.get("role") != "assistant"
                or not isinstance(content, list) or not any(map(_is_reasoning, content))):
            out.append(message)
            continue
        changed = True
        kept = [block for block in content if not _is_reasoning(block)]
        if kept:
            out.append({**message, "content": kept})
    if not changed:
        return body
    cleaned = {**body, "messages": out}
    if anthropic and isinstance(body.get("thinking"), dict):
        last = next((m for m in reversed(out) if isinstance(m, dict)
                     and m.get("role") == "assistant"), None)
        calls = last is not None and isinstance(last.get("content"), list) and any(
            isinstance(b, dict) and b.get("type") == "tool_use" for b in last["content"])
        if calls:
            cleaned.pop("thinking")
    return cleaned

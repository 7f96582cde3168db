"""``openrouter``: OpenRouter's prompt caching, reasoning config and provider routing.

- Claude models (``anthropic/claude-*``) cache prompts only where the request marks it: the
  client's ``cache_control`` marks (system blocks, last user turn) are put back on the matching
  content parts, which the core conversion drops. Other models get none.
- The client's thinking request becomes OpenRouter's ``reasoning`` object; reasoning comes back
  as ``reasoning`` deltas (handled by the core) and, for Claude, with a signature in
  ``reasoning_details``, which is passed to the client and handed back on later turns, as
  OpenRouter requires for Claude's thinking across tool calls.
- Options are OpenRouter body fields merged into every request (``provider``, ``models``,
  ``transforms``, ``reasoning``, ...), as in CCR.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Mapping
from typing import Any

from ccr.convert.common import is_generated_signature
from ccr.convert.request import BILLING_PREFIX
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register

#: Body fields ccr itself owns: an option replacing them would break the exchange.
RESERVED_OPTIONS = frozenset({"messages", "model", "stream"})

#: Anthropic ``output_config.effort`` -> OpenRouter ``reasoning.effort``.
_EFFORT = {"low": "low", "medium": "medium", "high": "high", "xhigh": "xhigh", "max": "xhigh"}

_CLAUDE_REASONING_FORMAT = "anthropic-claude-v1"


@register
class OpenRouter(Transformer):
    name = "openrouter"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        reserved = sorted(RESERVED_OPTIONS & self.options.keys())
        if reserved:
            raise ValueError(
                f"options may not set {', '.join(reserved)}: ccr sets these fields itself"
            )

    # --- request ------------------------------------------------------------------------------

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        messages = request.get("messages")
        if isinstance(messages, list):
            request["messages"] = messages = _without_empty(messages)
            if _is_claude(ctx.model):
                _restore_cache_control(messages, ctx.original)
                _hand_back_signatures(messages)
        reasoning = _reasoning(request.get("_thinking"), request.get("_effort"))
        if reasoning is not None:
            request["reasoning"] = reasoning
        request.update(copy.deepcopy(self.options))
        return request

    # --- response -----------------------------------------------------------------------------

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        for choice in response.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                _carry_signature(message)
                _rename_numeric_ids(message.get("tool_calls"), ctx)
        return response

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        choices = chunk.get("choices")
        if not choices or not isinstance(choices[0], dict):
            return [chunk]
        choice = choices[0]
        if choice.get("finish_reason") == "error" and not chunk.get("error"):
            chunk["error"] = choice.get("error") or {"message": "the provider failed mid-stream"}
            return [chunk]
        delta = choice.get("delta")
        if isinstance(delta, dict):
            _carry_signature(delta)
            _rename_numeric_ids(delta.get("tool_calls"), ctx)
        return [chunk]


# --- request helpers ----------------------------------------------------------------------------


def _is_claude(model: str) -> bool:
    return "claude" in model.lower()


def _without_empty(messages: list[Any]) -> list[Any]:
    """Drop user/assistant/system messages with nothing in them: Claude rejects empty content,
    and no model needs it."""
    kept = []
    for message in messages:
        if isinstance(message, dict) and message.get("role") != "tool":
            content = message.get("content")
            empty = content is None or (isinstance(content, str | list) and not content)
            if empty and not message.get("tool_calls"):
                continue
        kept.append(message)
    return kept


def _cache_mark(block: Any) -> dict[str, Any] | None:
    """The part of a ``cache_control`` OpenRouter passes on to Anthropic."""
    mark = block.get("cache_control") if isinstance(block, Mapping) else None
    if not isinstance(mark, Mapping) or not mark.get("type"):
        return None
    return {key: mark[key] for key in ("type", "ttl") if key in mark}


def _restore_cache_control(messages: list[Any], original: Mapping[str, Any]) -> None:
    _mark_system(messages, original.get("system"))
    _mark_last_turn(messages, original.get("messages"))


def _mark_system(messages: list[Any], system: Any) -> None:
    """Turn the system message into one text part per original block, keeping their marks."""
    if not isinstance(system, list) or not any(_cache_mark(b) for b in system):
        return
    if not messages or not isinstance(messages[0], dict) or messages[0].get("role") != "system":
        return
    parts = []
    for block in system:
        if not isinstance(block, Mapping) or block.get("type") != "text":
            continue
        text = block.get("text")
        if not isinstance(text, str) or not text or text.startswith(BILLING_PREFIX):
            continue
        part: dict[str, Any] = {"type": "text", "text": text}
        mark = _cache_mark(block)
        if mark:
            part["cache_control"] = mark
        parts.append(part)
    if "\n\n".join(p["text"] for p in parts) == messages[0].get("content"):
        messages[0] = {**messages[0], "content": parts}


def _mark_last_turn(messages: list[Any], original_messages: Any) -> None:
    """The client marked its last turn: mark the last part sent for it (a user or tool message)."""
    if not isinstance(original_messages, list) or not original_messages:
        return
    last = original_messages[-1]
    if not isinstance(last, Mapping) or last.get("role") != "user":
        return
    blocks = last.get("content")
    marks = [_cache_mark(b) for b in blocks] if isinstance(blocks, list) else []
    mark = next((m for m in reversed(marks) if m), None)
    if mark is None:
        return
    for i in range(len(messages) - 1, -1, -1):
        message = messages[i]
        if not isinstance(message, dict) or message.get("role") not in ("user", "tool"):
            break
        content = message.get("content")
        if isinstance(content, str) and content:
            messages[i] = {**message, "content": [
                {"type": "text", "text": content, "cache_control": mark}
            ]}
            return
        if isinstance(content, list):
            for j in range(len(content) - 1, -1, -1):
                part = content[j]
                if isinstance(part, dict) and part.get("type") == "text":
                    content = list(content)
                    content[j] = {**part, "cache_control": mark}
                    messages[i] = {**message, "content": content}
                    return


def _hand_back_signatures(messages: list[Any]) -> None:
    """Claude's signed thinking goes back as ``reasoning_details`` (ccr's own made-up
    signatures mean nothing to Claude and are not sent)."""
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") != "assistant":
            continue
        thought = message.get("thinking")
        if not isinstance(thought, Mapping):
            continue
        signature = thought.get("signature")
        if not signature or is_generated_signature(signature):
            continue
        detail = {
            "type": "reasoning.text",
            "text": thought.get("content") or "",
            "signature": signature,
            "format": _CLAUDE_REASONING_FORMAT,
            "index": 0,
        }
        messages[i] = {**message, "reasoning_details": [detail]}


def _reasoning(thinking: Any, effort: Any) -> dict[str, Any] | None:
    """OpenRouter's ``reasoning`` for the client's ``thinking`` (and ``output_config.effort``).

    Disabled thinking sends nothing: the model's default is no reasoning wherever it can be
    turned off, and OpenRouter rejects ``enabled: false`` for models whose reasoning is
    mandatory (Claude Code disables thinking in every subagent).
    """
    if not isinstance(thinking, Mapping) or thinking.get("type") not in ("enabled", "adaptive"):
        return None
    budget = thinking.get("budget_tokens")
    if thinking.get("type") == "enabled" and type(budget) is int and budget > 0:
        return {"max_tokens": budget}
    mapped = _EFFORT.get(str(effort).lower()) if effort is not None else None
    return {"effort": mapped} if mapped else {"enabled": True}


# --- response helpers ---------------------------------------------------------------------------


def _carry_signature(message: dict[str, Any]) -> None:
    """Put the signature of a message or delta's ``reasoning_details`` where the core reads it
    (``thinking.signature``); the reasoning text itself arrives as ``reasoning``."""
    signature = _signature(message.get("reasoning_details"))
    if signature:
        thinking = message.get("thinking")
        message["thinking"] = {**(thinking if isinstance(thinking, dict) else {}),
                               "signature": signature}


def _signature(details: Any) -> str | None:
    """The signature of Claude's thinking, from OpenRouter's ``reasoning_details``."""
    if not isinstance(details, list):
        return None
    for detail in details:
        if isinstance(detail, Mapping) and detail.get("type") == "reasoning.text":
            signature = detail.get("signature")
            if isinstance(signature, str) and signature:
                return signature
    return None


def _rename_numeric_ids(calls: Any, ctx: TransformContext) -> None:
    """Some providers behind OpenRouter number their tool calls ``"0"``, ``"1"``... in every
    answer; such ids repeat across turns, so each gets a unique one (stable within the answer)."""
    if not isinstance(calls, list):
        return
    renamed: dict[str, str] = ctx.state.setdefault("openrouter_ids", {})
    for call in calls:
        call_id = call.get("id") if isinstance(call, dict) else None
        if isinstance(call_id, str) and call_id.isdigit():
            if call_id not in renamed:
                renamed[call_id] = "call_" + secrets.token_hex(12)
            call["id"] = renamed[call_id]

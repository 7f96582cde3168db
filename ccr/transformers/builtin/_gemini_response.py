"""Gemini answers (``generateContent`` JSON, ``streamGenerateContent`` SSE chunks) -> unified
OpenAI-shaped completions and chunks.

- ``text`` parts become content, parts with ``thought: true`` reasoning, ``functionCall`` parts
  tool calls (Gemini's ``id``, or a generated one; ``args`` as a JSON string).
- The thought signature travels as the thinking block's signature (``thinking.signature``): in a
  whole answer the first call's (else the first one found); in a stream, a call's signature is
  sent just before the call, and any other signature only while nothing visible has been sent
  yet, so it lands on the leading thinking block. Gemini 3 validates only the signatures of
  calls; the one it puts on the last text part of a plain answer is optional and, in a stream,
  would need a thinking block after the text, so it is dropped there.
- ``finishReason``: calls end as ``tool_calls``, ``MAX_TOKENS`` is ``length``, the blocking
  reasons (``SAFETY``, ``RECITATION``, ``PROHIBITED_CONTENT``, ...) and a blocked prompt
  (``promptFeedback.blockReason``) are ``content_filter``, anything else is ``stop``.
- ``usageMetadata``: ``promptTokenCount`` is the prompt (cached tokens included, as in OpenAI's
  accounting), ``candidatesTokenCount`` + ``thoughtsTokenCount`` the completion,
  ``cachedContentTokenCount`` the cached prompt tokens.

Gemini streams end at EOF without ``[DONE]``; the last chunk carries ``finishReason`` and the
final ``usageMetadata``, which become the unified finish chunk.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccr.convert.common import new_tool_id

_BLOCKED = frozenset({
    "SAFETY", "RECITATION", "LANGUAGE", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII",
    "IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION",
})


@dataclass
class StreamState:
    """What one streamed answer has sent so far (kept in ``ctx.state``)."""

    calls: int = 0
    visible: bool = False


def finish_reason(reason: Any, *, has_calls: bool) -> str | None:
    """The unified ``finish_reason`` for a Gemini ``finishReason`` (None while unfinished)."""
    if not isinstance(reason, str) or not reason:
        return None
    if has_calls:
        return "tool_calls"
    if reason == "MAX_TOKENS":
        return "length"
    if reason in _BLOCKED:
        return "content_filter"
    return "stop"


def usage(metadata: Any) -> dict[str, Any] | None:
    """Unified ``usage`` from ``usageMetadata``; thinking tokens count as output."""
    if not isinstance(metadata, Mapping):
        return None
    prompt = _count(metadata.get("promptTokenCount"))
    output = _count(metadata.get("candidatesTokenCount")) + _count(
        metadata.get("thoughtsTokenCount"))
    result: dict[str, Any] = {"completion_tokens": output}
    if "promptTokenCount" in metadata:
        result["prompt_tokens"] = prompt
        result["total_tokens"] = prompt + output
    cached = metadata.get("cachedContentTokenCount")
    if isinstance(cached, int) and cached > 0:
        result["prompt_tokens_details"] = {"cached_tokens": cached}
    return result


def to_completion(response: Mapping[str, Any]) -> dict[str, Any]:
    """A whole Gemini answer as a unified ``chat.completion``; error bodies pass unchanged."""
    if response.get("error"):
        return dict(response)
    candidate = _candidate(response)
    reasoning: list[str] = []
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    call_signature = first_signature = None
    for part in _parts(candidate):
        signature = part.get("thoughtSignature") or None
        first_signature = first_signature or signature
        call = part.get("functionCall")
        if isinstance(call, Mapping):
            call_signature = call_signature or signature
            calls.append(_tool_call(call))
        elif isinstance(part.get("text"), str):
            (reasoning if part.get("thought") else texts).append(part["text"])
    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts)}
    thought = "".join(reasoning)
    if thought:
        message["reasoning_content"] = thought
    signature = call_signature or first_signature
    if signature:
        message["thinking"] = {"content": thought, "signature": signature}
    if calls:
        message["tool_calls"] = calls
    reason = finish_reason(_reason(response, candidate), has_calls=bool(calls)) or "stop"
    completion: dict[str, Any] = {
        "id": str(response.get("responseId") or ""),
        "object": "chat.completion",
        "model": str(response.get("modelVersion") or ""),
        "choices": [{"index": 0, "message": message, "finish_reason": reason}],
    }
    counted = usage(response.get("usageMetadata"))
    if counted:
        completion["usage"] = counted
    return completion


def to_chunks(chunk: Mapping[str, Any], state: StreamState) -> list[dict[str, Any]]:
    """One streamed Gemini chunk as unified chunks, one per part, in the parts' order, then
    the finish (with usage) if this chunk ends the answer."""
    if chunk.get("error"):
        return [dict(chunk)]
    candidate = _candidate(chunk)
    out = [
        _chunk(chunk, delta)
        for part in _parts(candidate)
        for delta in _deltas(part, state)
    ]
    reason = finish_reason(_reason(chunk, candidate), has_calls=state.calls > 0)
    if reason:
        out.append(_chunk(chunk, {}, reason))
    counted = usage(chunk.get("usageMetadata"))
    if counted:
        if out:
            out[-1]["usage"] = counted
        else:
            out.append({**_chunk(chunk, {}), "choices": [], "usage": counted})
    return out


def _deltas(part: Mapping[str, Any], state: StreamState) -> list[dict[str, Any]]:
    signature = part.get("thoughtSignature") or None
    call = part.get("functionCall")
    if isinstance(call, Mapping):
        deltas: list[dict[str, Any]] = []
        if signature:
            deltas.append({"thinking": {"signature": signature}})
        fragment = {"index": state.calls, **_tool_call(call)}
        deltas.append({"tool_calls": [fragment]})
        state.calls += 1
        state.visible = True
        return deltas
    text = part.get("text") if isinstance(part.get("text"), str) else ""
    carried = {"thinking": {"signature": signature}} if signature and not state.visible else {}
    if part.get("thought"):
        delta = {**carried, "reasoning_content": text} if text else carried
        return [delta] if delta else []
    deltas = [carried] if carried else []
    if text:
        deltas.append({"content": text})
        state.visible = state.visible or not text.isspace()
    return deltas


def _tool_call(call: Mapping[str, Any]) -> dict[str, Any]:
    args = call.get("args")
    return {
        "id": str(call.get("id") or new_tool_id()),
        "type": "function",
        "function": {
            "name": str(call.get("name") or ""),
            "arguments": json.dumps(args if isinstance(args, Mapping) else {},
                                    ensure_ascii=False),
        },
    }


def _chunk(source: Mapping[str, Any], delta: dict[str, Any],
           reason: str | None = None) -> dict[str, Any]:
    return {
        "id": str(source.get("responseId") or ""),
        "object": "chat.completion.chunk",
        "model": str(source.get("modelVersion") or ""),
        "choices": [{"index": 0, "delta": delta, "finish_reason": reason}],
    }


def _candidate(response: Mapping[str, Any]) -> Mapping[str, Any]:
    candidates = response.get("candidates")
    if isinstance(candidates, list) and candidates and isinstance(candidates[0], Mapping):
        return candidates[0]
    return {}


def _parts(candidate: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = candidate.get("content")
    parts = content.get("parts") if isinstance(content, Mapping) else None
    return [p for p in parts if isinstance(p, Mapping)] if isinstance(parts, list) else []


def _reason(response: Mapping[str, Any], candidate: Mapping[str, Any]) -> str | None:
    reason = candidate.get("finishReason")
    if isinstance(reason, str) and reason:
        return reason
    feedback = response.get("promptFeedback")
    if isinstance(feedback, Mapping) and feedback.get("blockReason"):
        return "SAFETY"  # the prompt itself was blocked: there is no candidate
    return None


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

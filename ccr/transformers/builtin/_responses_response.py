"""OpenAI Responses API answers (a ``response`` object, or its stream of typed events) ->
unified OpenAI-shaped completions and chunks.

- ``reasoning`` items: their summary (or, from open-weight servers, ``reasoning_text``) is the
  reasoning text; the items themselves (id, ``encrypted_content``, and which item followed each)
  travel in the thinking signature (:func:`._responses_request.encode_reasoning`), so the next
  turn hands them back. In a stream the signature goes out just before the item that follows the
  reasoning, when that is known, so it lands on the thinking block it belongs to.
- ``message`` items: ``output_text`` and ``refusal`` parts are the text.
- ``function_call`` items are tool calls (``call_id`` is the id, keyed by ``output_index``).
- ``status``: ``incomplete`` for ``max_output_tokens`` is ``length``, for ``content_filter`` is
  ``content_filter``; a finished answer with calls is ``tool_calls``, else ``stop``; ``failed``
  (and a stream's ``error`` event) is an upstream error.
- ``usage``: ``input_tokens`` (cached ones included) and ``output_tokens`` (reasoning included),
  ``input_tokens_details.cached_tokens`` as the cached prompt tokens.

Streams end with ``response.completed`` (or ``incomplete``/``failed``) and EOF, without ``[DONE]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ccr.transformers.builtin._responses_request import encode_reasoning


def usage(raw: Any) -> dict[str, Any] | None:
    if not isinstance(raw, dict):
        return None
    prompt = _int(raw.get("input_tokens"))
    completion = _int(raw.get("output_tokens"))
    out: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                           "total_tokens": prompt + completion}
    details = raw.get("input_tokens_details")
    if isinstance(details, dict) and _int(details.get("cached_tokens")):
        out["prompt_tokens_details"] = {"cached_tokens": _int(details["cached_tokens"])}
    return out


def finish_reason(response: dict[str, Any], *, has_calls: bool) -> str:
    if response.get("status") == "incomplete":
        details = response.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        return "content_filter" if reason == "content_filter" else "length"
    return "tool_calls" if has_calls else "stop"


def failure(response: dict[str, Any]) -> dict[str, Any]:
    """The unified error body for a failed response."""
    error = response.get("error")
    if not isinstance(error, dict):
        error = {"message": "the response failed"}
    code = error.get("code")
    status = 429 if code == "rate_limit_exceeded" else 500
    return {"error": {"message": str(error.get("message") or code or "the response failed"),
                      "code": status}}


# --- whole answers ----------------------------------------------------------------------------


def to_completion(response: dict[str, Any]) -> dict[str, Any]:
    """A whole ``response`` object as a unified ``chat.completion``; errors pass as errors."""
    if response.get("error") and response.get("object") != "response":
        return response
    if response.get("status") == "failed":
        return failure(response)
    raw_output = response.get("output")
    output: list[Any] = raw_output if isinstance(raw_output, list) else []
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    reasoning_items: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []  # reasoning items waiting for what follows them
    for item in output:
        if not isinstance(item, dict):
            continue
        kind = item.get("type")
        if kind == "reasoning":
            thought = _reasoning_text(item)
            if thought:
                thoughts.append(thought)
            if isinstance(item.get("encrypted_content"), str):
                record = {"id": item.get("id"), "encrypted_content": item["encrypted_content"],
                          "before": None}
                reasoning_items.append(record)
                pending.append(record)
            continue
        if kind == "message":
            texts.append(_message_text(item))
            follows: str | None = "message"
        elif kind == "function_call":
            call_id = str(item.get("call_id") or item.get("id") or "")
            calls.append({"id": call_id, "type": "function",
                          "function": {"name": str(item.get("name") or ""),
                                       "arguments": str(item.get("arguments") or "")}})
            follows = call_id
        else:
            continue
        for record in pending:
            record["before"] = follows
        pending = []

    message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if calls:
        message["tool_calls"] = calls
    if thoughts or reasoning_items:
        message["thinking"] = {"content": "\n\n".join(thoughts)}
        if reasoning_items:
            message["thinking"]["signature"] = encode_reasoning(reasoning_items)
    return {
        "id": response.get("id") or "",
        "object": "chat.completion",
        "model": response.get("model") or "",
        "choices": [{"index": 0, "message": message,
                     "finish_reason": finish_reason(response, has_calls=bool(calls))}],
        "usage": usage(response.get("usage")),
    }


def _reasoning_text(item: dict[str, Any]) -> str:
    parts = item.get("summary") or item.get("content") or []
    return "\n\n".join(part["text"] for part in parts if isinstance(part, dict)
                       and isinstance(part.get("text"), str) and part["text"])


def _message_text(item: dict[str, Any]) -> str:
    out = []
    for part in item.get("content") or ():
        if isinstance(part, dict):
            if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                out.append(part["text"])
            elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                out.append(part["refusal"])
    return "".join(out)


# --- streams ----------------------------------------------------------------------------------


@dataclass
class StreamState:
    """What one streamed answer has seen (kept in ``ctx.state``)."""

    reasoning_items: list[dict[str, Any]] = field(default_factory=list)
    pending: list[dict[str, Any]] = field(default_factory=list)
    #: output_index -> True once argument deltas were sent for that call
    streamed_arguments: dict[int, bool] = field(default_factory=dict)
    calls: int = 0
    summary_parts: int = 0


def _chunk(delta: dict[str, Any], finish: str | None = None,
           usage_: dict[str, Any] | None = None) -> dict[str, Any]:
    chunk: dict[str, Any] = {"object": "chat.completion.chunk",
                             "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}
    if usage_ is not None:
        chunk["usage"] = usage_
    return chunk


def to_chunks(event: dict[str, Any], state: StreamState) -> list[dict[str, Any]]:
    """Unified chunks for one streamed event (most events carry nothing the client needs)."""
    kind = event.get("type")
    if kind in ("response.output_text.delta", "response.refusal.delta"):
        delta = event.get("delta")
        return [_chunk({"content": delta})] if isinstance(delta, str) and delta else []
    if kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
        delta = event.get("delta")
        return [_chunk({"reasoning_content": delta})] if isinstance(delta, str) and delta else []
    if kind == "response.reasoning_summary_part.added":
        state.summary_parts += 1
        if state.summary_parts > 1:
            return [_chunk({"reasoning_content": "\n\n"})]
        return []
    if kind == "response.output_item.added":
        return _item_added(event, state)
    if kind == "response.function_call_arguments.delta":
        index = _int(event.get("output_index"))
        delta = event.get("delta")
        if not isinstance(delta, str) or not delta:
            return []
        state.streamed_arguments[index] = True
        return [_chunk({"tool_calls": [{"index": index, "function": {"arguments": delta}}]})]
    if kind == "response.output_item.done":
        return _item_done(event, state)
    if kind in ("response.completed", "response.incomplete"):
        response = _object(event.get("response"))
        out = _signature(state, None)
        out.append(_chunk({}, finish_reason(response, has_calls=state.calls > 0),
                          usage(response.get("usage")) or {}))
        return out
    if kind == "response.failed":
        response = _object(event.get("response"))
        return [failure(response)]
    if kind == "error":
        message = event.get("message") or (event.get("error") or {}).get("message")
        return [{"error": {"message": str(message or "the response failed"),
                           "code": event.get("code") if isinstance(event.get("code"), int)
                           else 500}}]
    return []


def _item_added(event: dict[str, Any], state: StreamState) -> list[dict[str, Any]]:
    item = event.get("item")
    if not isinstance(item, dict):
        return []
    kind = item.get("type")
    if kind == "reasoning":
        state.summary_parts = 0
        return []
    if kind == "message":
        return _signature(state, "message")
    if kind != "function_call":
        return []
    call_id = str(item.get("call_id") or item.get("id") or "")
    out = _signature(state, call_id)
    state.calls += 1
    index = _int(event.get("output_index"))
    arguments = item.get("arguments")
    function = {"name": str(item.get("name") or ""), "arguments": ""}
    if isinstance(arguments, str) and arguments:
        function["arguments"] = arguments
        state.streamed_arguments[index] = True
    fragment = {"index": index, "id": call_id, "type": "function", "function": function}
    out.append(_chunk({"tool_calls": [fragment]}))
    return out


def _item_done(event: dict[str, Any], state: StreamState) -> list[dict[str, Any]]:
    item = event.get("item")
    if not isinstance(item, dict):
        return []
    if item.get("type") == "reasoning":
        if isinstance(item.get("encrypted_content"), str):
            record = {"id": item.get("id"), "encrypted_content": item["encrypted_content"],
                      "before": None}
            state.reasoning_items.append(record)
            state.pending.append(record)
        return []
    if item.get("type") == "function_call":
        index = _int(event.get("output_index"))
        arguments = item.get("arguments")
        if not state.streamed_arguments.get(index) and isinstance(arguments, str) and arguments:
            state.streamed_arguments[index] = True
            return [_chunk({"tool_calls": [{"index": index,
                                            "function": {"arguments": arguments}}]})]
    return []


def _signature(state: StreamState, follows: str | None) -> list[dict[str, Any]]:
    """The thinking signature for reasoning items not yet sent, now that what follows them is
    known; it holds every item so far, so the turn's last signature carries them all."""
    if not state.pending:
        return []
    for record in state.pending:
        record["before"] = follows
    state.pending = []
    return [_chunk({"thinking": {"signature": encode_reasoning(state.reasoning_items)}})]


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

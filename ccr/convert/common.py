"""What the JSON and the streaming response converters share: ids, stop reasons, usage, arguments.

Keeping these in one place guarantees that a streamed and a non-streamed answer from the same
upstream reach the client with the same stop reason, usage and tool input.
"""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

from ccr.errors import ApiError

#: Prefix (before base64) of the thinking signatures ccr makes up when the upstream sent none;
#: 9 bytes, a whole number of base64 groups, so the encoded prefix is fixed.
_SIGNATURE_MAGIC = b"ccr-sign:"
_SIGNATURE_PREFIX = base64.b64encode(_SIGNATURE_MAGIC).decode()

_FINISH_TO_STOP: dict[str, str] = {
    "stop": "end_turn",
    "eos": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
    # Already Anthropic (a transformer may have translated them):
    "end_turn": "end_turn",
    "max_tokens": "max_tokens",
    "tool_use": "tool_use",
    "stop_sequence": "stop_sequence",
    "refusal": "refusal",
}


def new_message_id() -> str:
    return "msg_" + secrets.token_hex(12)


def new_tool_id() -> str:
    return "toolu_" + secrets.token_hex(12)


def new_signature() -> str:
    """An opaque base64 signature for a thinking block whose upstream sent none.

    Claude Code stores thinking blocks with their signature and sends them back; the value only
    has to look like one. :func:`is_generated_signature` tells these apart from real ones.
    """
    return base64.b64encode(_SIGNATURE_MAGIC + secrets.token_bytes(24)).decode()


def is_generated_signature(signature: str | None) -> bool:
    """True for a signature made by :func:`new_signature` (not worth sending to any upstream)."""
    return signature is not None and signature.startswith(_SIGNATURE_PREFIX)


def matched_stop(choice: dict[str, Any], stop_sequences: list[str] | None) -> str | None:
    """The stop sequence the upstream says it stopped on, if it says so.

    OpenAI does not report it; SGLang sends ``matched_stop``, vLLM a string ``stop_reason``.
    A token id (int) or a string that is not one of the request's stop sequences is ignored;
    without the request's list (None) only the unambiguous ``matched_stop``/``stop_sequence`` count.
    """
    for key in ("matched_stop", "stop_sequence", "stop_reason"):
        value = choice.get(key)
        if not isinstance(value, str) or not value:
            continue
        if stop_sequences is None:
            if key != "stop_reason":
                return value
        elif value in stop_sequences:
            return value
    return None


def stop_reason_for(
    finish_reason: str | None, *, has_tool_use: bool, stop_sequence: str | None
) -> str:
    """Anthropic ``stop_reason`` for an OpenAI ``finish_reason``.

    Tool calls decide alone: Claude Code only runs tools when the reason is ``tool_use``. A
    ``tool_calls`` finish without any tool call is an ordinary end of turn.
    """
    if has_tool_use:
        return "tool_use"
    if stop_sequence is not None and finish_reason in (None, "stop", "stop_sequence"):
        return "stop_sequence"
    reason = _FINISH_TO_STOP.get(finish_reason or "stop", "end_turn")
    if reason in ("tool_use", "stop_sequence"):
        return "end_turn"
    return reason


def anthropic_usage(usage: dict[str, Any] | None, input_estimate: int | None) -> dict[str, int]:
    """Anthropic usage from OpenAI usage; the estimate stands in for a missing prompt count.

    Cached prompt tokens (OpenAI ``prompt_tokens_details.cached_tokens``, DeepSeek
    ``prompt_cache_hit_tokens``) become ``cache_read_input_tokens`` and leave ``input_tokens``,
    as in Anthropic's accounting where the three input counts add up to the prompt.
    """
    if not usage:
        return {"input_tokens": input_estimate or 0, "output_tokens": 0}
    prompt = usage.get("prompt_tokens")
    completion = usage.get("completion_tokens")
    cached = None
    details = usage.get("prompt_tokens_details")
    if isinstance(details, dict) and isinstance(details.get("cached_tokens"), int):
        cached = details["cached_tokens"]
    elif isinstance(usage.get("prompt_cache_hit_tokens"), int):
        cached = usage["prompt_cache_hit_tokens"]
    if isinstance(prompt, int):
        input_tokens = max(prompt - (cached or 0), 0)
    else:
        input_tokens = input_estimate or 0
        cached = None  # a cache count without the prompt it belongs to is meaningless
    result = {
        "input_tokens": input_tokens,
        "output_tokens": completion if isinstance(completion, int) else 0,
    }
    if cached is not None:
        result["cache_read_input_tokens"] = cached
    return result


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Tool input from OpenAI ``function.arguments``.

    Empty arguments mean a call without parameters (``{}``). Malformed JSON is repaired with
    ``json_repair``; if even that yields no object, the raw text is kept as ``{"input": text}``
    so the model sees its own mistake in the tool error instead of a silently emptied call.
    """
    if isinstance(arguments, dict):
        return arguments
    if arguments is None:
        return {}
    text = str(arguments)
    if not text.strip():
        return {}
    try:
        value = json.loads(text)
    except ValueError:
        from json_repair import repair_json  # only for broken JSON; its import costs ~5 ms

        value = repair_json(text, return_objects=True)
    if isinstance(value, dict):
        return value
    return {"input": text}


def raise_upstream_error(body: dict[str, Any]) -> None:
    """Raise :class:`ApiError` for an ``{"error": ...}`` body (sent with 200 or mid-stream)."""
    error = body.get("error")
    status = 500
    if isinstance(error, dict):
        message = error.get("message") or json.dumps(error, ensure_ascii=False)
        code = error.get("code")
        if isinstance(code, int) and 400 <= code <= 599:
            status = code
        elif isinstance(code, str) and code.isdigit() and 400 <= int(code) <= 599:
            status = int(code)
    else:
        message = str(error)
    raise ApiError(f"upstream error: {message}", status)

"""``vercel``: Vercel's AI Gateway (OpenAI-compatible ``/v1/chat/completions``), as CCR's
``vercel`` transformer.

Out: ``cache_control`` marks are removed unless the model is a Claude model (the gateway passes
them to Anthropic only); the transformer's options are merged into the body, as CCR does (for
the gateway's ``providerOptions`` and the like).

Back: the gateway numbers some providers' tool calls ``"0"``, ``"1"``, ... which collide across
turns, so such ids are replaced by fresh ones (the same call keeps the same new id); a choice
that finishes with ``"error"`` is an upstream error; and a stream whose last chunk carries usage
but no finish reason is given one (``tool_calls`` after calls, else ``stop``), as CCR does.
"""

from __future__ import annotations

import secrets
from typing import Any

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin.cleancache import strip_cache_control
from ccr.transformers.registry import register

_STATE_KEY = "vercel"


@register
class Vercel(Transformer):
    name = "vercel"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        if "claude" not in ctx.model.lower():
            strip_cache_control(request)
        request.update(self.options)
        return request

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        choice = _choice(response)
        if choice is None:
            return response
        if choice.get("finish_reason") == "error":
            return {"error": choice.get("error") or {"message": "the gateway reported an error"}}
        message = choice.get("message")
        if isinstance(message, dict):
            ids: dict[str, str] = {}
            for call in message.get("tool_calls") or ():
                if isinstance(call, dict):
                    _renumber(call, ids)
        return response

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        state = ctx.state.setdefault(_STATE_KEY, {"ids": {}, "calls": False})
        choice = _choice(chunk)
        if choice is not None:
            if choice.get("finish_reason") == "error":
                return [{"error": choice.get("error")
                         or {"message": "the gateway reported an error"}}]
            delta = choice.get("delta")
            calls = delta.get("tool_calls") if isinstance(delta, dict) else None
            if isinstance(calls, list) and calls:
                state["calls"] = True
                for call in calls:
                    if isinstance(call, dict):
                        _renumber(call, state["ids"])
            if isinstance(chunk.get("usage"), dict) and not choice.get("finish_reason"):
                choice["finish_reason"] = "tool_calls" if state["calls"] else "stop"
        return [chunk]


def _choice(body: dict[str, Any]) -> dict[str, Any] | None:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def _renumber(call: dict[str, Any], ids: dict[str, str]) -> None:
    """Replace a purely numeric call id, consistently within one answer."""
    call_id = call.get("id")
    if isinstance(call_id, int) and not isinstance(call_id, bool):
        call_id = str(call_id)
    if isinstance(call_id, str) and call_id.strip().isdigit():
        if call_id not in ids:
            ids[call_id] = "call_" + secrets.token_hex(12)
        call["id"] = ids[call_id]

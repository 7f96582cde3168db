"""``enhancetool``: repair malformed tool-call arguments before the client sees them.

Streamed arguments reach Claude Code byte for byte, so one stray quote or a truncated object makes
the whole tool call fail to parse. This transformer holds back each call's argument fragments,
lets its header (id and name) through at once, and when the upstream finishes (the
``finish_reason`` chunk, or the end of the stream) sends every call's arguments as one fragment:
unchanged when they are a valid JSON object, otherwise repaired with ``json_repair``. Like the
core converter (:func:`ccr.convert.common.parse_arguments`), text that cannot be made into an
object is kept as ``{"input": "<raw text>"}`` so the model sees its own mistake in the tool error,
never an emptied ``{}`` call. Non-streamed answers get the same repair in place.
"""

from __future__ import annotations

import json
from typing import Any

from json_repair import repair_json

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._calls import find_call
from ccr.transformers.registry import register


def repair_arguments(arguments: str | None) -> str:
    """Tool-call ``arguments`` as a JSON object text; a valid object comes back unchanged."""
    text = arguments or ""
    if not text.strip():
        return "{}"
    value = _loads(text)
    if isinstance(value, dict):
        return text
    if isinstance(value, str):  # an object encoded twice: '"{\\"a\\": 1}"'
        inner = _loads(value)
        if isinstance(inner, dict):
            return json.dumps(inner, ensure_ascii=False)
    value = _lenient(text)
    if isinstance(value, dict) and (value or _only_braces(text)):
        return json.dumps(value, ensure_ascii=False)
    return json.dumps({"input": text}, ensure_ascii=False)


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _lenient(text: str) -> Any:
    """Raw newlines and tabs inside strings are the commonest slip and ``strict=False`` keeps
    them exactly; everything else goes to ``json_repair``."""
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return repair_json(text, return_objects=True)


def _only_braces(text: str) -> bool:
    return not text.strip().strip("{}").strip()


class _Call:
    """One streamed call whose arguments are held back."""

    __slots__ = ("id", "index", "parts")

    def __init__(self, index: int | None, call_id: str | None) -> None:
        self.index = index
        self.id = call_id
        self.parts: list[str] = []

    def fragment(self) -> dict[str, Any]:
        """The single fragment carrying this call's (repaired) arguments."""
        out: dict[str, Any] = {}
        if self.index is not None:
            out["index"] = self.index
        if self.id:
            out["id"] = self.id
        out["function"] = {"arguments": repair_arguments("".join(self.parts))}
        return out


@register
class EnhanceTool(Transformer):
    name = "enhancetool"

    # --- non-streamed ---------------------------------------------------------------------------

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        for choice in response.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            calls = message.get("tool_calls") if isinstance(message, dict) else None
            for call in calls if isinstance(calls, list) else ():
                function = call.get("function") if isinstance(call, dict) else None
                if isinstance(function, dict) and not isinstance(function.get("arguments"), dict):
                    function["arguments"] = repair_arguments(function.get("arguments"))
        return response

    # --- streamed -------------------------------------------------------------------------------

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        choices = chunk.get("choices")
        if not choices or not isinstance(choices[0], dict):
            return [chunk]
        choice = choices[0]
        delta = choice.get("delta")
        fragments = delta.get("tool_calls") if isinstance(delta, dict) else None
        calls: list[_Call] = ctx.state.setdefault(self._key, [])
        if isinstance(delta, dict) and isinstance(fragments, list) and fragments:
            headers = [h for f in fragments if (h := _hold(f, calls)) is not None]
            delta = {k: v for k, v in delta.items() if k != "tool_calls"}
            if headers:
                delta["tool_calls"] = headers
            choice = {**choice, "delta": delta}
        if choice.get("finish_reason") and calls:
            delta = dict(choice.get("delta") or {})
            delta["tool_calls"] = [*delta.get("tool_calls", ()), *_flush(calls)]
            choice = {**choice, "delta": delta}
        if choice is choices[0]:
            return [chunk]
        return [{**chunk, "choices": [choice, *choices[1:]]}]

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        calls: list[_Call] = ctx.state.get(self._key) or []
        if not calls:
            return []
        delta = {"tool_calls": _flush(calls)}
        return [{"object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}]

    @property
    def _key(self) -> str:
        """This instance's slot in ``ctx.state`` (a chain may hold the transformer twice)."""
        return f"enhancetool@{id(self):x}"


def _hold(fragment: Any, calls: list[_Call]) -> dict[str, Any] | None:
    """Buffer the fragment's arguments; return what may go on now (id, name), if anything."""
    if not isinstance(fragment, dict):
        return fragment
    function = fragment.get("function")
    if not isinstance(function, dict):
        function = {}
    index = fragment.get("index")
    call_id = fragment.get("id") or None
    call = find_call(calls, index, call_id, function.get("name") or None)
    if call is None:
        call = _Call(index if isinstance(index, int) else None, call_id)
        calls.append(call)
    elif call_id and not call.id:
        call.id = call_id
    arguments = function.get("arguments")
    if arguments:
        call.parts.append(arguments if isinstance(arguments, str)
                          else json.dumps(arguments, ensure_ascii=False))
    if not call_id and not function.get("name"):
        return None  # nothing but arguments: held back entirely
    if "arguments" in function:
        return {**fragment, "function": {**function, "arguments": ""}}
    return fragment


def _flush(calls: list[_Call]) -> list[dict[str, Any]]:
    out = [call.fragment() for call in calls]
    calls.clear()
    return out

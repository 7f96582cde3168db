"""The unified request -> an OpenAI Responses API request (``POST /v1/responses``).

- The leading system message is ``instructions``; a later one is a ``developer`` message in place.
- User turns are ``input_text``/``input_image`` parts (a plain string when only text); assistant
  text is a string message; tool calls are ``function_call`` items and tool results
  ``function_call_output`` items, in the conversation's order.
- Reasoning carried across turns: the thinking signature ccr gave an earlier answer holds that
  answer's reasoning items (id and ``encrypted_content``, see :func:`encode_reasoning`), and each
  is put back just before the item that followed it, as the API requires. Signatures that are not
  ccr's (another provider's) are not sent.
- ``max_tokens`` is ``max_output_tokens`` (at least 16, the API's minimum); ``temperature``,
  ``top_p`` and ``stop`` are not sent (the Responses models reject sampling settings and the API
  has no stop sequences); ``stream_options`` has no place here either.
- Function tools are sent with ``strict: false`` (the API's default, strict, would reject most
  Claude Code schemas); ``tool_choice`` for one function is ``{"type": "function", "name"}``.
- ``store: false``: ccr keeps nothing at OpenAI; reasoning travels in the conversation instead.
  When the client asks for thinking (or option ``reasoning`` is true), ``reasoning`` asks for a
  summary and an effort, and ``include`` asks for the encrypted reasoning to carry it forward.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping
from typing import Any

#: The API rejects a smaller ``max_output_tokens``.
MIN_OUTPUT_TOKENS = 16
_SIGNATURE_KEY = "oai_reasoning"
_EFFORTS = {"low": "low", "medium": "medium", "high": "high", "max": "high", "xhigh": "high",
            "minimal": "minimal"}


# --- the reasoning carried in thinking signatures ---------------------------------------------


def encode_reasoning(items: list[dict[str, Any]]) -> str:
    """A thinking signature holding reasoning items: ``[{"id", "encrypted_content",
    "before"}]`` where ``before`` is the ``call_id`` of the function call that followed the item,
    ``"message"`` for the answer text, or None."""
    raw = json.dumps({_SIGNATURE_KEY: items}, separators=(",", ":")).encode()
    return base64.b64encode(raw).decode()


def decode_reasoning(signature: Any) -> list[dict[str, Any]]:
    """The reasoning items in a signature made by :func:`encode_reasoning`, else ``[]``."""
    if not isinstance(signature, str) or not signature:
        return []
    try:
        value = json.loads(base64.b64decode(signature, validate=True))
    except (binascii.Error, ValueError):
        return []
    items = value.get(_SIGNATURE_KEY) if isinstance(value, dict) else None
    if not isinstance(items, list):
        return []
    return [item for item in items if isinstance(item, dict)
            and isinstance(item.get("encrypted_content"), str)]


# --- the request ------------------------------------------------------------------------------


def build_body(request: Mapping[str, Any], *, model: str, stream: bool,
               reasoning_option: bool | None) -> dict[str, Any]:
    body: dict[str, Any] = {"model": model}
    instructions, items = _input(request.get("messages") or [])
    if instructions:
        body["instructions"] = instructions
    body["input"] = items
    max_tokens = request.get("max_completion_tokens") or request.get("max_tokens")
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool):
        body["max_output_tokens"] = max(max_tokens, MIN_OUTPUT_TOKENS)
    tools = _tools(request.get("tools"))
    if tools:
        body["tools"] = tools
        choice = _tool_choice(request.get("tool_choice"))
        if choice is not None:
            body["tool_choice"] = choice
        if isinstance(request.get("parallel_tool_calls"), bool):
            body["parallel_tool_calls"] = request["parallel_tool_calls"]
    reasoning = _reasoning(request, reasoning_option)
    if reasoning is not None:
        body["reasoning"] = reasoning
        body["include"] = ["reasoning.encrypted_content"]
    body["store"] = False
    body["stream"] = stream
    return body


def _reasoning(request: Mapping[str, Any], option: bool | None) -> dict[str, Any] | None:
    if option is False:
        return None
    thinking = request.get("_thinking")
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    effort = _EFFORTS.get(str(request.get("_effort") or ""))
    asked = kind in ("enabled", "adaptive") or effort is not None
    if not asked and option is not True:
        return None
    if effort is None and kind == "enabled" and isinstance(thinking, Mapping):
        budget = thinking.get("budget_tokens")
        if isinstance(budget, int):
            effort = "low" if budget < 4096 else "medium" if budget < 16384 else "high"
    reasoning: dict[str, Any] = {"summary": "auto"}
    if effort is not None:
        reasoning["effort"] = effort
    return reasoning


def _input(messages: list[Any]) -> tuple[str, list[dict[str, Any]]]:
    instructions = ""
    items: list[dict[str, Any]] = []
    for position, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        content = message.get("content")
        if role == "system":
            text = _text(content)
            if position == 0:
                instructions = text
            elif text:
                items.append({"role": "developer", "content": text})
        elif role == "user":
            parts = _user_content(content)
            if parts:
                items.append({"role": "user", "content": parts})
        elif role == "assistant":
            items.extend(_assistant(message))
        elif role == "tool":
            items.append({"type": "function_call_output",
                          "call_id": str(message.get("tool_call_id") or ""),
                          "output": _text(content)})
    return instructions, items


def _assistant(message: dict[str, Any]) -> list[dict[str, Any]]:
    thinking = message.get("thinking")
    reasoning = decode_reasoning(thinking.get("signature")) if isinstance(thinking, dict) else []
    placed: dict[str, list[dict[str, Any]]] = {}
    for item in reasoning:
        out = {"type": "reasoning", "summary": [],
               "encrypted_content": item["encrypted_content"]}
        if isinstance(item.get("id"), str):
            out["id"] = item["id"]
        placed.setdefault(str(item.get("before") or ""), []).append(out)

    items: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    calls = [c for c in message.get("tool_calls") or () if isinstance(c, dict)]
    leftovers = [key for key in placed if key != "message"
                 and key not in {str(c.get("id")) for c in calls}]
    for key in leftovers:  # what followed them is not in this turn: they lead it
        items.extend(placed.pop(key))
    if text:
        items.extend(placed.pop("message", []))
        items.append({"role": "assistant", "content": text})
    for call in calls:
        raw = call.get("function")
        function: dict[str, Any] = raw if isinstance(raw, dict) else {}
        call_id = str(call.get("id") or "")
        items.extend(placed.pop(call_id, []))
        items.append({"type": "function_call", "call_id": call_id,
                      "name": str(function.get("name") or ""),
                      "arguments": _arguments(function.get("arguments"))})
    for rest in placed.values():  # reasoning before text the turn no longer has
        items[:0] = rest
    return items


def _arguments(arguments: Any) -> str:
    if isinstance(arguments, str):
        return arguments or "{}"
    return json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)


def _user_content(content: Any) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, dict):
            continue
        if part.get("type") == "text" and part.get("text"):
            parts.append({"type": "input_text", "text": part["text"]})
        elif part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                parts.append({"type": "input_image", "image_url": url, "detail": "auto"})
    if parts and all(p["type"] == "input_text" for p in parts):
        return "\n\n".join(p["text"] for p in parts)
    return parts


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n\n".join(part["text"] for part in content if isinstance(part, dict)
                           and isinstance(part.get("text"), str) and part["text"])
    return ""


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        item: dict[str, Any] = {"type": "function", "name": function["name"]}
        if function.get("description"):
            item["description"] = function["description"]
        item["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
        item["strict"] = False
        out.append(item)
    return out


def _tool_choice(choice: Any) -> Any:
    if choice in ("auto", "required", "none"):
        return choice
    if isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            return {"type": "function", "name": function["name"]}
    return None

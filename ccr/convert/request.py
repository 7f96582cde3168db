"""Anthropic Messages request -> the unified request (OpenAI Chat Completions plus extensions).

Transformers work on the unified request; :func:`strip_extensions` removes the extensions before a
plain OpenAI-compatible upstream sees it. The extensions are:

- top-level keys starting with ``_`` (present only when the request had the field):
  ``_thinking`` is the request's Anthropic ``thinking`` object as sent (``{"type": "enabled",
  "budget_tokens": N}``, ``{"type": "adaptive"}``, ``{"type": "disabled"}``), ``_effort`` is
  ``output_config.effort`` (``"low"`` ... ``"max"``);
- assistant message key ``thinking``: ``{"content": str, "signature": str}``, the thinking blocks
  of that turn (texts joined, last signature), for upstreams that want reasoning sent back.

Choices made where OpenAI has no equivalent, so that nothing the model needs is lost:

- ``tool_result`` blocks become ``role: "tool"`` messages placed right after the assistant message
  holding the matching ``tool_calls`` (OpenAI requires them there); the rest of that user turn
  follows as one user message. A result whose call is not in the latest assistant turn becomes
  user text, since a tool message without its call is rejected by OpenAI servers.
- Tool messages carry text only (many servers accept nothing else): images in a tool result go
  into the user message that follows the tool messages, introduced by a line naming the call, and
  the tool message says they are there. ``is_error`` results start with ``"Error: "``.
- Text blocks of one message are joined with a blank line; user turns with images become
  content-part lists.
- No message goes out with empty content unless it carries tool calls (Gemini, Mistral and
  Claude reject empty text): a user or assistant turn with nothing to send (say, one that only
  thought) is left out, and an empty tool result, which must still answer its call, says
  :data:`EMPTY_TEXT`.
- Server tools (``web_search_20250305``, ``bash_20250124``, ...) are dropped: only custom tools
  are functions. ``thinking``/``redacted_thinking`` signatures, ``cache_control``, ``metadata``,
  ``context_management`` and ``top_k`` have no OpenAI meaning and are not sent.
- The ``x-anthropic-billing-header:`` text Claude Code puts in the system prompt is bookkeeping,
  not model input, and is dropped wherever a system prompt appears.

Speed and sharing: this runs on every turn over ~80 KB bodies, so nothing is deep-copied. The
input body is never mutated, but the output shares some objects with it by reference (each
tool's ``input_schema`` as ``parameters``). Code that changes those must copy them first.
"""

from __future__ import annotations

import json
from typing import Any

from ccr.convert.schema import check_messages_request
from ccr.errors import InvalidRequest

BILLING_PREFIX = "x-anthropic-billing-header:"

#: The content of a tool message whose result is empty (see the module docstring).
EMPTY_TEXT = "(empty)"

_TOOL_CHOICE_STRINGS = {"auto": "auto", "any": "required", "none": "none"}


def anthropic_to_openai(body: dict[str, Any], model: str) -> dict[str, Any]:
    """The unified request for upstream model ``model`` (see the module docstring for the rules).

    A body of the wrong shape is an :class:`InvalidRequest` naming the field (the server checks
    before routing; this covers every other caller without a second walk on the happy path).
    """
    try:
        return _convert(body, model)
    except (TypeError, AttributeError, KeyError):
        check_messages_request(body)
        raise


def _convert(body: dict[str, Any], model: str) -> dict[str, Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        raise InvalidRequest("messages: must be a list")

    out: dict[str, Any] = {"model": model, "messages": _messages(body.get("system"), messages)}
    if body.get("max_tokens") is not None:
        out["max_tokens"] = body["max_tokens"]
    for key in ("temperature", "top_p"):
        if body.get(key) is not None:
            out[key] = body[key]
    if body.get("stop_sequences"):
        out["stop"] = body["stop_sequences"]
    if "stream" in body:
        out["stream"] = bool(body["stream"])
        if out["stream"]:
            out["stream_options"] = {"include_usage": True}

    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        _tool_choice(body.get("tool_choice"), tools, out)

    if body.get("thinking") is not None:
        out["_thinking"] = body["thinking"]
    output_config = body.get("output_config")
    if isinstance(output_config, dict) and output_config.get("effort") is not None:
        out["_effort"] = output_config["effort"]
    return out


def strip_extensions(req: dict[str, Any]) -> dict[str, Any]:
    """A copy of a unified request without ccr's private extensions, for a plain OpenAI upstream."""
    out = {key: value for key, value in req.items() if not key.startswith("_")}
    messages = req.get("messages")
    if isinstance(messages, list) and any("thinking" in m for m in messages):
        out["messages"] = [
            {k: v for k, v in m.items() if k != "thinking"} if "thinking" in m else m
            for m in messages
        ]
    return out


# --- messages ---------------------------------------------------------------------------------


class _ToolSlot:
    """Where tool messages answering the latest assistant ``tool_calls`` are inserted."""

    __slots__ = ("ids", "position")

    def __init__(self) -> None:
        self.ids: frozenset[str] = frozenset()
        self.position = 0


def _messages(system: Any, messages: list[Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    system_text = _system_text(system)
    if system_text:
        out.append({"role": "system", "content": system_text})
    slot = _ToolSlot()
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages.{i}: must be an object")
        role = message.get("role")
        content = message.get("content")
        if role == "user":
            _user(content, out, slot)
        elif role == "assistant":
            converted = _assistant(content)
            if converted["content"] or converted.get("tool_calls"):
                out.append(converted)
            slot.ids = frozenset(call["id"] for call in converted.get("tool_calls", ()))
            slot.position = len(out)
        elif role == "system":
            text = _system_text(content)
            if text:
                out.append({"role": "system", "content": text})
        else:
            raise InvalidRequest(f"messages.{i}.role: unknown role {role!r}")
    return out


def _system_text(system: Any) -> str:
    if isinstance(system, str):
        if system.startswith(BILLING_PREFIX):
            return system.partition("\n")[2]
        return system
    if not isinstance(system, list):
        return ""
    texts = [
        block["text"]
        for block in system
        if isinstance(block, dict)
        and block.get("type") == "text"
        and isinstance(block.get("text"), str)
        and block["text"]
        and not block["text"].startswith(BILLING_PREFIX)
    ]
    return "\n\n".join(texts)


def _user(content: Any, out: list[dict[str, Any]], slot: _ToolSlot) -> None:
    if not isinstance(content, list):
        text = content if isinstance(content, str) else "" if content is None else str(content)
        if text:
            out.append({"role": "user", "content": text})
        return

    tool_messages: list[dict[str, Any]] = []
    tool_images: list[dict[str, Any]] = []
    parts: list[dict[str, Any]] = []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            if block.get("text"):
                parts.append({"type": "text", "text": block["text"]})
        elif kind == "image":
            parts.append(_image_part(block))
        elif kind == "tool_result":
            call_id = str(block.get("tool_use_id", ""))
            text, images = _tool_result(block)
            if call_id in slot.ids:
                tool_messages.append({"role": "tool", "tool_call_id": call_id, "content": text})
                if images:
                    intro = f"Images from tool call {call_id}:"
                    tool_images.append({"type": "text", "text": intro})
                    tool_images.extend(images)
            else:
                parts.append({"type": "text", "text": f"Result of tool call {call_id}:\n{text}"})
                parts.extend(images)
        elif kind == "document":
            parts.append({"type": "text", "text": _document_text(block)})
        elif isinstance(block.get("text"), str) and block["text"]:
            parts.append({"type": "text", "text": block["text"]})

    for message in tool_messages:
        out.insert(slot.position, message)
        slot.position += 1
    parts = tool_images + parts if tool_images else parts
    if parts:
        out.append({"role": "user", "content": _user_content(parts)})


def _user_content(parts: list[dict[str, Any]]) -> str | list[dict[str, Any]]:
    """A plain string when the turn is only text (accepted by every server), else the parts."""
    if all(part["type"] == "text" for part in parts):
        if len(parts) == 1:
            return parts[0]["text"]
        return "\n\n".join(part["text"] for part in parts)
    return parts


def _tool_result(block: dict[str, Any]) -> tuple[str, list[dict[str, Any]]]:
    content = block.get("content")
    images: list[dict[str, Any]] = []
    if content is None:
        text = ""
    elif isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        for part in content if isinstance(content, list) else ():
            if not isinstance(part, dict):
                continue
            kind = part.get("type")
            if kind == "image":
                images.append(_image_part(part))
            elif kind == "document":
                texts.append(_document_text(part))
            elif isinstance(part.get("text"), str):
                texts.append(part["text"])
        text = "\n".join(texts)
    if not text and not images:
        text = EMPTY_TEXT
    if images:
        note = f"[{len(images)} image(s) from this result follow in the next user message]"
        text = f"{text}\n{note}" if text else note
    if block.get("is_error"):
        text = "Error: " + text
    return text, images


def _image_part(block: dict[str, Any]) -> dict[str, Any]:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "base64":
        data = source.get("data") or ""
        if data.startswith("data:"):
            url = data
        else:
            url = f"data:{source.get('media_type') or 'image/png'};base64,{data}"
        return {"type": "image_url", "image_url": {"url": url}}
    if kind == "url":
        return {"type": "image_url", "image_url": {"url": source.get("url") or ""}}
    return {"type": "text", "text": f"[image from a {kind!r} source: not available to this model]"}


def _document_text(block: dict[str, Any]) -> str:
    source = block.get("source") or {}
    kind = source.get("type")
    if kind == "text":
        body = source.get("data") or ""
    elif kind == "content":
        inner = source.get("content")
        if isinstance(inner, str):
            body = inner
        else:
            body = "\n".join(
                part["text"]
                for part in inner or ()
                if isinstance(part, dict) and isinstance(part.get("text"), str)
            )
    elif kind == "url":
        body = f"[document at {source.get('url')}]"
    else:
        media = source.get("media_type") or "document"
        body = f"[{media} document omitted: this model cannot read it]"
    header = [str(block[key]) for key in ("title", "context") if block.get(key)]
    return "\n".join([*header, body]) if header else body


def _assistant(content: Any) -> dict[str, Any]:
    if isinstance(content, str):
        return {"role": "assistant", "content": content}
    texts: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    thoughts: list[str] = []
    signature = ""
    has_thinking = False
    for block in content if isinstance(content, list) else ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            if block.get("text"):
                texts.append(block["text"])
        elif kind == "tool_use":
            tool_calls.append(_tool_call(block))
        elif kind == "thinking":
            has_thinking = True
            if block.get("thinking"):
                thoughts.append(block["thinking"])
            if block.get("signature"):
                signature = block["signature"]
        # redacted_thinking, server_tool_use and server tool results have no OpenAI form.

    message: dict[str, Any] = {
        "role": "assistant",
        "content": "\n\n".join(texts) if texts else (None if tool_calls else ""),
    }
    if tool_calls:
        message["tool_calls"] = tool_calls
    if has_thinking:
        message["thinking"] = {"content": "\n\n".join(thoughts), "signature": signature}
    return message


def _tool_call(block: dict[str, Any]) -> dict[str, Any]:
    arguments = block.get("input")
    if isinstance(arguments, str):
        encoded = arguments
    else:
        encoded = json.dumps({} if arguments is None else arguments, ensure_ascii=False)
    return {
        "id": block.get("id") or "",
        "type": "function",
        "function": {"name": block.get("name") or "", "arguments": encoded},
    }


# --- tools ------------------------------------------------------------------------------------


def _tools(tools: Any) -> list[dict[str, Any]]:
    if not isinstance(tools, list):
        return []
    out: list[dict[str, Any]] = []
    for tool in tools:
        if not isinstance(tool, dict) or tool.get("type") not in (None, "custom"):
            continue  # an Anthropic server tool, run by Anthropic, not a function
        function: dict[str, Any] = {"name": tool.get("name") or ""}
        if tool.get("description"):
            function["description"] = tool["description"]
        function["parameters"] = tool.get("input_schema") or {"type": "object", "properties": {}}
        out.append({"type": "function", "function": function})
    return out


def _tool_choice(choice: Any, tools: list[dict[str, Any]], out: dict[str, Any]) -> None:
    if not isinstance(choice, dict):
        return
    kind = choice.get("type")
    if kind in _TOOL_CHOICE_STRINGS:
        out["tool_choice"] = _TOOL_CHOICE_STRINGS[kind]
    elif kind == "tool":
        name = choice.get("name")
        if any(tool["function"]["name"] == name for tool in tools):
            out["tool_choice"] = {"type": "function", "function": {"name": name}}
    if choice.get("disable_parallel_tool_use"):
        out["parallel_tool_calls"] = False

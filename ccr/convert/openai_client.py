"""Clients that speak OpenAI's Chat Completions: their request in Anthropic's terms, and ccr's
Anthropic answer (a message, or its stream of events) back in theirs.

ccr routes and converts Anthropic Messages requests, so an OpenAI-format client's request is
turned into one first and goes through exactly the same routing and transformers as
Claude Code's. Choices where the formats differ:

- ``system``/``developer`` messages become the Anthropic ``system`` prompt, in order.
- ``tool`` messages become ``tool_result`` blocks in a user turn; consecutive turns of one role
  are merged (Anthropic alternates roles).
- ``image_url`` parts become image blocks (data URLs as base64, others as URL sources).
- ``max_completion_tokens``/``max_tokens`` is ``max_tokens`` (:data:`DEFAULT_MAX_TOKENS` when
  absent, as Anthropic requires one); ``stop`` is ``stop_sequences``; ``reasoning_effort`` asks
  for thinking with a budget that fits under ``max_tokens``; ``user`` is ``metadata.user_id``.
- ``n`` above 1, and audio output, are refused: ccr returns one choice of text.
- Back, thinking is ``reasoning_content`` (the field DeepSeek-style clients read); tool calls keep
  their ids; ``stop_reason`` maps to ``finish_reason``; cached prompt tokens count in
  ``prompt_tokens`` and in ``prompt_tokens_details.cached_tokens``, as OpenAI reports them.
"""

from __future__ import annotations

import json
import time
from typing import Any

from ccr.errors import InvalidRequest

DEFAULT_MAX_TOKENS = 8192
#: Thinking budgets for OpenAI's ``reasoning_effort``.
EFFORT_BUDGETS = {"minimal": 1024, "low": 2048, "medium": 8192, "high": 24576}
MIN_THINKING_BUDGET = 1024

_FINISH = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
           "max_tokens": "length", "tool_use": "tool_calls", "refusal": "content_filter",
           "model_context_window_exceeded": "length"}


# --- request ----------------------------------------------------------------------------------


def chat_to_anthropic(body: dict[str, Any]) -> dict[str, Any]:
    """An OpenAI chat request as an Anthropic Messages request; raises InvalidRequest."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise InvalidRequest("model: a model name is required")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise InvalidRequest("messages: a non-empty list of messages is required")
    n = body.get("n")
    if n is not None and n != 1:
        raise InvalidRequest("n: only one choice per request is supported")

    system: list[str] = []
    turns: list[dict[str, Any]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict):
            raise InvalidRequest(f"messages[{i}]: must be an object")
        role = message.get("role")
        if role in ("system", "developer"):
            text = _text(message.get("content"))
            if text:
                system.append(text)
        elif role == "user":
            _append(turns, "user", _user_blocks(message.get("content"), i))
        elif role == "assistant":
            _append(turns, "assistant", _assistant_blocks(message, i))
        elif role in ("tool", "function"):
            call_id = message.get("tool_call_id") or message.get("name") or ""
            _append(turns, "user", [{"type": "tool_result", "tool_use_id": str(call_id),
                                     "content": _text(message.get("content"))}])
        else:
            raise InvalidRequest(f"messages[{i}].role: unknown role {role!r}")

    out: dict[str, Any] = {"model": model, "messages": turns}
    if system:
        out["system"] = "\n\n".join(system)
    max_tokens = body.get("max_completion_tokens") or body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        raise InvalidRequest("max_tokens: must be a positive integer")
    out["max_tokens"] = max_tokens or DEFAULT_MAX_TOKENS
    for key in ("temperature", "top_p"):
        if isinstance(body.get(key), int | float):
            out[key] = body[key]
    stop = body.get("stop")
    if isinstance(stop, str) and stop:
        out["stop_sequences"] = [stop]
    elif isinstance(stop, list) and stop:
        out["stop_sequences"] = [s for s in stop if isinstance(s, str) and s]
    if body.get("stream"):
        out["stream"] = True
    tools = _tools(body.get("tools"))
    if tools:
        out["tools"] = tools
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice is not None:
            out["tool_choice"] = choice
    thinking = _thinking(body.get("reasoning_effort"), out["max_tokens"])
    if thinking is not None:
        out["thinking"] = thinking
    if isinstance(body.get("user"), str) and body["user"]:
        out["metadata"] = {"user_id": body["user"]}
    return out


def _append(turns: list[dict[str, Any]], role: str, blocks: list[dict[str, Any]]) -> None:
    if not blocks:
        return
    if turns and turns[-1]["role"] == role:
        previous = turns[-1]["content"]
        # Tool results lead their user turn (Anthropic reads them there).
        if role == "user" and blocks[0]["type"] == "tool_result" and \
                any(b["type"] != "tool_result" for b in previous):
            turns.append({"role": role, "content": blocks})
            return
        previous.extend(blocks)
        return
    turns.append({"role": role, "content": blocks})


def _user_blocks(content: Any, i: int) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    if content is None:
        return []
    if not isinstance(content, list):
        raise InvalidRequest(f"messages[{i}].content: must be a string or a list of parts")
    blocks: list[dict[str, Any]] = []
    for part in content:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and part.get("text"):
            blocks.append({"type": "text", "text": str(part["text"])})
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image
            if isinstance(url, str) and url:
                blocks.append(_image(url))
        elif kind in ("input_audio", "file"):
            blocks.append({"type": "text", "text": f"[{kind} part omitted: not supported]"})
    return blocks


def _image(url: str) -> dict[str, Any]:
    if url.startswith("data:") and ";base64," in url:
        header, _, data = url.partition(";base64,")
        return {"type": "image", "source": {"type": "base64",
                                            "media_type": header[5:] or "image/png",
                                            "data": data}}
    return {"type": "image", "source": {"type": "url", "url": url}}


def _assistant_blocks(message: dict[str, Any], i: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    text = _text(message.get("content"))
    if text.strip():
        blocks.append({"type": "text", "text": text})
    calls = list(message.get("tool_calls") or ())
    if isinstance(message.get("function_call"), dict):
        calls.append({"id": "", "function": message["function_call"]})
    for j, call in enumerate(calls):
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            raise InvalidRequest(f"messages[{i}].tool_calls[{j}]: a function name is required")
        blocks.append({"type": "tool_use", "id": str(call.get("id") or f"call_{i}_{j}"),
                       "name": str(function["name"]),
                       "input": _arguments(function.get("arguments"))})
    return blocks


def _arguments(arguments: Any) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if isinstance(arguments, str) and arguments.strip():
        try:
            value = json.loads(arguments)
        except ValueError:
            return {"input": arguments}
        return value if isinstance(value, dict) else {"input": value}
    return {}


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n\n".join(str(part["text"]) for part in content if isinstance(part, dict)
                           and part.get("type") in ("text", None) and part.get("text"))
    return ""


def _tools(tools: Any) -> list[dict[str, Any]]:
    out = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(function, dict) or not function.get("name"):
            continue
        item: dict[str, Any] = {"name": function["name"],
                                "input_schema": function.get("parameters")
                                or {"type": "object", "properties": {}}}
        if function.get("description"):
            item["description"] = function["description"]
        out.append(item)
    return out


def _tool_choice(choice: Any, parallel: Any) -> dict[str, Any] | None:
    out: dict[str, Any] | None = None
    if choice == "auto":
        out = {"type": "auto"}
    elif choice == "required":
        out = {"type": "any"}
    elif choice == "none":
        out = {"type": "none"}
    elif isinstance(choice, dict):
        function = choice.get("function")
        if isinstance(function, dict) and function.get("name"):
            out = {"type": "tool", "name": function["name"]}
    if parallel is False:
        out = {**(out or {"type": "auto"}), "disable_parallel_tool_use": True}
    return out


def _thinking(effort: Any, max_tokens: int) -> dict[str, Any] | None:
    budget = EFFORT_BUDGETS.get(effort) if isinstance(effort, str) else None
    if budget is None:
        return None
    budget = min(budget, max_tokens - 1)
    if budget < MIN_THINKING_BUDGET:
        return None  # no room for thinking under this max_tokens
    return {"type": "enabled", "budget_tokens": budget}


# --- answers ----------------------------------------------------------------------------------


def finish_reason(stop_reason: Any) -> str:
    return _FINISH.get(str(stop_reason), "stop")


def chat_usage(usage: Any) -> dict[str, Any]:
    """OpenAI usage for Anthropic usage (cached and cache-written tokens are prompt tokens)."""
    usage = usage if isinstance(usage, dict) else {}
    cached = _int(usage.get("cache_read_input_tokens"))
    prompt = _int(usage.get("input_tokens")) + cached + \
        _int(usage.get("cache_creation_input_tokens"))
    completion = _int(usage.get("output_tokens"))
    return {"prompt_tokens": prompt, "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {"cached_tokens": cached}}


def anthropic_to_chat_completion(message: dict[str, Any], *, model: str) -> dict[str, Any]:
    """An Anthropic message as a ``chat.completion``."""
    texts: list[str] = []
    thoughts: list[str] = []
    calls: list[dict[str, Any]] = []
    for block in message.get("content") or ():
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text") or ""))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id"), "type": "function", "function": {
                "name": block.get("name"),
                "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
    out_message: dict[str, Any] = {"role": "assistant", "content": "".join(texts) or None}
    if thoughts:
        out_message["reasoning_content"] = "\n\n".join(thoughts)
    if calls:
        out_message["tool_calls"] = calls
    return {
        "id": "chatcmpl-" + str(message.get("id") or "").removeprefix("msg_"),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "message": out_message, "logprobs": None,
                     "finish_reason": finish_reason(message.get("stop_reason"))}],
        "usage": chat_usage(message.get("usage")),
    }


class ChunkStream:
    """Anthropic stream events in, ``chat.completion.chunk`` objects out.

    Each tool_use block is one tool call, numbered from 0 in order; text and thinking deltas
    pass as ``content`` and ``reasoning_content``. ``message_delta`` gives the finish chunk;
    with ``include_usage`` (OpenAI's ``stream_options``) a last chunk with empty ``choices``
    carries the usage, as OpenAI sends it.
    """

    def __init__(self, *, model: str, include_usage: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage
        self.id = "chatcmpl-ccr"
        self.created = int(time.time())
        self._calls = 0
        self._block_call: dict[int, int] = {}  # content block index -> tool call index
        self._usage: dict[str, Any] = {}
        self.error: dict[str, Any] | None = None

    def feed(self, event: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        if event == "message_start":
            message = _object(data.get("message"))
            self.id = "chatcmpl-" + str(message.get("id") or "ccr").removeprefix("msg_")
            self._usage.update(message.get("usage") or {})
            return [self._chunk({"role": "assistant", "content": ""})]
        if event == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") != "tool_use":
                return []
            index = self._calls
            self._calls += 1
            self._block_call[_int(data.get("index"))] = index
            return [self._chunk({"tool_calls": [{
                "index": index, "id": block.get("id"), "type": "function",
                "function": {"name": block.get("name"), "arguments": ""}}]})]
        if event == "content_block_delta":
            delta = data.get("delta") or {}
            kind = delta.get("type")
            if kind == "text_delta" and delta.get("text"):
                return [self._chunk({"content": delta["text"]})]
            if kind == "thinking_delta" and delta.get("thinking"):
                return [self._chunk({"reasoning_content": delta["thinking"]})]
            if kind == "input_json_delta" and delta.get("partial_json"):
                call = self._block_call.get(_int(data.get("index")))
                if call is None:
                    return []
                return [self._chunk({"tool_calls": [{
                    "index": call, "function": {"arguments": delta["partial_json"]}}]})]
            return []
        if event == "message_delta":
            self._usage.update({k: v for k, v in (data.get("usage") or {}).items()
                                if v is not None})
            stop = (data.get("delta") or {}).get("stop_reason")
            return [self._chunk({}, finish_reason(stop))]
        if event == "message_stop":
            if not self.include_usage:
                return []
            return [{"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                     "model": self.model, "choices": [], "usage": chat_usage(self._usage)}]
        if event == "error":
            error = _object(data.get("error"))
            self.error = {"message": str(error.get("message") or "upstream error"),
                          "type": str(error.get("type") or "api_error"), "param": None,
                          "code": None}
            return [{"error": self.error}]
        return []

    def _chunk(self, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        return {"id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model,
                "choices": [{"index": 0, "delta": delta, "logprobs": None,
                             "finish_reason": finish}]}


def _object(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0

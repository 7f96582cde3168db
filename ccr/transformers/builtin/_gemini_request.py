"""The unified request -> a Gemini ``generateContent`` body.

Choices made where Gemini differs from OpenAI, so that nothing the model needs is lost:

- Gemini has one ``systemInstruction``: the system messages before the first turn go there;
  a system message later in the conversation (Claude Code sends some) becomes user text
  starting with ``"System message:"``, in place, so the model still reads it in order.
- Roles are ``user`` and ``model``; tool results are ``functionResponse`` parts of a user turn.
  Consecutive turns of one role are merged (Gemini wants them alternating), and a call left
  without a result gets an error response, since Gemini rejects a function-call turn that is not
  answered by as many responses.
- Tool call ids: an id Gemini issued is sent back on the ``functionCall`` and its
  ``functionResponse``; ids from Anthropic or made up by ccr (``toolu_...``) mean nothing to
  Gemini and are left out, which Gemini accepts (calls are then matched by name and order).
- Thought signatures: the signature of an assistant turn (its thinking block's, unless ccr made
  it up) goes back on the turn's first ``functionCall`` part (on its last part when there is no
  call), as Gemini 3 requires. A turn with calls but no such signature (history from another
  model, a compacted conversation) gets ``skip_thought_signature_validator``, the placeholder the
  Gemini documentation gives for that case; without it Gemini 3 answers 400. Thought text is
  not sent back (the signature carries the reasoning). A signature from another provider in
  the same history cannot be told apart from Gemini's and is sent as it is.
- Thinking: ``_effort`` gives Gemini 3 its ``thinkingLevel``; a ``budget_tokens`` becomes
  ``thinkingBudget`` (clamped to what the model accepts). See :func:`thinking_config`.
- At most 5 stop sequences are sent (Gemini's limit); Anthropic server tools are dropped, except
  that a request whose only tool is web search gets Gemini's ``googleSearch``.
"""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Mapping
from typing import Any

from ccr.convert.common import is_generated_signature, parse_arguments
from ccr.transformers.builtin._gemini_schema import gemini_parameters

#: Sent where Gemini requires a thought signature ccr does not have (documented by Google).
DUMMY_SIGNATURE = "skip_thought_signature_validator"
SYSTEM_PREFIX = "System message:\n"
MAX_STOP_SEQUENCES = 5
#: Ids that did not come from Gemini: Anthropic's and the ones ccr generates.
FOREIGN_ID_PREFIX = "toolu_"

_EFFORT_LEVELS = {"low": "low", "medium": "medium", "high": "high", "xhigh": "high", "max": "high"}
_TOOL_MODES = {"auto": "AUTO", "none": "NONE", "required": "ANY"}
_DATA_URL = re.compile(r"data:(?P<mime>[^;,]+)?(?:;[^,]*)?,(?P<data>.*)", re.S)


def build_body(request: Mapping[str, Any], *, model: str,
               original: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The Gemini request body for the unified ``request`` (see the module docstring)."""
    messages = request.get("messages")
    system, contents = _Contents(_error_results(original)).build(
        messages if isinstance(messages, list) else []
    )
    body: dict[str, Any] = {"contents": contents}
    if system:
        body["systemInstruction"] = {"parts": [{"text": text} for text in system]}
    tools = _tools(request.get("tools"), original)
    if tools:
        body["tools"] = tools
        tool_config = _tool_config(request.get("tool_choice"))
        if tool_config and any("functionDeclarations" in tool for tool in tools):
            body["toolConfig"] = tool_config
    generation = _generation_config(request, model)
    if generation:
        body["generationConfig"] = generation
    return body


# --- contents ---------------------------------------------------------------------------------


class _Contents:
    """Builds ``contents`` turn by turn, remembering which calls still wait for a result."""

    def __init__(self, error_ids: frozenset[str]) -> None:
        self.error_ids = error_ids
        self.system: list[str] = []
        self.contents: list[dict[str, Any]] = []
        self.names: dict[str, str] = {}  # call id -> function name
        self.waiting: list[str] = []  # ids of the latest model turn's calls without a result

    def build(self, messages: list[Any]) -> tuple[list[str], list[dict[str, Any]]]:
        started = False
        for message in messages:
            if not isinstance(message, Mapping):
                continue
            role = message.get("role")
            if role == "tool":
                self._tool_result(message)
                continue
            self._answer_waiting()
            if role == "system":
                text = _text(message.get("content"))
                if not text:
                    continue
                if started:
                    self._add("user", [{"text": SYSTEM_PREFIX + text}])
                else:
                    self.system.append(text)
                continue
            started = True
            if role == "assistant":
                self._add("model", self._model_parts(message))
            else:
                self._add("user", _user_parts(message.get("content")))
        return self.system, self.contents

    def _add(self, role: str, parts: list[dict[str, Any]]) -> None:
        if not parts:
            return
        if self.contents and self.contents[-1]["role"] == role:
            self.contents[-1]["parts"].extend(parts)
        else:
            self.contents.append({"role": role, "parts": parts})

    def _model_parts(self, message: Mapping[str, Any]) -> list[dict[str, Any]]:
        parts: list[dict[str, Any]] = []
        text = _text(message.get("content"))
        if text:
            parts.append({"text": text})
        calls: list[dict[str, Any]] = []
        for call in message.get("tool_calls") or ():
            if not isinstance(call, Mapping):
                continue
            function = call.get("function") or {}
            name = str(function.get("name") or "")
            call_id = str(call.get("id") or "")
            arguments = parse_arguments(function.get("arguments"))
            part: dict[str, Any] = {"name": name, "args": arguments}
            if _is_gemini_id(call_id):
                part["id"] = call_id
            calls.append({"functionCall": part})
            if call_id:
                self.names[call_id] = name
                self.waiting.append(call_id)
        parts += calls
        signature = _signature(message.get("thinking"))
        if calls:
            calls[0]["thoughtSignature"] = signature or DUMMY_SIGNATURE
        elif signature and parts:
            parts[-1]["thoughtSignature"] = signature
        return parts

    def _tool_result(self, message: Mapping[str, Any]) -> None:
        call_id = str(message.get("tool_call_id") or "")
        text = _text(message.get("content"))
        name = self.names.get(call_id)
        if name is None:  # no call to answer: keep the result as text rather than lose it
            self._add("user", [{"text": f"Result of tool call {call_id}:\n{text}"}])
            return
        key = "error" if call_id in self.error_ids else "output"
        self._add("user", [_function_response(call_id, name, {key: text})])
        if call_id in self.waiting:
            self.waiting.remove(call_id)

    def _answer_waiting(self) -> None:
        """Calls of the last model turn that got no result are answered with an error."""
        for call_id in self.waiting:
            response = {"error": "No result was returned for this call."}
            self._add("user", [_function_response(call_id, self.names[call_id], response)])
        self.waiting = []


def _function_response(call_id: str, name: str, response: dict[str, Any]) -> dict[str, Any]:
    part: dict[str, Any] = {"name": name, "response": response}
    if _is_gemini_id(call_id):
        part["id"] = call_id
    return {"functionResponse": part}


def _is_gemini_id(call_id: str) -> bool:
    return bool(call_id) and not call_id.startswith(FOREIGN_ID_PREFIX)


def _signature(thinking: Any) -> str | None:
    if not isinstance(thinking, Mapping):
        return None
    signature = thinking.get("signature")
    if not isinstance(signature, str) or not signature or is_generated_signature(signature):
        return None
    return signature


def _error_results(original: Mapping[str, Any] | None) -> frozenset[str]:
    """Ids of the client's ``tool_result`` blocks marked ``is_error`` (the unified tool message
    only has text, so the flag is read from the Anthropic request)."""
    ids: set[str] = set()
    for message in (original or {}).get("messages") or ():
        content = message.get("content") if isinstance(message, Mapping) else None
        for block in content if isinstance(content, list) else ():
            if (isinstance(block, Mapping) and block.get("type") == "tool_result"
                    and block.get("is_error")):
                ids.add(str(block.get("tool_use_id", "")))
    return frozenset(ids)


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n\n".join(
            part["text"] for part in content
            if isinstance(part, Mapping) and isinstance(part.get("text"), str) and part["text"]
        )
    return ""


def _user_parts(content: Any) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content else []
    parts: list[dict[str, Any]] = []
    for part in content if isinstance(content, list) else ():
        if not isinstance(part, Mapping):
            continue
        if part.get("type") == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else image
            parts.append(_image_part(str(url or "")))
        elif isinstance(part.get("text"), str) and part["text"]:
            parts.append({"text": part["text"]})
    return parts


def _image_part(url: str) -> dict[str, Any]:
    match = _DATA_URL.fullmatch(url) if url.startswith("data:") else None
    if match:
        mime = match.group("mime") or "image/png"
        return {"inlineData": {"mimeType": mime, "data": match.group("data")}}
    mime, _ = mimetypes.guess_type(url.split("?", 1)[0])
    if url.startswith(("http://", "https://", "gs://")) and mime:
        return {"fileData": {"mimeType": mime, "fileUri": url}}
    return {"text": f"[image at {url}: not available to this model]"}


# --- tools ------------------------------------------------------------------------------------


def _tools(tools: Any, original: Mapping[str, Any] | None) -> list[dict[str, Any]]:
    declarations: list[dict[str, Any]] = []
    for tool in tools if isinstance(tools, list) else ():
        function = tool.get("function") if isinstance(tool, Mapping) else None
        if not isinstance(function, Mapping) or not function.get("name"):
            continue
        declaration: dict[str, Any] = {"name": function["name"]}
        if function.get("description"):
            declaration["description"] = function["description"]
        parameters = gemini_parameters(function.get("parameters"))
        if parameters is not None:
            declaration["parameters"] = parameters
        declarations.append(declaration)
    if declarations:
        return [{"functionDeclarations": declarations}]
    if _asks_for_web_search(original):
        return [{"googleSearch": {}}]
    return []


def _asks_for_web_search(original: Mapping[str, Any] | None) -> bool:
    return any(
        isinstance(tool, Mapping) and str(tool.get("type", "")).startswith("web_search")
        for tool in (original or {}).get("tools") or ()
    )


def _tool_config(choice: Any) -> dict[str, Any] | None:
    if isinstance(choice, str) and choice in _TOOL_MODES:
        return {"functionCallingConfig": {"mode": _TOOL_MODES[choice]}}
    if isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else None
        if isinstance(name, str) and name:
            return {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": [name]}}
    return None


# --- generation config ------------------------------------------------------------------------


def _generation_config(request: Mapping[str, Any], model: str) -> dict[str, Any]:
    config: dict[str, Any] = {}
    max_tokens = request.get("max_completion_tokens", request.get("max_tokens"))
    if isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and max_tokens > 0:
        config["maxOutputTokens"] = max_tokens
    for source, target in (("temperature", "temperature"), ("top_p", "topP")):
        value = request.get(source)
        if isinstance(value, int | float) and not isinstance(value, bool):
            config[target] = value
    stop = request.get("stop")
    stops = [stop] if isinstance(stop, str) else stop if isinstance(stop, list) else []
    stops = [s for s in stops if isinstance(s, str) and s][:MAX_STOP_SEQUENCES]
    if stops:
        config["stopSequences"] = stops
    thinking = thinking_config(request.get("_thinking"), request.get("_effort"), model)
    if thinking:
        config["thinkingConfig"] = thinking
    return config


def gemini_generation(model: str) -> int | None:
    """The major Gemini version in a model name (``gemini-2.5-pro`` → 2), None if not named."""
    match = re.search(r"gemini-(\d+)", model.lower())
    return int(match.group(1)) if match else None


def thinking_config(thinking: Any, effort: Any, model: str) -> dict[str, Any] | None:
    """``thinkingConfig`` for Anthropic's ``thinking`` and ``output_config.effort``.

    Gemini 3 and later think in levels: ``effort`` maps to ``thinkingLevel`` (``max`` and
    ``xhigh`` are ``high``), and a request with thinking disabled gets ``low``, the lowest level
    every Gemini 3 model accepts (they cannot stop thinking). Without an effort, a
    ``budget_tokens`` is sent as ``thinkingBudget``, which Gemini 3 still honours. Earlier
    models get a budget: ``-1`` (dynamic) for adaptive thinking, ``0`` when disabled (Pro
    cannot disable thinking: nothing is sent). Budgets are clamped to the range the models
    accept (128-32768 on Pro, at most 24576 otherwise). Thoughts are included whenever thinking
    is on. Gemini rejects a level and a budget together, so at most one is sent.
    """
    kind = thinking.get("type") if isinstance(thinking, Mapping) else None
    generation = gemini_generation(model)
    levels = generation is not None and generation >= 3
    pro = "pro" in model.lower()
    config: dict[str, Any] = {}
    if kind == "disabled":
        if levels:
            config["thinkingLevel"] = "low"
        elif not pro:
            config["thinkingBudget"] = 0
        return config or None
    level = _EFFORT_LEVELS.get(effort) if isinstance(effort, str) else None
    if kind not in ("enabled", "adaptive"):
        return {"thinkingLevel": level} if levels and level else None
    config["includeThoughts"] = True
    budget = thinking.get("budget_tokens") if isinstance(thinking, Mapping) else None
    has_budget = isinstance(budget, int) and not isinstance(budget, bool) and budget > 0
    if levels and level:
        config["thinkingLevel"] = level
    elif has_budget:
        assert isinstance(budget, int)
        config["thinkingBudget"] = _clamp_budget(budget, pro)
    elif not levels:
        config["thinkingBudget"] = -1
    return config


def _clamp_budget(budget: int, pro: bool) -> int:
    low, high = (128, 32768) if pro else (1, 24576)
    return max(low, min(budget, high))


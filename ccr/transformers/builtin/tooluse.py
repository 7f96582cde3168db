"""``tooluse``: "Tool Mode", for models that answer in prose when they should have called a tool.

On the way out, a request that offers tools gets ``tool_choice: "required"``, an extra
``ExitTool`` function (one string argument, ``response``) and a reminder that the model must
always call a tool and use ``ExitTool`` to answer in plain text. On the way back, every
``ExitTool`` call becomes that text: the client never sees the tool. With no other call the turn
ends normally (``finish_reason`` ``stop``); calls to real tools stay, beside the text.

Where this differs from CCR's transformer of the same name:

- Requests without tools, or with ``tool_choice: none``, are left alone (CCR adds the reminder
  anyway); a client's own choice of one specific tool is kept.
- The reminder is a ``<system-reminder>`` at the end of the last user turn, as Claude Code writes
  its own, rather than a system message after the conversation, which several chat templates
  reject.
- Streamed ``response`` text is decoded and sent as it arrives (CCR waits for the whole JSON and
  drops arguments that do not parse); invalid arguments are repaired with ``json_repair``.
- An ``ExitTool`` call alongside real calls, or not first among them, is handled too.
"""

from __future__ import annotations

import json
import re
import string
from typing import Any

from json_repair import repair_json

from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._calls import find_call
from ccr.transformers.registry import register

EXIT_TOOL = "ExitTool"

REMINDER = (
    "<system-reminder>Tool mode is active: every reply must be a tool call. Pick the tool that "
    "best fits the task and call it. When no tool fits, or the task is done and you want to "
    f"answer the user in plain text, call `{EXIT_TOOL}` with your whole answer in `response`; "
    "it is the only way to reply without a tool.</system-reminder>"
)

_EXIT_DESCRIPTION = (
    "Reply to the user in plain text and leave tool mode. Call this only when none of the other "
    "tools can help with the task, or the task is finished and only an answer remains; if a tool "
    "fits, call that tool instead."
)
_RESPONSE_DESCRIPTION = "Your reply, shown to the user exactly as written."


def exit_tool() -> dict[str, Any]:
    """A fresh ``ExitTool`` function definition (fresh: later transformers may edit schemas)."""
    return {
        "type": "function",
        "function": {
            "name": EXIT_TOOL,
            "description": _EXIT_DESCRIPTION,
            "parameters": {
                "type": "object",
                "properties": {
                    "response": {"type": "string", "description": _RESPONSE_DESCRIPTION},
                },
                "required": ["response"],
            },
        },
    }


def exit_response_text(arguments: Any) -> str:
    """The text an ``ExitTool`` call carries, from whatever arguments the model produced.

    The ``response`` string if there is one; failing that the only string in the object; failing
    that the raw arguments, so that an answer is never lost to a formatting mistake.
    """
    if isinstance(arguments, dict):
        value: Any = arguments
        raw = json.dumps(arguments, ensure_ascii=False)
    else:
        raw = "" if arguments is None else str(arguments)
        if not raw.strip():
            return ""
        value = _lenient(raw)
    if isinstance(value, dict):
        response = value.get("response")
        if isinstance(response, str):
            return response
        if response is not None:
            return json.dumps(response, ensure_ascii=False)
        strings = [v for v in value.values() if isinstance(v, str)]
        if len(strings) == 1:
            return strings[0]
    elif isinstance(value, str) and value:
        return value
    return raw


def _lenient(text: str) -> Any:
    try:
        return json.loads(text, strict=False)
    except ValueError:
        return repair_json(text, return_objects=True)


# --- the streamed ``response`` string ---------------------------------------------------------

_PROBE, _STRING, _WHOLE, _DONE = range(4)
_OPENING = ("{", '"response"', ":", '"')
_SPACE = " \t\r\n"
_PLAIN = re.compile(r'[^"\\]+')
_ESCAPES = {'"': '"', "\\": "\\", "/": "/", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}
_HEX = frozenset(string.hexdigits)


class ExitText:
    """Decodes the ``response`` string of one ``ExitTool`` call while its arguments stream in.

    Arguments that open with ``{"response": "`` (the usual case) are decoded as they arrive,
    holding back only an escape sequence cut in half. Anything else is kept whole and read with
    :func:`exit_response_text` when the call ends. Decoding is lenient where models slip: raw
    control characters are kept, and a quote counts as the end of the string only when ``}`` or
    ``, "`` follows it (or nothing does, at the end), as ``json_repair`` reads it.
    """

    __slots__ = ("_buffer", "_mode", "_pos")

    def __init__(self) -> None:
        self._buffer = ""
        self._mode = _PROBE
        self._pos = 0

    def feed(self, fragment: str) -> str:
        """Text decoded from this fragment (may be empty)."""
        if self._mode == _DONE:
            return ""
        self._buffer += fragment
        if self._mode == _PROBE:
            start = _string_start(self._buffer)
            if start is None:
                return ""
            if start < 0:
                self._mode = _WHOLE
            else:
                self._mode, self._pos = _STRING, start
        return self._decode(final=False) if self._mode == _STRING else ""

    def finish(self) -> str:
        """The call ended: the text not sent yet."""
        mode, self._mode = self._mode, _DONE
        if mode == _STRING:
            return self._decode(final=True)
        if mode in (_PROBE, _WHOLE):
            return exit_response_text(self._buffer)
        return ""

    def _decode(self, *, final: bool) -> str:
        buf, i, out = self._buffer, self._pos, []
        n = len(buf)
        while i < n:
            c = buf[i]
            if c == '"':
                closes = _closes(buf, i + 1, final)
                if closes is None:
                    break
                if closes:
                    self._mode = _DONE
                    break
                out.append(c)
                i += 1
            elif c == "\\":
                piece, used = _escape(buf, i, final)
                if not used:
                    break
                out.append(piece)
                i += used
            else:
                match = _PLAIN.match(buf, i)
                assert match is not None
                out.append(match.group())
                i = match.end()
        self._pos = i
        return "".join(out)


def _string_start(buf: str) -> int | None:
    """Where the ``response`` string's text starts; None while undecided, -1 if it is not there."""
    i, n = 0, len(buf)
    for token in _OPENING:
        while i < n and buf[i] in _SPACE:
            i += 1
        piece = buf[i : i + len(token)]
        if not token.startswith(piece):
            return -1
        if len(piece) < len(token):
            return None
        i += len(token)
    return i


def _closes(buf: str, i: int, final: bool) -> bool | None:
    """Does the quote before ``i`` end the string? None: cannot tell before more text arrives."""
    n = len(buf)
    while i < n and buf[i] in _SPACE:
        i += 1
    if i == n:
        return True if final else None
    if buf[i] == "}":
        return True
    if buf[i] != ",":
        return False
    i += 1
    while i < n and buf[i] in _SPACE:
        i += 1
    if i == n:
        return True if final else None
    return buf[i] == '"'


def _escape(buf: str, i: int, final: bool) -> tuple[str, int]:
    """The escape at ``buf[i]`` (a backslash): its text and length, or ``("", 0)`` to wait.

    At the end of the arguments (``final``) a truncated escape is dropped; unknown escapes are
    kept as written; unpaired UTF-16 surrogates become U+FFFD (they cannot be encoded).
    """
    n = len(buf)
    truncated = ("", n - i) if final else ("", 0)
    if i + 1 >= n:
        return truncated
    kind = buf[i + 1]
    if kind != "u":
        return _ESCAPES.get(kind, "\\" + kind), 2
    code = _hex4(buf, i + 2)
    if code is None:
        return truncated
    if code < 0:
        return "\\u", 2
    if 0xDC00 <= code <= 0xDFFF:
        return "\ufffd", 6
    if not 0xD800 <= code <= 0xDBFF:
        return chr(code), 6
    low_text = buf[i + 6 : i + 12]
    if len(low_text) < 6 and not final and _could_be_unicode_escape(low_text):
        return "", 0
    low = _hex4(low_text, 2) if low_text.startswith("\\u") else -1
    if low is not None and 0xDC00 <= low <= 0xDFFF:
        return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), 12
    return "\ufffd", 6


def _hex4(buf: str, i: int) -> int | None:
    """The four hex digits at ``i``: None if cut short, -1 if not hex."""
    digits = buf[i : i + 4]
    if any(d not in _HEX for d in digits):
        return -1
    if len(digits) < 4:
        return None
    return int(digits, 16)


def _could_be_unicode_escape(text: str) -> bool:
    return "\\u".startswith(text[:2]) and all(d in _HEX for d in text[2:])


# --- the transformer --------------------------------------------------------------------------


class _Call:
    """One streamed tool call: real (fragments pass), ExitTool (decoded), or not yet named."""

    __slots__ = ("exit", "held", "id", "index", "name", "started")

    def __init__(self, index: int | None, call_id: str | None) -> None:
        self.index = index
        self.id = call_id
        self.name: str | None = None
        self.held: list[dict[str, Any]] = []  # fragments that came before the name
        self.exit: ExitText | None = None
        self.started = False  # some of its text was sent


class _Stream:
    """Per-request state of the stream hooks."""

    __slots__ = ("calls", "exits", "real", "text_seen")

    def __init__(self) -> None:
        self.calls: list[_Call] = []
        self.exits = False  # an ExitTool call was seen
        self.real = False  # a call to another tool was let through
        self.text_seen = False  # the client has been sent text already


@register
class ToolUse(Transformer):
    name = "tooluse"

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        tools = request.get("tools")
        if not isinstance(tools, list) or not tools or request.get("tool_choice") == "none":
            return request
        if any(_tool_name(t) == EXIT_TOOL for t in tools):
            return request  # the client's own ExitTool, or Tool Mode already on in this chain
        request["tools"] = [*tools, exit_tool()]
        if request.get("tool_choice") in (None, "auto"):
            request["tool_choice"] = "required"
        request["messages"] = _with_reminder(request.get("messages") or [])
        ctx.state[self._key] = _Stream()
        return request

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        if self._key not in ctx.state:
            return response
        for choice in response.get("choices") or ():
            message = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(message, dict):
                _exit_from_message(choice, message)
        return response

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        state: _Stream | None = ctx.state.get(self._key)
        choices = chunk.get("choices")
        if state is None or not choices or not isinstance(choices[0], dict):
            return [chunk]
        choice = choices[0]
        delta = choice.get("delta")
        delta = dict(delta) if isinstance(delta, dict) else {}
        content = delta.get("content")
        if isinstance(content, str) and content.strip():
            state.text_seen = True
        texts: list[str] = []
        fragments = delta.pop("tool_calls", None)
        passed: list[Any] = []
        if isinstance(fragments, list):
            for fragment in fragments:
                passed += _route(fragment, state, texts)
        elif fragments is not None:
            delta["tool_calls"] = fragments
        finish = choice.get("finish_reason")
        if finish:
            passed += _flush(state, texts)
            if finish in ("tool_calls", "function_call") and state.exits and not state.real:
                finish = "stop"
        if passed:
            delta["tool_calls"] = passed
        if texts:
            delta["content"] = (content if isinstance(content, str) else "") + "".join(texts)
        if fragments is None and not texts and finish == choice.get("finish_reason"):
            return [chunk]
        choice = {**choice, "delta": delta, "finish_reason": finish}
        return [{**chunk, "choices": [choice, *choices[1:]]}]

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        state: _Stream | None = ctx.state.get(self._key)
        if state is None:
            return []
        texts: list[str] = []
        passed = _flush(state, texts)
        delta: dict[str, Any] = {}
        if texts:
            delta["content"] = "".join(texts)
        if passed:
            delta["tool_calls"] = passed
        if not delta:
            return []
        return [{"object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}]

    @property
    def _key(self) -> str:
        """This instance's slot in ``ctx.state``; present only when it turned Tool Mode on."""
        return f"tooluse@{id(self):x}"


def _tool_name(tool: Any) -> Any:
    function = tool.get("function") if isinstance(tool, dict) else None
    return function.get("name") if isinstance(function, dict) else None


def _with_reminder(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages with :data:`REMINDER` closing the last user turn (a new user message when
    the last message is not the user's: tool results, say)."""
    last = messages[-1] if messages else None
    if not isinstance(last, dict) or last.get("role") != "user":
        return [*messages, {"role": "user", "content": REMINDER}]
    content = last.get("content")
    if isinstance(content, list):
        content = [*content, {"type": "text", "text": REMINDER}]
    elif isinstance(content, str) and content:
        content = f"{content}\n\n{REMINDER}"
    else:
        content = REMINDER
    return [*messages[:-1], {**last, "content": content}]


def _exit_from_message(choice: dict[str, Any], message: dict[str, Any]) -> None:
    """Non-streamed: ExitTool calls become the message's text, after any text it had."""
    calls = message.get("tool_calls")
    if not isinstance(calls, list):
        return
    exits = [c for c in calls if _tool_name(c) == EXIT_TOOL]
    if not exits:
        return
    real = [c for c in calls if _tool_name(c) != EXIT_TOOL]
    texts = [exit_response_text(c["function"].get("arguments")) for c in exits]
    text = "\n\n".join(t for t in texts if t)
    content = message.get("content")
    if isinstance(content, list):
        message["content"] = [*content, {"type": "text", "text": text}] if text else content
    elif isinstance(content, str) and content.strip():
        message["content"] = f"{content}\n\n{text}" if text else content
    else:
        message["content"] = text
    if real:
        message["tool_calls"] = real
        return
    del message["tool_calls"]
    if choice.get("finish_reason") in ("tool_calls", "function_call"):
        choice["finish_reason"] = "stop"


def _route(fragment: Any, state: _Stream, texts: list[str]) -> list[Any]:
    """One tool-call fragment: the fragments to pass on (ExitTool's become ``texts``)."""
    if not isinstance(fragment, dict):
        return [fragment]
    function = fragment.get("function")
    if not isinstance(function, dict):
        function = {}
    index = fragment.get("index")
    call_id = fragment.get("id") or None
    name = function.get("name") or None
    call = find_call(state.calls, index, call_id, name)
    if call is None:
        call = _Call(index if isinstance(index, int) else None, call_id)
        state.calls.append(call)
    elif call_id and not call.id:
        call.id = call_id
    if call.exit is not None:
        _emit(call, call.exit.feed(_arguments(function)), state, texts)
        return []
    if call.name is None and name:
        call.name = name
        held, call.held = [*call.held, fragment], []
        if name == EXIT_TOOL:
            call.exit = ExitText()
            state.exits = True
            for piece in held:
                _emit(call, call.exit.feed(_arguments(piece.get("function"))), state, texts)
            return []
        state.real = True
        return held
    if call.name is None:
        call.held.append(fragment)
        return []
    return [fragment]


def _arguments(function: Any) -> str:
    arguments = function.get("arguments") if isinstance(function, dict) else None
    if arguments is None or isinstance(arguments, str):
        return arguments or ""
    return json.dumps(arguments, ensure_ascii=False)


def _emit(call: _Call, text: str, state: _Stream, texts: list[str]) -> None:
    """Queue ExitTool text; a blank line parts it from text the client already has."""
    if not text:
        return
    if not call.started:
        call.started = True
        if state.text_seen:
            text = "\n\n" + text
    if text.strip():
        state.text_seen = True
    texts.append(text)


def _flush(state: _Stream, texts: list[str]) -> list[dict[str, Any]]:
    """End of the calls: the rest of every ExitTool text, and fragments of never-named calls."""
    passed: list[dict[str, Any]] = []
    for call in state.calls:
        if call.exit is not None:
            _emit(call, call.exit.finish(), state, texts)
        elif call.held:
            passed += call.held
            call.held = []
    return passed

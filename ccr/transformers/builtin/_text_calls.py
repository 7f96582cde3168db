"""Finding tool calls a model printed as text, in a whole answer or a stream of pieces.

Recognised forms (the ones small local models write when their chat template or server does not
parse tool calls):

- ``<tool_call>{…}</tool_call>`` (Hermes, Qwen) and ``<function_call>{…}</function_call>``;
- ``<function=NAME>{arguments}</function>`` (Llama 3.1) and Qwen3-Coder's
  ``<function=NAME><parameter=KEY>value</parameter>…</function>``, inside ``<tool_call>`` or not;
- ``[TOOL_CALLS][{…}]`` (Mistral);
- a fenced block (```` ```json ````, ```` ```tool_call ```` or no language) holding the JSON;
- bare JSON starting a line.

The JSON is one call or a list of calls, each ``{"name", "arguments"}`` (or ``parameters``,
``input``, ``args``; arguments may be a JSON string), ``{"function": {"name", "arguments"}}`` or
``{"tool", "tool_input"}``. Whether a candidate becomes a call is the caller's decision (see
``accept``): the scanner only finds and parses.

Streaming holds text back only while a candidate is open: from the start of a trigger (or the
part of one a piece ends with) to its end. A fence with another language, bare JSON whose first
key is not a call's, or a candidate longer than :data:`MAX_HELD`, is released as text at once.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

#: Held candidate text beyond this is not a tool call: released as text.
MAX_HELD = 200_000

Call = tuple[str, dict[str, Any]]
#: ("text", str) or ("calls", [(name, arguments), ...])
Piece = tuple[str, Any]
Accept = Callable[[list[Call]], bool]

_TAGS = {"<tool_call>": "</tool_call>", "<function_call>": "</function_call>",
         "<function=": "</function>", "[TOOL_CALLS]": None, "```": "```"}
_TRIGGERS = tuple(_TAGS)
_TRIGGER_STARTS = frozenset(t[0] for t in _TRIGGERS)
_LONGEST_TRIGGER = max(map(len, _TRIGGERS))
#: ``{`` or ``[`` first on a line (after blanks), in the first line or after a newline.
_BARE_FIRST_LINE = re.compile(r"[^\S\n]*([\[{])")
_BARE = re.compile(r"\n[^\S\n]*([\[{])")
_FENCE_LANGUAGES = frozenset({"", "json", "tool_call", "tool_code", "tool", "function_call"})
_CALL_KEYS = frozenset({"name", "function", "tool", "type", "tool_name"})
_FIRST_KEY = re.compile(r'\s*\{\s*"((?:[^"\\]|\\.)*)"\s*:')
_FUNCTION_TAG = re.compile(r"\s*<function=([^>\s]+)>(.*?)(?:</function>\s*)?$", re.DOTALL)
_PARAMETER = re.compile(r"<parameter=([^>\s]+)>(.*?)</parameter>", re.DOTALL)
_ARGUMENT_KEYS = ("arguments", "parameters", "input", "args", "tool_input")


# --- parsing one candidate --------------------------------------------------------------------


def parse_calls(body: str, schema_of: Callable[[str], Any] | None = None) -> list[Call] | None:
    """The calls in a candidate's body (JSON or ``<function=…>`` form), None if it is not one."""
    match = _FUNCTION_TAG.match(body)
    if match:
        return _function_tag(match.group(1), match.group(2), schema_of)
    try:
        value = json.loads(body)
    except ValueError:
        return None
    items = value if isinstance(value, list) else [value]
    calls = [_call(item) for item in items]
    if not calls or any(call is None for call in calls):
        return None
    return [call for call in calls if call is not None]


def _call(item: Any) -> Call | None:
    if not isinstance(item, dict):
        return None
    function = item.get("function")
    if isinstance(function, dict):
        item = function
    name = item.get("name") or item.get("tool") or item.get("tool_name")
    if not isinstance(name, str) and isinstance(function, str):
        name = function
    if not isinstance(name, str) or not name:
        return None
    arguments: Any = {}
    for key in _ARGUMENT_KEYS:
        if key in item:
            arguments = item[key]
            break
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments) if arguments.strip() else {}
        except ValueError:
            return None
    if arguments is None:
        arguments = {}
    if not isinstance(arguments, dict):
        return None
    return name, arguments


def _function_tag(name: str, inner: str, schema_of: Callable[[str], Any] | None
                  ) -> list[Call] | None:
    inner = inner.strip()
    if inner.startswith("{"):
        try:
            arguments = json.loads(inner)
        except ValueError:
            return None
        return [(name, arguments)] if isinstance(arguments, dict) else None
    properties: dict[str, Any] = {}
    schema = schema_of(name) if schema_of else None
    if isinstance(schema, dict) and isinstance(schema.get("properties"), dict):
        properties = schema["properties"]
    arguments = {}
    for key, raw in _PARAMETER.findall(inner):
        value = raw.removeprefix("\n").removesuffix("\n")
        kind = properties.get(key, {}).get("type") if isinstance(properties.get(key), dict) \
            else None
        if kind not in (None, "string"):
            try:
                arguments[key] = json.loads(value)
                continue
            except ValueError:
                pass
        arguments[key] = value
    if _PARAMETER.sub("", inner).strip():
        return None  # text besides parameters: not this format
    return [(name, arguments)]


# --- a whole answer ---------------------------------------------------------------------------


def split_answer(text: str, accept: Accept, *, keep_text_after: bool = False,
                 schema_of: Callable[[str], Any] | None = None) -> list[Piece]:
    """A whole answer as text and call pieces, as the stream would give them."""
    scanner = CallScanner(accept, keep_text_after=keep_text_after, schema_of=schema_of)
    return merge(scanner.feed(text) + scanner.finish())


def merge(pieces: list[Piece]) -> list[Piece]:
    """Adjacent text pieces joined; empty ones left out."""
    out: list[Piece] = []
    for kind, value in pieces:
        if kind == "text":
            if not value:
                continue
            if out and out[-1][0] == "text":
                out[-1] = ("text", out[-1][1] + value)
                continue
        out.append((kind, value))
    return out


# --- the streaming scanner --------------------------------------------------------------------


@dataclass
class _Json:
    """Incremental end-of-JSON finder for bare candidates: where the value started and ended."""

    start: int = -1
    depth: int = 0
    in_string: bool = False
    escaped: bool = False
    pos: int = 0

    def end(self, text: str) -> int:
        """Index just past the complete value in ``text``, or -1 while it is open."""
        while self.pos < len(text):
            char = text[self.pos]
            self.pos += 1
            if self.start < 0:
                if char.isspace():
                    continue
                if char not in "{[":
                    return -2  # not JSON that can be a call
                self.start = self.pos - 1
            if self.in_string:
                if self.escaped:
                    self.escaped = False
                elif char == "\\":
                    self.escaped = True
                elif char == '"':
                    self.in_string = False
            elif char == '"':
                self.in_string = True
            elif char in "{[":
                self.depth += 1
            elif char in "}]":
                self.depth -= 1
                if self.depth == 0:
                    return self.pos
        return -1


@dataclass
class CallScanner:
    """Feed answer text in pieces; get back text to send and calls found, in order."""

    accept: Accept
    keep_text_after: bool = False
    schema_of: Callable[[str], Any] | None = None
    held: str = ""
    #: The open candidate's trigger ("" while scanning plain text).
    trigger: str = ""
    line_blank: bool = True  # only whitespace since the last newline (or the start)
    called: bool = False
    _json: _Json = field(default_factory=_Json)
    _body_from: int = 0  # where the candidate's body starts in ``held``
    _scan_from: int = 0  # where to look for the candidate's end next time (already searched)

    def feed(self, piece: str) -> list[Piece]:
        out: list[Piece] = []
        data = self.held + piece
        self.held = ""
        while data:
            if self.trigger:
                data = self._candidate(data, out, final=False)
            else:
                data = self._plain(data, out)
        return out

    def finish(self) -> list[Piece]:
        """The end of the answer: an open candidate is tried as it stands (models often stop
        before the closing tag), anything else held is text."""
        out: list[Piece] = []
        held, self.held = self.held, ""
        if self.trigger:
            self._candidate(held, out, final=True)
        elif held:
            self._text(held, out)
        return out

    # -- plain text --

    def _plain(self, data: str, out: list[Piece]) -> str:
        start, trigger = self._next_trigger(data)
        if start < 0:
            keep = _partial_trigger(data)
            self._text(data[: len(data) - keep], out)
            self.held = data[len(data) - keep:]
            return ""
        self._text(data[:start], out)
        self.trigger = trigger
        self._json = _Json()
        self._scan_from = 0
        self._body_from = len(trigger) if trigger not in ("{", "[") else 0
        return data[start:]

    def _next_trigger(self, data: str) -> tuple[int, str]:
        best, found = -1, ""
        for trigger in _TRIGGERS:
            at = data.find(trigger)
            if at >= 0 and (best < 0 or at < best):
                best, found = at, trigger
        # Bare JSON counts only at the start of a line.
        match = _BARE_FIRST_LINE.match(data) if self.line_blank else None
        if match is None:
            match = _BARE.search(data, 0, best if best >= 0 else len(data))
        if match is not None and (best < 0 or match.start(1) < best):
            return match.start(1), match.group(1)
        return best, found

    def _text(self, text: str, out: list[Piece]) -> None:
        if not text:
            return
        newline = text.rfind("\n")
        tail = text[newline + 1:]
        self.line_blank = (self.line_blank if newline < 0 else True) and not tail.strip()
        if self.called and not self.keep_text_after:
            return  # a model that printed a call and goes on is imagining its result
        out.append(("text", text))

    # -- an open candidate --

    def _candidate(self, data: str, out: list[Piece], *, final: bool) -> str:
        """Decide the candidate at the start of ``data``: return what follows it, or hold."""
        end, body = self._find_end(data, final)
        if end == -1:  # still open
            if len(data) > MAX_HELD:
                return self._release(data, len(data), out)
            self.held = data
            return ""
        if end == -2:  # cannot be a call: its first character goes out as text
            return self._release(data, len(self.trigger) or 1, out)
        calls = parse_calls(body, self.schema_of) if body is not None else None
        if calls and self.accept(calls):
            self.trigger = ""
            self.called = True
            self.line_blank = False
            out.append(("calls", calls))
            return data[end:]
        return self._release(data, end, out)

    def _release(self, data: str, upto: int, out: list[Piece]) -> str:
        """The candidate's first ``upto`` characters are text after all."""
        self.trigger = ""
        self._text(data[:upto], out)
        return data[upto:]

    def _find_end(self, data: str, final: bool) -> tuple[int, str | None]:
        """(index past the candidate, its body); (-1, None) while open; (-2, None) not a call."""
        trigger = self.trigger
        if trigger in ("{", "["):
            return self._bare(data, 0, final)
        if trigger == "[TOOL_CALLS]":
            return self._bare(data, len(trigger), final)
        if trigger == "```":
            return self._fence(data, final)
        close = _TAGS[trigger]
        assert close is not None
        at = data.find(close, max(len(trigger), self._scan_from))
        if at < 0:
            self._scan_from = max(0, len(data) - len(close) + 1)
            if final:
                return len(data), _tag_body(trigger, data[len(trigger):])
            return -1, None
        return at + len(close), _tag_body(trigger, data[len(trigger):at + (
            len(close) if trigger == "<function=" else 0)])

    def _bare(self, data: str, offset: int, final: bool) -> tuple[int, str | None]:
        if self._json.pos < offset:
            self._json.pos = offset
        end = self._json.end(data)
        if end == -2:
            return -2, None
        if end >= 0:
            return end, data[offset:end]
        if self._json.start >= 0 and data[self._json.start] == "{":
            first = _FIRST_KEY.match(data, self._json.start)
            if first and first.group(1) not in _CALL_KEYS:
                return -2, None
        elif self._json.start >= 0:  # a list: its first item must be an object
            rest = data[self._json.start + 1:].lstrip()
            if rest and rest[0] != "{":
                return -2, None
        if final:
            return len(data), data[offset:]
        return -1, None

    def _fence(self, data: str, final: bool) -> tuple[int, str | None]:
        newline = data.find("\n", 3)
        if newline < 0:
            if len(data) - 3 > 32:  # no language name is that long
                return -2, None
            return (len(data), None) if final else (-1, None)
        if data[3:newline].strip().lower() not in _FENCE_LANGUAGES:
            return -2, None
        body_start = newline + 1
        rest = data[body_start:].lstrip()
        if rest and rest[0] not in "{[<":
            return -2, None
        close = data.find("```", max(body_start, self._scan_from))
        if close < 0:
            self._scan_from = max(0, len(data) - 2)
            return (len(data), data[body_start:]) if final else (-1, None)
        body = data[body_start:close].strip()
        if body.startswith("<tool_call>") and body.endswith("</tool_call>"):
            body = body[len("<tool_call>"):-len("</tool_call>")]
        return close + 3, body


def _tag_body(trigger: str, inner: str) -> str:
    if trigger == "<function=":
        return "<function=" + inner
    return inner.strip()


def _partial_trigger(data: str) -> int:
    """Length of the longest end of ``data`` that is a proper prefix of a trigger."""
    tail = data[-(_LONGEST_TRIGGER - 1):]
    for start, char in enumerate(tail):
        if char in _TRIGGER_STARTS:
            suffix = tail[start:]
            if any(len(suffix) < len(t) and t.startswith(suffix) for t in _TRIGGERS):
                return len(suffix)
    return 0

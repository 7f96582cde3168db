"""Unified (OpenAI) stream chunks -> Anthropic stream events, as a small state machine.

Anthropic streams one content block at a time: ``content_block_start``, deltas of that block's
type, ``content_block_stop``, with indexes 0, 1, 2, ... OpenAI chunks mix reasoning, text and tool
call fragments freely, so the converter keeps one block open and decides, per piece, whether it
continues that block or closes it and opens the next. Rules that keep Claude Code working:

- Within a chunk, reasoning goes before text before tool calls; ``finish_reason`` only records
  the reason: :meth:`StreamConverter.finish` emits ``message_delta`` once usage is known.
- A text block opens on the first piece with non-whitespace text (whitespace before it is
  kept and sent with it); Anthropic rejects empty and whitespace-only text blocks in history.
  Whitespace arriving outside a text block that no text follows is never sent.
- Reasoning, signatures and text arriving while the open tool call's arguments are incomplete
  wait, in arrival order, until that call is complete (or the stream ends): closing the call
  would leave its remaining fragments nowhere to go.
- A thinking block ends with a ``signature_delta``: the upstream's (``delta.thinking.signature``)
  or a generated one (:func:`ccr.convert.common.new_signature`).
- Tool calls are keyed by their OpenAI ``index`` (or ``id``); each becomes one ``tool_use``
  block and its argument fragments pass through byte for byte as ``input_json_delta``. The call
  being streamed stays open until another call is waiting *and* its own arguments form a complete
  JSON object; fragments of other calls are buffered meanwhile and sent when their block opens.
  That handles sequential, whole-at-the-end and interleaved (index 0, 1, 0) upstreams alike.
  A call's block only closes early once its arguments are a complete object, so the only bytes
  that can arrive too late are whitespace after that object, which change nothing.
"""

from __future__ import annotations

import json
from collections import deque
from typing import Any

import orjson

from ccr.convert.common import (
    anthropic_usage,
    matched_stop,
    new_message_id,
    new_signature,
    new_tool_id,
    raise_upstream_error,
    stop_reason_for,
)
from ccr.errors import error_body

Event = tuple[str, dict[str, Any]]

_PENDING, _OPEN, _CLOSED = 0, 1, 2


class _ToolCall:
    """One upstream tool call: its identity, and argument bytes buffered or already sent."""

    __slots__ = ("checked", "complete", "name", "pending", "sent", "state", "upstream_id")

    def __init__(self, upstream_id: str | None, name: str | None) -> None:
        self.upstream_id = upstream_id
        self.name = name
        self.pending: list[str] = []  # fragments received before the block opened
        self.sent: list[str] = []  # fragments sent, kept to tell when the JSON is complete
        self.state = _PENDING
        self.checked = 0  # len(sent) at the last completeness check
        self.complete = False


class StreamConverter:
    """Feeds on unified stream chunks, returns the Anthropic ``(event, data)`` pairs to send."""

    def __init__(
        self,
        *,
        model: str,
        input_tokens: int,
        message_id: str | None = None,
        stop_sequences: list[str] | None = None,
    ) -> None:
        self.message_id = message_id or new_message_id()
        self._model = model
        self._input_estimate = input_tokens
        self._stop_sequences = stop_sequences
        self._started = False
        self._finished = False
        self._next_index = 0
        self._index = -1  # index of the open block
        self._open: str | None = None  # type of the open block: "thinking", "text", "tool_use"
        self._open_call: _ToolCall | None = None
        self._signature: str | None = None  # upstream signature for the current thinking block
        self._pending_text = ""  # whitespace-only text not yet worth a block
        #: ("thinking" | "signature" | "text", value) held while the open tool call is incomplete
        self._held: list[tuple[str, str]] = []
        self._calls: list[_ToolCall] = []
        self._by_index: dict[int, _ToolCall] = {}
        self._by_id: dict[str, _ToolCall] = {}
        self._queue: deque[_ToolCall] = deque()  # calls without a block yet, in arrival order
        self._tool_blocks = 0
        self._finish_reason: str | None = None
        self._stop_sequence: str | None = None
        self._upstream_usage: dict[str, Any] | None = None
        self._stop_reason: str | None = None
        #: Some chunk fed so far had a ``finish_reason`` on any choice (the caller may reset it
        #: between rounds of one stream).
        self.saw_finish = False
        #: Encoded start of a ``content_block_delta`` for the open block: (index, kind, bytes).
        self._template: tuple[int, str, bytes] | None = None

    # --- public API ---------------------------------------------------------------------------

    @property
    def usage(self) -> dict[str, int]:
        """Anthropic usage as known so far (final once :meth:`finish` has run)."""
        return anthropic_usage(self._upstream_usage, self._input_estimate)

    @property
    def stop_reason(self) -> str | None:
        """The Anthropic stop reason sent by :meth:`finish`, None before it."""
        return self._stop_reason

    @property
    def finished(self) -> bool:
        return self._finished

    def start(self) -> list[Event]:
        """The ``message_start`` event (once; :meth:`feed` calls it if the caller did not)."""
        if self._started:
            return []
        self._started = True
        message: dict[str, Any] = {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self._model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {
                "input_tokens": self._input_estimate,
                "cache_creation_input_tokens": 0,
                "cache_read_input_tokens": 0,
                "output_tokens": 1,
            },
        }
        return [("message_start", {"type": "message_start", "message": message})]

    def feed(self, chunk: dict[str, Any] | None) -> list[Event]:
        """Events for one parsed chunk; None (``[DONE]``), non-objects and chunks after the end
        give none.

        Raises :class:`ccr.errors.ApiError` for an ``{"error": ...}`` chunk.
        """
        if self._finished or not isinstance(chunk, dict):
            return []
        if chunk.get("error"):
            raise_upstream_error(chunk)
        events = self.start() if not self._started else []
        choices = chunk.get("choices")
        # Fields of the wrong type are read as absent: a malformed chunk must not end the stream.
        if isinstance(choices, list) and choices and isinstance(choices[0], dict):
            choice = choices[0]
            delta = choice.get("delta")
            if delta and isinstance(delta, dict):
                self._delta(delta, events)
            finish_reason = choice.get("finish_reason")
            if finish_reason or (len(choices) > 1 and _any_finish(choices)):
                self.saw_finish = True
            if finish_reason and isinstance(finish_reason, str):
                self._finish_reason = finish_reason
                stop = matched_stop(choice, self._stop_sequences)
                if stop is not None:
                    self._stop_sequence = stop
        usage = chunk.get("usage")
        if usage and isinstance(usage, dict):
            self._upstream_usage = usage
        return events

    def feed_fast(self, chunk: dict[str, Any]) -> bytes | None:
        """The SSE bytes for the commonest chunk, more text or reasoning for the block already
        open, built from a pre-encoded template (the same bytes :meth:`feed` and
        :func:`ccr.protocol.sse.encode_event` give); None, with nothing changed, for any
        other chunk, which then goes through :meth:`feed`."""
        kind = self._open
        if kind is None or kind == "tool_use" or self._finished or self._held:
            return None
        choices = chunk.get("choices")
        if type(choices) is not list or len(choices) != 1 or chunk.get("usage") \
                or chunk.get("error"):
            return None
        choice = choices[0]
        if type(choice) is not dict or choice.get("finish_reason"):
            return None
        delta = choice.get("delta")
        if type(delta) is not dict:
            return None
        key = "content" if kind == "text" else "reasoning_content"
        value = delta.get(key)
        if type(value) is not str or not value:
            return None
        if len(delta) > 1:
            for name, other in delta.items():
                if other is not None and name != key and name != "role":
                    return None
        try:
            encoded = orjson.dumps(value)
        except TypeError:  # a lone surrogate: the general path repairs it
            return None
        template = self._template
        if template is None or template[0] != self._index or template[1] != kind:
            template = (self._index, kind, _delta_template(self._index, kind))
            self._template = template
        return template[2] + encoded + b"}}\n\n"

    def finish(self) -> list[Event]:
        """Close every block, then ``message_delta`` (stop reason, usage) and ``message_stop``."""
        if self._finished:
            return []
        events = self.start() if not self._started else []
        self._close(events)
        self._release(events)
        while self._queue:
            self._open_tool(self._queue.popleft(), events)
        self._close(events)
        # Whatever is left in _pending_text is whitespace that no text followed: not sent.
        self._stop_reason = stop_reason_for(
            self._finish_reason,
            has_tool_use=self._tool_blocks > 0,
            stop_sequence=self._stop_sequence,
        )
        stop_sequence = self._stop_sequence if self._stop_reason == "stop_sequence" else None
        events.append(
            (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": self._stop_reason, "stop_sequence": stop_sequence},
                    "usage": self.usage,
                },
            )
        )
        events.append(("message_stop", {"type": "message_stop"}))
        self._finished = True
        return events

    def fail(self, error_type: str, message: str) -> list[Event]:
        """An ``error`` event ending the stream after a failure; nothing is sent after it."""
        if self._finished:
            return []
        self._finished = True
        return [("error", error_body(error_type, message))]

    # --- pieces of a delta --------------------------------------------------------------------

    def _delta(self, delta: dict[str, Any], events: list[Event]) -> None:
        reasoning = delta.get("reasoning_content")
        if not reasoning or not isinstance(reasoning, str):
            reasoning = delta.get("reasoning")
            if not isinstance(reasoning, str):
                reasoning = None
        extension = delta.get("thinking")
        if extension:
            if isinstance(extension, dict):
                signature = extension.get("signature")
                if signature and isinstance(signature, str):
                    self._piece("signature", signature, events)
                if not reasoning and isinstance(extension.get("content"), str):
                    reasoning = extension["content"]
            elif isinstance(extension, str) and not reasoning:
                reasoning = extension
        if reasoning:
            self._piece("thinking", reasoning, events)

        content = delta.get("content")
        if content and isinstance(content, str):
            self._piece("text", content, events)

        tool_calls = delta.get("tool_calls")
        if tool_calls and isinstance(tool_calls, list):
            for fragment in tool_calls:
                if isinstance(fragment, dict):
                    self._tool_fragment(fragment, events)
        elif isinstance(delta.get("function_call"), dict):  # the pre-tools OpenAI form
            self._tool_fragment({"function": delta["function_call"]}, events)

    def _piece(self, kind: str, value: str, events: list[Event]) -> None:
        """Send one piece of reasoning, signature or text, or hold it while the open tool call
        is incomplete (closing that call now would leave its later fragments nowhere to go)."""
        if self._arguments_incomplete():
            self._held.append((kind, value))
        elif kind == "thinking":
            self._thinking(value, events)
        elif kind == "signature":
            self._signature = value
            if self._open != "thinking":
                self._open_thinking(events)
        else:
            self._text(value, events)

    def _release(self, events: list[Event]) -> None:
        """Send the held pieces, in arrival order, once the open tool call no longer needs its
        block (its arguments are complete, or the stream has ended)."""
        held, self._held = self._held, []
        for kind, value in held:
            self._piece(kind, value, events)

    def _thinking(self, text: str, events: list[Event]) -> None:
        if self._open != "thinking":
            self._open_thinking(events)
        events.append(self._delta_event({"type": "thinking_delta", "thinking": text}))

    def _open_thinking(self, events: list[Event]) -> None:
        self._open_block({"type": "thinking", "thinking": "", "signature": ""}, "thinking", events)

    def _text(self, text: str, events: list[Event]) -> None:
        if self._open == "text":
            events.append(self._delta_event({"type": "text_delta", "text": text}))
        elif text.isspace():
            self._pending_text += text  # whitespace alone is no block: it waits for text
        else:
            self._open_text(text, events)

    def _open_text(self, text: str, events: list[Event]) -> None:
        if self._pending_text:
            text = self._pending_text + text
            self._pending_text = ""
        self._open_block({"type": "text", "text": ""}, "text", events)
        events.append(self._delta_event({"type": "text_delta", "text": text}))

    def _tool_fragment(self, fragment: dict[str, Any], events: list[Event]) -> None:
        index = fragment.get("index")
        call_id = fragment.get("id") or None
        if call_id is not None and not isinstance(call_id, str):
            call_id = str(call_id)
        function = fragment.get("function")
        if not isinstance(function, dict):
            function = {}
        name = function.get("name") or None
        if not isinstance(name, str):
            name = None
        arguments = function.get("arguments")
        if arguments is not None and not isinstance(arguments, str):
            arguments = json.dumps(arguments, ensure_ascii=False)

        call = self._find_call(index, call_id, name)
        if call is None:
            call = _ToolCall(call_id, name)
            self._calls.append(call)
            self._queue.append(call)
            if isinstance(index, int):
                self._by_index[index] = call
            if call_id:
                self._by_id[call_id] = call
        else:
            if call_id and call.upstream_id is None:
                call.upstream_id = call_id
                self._by_id[call_id] = call
            if name and not call.name:
                call.name = name

        if arguments:
            if call.state == _OPEN:
                call.sent.append(arguments)
                events.append(
                    self._delta_event({"type": "input_json_delta", "partial_json": arguments})
                )
            elif call.state == _PENDING:
                call.pending.append(arguments)
            # A block only closes before the end once its arguments form a complete object, so
            # a fragment for a closed call can only be whitespace after it (or an upstream's
            # mistake): dropped.
        if self._held and not self._arguments_incomplete():
            self._release(events)
        self._advance(events)

    def _find_call(self, index: Any, call_id: str | None, name: str | None) -> _ToolCall | None:
        """The call a fragment belongs to, or None when it starts a new one.

        ``id`` wins when known (some upstreams repeat it on every fragment); then ``index``,
        unless the fragment names a tool under a different id (a new call reusing the index;
        a different id without a name is an upstream renaming ids per chunk). A fragment with
        neither id nor index continues the latest call.
        """
        if call_id is not None:
            found = self._by_id.get(call_id)
            if found is not None:
                return found
        if isinstance(index, int):
            found = self._by_index.get(index)
            if found is not None and (
                call_id is None or found.upstream_id is None or name is None
            ):
                return found
            return None
        if call_id is None and self._calls:
            return self._calls[-1]
        return None

    def _advance(self, events: list[Event]) -> None:
        """Open waiting calls, in order, as soon as the open one is known to be complete."""
        while self._queue:
            waiting = self._queue[0]
            if not waiting.name:
                return  # a block needs the name; later calls keep their order behind it
            if self._arguments_incomplete():
                return
            self._queue.popleft()
            self._open_tool(waiting, events)

    def _arguments_incomplete(self) -> bool:
        """True while a tool block is open and its arguments are not yet a complete object."""
        return self._open == "tool_use" and not self._open_call_complete()

    def _open_call_complete(self) -> bool:
        call = self._open_call
        assert call is not None
        if call.complete:
            return True
        if call.checked == len(call.sent):
            return False  # nothing new since the last look
        call.checked = len(call.sent)
        for piece in reversed(call.sent):
            tail = piece.rstrip()
            if tail:
                break
        else:
            return False
        if not tail.endswith("}"):
            return False  # cheap test first: an object must end with "}"
        try:
            call.complete = isinstance(json.loads("".join(call.sent)), dict)
        except ValueError:
            return False
        return call.complete

    # --- blocks -------------------------------------------------------------------------------

    def _open_tool(self, call: _ToolCall, events: list[Event]) -> None:
        block = {
            "type": "tool_use",
            "id": call.upstream_id or new_tool_id(),
            "name": call.name or "",
            "input": {},
        }
        self._open_block(block, "tool_use", events)
        self._tool_blocks += 1
        call.state = _OPEN
        self._open_call = call
        if call.pending:
            arguments = "".join(call.pending)
            call.pending = []
            call.sent.append(arguments)
            delta = {"type": "input_json_delta", "partial_json": arguments}
            events.append(self._delta_event(delta))

    def _open_block(self, block: dict[str, Any], kind: str, events: list[Event]) -> None:
        self._close(events)
        self._index = self._next_index
        self._next_index += 1
        self._open = kind
        events.append(
            (
                "content_block_start",
                {"type": "content_block_start", "index": self._index, "content_block": block},
            )
        )

    def _close(self, events: list[Event]) -> None:
        if self._open is None:
            return
        if self._open == "thinking":
            signature = self._signature or new_signature()
            self._signature = None
            events.append(self._delta_event({"type": "signature_delta", "signature": signature}))
        elif self._open_call is not None:
            self._open_call.state = _CLOSED
            self._open_call = None
        events.append(("content_block_stop", {"type": "content_block_stop", "index": self._index}))
        self._open = None

    def _delta_event(self, delta: dict[str, Any]) -> Event:
        return (
            "content_block_delta",
            {"type": "content_block_delta", "index": self._index, "delta": delta},
        )


def _any_finish(choices: list[Any]) -> bool:
    return any(isinstance(c, dict) and c.get("finish_reason") for c in choices)


def _delta_template(index: int, kind: str) -> bytes:
    """``encode_event("content_block_delta", ...)`` of a text or thinking delta up to its value;
    the caller appends the JSON string and ``}}\\n\\n``."""
    field = "text" if kind == "text" else "thinking"
    return (
        b'event: content_block_delta\ndata: {"type":"content_block_delta","index":%d,'
        b'"delta":{"type":"%s_delta","%s":' % (index, field.encode(), field.encode())
    )

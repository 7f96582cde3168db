"""Reasoning a model writes into its text between tags (``<think>…</think>``), moved out as
reasoning, for :mod:`.extrathinktag` and :mod:`.forcereasoning`.

Only a block at the very start of the answer (after whitespace) counts: that is where reasoning
models put it, and a tag later in the prose is more likely a model talking *about* tags. A block
that is never closed is reasoning to the end, as a model cut off mid-thought leaves it.

Streamed, text is held back only while it could still be the opening tag, and inside the block
only the few characters that could be the start of the closing tag: everything else flows as it
arrives. Reasoning goes out as ``reasoning_content`` (ccr's unified reasoning field), so the stream
converter makes it a thinking block with its signature.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

_LEADING, _INSIDE, _AFTER, _TEXT = range(4)


def split_tagged(text: str, open_tag: str, close_tag: str, *, opened: bool = False
                 ) -> tuple[str, str] | None:
    """``(reasoning, rest)`` for a whole answer that starts with a tagged block, else None.
    ``opened``: the prompt already opened the block, so the answer starts inside it (an
    opening tag the model writes anyway is skipped)."""
    stripped = text.lstrip()
    if stripped.startswith(open_tag):
        body = stripped[len(open_tag):]
    elif opened:
        body = stripped
    else:
        return None
    end = body.find(close_tag)
    if end < 0:
        return body.strip(), ""
    return body[:end].strip(), body[end + len(close_tag):].lstrip()


@dataclass
class TagSplitter:
    """The streaming half: feed content pieces, get ``(reasoning, text)`` to send now."""

    open_tag: str
    close_tag: str
    state: int = _LEADING
    #: The prompt opened the block: the answer starts inside it (see :func:`split_tagged`).
    opened: bool = False
    held: str = ""
    #: Reasoning text was sent: whitespace before it is not (an empty block is no thinking).
    reasoning_started: bool = False
    _parts: list[str] = field(default_factory=list)

    def feed(self, piece: str) -> tuple[str, str]:
        reasoning: list[str] = []
        text: list[str] = []
        data = self.held + piece
        self.held = ""
        while data:
            if self.state == _TEXT:
                text.append(data)
                break
            if self.state == _LEADING:
                stripped = data.lstrip()
                if not stripped or self.open_tag.startswith(stripped):
                    self.held = data  # still whitespace or part of the opening tag
                    break
                if stripped.startswith(self.open_tag):
                    self.state = _INSIDE
                    data = stripped[len(self.open_tag):]
                    continue
                self.state = _INSIDE if self.opened else _TEXT
                continue
            if self.state == _INSIDE:
                end = data.find(self.close_tag)
                if end >= 0:
                    reasoning.append(self._reasoning(data[:end]))
                    data = data[end + len(self.close_tag):]
                    self.state = _AFTER
                    continue
                keep = _partial_suffix(data, self.close_tag)
                reasoning.append(self._reasoning(data[: len(data) - keep]))
                self.held = data[len(data) - keep:]
                break
            # _AFTER: whitespace between the closing tag and the answer is not sent.
            data = data.lstrip()
            if data:
                self.state = _TEXT
        return "".join(reasoning), "".join(text)

    def _reasoning(self, text: str) -> str:
        if not self.reasoning_started:
            text = text.lstrip()
            self.reasoning_started = bool(text)
        return text

    def flush(self) -> tuple[str, str]:
        """What is held at the end of the stream: a partial tag is what it looks like."""
        held, self.held = self.held, ""
        if self.state == _INSIDE:
            return self._reasoning(held), ""
        if self.state == _LEADING and held.strip():
            return "", held
        return "", ""


def _partial_suffix(data: str, tag: str) -> int:
    """Length of the longest end of ``data`` that is a proper prefix of ``tag``."""
    for size in range(min(len(tag) - 1, len(data)), 0, -1):
        if data.endswith(tag[:size]):
            return size
    return 0


class TaggedReasoning:
    """The response hooks shared by the tag transformers: JSON answers and stream chunks."""

    def __init__(self, open_tag: str, close_tag: str, state_key: str, *,
                 opened: bool = False) -> None:
        self.open_tag = open_tag
        self.close_tag = close_tag
        self.state_key = state_key
        self.opened = opened

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        choices = response.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return response
        message = choices[0].get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return response
        split = split_tagged(message["content"], self.open_tag, self.close_tag,
                             opened=self.opened)
        if split is None:
            return response
        reasoning, rest = split
        message["content"] = rest
        if not reasoning:
            return response  # an empty block (a model told not to think): no thinking
        earlier = message.get("reasoning_content")
        if isinstance(earlier, str) and earlier:
            reasoning = earlier + reasoning
        message["reasoning_content"] = reasoning
        return response

    def chunk(self, chunk: dict[str, Any], scratch: dict[str, Any]) -> list[dict[str, Any]]:
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            return [chunk]
        delta = choices[0].get("delta")
        if not isinstance(delta, dict) or not isinstance(delta.get("content"), str):
            return [chunk]
        splitter = self._splitter(scratch)
        reasoning, text = splitter.feed(delta["content"])
        _set_parts(delta, reasoning, text)
        return [chunk]

    def end(self, scratch: dict[str, Any]) -> list[dict[str, Any]]:
        splitter = scratch.get(self.state_key)
        if not isinstance(splitter, TagSplitter):
            return []
        reasoning, text = splitter.flush()
        if not reasoning and not text:
            return []
        delta: dict[str, Any] = {}
        _set_parts(delta, reasoning, text)
        return [{"object": "chat.completion.chunk",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}]

    def _splitter(self, scratch: dict[str, Any]) -> TagSplitter:
        splitter = scratch.get(self.state_key)
        if not isinstance(splitter, TagSplitter):
            splitter = scratch[self.state_key] = TagSplitter(self.open_tag, self.close_tag,
                                                             opened=self.opened)
        return splitter


def _set_parts(delta: dict[str, Any], reasoning: str, text: str) -> None:
    if reasoning:
        earlier = delta.get("reasoning_content")
        delta["reasoning_content"] = (earlier if isinstance(earlier, str) else "") + reasoning
    if text:
        delta["content"] = text
    else:
        delta.pop("content", None)


def history_with_tags(message: Mapping[str, Any], open_tag: str, close_tag: str) -> str | None:
    """An assistant turn's reasoning written back into its text, for a model that only knows
    reasoning as tagged text; None when the turn has no reasoning."""
    thinking = message.get("thinking")
    if not isinstance(thinking, Mapping) or not thinking.get("content"):
        return None
    content = message.get("content")
    text = content if isinstance(content, str) else ""
    return f"{open_tag}{thinking['content']}{close_tag}\n{text}"

"""The parts every agent shares: the run it prepares and the filter that hides its tool calls."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from ccr.convert.common import new_tool_id, parse_arguments

#: At most this many internal tool rounds per client request; then the model's answer stands.
MAX_ROUNDS = 4


@dataclass
class InternalCall:
    id: str
    name: str
    arguments: str = ""

    @property
    def input(self) -> dict[str, Any]:
        return parse_arguments(self.arguments)


Handler = Callable[[dict[str, Any]], Awaitable[str]]


@dataclass
class AgentRun:
    """One request's agent state: which tools are internal and how to run them."""

    handlers: dict[str, Handler]
    #: For the log line: which agent ran.
    name: str = "agent"
    rounds: int = 0

    async def run(self, call: InternalCall) -> str:
        handler = self.handlers.get(call.name)
        if handler is None:
            return f"{call.name} is not available"
        try:
            return await handler(call.input)
        except Exception as exc:  # a tool failure is an answer for the model, not a crash
            return f"{call.name} failed: {exc}"


@dataclass
class InternalCalls:
    """Filters one upstream round's unified chunks: internal tool calls are taken out (the
    client must not see them) and kept, with the round's text, for the follow-up request."""

    names: frozenset[str]
    calls: list[InternalCall] = field(default_factory=list)
    text: list[str] = field(default_factory=list)
    _by_index: dict[int, InternalCall | None] = field(default_factory=dict)
    _real_calls: bool = False

    def chunk(self, chunk: dict[str, Any]) -> dict[str, Any]:
        choices = chunk.get("choices")
        if not isinstance(choices, list) or not choices:
            return chunk
        choice = choices[0]
        delta = choice.get("delta") or {}
        if isinstance(delta.get("content"), str):
            self.text.append(delta["content"])
        tool_calls = delta.get("tool_calls")
        if isinstance(tool_calls, list):
            kept = [tc for tc in tool_calls if not self._take(tc)]
            if len(kept) != len(tool_calls):
                delta = {**delta}
                if kept:
                    delta["tool_calls"] = kept
                else:
                    delta.pop("tool_calls")
                choice = {**choice, "delta": delta}
        if choice.get("finish_reason") in ("tool_calls", "function_call") and self.pending:
            choice = {**choice, "finish_reason": None}
        if choice is not choices[0]:
            chunk = {**chunk, "choices": [choice, *choices[1:]]}
        return chunk

    def _take(self, tool_call: dict[str, Any]) -> bool:
        """Record the fragment if it belongs to an internal call; True means drop it."""
        index = tool_call.get("index", 0)
        function = tool_call.get("function") or {}
        if index not in self._by_index:
            name = function.get("name")
            if name in self.names:
                call = InternalCall(tool_call.get("id") or new_tool_id(), name)
                self.calls.append(call)
                self._by_index[index] = call
            else:
                self._by_index[index] = None
                self._real_calls = True
        found = self._by_index[index]
        if found is None:
            return False
        if isinstance(function.get("arguments"), str):
            found.arguments += function["arguments"]
        return True

    def response(self, response: dict[str, Any]) -> dict[str, Any]:
        """The same filtering for a whole (non-streamed) unified response."""
        choices = response.get("choices")
        if not isinstance(choices, list) or not choices:
            return response
        message = dict(choices[0].get("message") or {})
        if isinstance(message.get("content"), str):
            self.text.append(message["content"])
        kept = []
        for tool_call in message.get("tool_calls") or []:
            function = tool_call.get("function") or {}
            if function.get("name") in self.names:
                arguments = function.get("arguments")
                if not isinstance(arguments, str):
                    arguments = json.dumps(arguments or {})
                self.calls.append(InternalCall(tool_call.get("id") or new_tool_id(),
                                               function["name"], arguments))
            else:
                kept.append(tool_call)
                self._real_calls = True
        if "tool_calls" in message:
            message["tool_calls"] = kept or None
            if not kept:
                message.pop("tool_calls")
        choice = {**choices[0], "message": message}
        if choice.get("finish_reason") in ("tool_calls", "function_call") and self.pending:
            choice["finish_reason"] = "stop"
        return {**response, "choices": [choice, *choices[1:]]}

    @property
    def pending(self) -> bool:
        """Internal calls wait for ccr and no real call goes to the client in this round.
        (With real calls too, the client's turn wins and the internal calls are dropped.)"""
        return bool(self.calls) and not self._real_calls

    def follow_up(self, body: dict[str, Any], results: list[str]) -> dict[str, Any]:
        """The request for the next round: the model's turn with its internal calls, then the
        tool results."""
        assistant: list[dict[str, Any]] = []
        said = "".join(self.text)
        if said.strip():
            assistant.append({"type": "text", "text": said})
        assistant += [{"type": "tool_use", "id": c.id, "name": c.name, "input": c.input}
                      for c in self.calls]
        user = [{"type": "tool_result", "tool_use_id": c.id, "content": result}
                for c, result in zip(self.calls, results, strict=True)]
        return {**body, "messages": [*body["messages"], {"role": "assistant", "content": assistant},
                                     {"role": "user", "content": user}]}

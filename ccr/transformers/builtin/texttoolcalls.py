"""``texttoolcalls``: a tool call a model printed as text becomes a real ``tool_use`` block.

Small local models behind Ollama or llama.cpp often write ``<tool_call>{"name": …}</tool_call>``
or a JSON object into their answer instead of calling the tool, and Claude Code waits for a call
that never comes. With this transformer on a provider or a model, such text is recognised (the
forms are listed in :mod:`._text_calls`) and becomes a tool call, but only when it names a tool
the request offers and its arguments fit that tool's schema (:mod:`._schema_check`); anything
else stays text, exactly as written. Requests without tools, or with ``tool_choice: none``, are
not looked at.

Text after a recognised call is dropped: a model that keeps writing after printing a call is
imagining the call's result. Option ``keep_text_after: true`` keeps it.

With ``extrathinktag`` or ``forcereasoning`` on the same model, list them after this one (answers
unwind the chain backwards, so the reasoning is taken out before calls are looked for).

Streamed, text flows as it arrives and is held back only while a possible call is open; the
calls go out as ordinary ``tool_calls`` deltas, so the stream stays valid whatever is found.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ccr.convert.common import new_tool_id
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._schema_check import fits
from ccr.transformers.builtin._text_calls import Call, CallScanner, Piece, merge
from ccr.transformers.registry import register

_STATE_KEY = "texttoolcalls"
#: Unified ``tool_calls`` indexes of calls made from text, clear of the upstream's own.
_INDEX_BASE = 10_000


class _Offered:
    """The tools of one request and the scanner of its answer."""

    def __init__(self, schemas: dict[str, Any], keep_text_after: bool) -> None:
        self.schemas = schemas
        self.scanner = CallScanner(self.accept, keep_text_after=keep_text_after,
                                   schema_of=self.schemas.get)
        self.made = 0

    def accept(self, calls: list[Call]) -> bool:
        return all(name in self.schemas and fits(arguments, self.schemas[name])
                   for name, arguments in calls)

    def call_deltas(self, calls: list[Call]) -> list[dict[str, Any]]:
        out = []
        for name, arguments in calls:
            out.append({"index": _INDEX_BASE + self.made, "id": new_tool_id(), "type": "function",
                        "function": {"name": name,
                                     "arguments": json.dumps(arguments, ensure_ascii=False)}})
            self.made += 1
        return out


@register
class TextToolCalls(Transformer):
    name = "texttoolcalls"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        keep = self.options.get("keep_text_after", False)
        if not isinstance(keep, bool):
            raise ValueError('"keep_text_after" must be true or false')
        self.keep_text_after = keep

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        schemas: dict[str, Any] = {}
        if request.get("tool_choice") != "none":
            for tool in request.get("tools") or ():
                function = tool.get("function") if isinstance(tool, dict) else None
                if isinstance(function, dict) and isinstance(function.get("name"), str):
                    schemas[function["name"]] = function.get("parameters") or {}
        if schemas:
            ctx.state[_STATE_KEY] = _Offered(schemas, self.keep_text_after)
        return request

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        offered = ctx.state.get(_STATE_KEY)
        choice = _choice(response)
        if not isinstance(offered, _Offered) or choice is None:
            return response
        message = choice.get("message")
        if not isinstance(message, dict) or not isinstance(message.get("content"), str):
            return response
        scanner = CallScanner(offered.accept, keep_text_after=self.keep_text_after,
                              schema_of=offered.schemas.get)
        pieces = merge(scanner.feed(message["content"]) + scanner.finish())
        calls = [call for kind, value in pieces if kind == "calls" for call in value]
        if not calls:
            return response
        message["content"] = "".join(value for kind, value in pieces if kind == "text") or None
        message["tool_calls"] = [*(message.get("tool_calls") or ()), *(
            {k: v for k, v in delta.items() if k != "index"}
            for delta in offered.call_deltas(calls))]
        choice["finish_reason"] = "tool_calls"
        return response

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        offered = ctx.state.get(_STATE_KEY)
        choice = _choice(chunk)
        if not isinstance(offered, _Offered) or choice is None:
            return [chunk]
        delta = choice.get("delta")
        if not isinstance(delta, dict) or not isinstance(delta.get("content"), str):
            return [chunk]
        pieces = merge(offered.scanner.feed(delta.pop("content")))
        if pieces and pieces[0][0] == "text":
            delta["content"] = pieces.pop(0)[1]
        if not pieces:
            return [chunk]
        out = [chunk, *(_piece_chunk(piece, offered) for piece in pieces)]
        finish = choice.pop("finish_reason", None)
        if finish:
            out[-1]["choices"][0]["finish_reason"] = finish
        return out

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        offered = ctx.state.get(_STATE_KEY)
        if not isinstance(offered, _Offered):
            return []
        return [_piece_chunk(piece, offered) for piece in merge(offered.scanner.finish())]


def _choice(body: dict[str, Any]) -> dict[str, Any] | None:
    choices = body.get("choices")
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


def _piece_chunk(piece: Piece, offered: _Offered) -> dict[str, Any]:
    kind, value = piece
    delta = {"content": value} if kind == "text" else {"tool_calls": offered.call_deltas(value)}
    return {"object": "chat.completion.chunk",
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}

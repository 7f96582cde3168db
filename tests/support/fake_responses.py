"""A scriptable OpenAI Responses API (``POST /v1/responses``) on loopback, as strict as the
real one about what it accepts.

It rejects, with OpenAI's 400 error shapes: unknown top-level parameters (``messages``,
``max_tokens``, ``stop``, ``stream_options``, ...), sampling settings (the gpt-5-codex family
rejects ``temperature``/``top_p``), a ``max_output_tokens`` below 16, unknown input item types or
item fields, message parts of the wrong kind for their role, a ``function_call_output`` without
its earlier ``function_call`` and a ``function_call`` without its output, a ``reasoning`` item
that is last or whose ``encrypted_content`` this server did not issue, function tools without
``strict: false`` whose schemas are not strict-compatible, a ``tool_choice`` naming no offered
tool, and a wrong Bearer key. Answers are scripted as output items and sent whole or as the
API's typed SSE events (``event:`` lines, ``sequence_number``, no ``[DONE]``).

Usage::

    with FakeResponses() as fake:
        fake.enqueue(respond(reasoning("Plan."), call("Bash", {"command": "ls"})))
        ...  # provider api_base_url = fake.api_base_url, transformer openai-responses
"""

from __future__ import annotations

import asyncio
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

from tests.support.loopback_http import (
    HttpRequest,
    ScriptedServer,
    parse_json,
    send_chunked,
    send_plain,
)

PATH = "/v1/responses"

_TOP_LEVEL = {"model", "input", "instructions", "max_output_tokens", "tools", "tool_choice",
              "parallel_tool_calls", "reasoning", "include", "store", "stream", "metadata",
              "text", "truncation", "user", "previous_response_id", "service_tier",
              "prompt_cache_key", "background", "max_tool_calls", "top_logprobs",
              "safety_identifier", "temperature", "top_p"}
_SAMPLING = {"temperature", "top_p"}
_INCLUDE = {"reasoning.encrypted_content", "message.output_text.logprobs",
            "file_search_call.results", "web_search_call.action.sources"}
_ITEM_FIELDS = {
    "message": {"type", "role", "content", "id", "status"},
    "function_call": {"type", "call_id", "name", "arguments", "id", "status"},
    "function_call_output": {"type", "call_id", "output", "id", "status"},
    "reasoning": {"type", "id", "summary", "encrypted_content", "content", "status"},
}
_PARTS = {"user": {"input_text", "input_image", "input_file"},
          "system": {"input_text"}, "developer": {"input_text"},
          "assistant": {"output_text", "refusal"}}


# --------------------------------------------------------------------------------------------
# Scripting vocabulary


@dataclass(frozen=True)
class Item:
    kind: str  # "reasoning" | "message" | "function_call"
    text: str = ""
    name: str = ""
    arguments: str = ""
    call_id: str = ""
    encrypted: bool = True


def reasoning(summary: str, *, encrypted: bool = True) -> Item:
    return Item("reasoning", text=summary, encrypted=encrypted)


def say(text: str) -> Item:
    return Item("message", text=text)


def call(name: str, args: dict[str, Any] | None = None, *, call_id: str | None = None) -> Item:
    return Item("function_call", name=name, arguments=json.dumps(args or {}),
                call_id=call_id or "call_" + secrets.token_hex(8))


@dataclass(frozen=True)
class ResponsesReply:
    items: tuple[Item, ...] = ()
    status: int = 200
    error: dict[str, Any] | None = None
    final_status: str = "completed"  # or "incomplete" / "failed"
    incomplete_reason: str = "max_output_tokens"
    input_tokens: int = 20
    output_tokens: int = 7
    cached_tokens: int = 0
    pieces: int = 3  # deltas per text or argument string


def respond(*items: Item, **options: Any) -> ResponsesReply:
    return ResponsesReply(items=items, **options)


def responses_error(status: int, message: str, *, code: str | None = None,
                    param: str | None = None) -> ResponsesReply:
    return ResponsesReply(status=status, error={
        "message": message, "type": "invalid_request_error", "param": param, "code": code})


@dataclass
class ResponsesRequest:
    path: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def items(self) -> list[dict[str, Any]]:
        value = (self.body or {}).get("input")
        return value if isinstance(value, list) else []

    def items_of(self, kind: str) -> list[dict[str, Any]]:
        return [i for i in self.items if i.get("type", "message") == kind]


class Invalid(Exception):
    def __init__(self, message: str, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


# --------------------------------------------------------------------------------------------
# Server


@dataclass
class _Issued:
    encrypted: dict[str, str] = field(default_factory=dict)  # encrypted_content -> reasoning id


class FakeResponses(ScriptedServer[ResponsesRequest, ResponsesReply]):
    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(respond(say("Hello from fake Responses.")), host,
                         thread_name="fake-responses")
        self.expected_key: str | None = None
        self.rejections: list[str] = []
        self._issued = _Issued()

    @property
    def api_base_url(self) -> str:
        return self.base_url + PATH

    async def _answer(self, http: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        request = ResponsesRequest(http.path, http.headers, parse_json(http.raw))
        self.requests.append(request)
        try:
            self._check(http, request)
        except Invalid as problem:
            self.rejections.append(str(problem))
            return await self._send_error(writer, responses_error(
                401 if problem.code == "invalid_api_key" else 400, str(problem),
                code=problem.code, param=problem.param))
        reply = self._scripted_reply(request)
        if reply.error is not None:
            return await self._send_error(writer, reply)
        response = self._response(reply, request)
        if not (request.body or {}).get("stream"):
            data = json.dumps(response).encode()
            await send_plain(writer, 200, [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(data)))], data)
            return True
        events = [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode()
                  for e in _events(response, reply.pieces)]
        return await send_chunked(writer, 200, [("Content-Type", "text/event-stream"),
                                                ("Transfer-Encoding", "chunked")], events)

    async def _send_error(self, writer: asyncio.StreamWriter, reply: ResponsesReply) -> bool:
        data = json.dumps({"error": reply.error}).encode()
        await send_plain(writer, reply.status, [("Content-Type", "application/json"),
                                                ("Content-Length", str(len(data)))], data)
        return True

    # -- validation ---------------------------------------------------------------------------

    def _check(self, http: HttpRequest, request: ResponsesRequest) -> None:
        if http.method != "POST" or http.path != PATH:
            raise Invalid(f"Invalid URL ({http.method} {http.path})")
        if self.expected_key is not None and \
                request.headers.get("authorization") != f"Bearer {self.expected_key}":
            raise Invalid("Incorrect API key provided.", code="invalid_api_key")
        body = request.body
        if body is None:
            raise Invalid("We could not parse the JSON body of your request.")
        for key in body:
            if key not in _TOP_LEVEL:
                raise Invalid(f"Unknown parameter: '{key}'.", key, "unknown_parameter")
            if key in _SAMPLING:
                raise Invalid(f"Unsupported parameter: '{key}' is not supported with this "
                              "model.", key, "unsupported_parameter")
        if not isinstance(body.get("model"), str) or not body["model"]:
            raise Invalid("Missing required parameter: 'model'.", "model")
        limit = body.get("max_output_tokens")
        if limit is not None and (not isinstance(limit, int) or limit < 16):
            raise Invalid("Invalid 'max_output_tokens': integer below minimum value. Expected a "
                          "value >= 16.", "max_output_tokens", "integer_below_min_value")
        for name in body.get("include") or ():
            if name not in _INCLUDE:
                raise Invalid(f"Invalid value: '{name}'.", "include")
        if "stream" in body and not isinstance(body["stream"], bool):
            raise Invalid("Invalid type for 'stream'.", "stream")
        self._check_reasoning(body.get("reasoning"))
        names = self._check_tools(body.get("tools"))
        self._check_choice(body.get("tool_choice"), names)
        self._check_input(body.get("input"))

    @staticmethod
    def _check_reasoning(value: Any) -> None:
        if value is None:
            return
        if not isinstance(value, dict) or set(value) - {"effort", "summary", "generate_summary"}:
            raise Invalid("Invalid 'reasoning'.", "reasoning")
        if value.get("effort") not in (None, "minimal", "low", "medium", "high"):
            raise Invalid("Invalid value for 'reasoning.effort'.", "reasoning.effort")
        if value.get("summary") not in (None, "auto", "concise", "detailed"):
            raise Invalid("Invalid value for 'reasoning.summary'.", "reasoning.summary")

    @staticmethod
    def _check_tools(tools: Any) -> set[str]:
        names: set[str] = set()
        for i, tool in enumerate(tools or ()):
            where = f"tools[{i}]"
            if not isinstance(tool, dict) or tool.get("type") != "function":
                raise Invalid(f"Invalid value for '{where}.type'.", where)
            unknown = set(tool) - {"type", "name", "description", "parameters", "strict"}
            if unknown:
                raise Invalid(f"Unknown parameter: '{where}.{sorted(unknown)[0]}'.", where,
                              "unknown_parameter")
            if not isinstance(tool.get("name"), str) or not tool["name"]:
                raise Invalid(f"Missing required parameter: '{where}.name'.", where)
            if not isinstance(tool.get("parameters"), dict):
                raise Invalid(f"Missing required parameter: '{where}.parameters'.", where)
            if tool.get("strict", True) is not False:
                _check_strict(tool["parameters"], f"{where}.parameters")
            names.add(tool["name"])
        return names

    @staticmethod
    def _check_choice(choice: Any, names: set[str]) -> None:
        if choice is None or choice in ("auto", "none", "required"):
            return
        if isinstance(choice, dict) and choice.get("type") == "function" \
                and set(choice) == {"type", "name"}:
            if choice["name"] not in names:
                raise Invalid(f"Tool choice '{choice['name']}' not found in 'tools' parameter.",
                              "tool_choice")
            return
        raise Invalid("Invalid value for 'tool_choice'.", "tool_choice")

    def _check_input(self, items: Any) -> None:
        if isinstance(items, str):
            return
        if not isinstance(items, list):
            raise Invalid("Invalid type for 'input'.", "input")
        calls: set[str] = set()
        answered: set[str] = set()
        for i, item in enumerate(items):
            where = f"input[{i}]"
            if not isinstance(item, dict):
                raise Invalid(f"Invalid type for '{where}'.", where)
            kind = item.get("type", "message")
            fields = _ITEM_FIELDS.get(kind)
            if fields is None:
                raise Invalid(f"Invalid value: '{kind}'.", f"{where}.type")
            unknown = set(item) - fields
            if unknown:
                raise Invalid(f"Unknown parameter: '{where}.{sorted(unknown)[0]}'.", where,
                              "unknown_parameter")
            if kind == "message":
                self._check_message(item, where)
            elif kind == "function_call":
                for key in ("call_id", "name", "arguments"):
                    if not isinstance(item.get(key), str) or (key != "arguments" and not item[key]):
                        raise Invalid(f"Missing required parameter: '{where}.{key}'.", where)
                calls.add(item["call_id"])
            elif kind == "function_call_output":
                if item.get("call_id") not in calls:
                    raise Invalid("No tool call found for function call output with call_id "
                                  f"{item.get('call_id')}.", where)
                if not isinstance(item.get("output"), str | list):
                    raise Invalid(f"Invalid type for '{where}.output'.", where)
                answered.add(item["call_id"])
            else:  # reasoning
                if not isinstance(item.get("summary"), list):
                    raise Invalid(f"Missing required parameter: '{where}.summary'.", where)
                encrypted = item.get("encrypted_content")
                if encrypted is not None and encrypted not in self._issued.encrypted:
                    raise Invalid("The encrypted content for item "
                                  f"{item.get('id')} could not be verified.", where)
                following = items[i + 1] if i + 1 < len(items) else None
                if not isinstance(following, dict) or following.get("type") == "reasoning":
                    raise Invalid(f"Item '{item.get('id')}' of type 'reasoning' was provided "
                                  "without its required following item.", where)
        missing = calls - answered
        if missing:
            raise Invalid(f"No tool output found for function call {sorted(missing)[0]}.",
                          "input")

    @staticmethod
    def _check_message(item: dict[str, Any], where: str) -> None:
        role = item.get("role")
        if role not in _PARTS:
            raise Invalid(f"Invalid value: '{role}'. Supported values are: 'assistant', "
                          "'system', 'developer', and 'user'.", f"{where}.role")
        content = item.get("content")
        if isinstance(content, str):
            return
        if not isinstance(content, list) or not content:
            raise Invalid(f"Invalid type for '{where}.content'.", f"{where}.content")
        for j, part in enumerate(content):
            kind = part.get("type") if isinstance(part, dict) else None
            if kind not in _PARTS[role]:
                raise Invalid(f"Invalid value: '{kind}'. Supported values for role {role} are: "
                              f"{sorted(_PARTS[role])}.", f"{where}.content[{j}].type")
            if kind == "input_image" and not (part.get("image_url") or part.get("file_id")):
                raise Invalid("Missing image_url.", f"{where}.content[{j}]")

    # -- answers ------------------------------------------------------------------------------

    def _response(self, reply: ResponsesReply, request: ResponsesRequest) -> dict[str, Any]:
        body = request.body or {}
        include = set(body.get("include") or ())
        output = []
        for item in reply.items:
            if item.kind == "reasoning":
                rid = "rs_" + secrets.token_hex(8)
                entry: dict[str, Any] = {"id": rid, "type": "reasoning", "summary": (
                    [{"type": "summary_text", "text": item.text}]
                    if item.text and body.get("reasoning") else [])}
                if item.encrypted and "reasoning.encrypted_content" in include:
                    token = "enc_" + secrets.token_hex(16)
                    self._issued.encrypted[token] = rid
                    entry["encrypted_content"] = token
                output.append(entry)
            elif item.kind == "message":
                output.append({"id": "msg_" + secrets.token_hex(8), "type": "message",
                               "status": "completed", "role": "assistant", "content": [
                                   {"type": "output_text", "text": item.text,
                                    "annotations": []}]})
            else:
                output.append({"id": "fc_" + secrets.token_hex(8), "type": "function_call",
                               "status": "completed", "call_id": item.call_id,
                               "name": item.name, "arguments": item.arguments})
        response: dict[str, Any] = {
            "id": "resp_" + secrets.token_hex(8), "object": "response", "created_at": 1,
            "status": reply.final_status, "model": body.get("model"), "output": output,
            "usage": {"input_tokens": reply.input_tokens,
                      "input_tokens_details": {"cached_tokens": reply.cached_tokens},
                      "output_tokens": reply.output_tokens,
                      "output_tokens_details": {"reasoning_tokens": 0},
                      "total_tokens": reply.input_tokens + reply.output_tokens},
            "incomplete_details": ({"reason": reply.incomplete_reason}
                                   if reply.final_status == "incomplete" else None),
            "error": ({"code": "server_error", "message": "The model failed."}
                      if reply.final_status == "failed" else None),
        }
        return response


def _check_strict(schema: Any, where: str) -> None:
    """Strict mode: every object closes with additionalProperties false and requires all."""
    if not isinstance(schema, dict):
        return
    if schema.get("type") == "object":
        properties = schema.get("properties") or {}
        if schema.get("additionalProperties") is not False:
            raise Invalid(f"Invalid schema for function: In context=(), 'additionalProperties' is "
                          f"required to be supplied and to be false ({where}).", where)
        if set(schema.get("required") or ()) != set(properties):
            raise Invalid("Invalid schema for function: 'required' is required to include every "
                          f"key in properties ({where}).", where)
        for name, sub in properties.items():
            _check_strict(sub, f"{where}.{name}")
    if isinstance(schema.get("items"), dict):
        _check_strict(schema["items"], f"{where}.items")


def _split(text: str, pieces: int) -> list[str]:
    if not text:
        return []
    size = max(1, -(-len(text) // max(pieces, 1)))
    return [text[i:i + size] for i in range(0, len(text), size)]


def _events(response: dict[str, Any], pieces: int) -> list[dict[str, Any]]:
    """The SSE events the real API sends for ``response``, in order."""
    events: list[dict[str, Any]] = []
    shell = {**response, "status": "in_progress", "output": [], "usage": None}
    events.append({"type": "response.created", "response": shell})
    events.append({"type": "response.in_progress", "response": shell})
    for index, item in enumerate(response["output"]):
        base = {"output_index": index, "item_id": item["id"]}
        if item["type"] == "reasoning":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "summary": [], "encrypted_content": None}})
            for s, part in enumerate(item["summary"]):
                events.append({"type": "response.reasoning_summary_part.added", **base,
                               "summary_index": s, "part": {"type": "summary_text", "text": ""}})
                for delta in _split(part["text"], pieces):
                    events.append({"type": "response.reasoning_summary_text.delta", **base,
                                   "summary_index": s, "delta": delta})
                events.append({"type": "response.reasoning_summary_text.done", **base,
                               "summary_index": s, "text": part["text"]})
                events.append({"type": "response.reasoning_summary_part.done", **base,
                               "summary_index": s, "part": part})
        elif item["type"] == "message":
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "content": []}})
            part = item["content"][0]
            events.append({"type": "response.content_part.added", **base, "content_index": 0,
                           "part": {**part, "text": ""}})
            for delta in _split(part["text"], pieces):
                events.append({"type": "response.output_text.delta", **base, "content_index": 0,
                               "delta": delta, "logprobs": []})
            events.append({"type": "response.output_text.done", **base, "content_index": 0,
                           "text": part["text"], "logprobs": []})
            events.append({"type": "response.content_part.done", **base, "content_index": 0,
                           "part": part})
        else:
            events.append({"type": "response.output_item.added", "output_index": index,
                           "item": {**item, "status": "in_progress", "arguments": ""}})
            for delta in _split(item["arguments"], pieces):
                events.append({"type": "response.function_call_arguments.delta", **base,
                               "delta": delta})
            events.append({"type": "response.function_call_arguments.done", **base,
                           "arguments": item["arguments"]})
        events.append({"type": "response.output_item.done", "output_index": index,
                       "item": item})
    final = {"completed": "response.completed", "incomplete": "response.incomplete",
             "failed": "response.failed"}[response["status"]]
    events.append({"type": final, "response": response})
    for number, event in enumerate(events):
        event["sequence_number"] = number
    return events

"""A scriptable Gemini API (``generateContent`` / ``streamGenerateContent``) on loopback.

Like :mod:`tests.support.fake_upstream`, served by
:class:`tests.support.loopback_http.ScriptedServer` on its own asyncio loop in a daemon thread,
so sync and async tests see the true network path. It speaks Gemini's wire format:
``POST /v1beta/models/<model>:generateContent`` answers one ``GenerateContentResponse``,
``...:streamGenerateContent?alt=sse`` answers SSE events of partial responses and ends at EOF
(Gemini sends no ``[DONE]``).

Usage::

    with FakeGemini() as fake:
        fake.enqueue(answer(thought("Let me look."), call("Bash", {"command": "ls"},
                                                         signature="c2ln")))
        ...  # point a provider at fake.api_base_url with "transformer": {"use": ["gemini"]}
        assert fake.requests[0].body["contents"][0]["role"] == "user"
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from tests.support.loopback_http import (
    HttpRequest,
    ScriptedServer,
    parse_json,
    send_chunked,
    send_plain,
)

__all__ = [
    "FakeGemini",
    "GeminiReply",
    "GeminiRequest",
    "GeminiUsage",
    "answer",
    "call",
    "gemini_error",
    "say",
    "thought",
]

MODEL_PREFIX = "/v1beta/models/"
_STATUS_NAMES = {400: "INVALID_ARGUMENT", 403: "PERMISSION_DENIED", 404: "NOT_FOUND",
                 429: "RESOURCE_EXHAUSTED", 500: "INTERNAL", 503: "UNAVAILABLE"}

Part = dict[str, Any]


# --------------------------------------------------------------------------------------------
# Scripting vocabulary


def thought(text: str, *, signature: str | None = None) -> Part:
    """A thought summary part (``thought: true``)."""
    return _signed({"text": text, "thought": True}, signature)


def say(text: str, *, signature: str | None = None) -> Part:
    """A visible text part."""
    return _signed({"text": text}, signature)


def call(name: str, args: dict[str, Any] | None = None, *, id: str | None = None,
         signature: str | None = None) -> Part:
    """A ``functionCall`` part; Gemini 3 puts the step's signature on the first one."""
    function: dict[str, Any] = {"name": name, "args": args or {}}
    if id is not None:
        function["id"] = id
    return _signed({"functionCall": function}, signature)


def _signed(part: Part, signature: str | None) -> Part:
    return {**part, "thoughtSignature": signature} if signature else part


@dataclass(frozen=True)
class GeminiUsage:
    """``usageMetadata`` as Gemini reports it (``promptTokenCount`` includes cached tokens)."""

    prompt: int = 20
    candidates: int = 6
    thoughts: int = 0
    cached: int = 0

    def to_gemini(self) -> dict[str, Any]:
        usage = {
            "promptTokenCount": self.prompt,
            "candidatesTokenCount": self.candidates,
            "totalTokenCount": self.prompt + self.candidates + self.thoughts,
        }
        if self.thoughts:
            usage["thoughtsTokenCount"] = self.thoughts
        if self.cached:
            usage["cachedContentTokenCount"] = self.cached
        return usage


@dataclass(frozen=True)
class GeminiReply:
    """One scripted answer. ``parts`` make the candidate; streamed, each part is one SSE event
    and the last event also carries ``finishReason`` and ``usageMetadata``. ``raw_events``
    replaces that stream with the given payloads; ``body`` (with ``status``) answers as is
    (errors). ``drop_after`` closes the socket after that many SSE events."""

    parts: tuple[Part, ...] = ()
    finish: str | None = "STOP"
    usage: GeminiUsage | None = field(default_factory=GeminiUsage)
    model_version: str = "gemini-fake-001"
    status: int = 200
    body: dict[str, Any] | None = None
    raw_events: tuple[dict[str, Any], ...] | None = None
    drop_after: int | None = None
    prompt_feedback: dict[str, Any] | None = None

    def whole(self) -> dict[str, Any]:
        """The ``generateContent`` answer."""
        if self.body is not None:
            return self.body
        return self._response(list(self.parts), self.finish, self.usage)

    def events(self) -> list[dict[str, Any]]:
        """The ``streamGenerateContent`` events."""
        if self.raw_events is not None:
            return list(self.raw_events)
        if not self.parts:
            return [self._response([], self.finish, self.usage)]
        last = len(self.parts) - 1
        return [
            self._response([part], self.finish if i == last else None,
                           self.usage if i == last else None)
            for i, part in enumerate(self.parts)
        ]

    def _response(self, parts: list[Part], finish: str | None,
                  usage: GeminiUsage | None) -> dict[str, Any]:
        response: dict[str, Any] = {"modelVersion": self.model_version,
                                    "responseId": "fake-response-1"}
        if self.prompt_feedback is None:
            candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts},
                                         "index": 0}
            if finish:
                candidate["finishReason"] = finish
            response["candidates"] = [candidate]
        else:
            response["promptFeedback"] = self.prompt_feedback
        if usage is not None:
            response["usageMetadata"] = usage.to_gemini()
        return response


def answer(*parts: Part, finish: str | None = "STOP", usage: GeminiUsage | None = None,
           **options: Any) -> GeminiReply:
    """A reply made of ``parts`` (default usage: 20 prompt, 6 candidate tokens)."""
    return GeminiReply(parts=parts, finish=finish, usage=usage or GeminiUsage(), **options)


def gemini_error(status: int, message: str) -> GeminiReply:
    """An error answer with Gemini's body: ``{"error": {"code", "message", "status"}}``."""
    body = {"error": {"code": status, "message": message,
                      "status": _STATUS_NAMES.get(status, "UNKNOWN")}}
    return GeminiReply(status=status, body=body)


@dataclass
class GeminiRequest:
    """One request as received; ``headers`` keys are lower-case."""

    method: str
    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any] | None

    @property
    def model(self) -> str:
        return self.path.removeprefix(MODEL_PREFIX).partition(":")[0]

    @property
    def method_name(self) -> str:
        """``generateContent`` or ``streamGenerateContent``."""
        return self.path.rpartition(":")[2]

    @property
    def contents(self) -> list[dict[str, Any]]:
        contents = (self.body or {}).get("contents")
        return contents if isinstance(contents, list) else []


Handler = Callable[[GeminiRequest], GeminiReply | None]


# --------------------------------------------------------------------------------------------
# Server


class FakeGemini(ScriptedServer[GeminiRequest, GeminiReply]):
    """Answers ``POST /v1beta/models/<model>:<method>`` with ``handler`` (if set and it returns
    a reply), else the next queued reply, else ``default``. Other paths get Gemini's 404; a
    stream request without ``alt=sse`` gets a 400 (ccr must always ask for SSE). With
    ``expected_key`` set, a missing or wrong ``x-goog-api-key`` gets Gemini's 400 for a bad key.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        super().__init__(answer(say("Hello from fake Gemini.")), host, thread_name="fake-gemini")
        self.expected_key: str | None = None

    @property
    def api_base_url(self) -> str:
        """What a CCR config puts in ``api_base_url`` for this server."""
        return self.base_url + MODEL_PREFIX

    # -- answering ---------------------------------------------------------------------------

    async def _answer(self, http: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        request = GeminiRequest(http.method, http.path, http.query, http.headers,
                                parse_json(http.raw))
        self.requests.append(request)
        reply = self._reply(request)
        stream = request.method_name == "streamGenerateContent" and reply.status == 200
        if stream and reply.body is None:
            # Gemini ends its SSE lines with CRLF
            events = [f"data: {json.dumps(event)}\r\n\r\n".encode() for event in reply.events()]
            headers = [("Content-Type", "text/event-stream"), ("Transfer-Encoding", "chunked")]
            return await send_chunked(writer, 200, headers, events, drop_after=reply.drop_after)
        data = json.dumps(reply.whole()).encode()
        headers = [("Content-Type", "application/json; charset=UTF-8"),
                   ("Content-Length", str(len(data)))]
        await send_plain(writer, reply.status, headers, data)
        return True

    def _reply(self, request: GeminiRequest) -> GeminiReply:
        if request.method != "POST" or not request.path.startswith(MODEL_PREFIX):
            return gemini_error(404, f"no route for {request.method} {request.path}")
        if request.method_name not in ("generateContent", "streamGenerateContent"):
            return gemini_error(404, f"unknown method {request.method_name!r}")
        if request.method_name == "streamGenerateContent" and "alt=sse" not in request.query:
            return gemini_error(400, "this fake only streams with alt=sse")
        if self.expected_key and request.headers.get("x-goog-api-key") != self.expected_key:
            return gemini_error(400, "API key not valid. Please pass a valid API key.")
        return self._scripted_reply(request)

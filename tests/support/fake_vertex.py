"""A fake Google: an OAuth token endpoint and Vertex AI's three model APIs, on one loopback port.

- ``POST /token`` takes a service account's signed JWT (``grant_type`` jwt-bearer), checks its
  RS256 signature against the account's public key, its issuer, audience, scope and lifetime, and
  issues an access token living ``token_lifetime_s``.
- ``…/publishers/google/models/M:generateContent`` (``:streamGenerateContent?alt=sse``),
  ``…/publishers/anthropic/models/M:rawPredict`` (``:streamRawPredict``) and
  ``…/endpoints/openapi/chat/completions`` under ``/v1`` or ``/v1beta1``
  ``/projects/P/locations/L`` check the Bearer token (issued here and not expired), the project
  and region, and what each API requires of the body; they answer with Gemini, Anthropic and
  OpenAI shapes respectively. Anything else is Google's 404; a bad token Google's 401.

Test keys are generated per run (:func:`service_account`); nothing here is a real credential.
"""

from __future__ import annotations

import asyncio
import json
import re
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.fake_gemini import GeminiReply, answer, say
from tests.support.loopback_http import HttpRequest, LoopbackHttpServer, send_chunked, send_plain

SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: The audience service-account assertions name, whichever token_uri they are sent to.
GOOGLE_TOKEN_AUDIENCE = "https://oauth2.googleapis.com/token"
_PATH = re.compile(
    r"^/(?P<version>v1|v1beta1)/projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/"
    r"(?:publishers/(?P<publisher>google|anthropic)/models/(?P<model>[^/:]+):(?P<method>\w+)"
    r"|endpoints/openapi/chat/completions)$")


@dataclass
class ServiceAccount:
    client_email: str
    private_key_pem: str
    public_key_pem: bytes
    project_id: str

    def info(self, token_uri: str) -> dict[str, Any]:
        """The JSON of a service-account key file whose token_uri is ``token_uri``."""
        return {"type": "service_account", "project_id": self.project_id,
                "private_key_id": "test-key-1", "private_key": self.private_key_pem,
                "client_email": self.client_email, "client_id": "1",
                "token_uri": token_uri}


def service_account(project_id: str = "test-project") -> ServiceAccount:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return ServiceAccount(f"ccr-test@{project_id}.iam.gserviceaccount.com", private, public,
                          project_id)


@dataclass
class VertexCall:
    """One model call as received."""

    path: str
    query: str
    headers: dict[str, str]
    body: dict[str, Any] | None
    api: str  # "gemini" | "anthropic" | "openai"
    model: str
    method: str


class FakeGoogle(LoopbackHttpServer):
    def __init__(self, *, project: str = "test-project", location: str = "us-central1") -> None:
        super().__init__(thread_name="fake-google")
        self.account = service_account(project)
        self.project = project
        self.location = location
        self.token_lifetime_s = 3600
        self.gemini_reply: GeminiReply = answer(say("Hi from Vertex."))
        self.claude_text = "Hi from Claude on Vertex."
        self.openai_text = "Hi from Vertex OpenAI."
        self.token_requests = 0
        self.calls: list[VertexCall] = []
        self.rejections: list[str] = []
        self._tokens: dict[str, float] = {}

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    def key_info(self) -> dict[str, Any]:
        return self.account.info(self.token_uri)

    def issued(self) -> list[str]:
        return list(self._tokens)

    # -- answering ----------------------------------------------------------------------------

    async def _answer(self, http: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        if http.method == "POST" and http.path == "/token":
            return await self._token(http, writer)
        match = _PATH.match(http.path)
        if http.method != "POST" or match is None:
            return await self._error(writer, 404, "NOT_FOUND",
                                     f"The requested URL {http.path} was not found.")
        auth = http.headers.get("authorization", "")
        token = auth.removeprefix("Bearer ")
        expiry = self._tokens.get(token)
        if not auth.startswith("Bearer ") or expiry is None or expiry < time.time():
            self.rejections.append("token")
            return await self._error(writer, 401, "UNAUTHENTICATED",
                                     "Request had invalid authentication credentials.")
        if (match["project"], match["location"]) != (self.project, self.location):
            self.rejections.append("project")
            return await self._error(writer, 403, "PERMISSION_DENIED",
                                     f"Permission denied on resource project {match['project']}.")
        try:
            body = json.loads(http.raw)
        except ValueError:
            body = None
        api = {"google": "gemini", "anthropic": "anthropic", None: "openai"}[match["publisher"]]
        call = VertexCall(http.path, http.query, dict(http.headers), body, api,
                          match["model"] or "", match["method"] or "")
        self.calls.append(call)
        problem = _check(call)
        if problem:
            self.rejections.append(problem)
            return await self._error(writer, 400, "INVALID_ARGUMENT", problem)
        if api == "gemini":
            return await self._gemini(call, writer)
        if api == "anthropic":
            return await self._claude(call, writer)
        return await self._openai(call, writer)

    async def _token(self, http: HttpRequest, writer: asyncio.StreamWriter) -> bool:
        import google.auth.jwt

        self.token_requests += 1
        form = dict(parse_qsl(http.raw.decode()))
        try:
            if form.get("grant_type") != "urn:ietf:params:oauth:grant-type:jwt-bearer":
                raise ValueError("unsupported grant_type")
            claims = google.auth.jwt.decode(form.get("assertion", ""),
                                            certs=self.account.public_key_pem,
                                            audience=GOOGLE_TOKEN_AUDIENCE)
            if claims.get("iss") != self.account.client_email:
                raise ValueError("wrong issuer")
            if SCOPE not in str(claims.get("scope", "")).split():
                raise ValueError("missing scope")
        except ValueError as exc:
            self.rejections.append(f"jwt: {exc}")
            data = json.dumps({"error": "invalid_grant", "error_description": str(exc)})
            await send_plain(writer, 400, [("Content-Type", "application/json"),
                                           ("Content-Length", str(len(data)))], data.encode())
            return True
        token = "ya29.fake-" + secrets.token_hex(12)
        self._tokens[token] = time.time() + self.token_lifetime_s
        data = json.dumps({"access_token": token, "expires_in": self.token_lifetime_s,
                           "token_type": "Bearer"}).encode()
        await send_plain(writer, 200, [("Content-Type", "application/json"),
                                       ("Content-Length", str(len(data)))], data)
        return True

    async def _gemini(self, call: VertexCall, writer: asyncio.StreamWriter) -> bool:
        reply = self.gemini_reply
        if call.method == "streamGenerateContent":
            events = [f"data: {json.dumps(e)}\r\n\r\n".encode() for e in reply.events()]
            return await send_chunked(writer, 200, [("Content-Type", "text/event-stream"),
                                                    ("Transfer-Encoding", "chunked")], events)
        return await _json(writer, reply.whole())

    async def _claude(self, call: VertexCall, writer: asyncio.StreamWriter) -> bool:
        message = {"id": "msg_vrtx_01", "type": "message", "role": "assistant",
                   "model": call.model, "content": [{"type": "text", "text": self.claude_text}],
                   "stop_reason": "end_turn", "stop_sequence": None,
                   "usage": {"input_tokens": 11, "output_tokens": 5}}
        if call.method == "rawPredict":
            return await _json(writer, message)
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {"input_tokens": 11, "output_tokens": 1}}
        events = [
            ("message_start", {"type": "message_start", "message": start}),
            ("content_block_start", {"type": "content_block_start", "index": 0,
                                     "content_block": {"type": "text", "text": ""}}),
            ("content_block_delta", {"type": "content_block_delta", "index": 0,
                                     "delta": {"type": "text_delta", "text": self.claude_text}}),
            ("content_block_stop", {"type": "content_block_stop", "index": 0}),
            ("message_delta", {"type": "message_delta", "delta": {
                "stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 5}}),
            ("message_stop", {"type": "message_stop"}),
        ]
        raw = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
        return await send_chunked(writer, 200, [("Content-Type", "text/event-stream"),
                                                ("Transfer-Encoding", "chunked")], raw)

    async def _openai(self, call: VertexCall, writer: asyncio.StreamWriter) -> bool:
        body = call.body or {}
        if not body.get("stream"):
            return await _json(writer, {
                "id": "chatcmpl-v", "object": "chat.completion", "model": body.get("model"),
                "choices": [{"index": 0, "finish_reason": "stop", "message": {
                    "role": "assistant", "content": self.openai_text}}],
                "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}})
        chunks = [
            {"choices": [{"index": 0, "delta": {"role": "assistant",
                                                "content": self.openai_text}}]},
            {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
             "usage": {"prompt_tokens": 9, "completion_tokens": 4, "total_tokens": 13}},
        ]
        raw = [f"data: {json.dumps(c)}\n\n".encode() for c in chunks] + [b"data: [DONE]\n\n"]
        return await send_chunked(writer, 200, [("Content-Type", "text/event-stream"),
                                                ("Transfer-Encoding", "chunked")], raw)

    async def _error(self, writer: asyncio.StreamWriter, status: int, name: str,
                     message: str) -> bool:
        data = json.dumps({"error": {"code": status, "message": message, "status": name}})
        await send_plain(writer, status, [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(data)))], data.encode())
        return True


def _check(call: VertexCall) -> str | None:
    """What the real API would reject in this body, if anything."""
    body = call.body
    if body is None:
        return "Invalid JSON payload received."
    if call.api == "gemini":
        if call.method not in ("generateContent", "streamGenerateContent"):
            return f"unknown method {call.method}"
        if call.method == "streamGenerateContent" and "alt=sse" not in call.query:
            return "this fake only streams with alt=sse"
        if not isinstance(body.get("contents"), list) or "model" in body:
            return "Invalid JSON payload received. Unknown name \"model\"." if "model" in body \
                else "contents is required"
    elif call.api == "anthropic":
        if call.method not in ("rawPredict", "streamRawPredict"):
            return f"unknown method {call.method}"
        if body.get("anthropic_version") != "vertex-2023-10-16":
            return "anthropic_version: vertex-2023-10-16 is required"
        if "model" in body:
            return "model: Extra inputs are not permitted"
        if bool(body.get("stream")) != (call.method == "streamRawPredict"):
            return "stream must match the method"
    else:
        if not isinstance(body.get("model"), str) or not isinstance(body.get("messages"), list):
            return "model and messages are required"
    return None


async def _json(writer: asyncio.StreamWriter, value: dict[str, Any]) -> bool:
    data = json.dumps(value).encode()
    await send_plain(writer, 200, [("Content-Type", "application/json"),
                                   ("Content-Length", str(len(data)))], data)
    return True

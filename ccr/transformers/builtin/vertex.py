"""``vertex-gemini``, ``vertex-claude`` and ``vertex-openai``: models bought through Google
Cloud's Vertex AI, authenticated with Google credentials (see :mod:`._vertex` for where they,
the project and the region come from, and how tokens are refreshed).

- ``vertex-gemini``: Gemini's ``generateContent`` API (the ``gemini`` transformer's conversions)
  at ``<base>/v1beta1/projects/P/locations/L/publishers/google/models/M:generateContent``
  (``:streamGenerateContent?alt=sse`` streamed), as CCR builds it; default region
  ``us-central1``.
- ``vertex-claude``: Anthropic's Messages API as Vertex serves it: the client's body forwarded
  untouched except that ``model`` moves into the URL
  (``/v1/projects/P/locations/L/publishers/anthropic/models/M:rawPredict``, or
  ``:streamRawPredict``) and ``anthropic_version`` is ``vertex-2023-10-16``; default region
  ``us-east5``. Like ``Anthropic``, it cannot be combined with other transformers.
- ``vertex-openai``: Vertex's OpenAI-compatible endpoint
  (``/v1/projects/P/locations/L/endpoints/openapi/chat/completions``), or the provider's URL as
  written when it already names one (CCR's configs do); default region ``us-central1``.

``api_base_url`` is the region's host, e.g. ``https://us-east5-aiplatform.googleapis.com``
(the API version and the project path are added; a version the base ends with is kept).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from ccr.convert.request import strip_extensions
from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._vertex import (
    TokenSource,
    VertexSettings,
    location_path,
    model_segment,
    vertex_root,
)
from ccr.transformers.builtin.anthropic import FORWARDED_HEADERS
from ccr.transformers.builtin.gemini import Gemini
from ccr.transformers.registry import register

VERTEX_ANTHROPIC_VERSION = "vertex-2023-10-16"


class _Vertex:
    """The credentials half every Vertex transformer has."""

    name: ClassVar[str]
    default_location: ClassVar[str] = "us-central1"
    options: dict[str, Any]

    def _setup_vertex(self) -> None:
        self.settings = VertexSettings(self.options, name=self.name,
                                       default_location=self.default_location)
        self.tokens = TokenSource(self.settings)

    def _headers(self, stream: bool) -> dict[str, str]:
        return {"content-type": "application/json",
                "accept": "text/event-stream" if stream else "application/json",
                "authorization": f"Bearer {self.tokens.token()}"}

    def _root(self, ctx: TransformContext, version: str) -> str:
        location = self.settings.location()
        root = vertex_root(ctx.provider.api_base_url, location, version)
        return f"{root}/{location_path(self.tokens.project(), location)}"

    async def warm(self) -> None:
        """A token fetched off the event loop when none is ready (the engine calls this before
        every request, so :meth:`build_http` never waits for Google on the loop)."""
        await self.tokens.warm()


@register
class VertexGemini(_Vertex, Gemini):
    name = "vertex-gemini"
    endpoint = "gemini"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._setup_vertex()

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        plain = super().build_http(request, ctx)  # body and headers as for Gemini's own API
        model = model_segment(ctx.model.removeprefix("models/"))
        method = "streamGenerateContent?alt=sse" if ctx.stream else "generateContent"
        url = f"{self._root(ctx, 'v1beta1')}/publishers/google/models/{model}:{method}"
        return HttpRequest(url=url, headers=self._headers(ctx.stream), body=plain.body)


@register
class VertexClaude(_Vertex, Transformer):
    name = "vertex-claude"
    endpoint = "anthropic"
    default_location = "us-east5"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._setup_vertex()

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = {key: value for key, value in request.items() if key != "model"}
        body["anthropic_version"] = VERTEX_ANTHROPIC_VERSION
        headers = self._headers(ctx.stream)
        client_headers = ctx.state.get("client_headers") or {}
        beta = client_headers.get(FORWARDED_HEADERS[1])
        if beta:
            headers["anthropic-beta"] = beta
        method = "streamRawPredict" if ctx.stream else "rawPredict"
        url = (f"{self._root(ctx, 'v1')}/publishers/anthropic/models/"
               f"{model_segment(ctx.model)}:{method}")
        return HttpRequest(url=url, headers=headers, body=body)


@register
class VertexOpenAI(_Vertex, Transformer):
    name = "vertex-openai"
    endpoint = "openai"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        self._setup_vertex()

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = strip_extensions(request)
        body["model"] = ctx.model
        base = ctx.provider.api_base_url.strip().rstrip("/")
        if "/endpoints/" in base:
            url = base if base.endswith("/chat/completions") else base + "/chat/completions"
        else:
            url = f"{self._root(ctx, 'v1')}/endpoints/openapi/chat/completions"
        return HttpRequest(url=url, headers=self._headers(ctx.stream), body=body)

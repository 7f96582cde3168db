"""``gemini``: Google's native Gemini API (``generateContent``), as CCR's ``gemini`` transformer.

Configured like CCR: ``"api_base_url": "https://generativelanguage.googleapis.com/v1beta/models/"``
with ``"transformer": {"use": ["gemini"]}``. The call goes to ``<base>/<model>:generateContent``
or ``<base>/<model>:streamGenerateContent?alt=sse``, whether or not the base ends with a slash
(CCR resolved the model against the base as a relative URL, so a base without the trailing
slash lost its last segment); a base ending at the version (``.../v1beta``) gets ``/models``.
The key goes in the ``x-goog-api-key`` header, never in the URL: any query string on the base is
dropped so a ``?key=`` cannot leak into logs or error messages.

The body is built by :mod:`._gemini_request`, answers are read by :mod:`._gemini_response`
(their docstrings list the conversion choices); tool schemas are cleaned by
:mod:`._gemini_schema`.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._gemini_request import build_body
from ccr.transformers.builtin._gemini_response import StreamState, to_chunks, to_completion
from ccr.transformers.registry import register

_STATE_KEY = "gemini_stream"
_VERSION_SEGMENT = re.compile(r"v\d+(?:alpha|beta)?\d*")


@register
class Gemini(Transformer):
    """Speaks Gemini's ``generateContent`` API; CCR's ``gemini`` takes no options."""

    name = "gemini"
    endpoint = "gemini"

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = build_body(request, model=ctx.model, original=ctx.original)
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if ctx.stream else "application/json",
        }
        if ctx.provider.api_key:
            headers["x-goog-api-key"] = ctx.provider.api_key
        url = gemini_url(ctx.provider.api_base_url, ctx.model, stream=ctx.stream)
        return HttpRequest(url=url, headers=headers, body=body)

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        return to_completion(response)

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        state = ctx.state.get(_STATE_KEY)
        if not isinstance(state, StreamState):
            state = ctx.state[_STATE_KEY] = StreamState()
        return to_chunks(chunk, state)


def gemini_url(base: str, model: str, *, stream: bool) -> str:
    """``<base>/<model>:generateContent`` (or the SSE streaming method) for a CCR-style base."""
    parts = urlsplit(base.strip())
    path = parts.path.rstrip("/")
    if _VERSION_SEGMENT.fullmatch(path.rsplit("/", 1)[-1]):
        path += "/models"
    name = quote(model.strip().removeprefix("models/"), safe="-._~")
    method = "streamGenerateContent" if stream else "generateContent"
    query = "alt=sse" if stream else ""
    return urlunsplit((parts.scheme, parts.netloc, f"{path}/{name}:{method}", query, ""))

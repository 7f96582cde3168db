"""The default endpoint: any OpenAI-compatible Chat Completions server."""

from __future__ import annotations

from typing import Any

from ccr.convert.request import strip_extensions
from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register


@register
class OpenAI(Transformer):
    """POSTs the unified request to the provider's ``api_base_url`` with a Bearer key."""

    name = "openai"
    endpoint = "openai"

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = strip_extensions(request)
        body["model"] = ctx.model
        headers = {"content-type": "application/json", "accept": (
            "text/event-stream" if ctx.stream else "application/json")}
        if ctx.provider.api_key:
            headers["authorization"] = f"Bearer {ctx.provider.api_key}"
        return HttpRequest(url=ctx.provider.api_base_url, headers=headers, body=body)

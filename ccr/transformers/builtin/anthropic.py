"""``Anthropic``: native passthrough for Anthropic-compatible upstreams.

DeepSeek's ``/anthropic``, Moonshot, Zhipu, MiniMax and others speak the Messages API
themselves, so the body and the stream are forwarded untouched (only ``model`` is set to the
route's model) and no conversion can lose anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import register

#: Client headers that describe the Messages API features in use; forwarded as they are.
FORWARDED_HEADERS = ("anthropic-version", "anthropic-beta")


@register
class Anthropic(Transformer):
    """Options (CCR's names): ``useBearer`` sends the key as ``Authorization: Bearer`` instead
    of ``x-api-key``; ``userAgent`` sets the User-Agent."""

    name = "Anthropic"
    endpoint = "anthropic"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        use_bearer = self.options.get("useBearer", self.options.get("UseBearer", False))
        if not isinstance(use_bearer, bool):
            raise ValueError('"useBearer" must be true or false')
        user_agent = self.options.get("userAgent", "")
        if not isinstance(user_agent, str):
            raise ValueError('"userAgent" must be a string')
        self.use_bearer = use_bearer
        self.user_agent = user_agent

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = dict(request)
        body["model"] = ctx.model
        headers = {
            "content-type": "application/json",
            "accept": "text/event-stream" if ctx.stream else "application/json",
            "anthropic-version": "2023-06-01",
        }
        client_headers = ctx.state.get("client_headers") or {}
        for name in FORWARDED_HEADERS:
            if client_headers.get(name):
                headers[name] = client_headers[name]
        key = ctx.provider.api_key
        if key:
            if self.use_bearer:
                headers["authorization"] = f"Bearer {key}"
            else:
                headers["x-api-key"] = key
        if self.user_agent:
            headers["user-agent"] = self.user_agent
        return HttpRequest(url=messages_url(ctx.provider.api_base_url), headers=headers,
                           body=body)


def messages_url(base: str) -> str:
    """The provider's URL as written when it names the messages endpoint, else ``/v1/messages``
    appended (``https://api.deepseek.com/anthropic`` → ``.../anthropic/v1/messages``)."""
    trimmed = base.rstrip("/")
    if trimmed.endswith("/messages"):
        return trimmed
    if trimmed.endswith("/v1"):
        return trimmed + "/messages"
    return trimmed + "/v1/messages"

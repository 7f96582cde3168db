"""``openai-responses``: OpenAI's Responses API (``/v1/responses``), the only API that serves
the gpt-5-codex family, as CCR's ``openai-responses`` transformer.

Configured like CCR: ``"api_base_url": "https://api.openai.com/v1/responses"`` with
``"transformer": {"use": ["openai-responses"]}``. A base ending at ``/v1`` gets ``/responses``,
one naming ``/chat/completions`` has that replaced. The key is a Bearer token.

Option ``reasoning``: true asks for reasoning (summary and encrypted content) on every request,
false never (for models without reasoning, which reject it); absent, it follows the client's
``thinking``. The conversions are described in :mod:`._responses_request` and
:mod:`._responses_response`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.builtin._responses_request import build_body
from ccr.transformers.builtin._responses_response import StreamState, to_chunks, to_completion
from ccr.transformers.registry import register

_STATE_KEY = "openai_responses"


@register
class OpenAIResponses(Transformer):
    name = "openai-responses"
    endpoint = "openai-responses"

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        super().__init__(options)
        reasoning = self.options.get("reasoning")
        if reasoning is not None and not isinstance(reasoning, bool):
            raise ValueError('"reasoning" must be true or false')
        self.reasoning: bool | None = reasoning

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        body = build_body(request, model=ctx.model, stream=ctx.stream,
                          reasoning_option=self.reasoning)
        headers = {"content-type": "application/json",
                   "accept": "text/event-stream" if ctx.stream else "application/json"}
        if ctx.provider.api_key:
            headers["authorization"] = f"Bearer {ctx.provider.api_key}"
        return HttpRequest(url=responses_url(ctx.provider.api_base_url), headers=headers,
                           body=body)

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        return to_completion(response)

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        state = ctx.state.get(_STATE_KEY)
        if not isinstance(state, StreamState):
            state = ctx.state[_STATE_KEY] = StreamState()
        return to_chunks(chunk, state)


def responses_url(base: str) -> str:
    """The provider's URL when it names the responses endpoint, else that endpoint under it."""
    trimmed = base.strip().rstrip("/")
    if trimmed.endswith("/responses"):
        return trimmed
    if trimmed.endswith("/chat/completions"):
        return trimmed.removesuffix("/chat/completions") + "/responses"
    if trimmed.endswith("/v1"):
        return trimmed + "/responses"
    return trimmed + "/v1/responses"

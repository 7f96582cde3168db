"""The one interface every transformer implements, built-in or the user's.

A transformer sees the request in ccr's unified format (OpenAI Chat Completions plus a few
documented extension keys, see :mod:`ccr.convert.request`) on its way out, and the upstream's
answer on its way back. An *endpoint* transformer also decides how the HTTP request is made
(URL, auth headers) and may speak a different wire format, translating it back to unified
chunks in its response hooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from ccr.config.model import Provider
from ccr.protocol.http import HttpRequest


@dataclass
class TransformContext:
    """What a transformer may know about the request it is changing."""

    provider: Provider
    model: str
    stream: bool
    #: The client's Anthropic request as received (read it, do not change it).
    original: Mapping[str, Any] = field(default_factory=dict)
    #: Per-request scratch space shared by the chain (e.g. ids a response hook needs).
    state: dict[str, Any] = field(default_factory=dict)


class Transformer:
    """Base class: every hook is the identity, so a transformer overrides only what it changes.

    One instance serves every request of its route, concurrently: keep per-request state in
    ``ctx.state``, never on ``self``.
    """

    #: The name used in config (``"transformer": {"use": ["<name>"]}``), matched case-insensitively.
    name: ClassVar[str] = ""
    #: The wire protocol an endpoint transformer speaks (``"openai"``, ``"anthropic"``, ...);
    #: None for transformers that only adjust the unified request or response.
    endpoint: ClassVar[str | None] = None

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = dict(options or {})

    def transform_request(self, request: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        """Change the unified request on its way to the upstream."""
        return request

    def transform_response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        """Change a whole (non-streamed) upstream response on its way back."""
        return response

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        """Change one streamed chunk on its way back; may split, drop (``[]``) or add chunks."""
        return [chunk]

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        """The upstream's stream ended: emit whatever this transformer held back."""
        return []

    async def warm(self) -> None:
        """Endpoint transformers only: fetch what :meth:`build_http` needs (an access token)
        ahead of it, off the event loop; called before every request, so cheap when ready."""

    def build_http(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        """Endpoint transformers only: the HTTP call that carries ``request`` upstream."""
        raise NotImplementedError(f"transformer {self.name!r} is not an endpoint")

    def positive_int_option(self, key: str) -> int | None:
        """Option ``key`` when it is a positive integer, None when absent; else ValueError
        (the registry reports it as a config error at the transformer's key path)."""
        value = self.options.get(key)
        if value is not None and (
            not isinstance(value, int) or isinstance(value, bool) or value <= 0
        ):
            raise ValueError(f'"{key}" must be a positive integer')
        return value

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r} {self.options!r}>"

"""The stack of transformers one route goes through, built once per config.

Out: provider chain, then the model's chain, then the endpoint builds the HTTP call.
Back: the endpoint first (it turns its wire format into unified chunks), then the same
transformers in reverse order (a proper stack: the model chain sees the upstream's answer
before the provider chain).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ccr.config.model import Config, Provider
from ccr.errors import ConfigError
from ccr.transformers.base import HttpRequest, TransformContext, Transformer
from ccr.transformers.registry import instantiate, lookup


@dataclass(frozen=True)
class Chain:
    transformers: tuple[Transformer, ...]
    endpoint: Transformer

    @property
    def protocol(self) -> str:
        return self.endpoint.endpoint or "openai"

    def request(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        for t in self.transformers:
            request = t.transform_request(request, ctx)
        return self.endpoint.build_http(request, ctx)

    def response(self, response: dict[str, Any], ctx: TransformContext) -> dict[str, Any]:
        response = self.endpoint.transform_response(response, ctx)
        for t in reversed(self.transformers):
            response = t.transform_response(response, ctx)
        return response

    def chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        chunks = self.endpoint.transform_chunk(chunk, ctx)
        for t in reversed(self.transformers):
            if len(chunks) == 1:
                chunks = t.transform_chunk(chunks[0], ctx)
            else:
                chunks = [out for c in chunks for out in t.transform_chunk(c, ctx)]
        return chunks

    def end(self, ctx: TransformContext) -> list[dict[str, Any]]:
        """Flush every stage at the end of a stream; what an inner stage flushes still passes
        through the outer stages' ``transform_chunk``."""
        out: list[dict[str, Any]] = []
        for stage in (self.endpoint, *reversed(self.transformers)):
            out = [o for c in out for o in stage.transform_chunk(c, ctx)]
            out += stage.end_stream(ctx)
        return out


def _uses(spec: Any, key_path: str) -> list[Transformer]:
    if not isinstance(spec, Mapping):
        return []
    use = spec.get("use") or []
    return [instantiate(entry, key_path=f"{key_path}.use[{i}]") for i, entry in enumerate(use)]


def build_chain(provider: Provider, model: str, *, key_path: str) -> Chain:
    """Instantiate the provider's and the model's transformers (raises ConfigError)."""
    spec = provider.transformer or {}
    items = _uses(spec, f"{key_path}.transformer")
    model_spec = spec.get(model) if isinstance(spec, Mapping) else None
    items += _uses(model_spec, f"{key_path}.transformer.{model}")
    endpoints = [t for t in items if t.endpoint]
    endpoint = endpoints[-1] if endpoints else _default_endpoint()
    rest = tuple(t for t in items if t is not endpoint)
    if endpoint.endpoint == "anthropic" and rest:
        raise ConfigError(
            f"the {endpoint.name} transformer forwards requests untouched and cannot be combined "
            f"with {', '.join(t.name for t in rest)}: remove them for model {model!r}",
            path=f"{key_path}.transformer",
        )
    return Chain(rest, endpoint)


def build_chains(config: Config) -> dict[tuple[str, str], Chain]:
    """Every route's chain, keyed by (provider name, model): built at load, not per request."""
    chains: dict[tuple[str, str], Chain] = {}
    for i, provider in enumerate(config.providers):
        for model in provider.models:
            chains[(provider.name, model)] = build_chain(
                provider, model, key_path=f"Providers[{i}]"
            )
    return chains


def _default_endpoint() -> Transformer:
    cls = lookup("openai")
    assert cls is not None
    return cls()

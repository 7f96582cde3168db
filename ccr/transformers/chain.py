"""The stack of transformers one route goes through, built once per config.

Out: provider chain, then the model's chain, then the endpoint builds the HTTP call.
Back: the endpoint first (it turns its wire format into unified chunks), then the same
transformers in reverse order (a proper stack: the model chain sees the upstream's answer
before the provider chain).

A chain holding a user transformer (an :class:`AsyncTransformer`, run in the sandbox) has
``is_async`` set and must be driven through the ``a*`` methods; chains of built-ins alone keep
the synchronous ones, untouched by the awaiting.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ccr.config.model import Config, Provider
from ccr.errors import ConfigError
from ccr.protocol.http import HttpRequest
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.custom import AsyncTransformer, CustomTransformers, load_custom_transformers
from ccr.transformers.registry import BUILTINS, Catalog


@dataclass(frozen=True)
class Chain:
    transformers: tuple[Transformer, ...]
    endpoint: Transformer
    #: Some stage must be awaited: drive the chain with the ``a*`` methods.
    is_async: bool = field(init=False, compare=False)
    #: No stage changes streamed chunks or adds any at the end: a stream can skip the chain.
    passes_chunks: bool = field(init=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "is_async", any(isinstance(t, AsyncTransformer) for t in self.transformers)
        )
        object.__setattr__(self, "passes_chunks", not self.is_async and all(
            type(t).transform_chunk is Transformer.transform_chunk
            and type(t).end_stream is Transformer.end_stream
            for t in (self.endpoint, *self.transformers)
        ))

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

    # -- chains with a stage that must be awaited ------------------------------------------------

    async def arequest(self, request: dict[str, Any], ctx: TransformContext) -> HttpRequest:
        for t in self.transformers:
            if isinstance(t, AsyncTransformer):
                request = await t.atransform_request(request, ctx)
            else:
                request = t.transform_request(request, ctx)
        return self.endpoint.build_http(request, ctx)

    async def aresponse(self, response: dict[str, Any], ctx: TransformContext
                        ) -> dict[str, Any]:
        response = self.endpoint.transform_response(response, ctx)
        for t in reversed(self.transformers):
            if isinstance(t, AsyncTransformer):
                response = await t.atransform_response(response, ctx)
            else:
                response = t.transform_response(response, ctx)
        return response

    async def achunks(self, chunks: list[dict[str, Any]], ctx: TransformContext, *,
                      end: bool = False) -> list[dict[str, Any]]:
        """All chunks of one upstream read through every stage, stage by stage (a sandboxed
        stage takes the whole batch in one round trip); ``end`` also flushes each stage, as
        :meth:`end` does, after that stage's chunks."""
        for stage in (self.endpoint, *reversed(self.transformers)):
            if isinstance(stage, AsyncTransformer):
                chunks = await stage.atransform_chunks(chunks, ctx, end=end)
                continue
            chunks = [out for c in chunks for out in stage.transform_chunk(c, ctx)]
            if end:
                chunks += stage.end_stream(ctx)
        return chunks


def _uses(spec: Any, key_path: str, catalog: Catalog) -> list[Transformer]:
    if not isinstance(spec, Mapping):
        return []
    use = spec.get("use") or []
    return [catalog.create(entry, key_path=f"{key_path}.use[{i}]") for i, entry in enumerate(use)]


def build_chain(provider: Provider, model: str, *, key_path: str,
                catalog: Catalog = BUILTINS) -> Chain:
    """Instantiate the provider's and the model's transformers (raises ConfigError)."""
    spec = provider.transformer or {}
    items = _uses(spec, f"{key_path}.transformer", catalog)
    model_spec = spec.get(model) if isinstance(spec, Mapping) else None
    items += _uses(model_spec, f"{key_path}.transformer.{model}", catalog)
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


def catalog_for(config: Config, custom: CustomTransformers | None = None) -> Catalog:
    """The built-ins plus the config's own transformers, added through the same call.

    Without ``custom``, the transformers the config declares are loaded and checked here, for a
    config that is only being validated (their sandbox pools are never started)."""
    if custom is None:
        custom = load_custom_transformers(config)
    catalog = Catalog(parent=BUILTINS)
    for name, factory in custom.factories.items():
        catalog.add(name, factory)
    return catalog


def build_chains(config: Config, catalog: Catalog | None = None
                 ) -> dict[tuple[str, str], Chain]:
    """Every route's chain, keyed by (provider name, model): built at load, not per request."""
    if catalog is None:
        catalog = catalog_for(config)
    chains: dict[tuple[str, str], Chain] = {}
    for i, provider in enumerate(config.providers):
        for model in provider.models:
            chains[(provider.name, model)] = build_chain(
                provider, model, key_path=f"Providers[{i}]", catalog=catalog
            )
    return chains


def _default_endpoint() -> Transformer:
    cls = BUILTINS.get("openai")
    assert cls is not None
    return cls({})

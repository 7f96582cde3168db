"""User transformers: classes in Python files, run in the sandbox, used by name like built-ins.

A config declares them at top level, as CCR does::

    "transformers": [{"path": "~/.claude-code-router/plugins/redact_emails.py",
                      "options": {"label": "email"}, "on_error": "skip"}]

and providers name them in ``"transformer": {"use": ["redact-emails"]}`` (options given there
are merged over the entry's). A relative ``path`` is relative to the config file. Optional
limits per entry: ``timeout_ms`` (per round trip, default 1000), ``memory_mb`` (512) and
``workers`` (2). Each file is checked when the config loads (a broken file, a missing class
or options its ``__init__`` refuses reject the config), then runs in its own pool of sandbox
workers that starts and stops with the config's runtime.

The file defines one class with a ``name`` and any of ``transform_request(self, request,
ctx)``, ``transform_response(self, response, ctx)``, ``transform_chunk(self, chunk, ctx)``
(a list of chunks, or one) and ``end_stream(self, ctx)``; ``__init__(self, options)`` is
optional (``self.options`` is always set). ``ctx`` holds ``provider`` (the name), ``model``,
``stream`` and ``state``: never keys or URLs.

The hooks cross a process boundary, so they are asynchronous: an :class:`AsyncTransformer`
makes its chain await them (see :class:`ccr.transformers.chain.Chain`), and chains of
built-ins alone stay synchronous. A round trip costs ~130 µs, so stream chunks go to the
sandbox in batches: the engine keeps reading the upstream while a batch is in the sandbox
(:mod:`ccr.engine.readahead`), and the next batch is everything that arrived meanwhile. A
failing transformer fails its request with a 500 ``api_error`` naming the file and line, or
with ``"on_error": "skip"`` is left out for the rest of that request.

Per-request state: the sandbox makes a fresh instance for every hook call (and fresh module
globals for every round trip), so nothing kept on ``self`` survives a call; ``ctx.state`` is a
dict private to the transformer that lasts for the whole request.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ccr.config.model import Config
from ccr.config.validate import InvalidConfig
from ccr.errors import ApiError
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.registry import BUILTINS, Factory

if TYPE_CHECKING:
    from ccr.sandbox.transformer import TransformerScript

log = logging.getLogger("ccr")

#: A name → factory mapping entry: options (from a provider's ``use``) to a transformer.



class AsyncTransformer(Transformer):
    """A transformer whose hooks run elsewhere and must be awaited.

    A chain holding one calls the ``a*`` methods for every stage; the synchronous hooks refuse,
    so a caller that forgets to await cannot silently skip the transformer.
    """

    async def atransform_request(
        self, request: dict[str, Any], ctx: TransformContext
    ) -> dict[str, Any]:
        return request

    async def atransform_response(
        self, response: dict[str, Any], ctx: TransformContext
    ) -> dict[str, Any]:
        return response

    async def atransform_chunks(
        self, chunks: list[dict[str, Any]], ctx: TransformContext, *, end: bool
    ) -> list[dict[str, Any]]:
        """All chunks of one upstream read, in order; at ``end``, also what ``end_stream``
        flushes, after them."""
        return chunks

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise TypeError(f"transformer {self.name!r} runs asynchronously: use the chain's "
                        "a* methods (Chain.is_async is set)")

    transform_request = transform_response = transform_chunk = end_stream = _refuse


@dataclass(frozen=True)
class CustomPlugin:
    """One ``transformers`` entry, checked: its file's pool and how failures are handled."""

    index: int
    name: str
    hooks: frozenset[str]
    options: dict[str, Any]
    on_error: str
    script: TransformerScript


class CustomTransformer(AsyncTransformer):
    """A user transformer: every hook is one round trip to the file's sandbox pool."""

    def __init__(self, plugin: CustomPlugin, options: Mapping[str, Any] | None = None) -> None:
        super().__init__({**plugin.options, **(options or {})})
        self.name = plugin.name  # type: ignore[misc]  # per file, not per class
        self.plugin = plugin
        self._options_json = json.dumps(self.options)
        self._state_key = f"custom-transformer:{plugin.index}:{id(self)}"
        self._skip_key = self._state_key + ":skipped"

    async def atransform_request(
        self, request: dict[str, Any], ctx: TransformContext
    ) -> dict[str, Any]:
        if "transform_request" not in self.plugin.hooks:
            return request
        changed = await self._run("request", request, ctx)
        return request if changed is None else changed

    async def atransform_response(
        self, response: dict[str, Any], ctx: TransformContext
    ) -> dict[str, Any]:
        if "transform_response" not in self.plugin.hooks:
            return response
        changed = await self._run("response", response, ctx)
        return response if changed is None else changed

    async def atransform_chunks(
        self, chunks: list[dict[str, Any]], ctx: TransformContext, *, end: bool
    ) -> list[dict[str, Any]]:
        hooks = self.plugin.hooks
        if not ((chunks and "transform_chunk" in hooks) or (end and "end_stream" in hooks)):
            return chunks
        changed = await self._run("chunks", chunks, ctx, end=end)
        return chunks if changed is None else changed

    async def _run(self, hook: str, data: Any, ctx: TransformContext, *,
                   end: bool = False) -> Any:
        """The hook's result, or None when the transformer is skipped for this request."""
        if ctx.state.get(self._skip_key):
            return None
        result = await self.plugin.script.run(
            hook, data,
            ctx={"provider": ctx.provider.name, "model": ctx.model, "stream": ctx.stream},
            state=ctx.state.get(self._state_key) or {}, options=self._options_json, end=end,
        )
        if result.output:
            log.info("transformer %s printed: %s", self.plugin.script.name,
                     result.output.rstrip())
        if result.error is None:
            ctx.state[self._state_key] = result.state
            return result.value
        what = f"custom transformer {self.name!r} failed: {result.error}"
        if self.plugin.on_error == "skip":
            ctx.state[self._skip_key] = True
            log.warning("%s (skipped for the rest of this request: on_error is \"skip\")", what)
            return None
        raise ApiError(what, 500)


@dataclass(frozen=True)
class CustomTransformers:
    """The user transformers one config declares: factories for its chains, and the sandbox
    pools, which start and stop with the config's runtime."""

    plugins: tuple[CustomPlugin, ...] = ()

    @property
    def factories(self) -> dict[str, Factory]:
        """Lower-cased name → factory, added to the config's catalog
        (:func:`ccr.transformers.chain.catalog_for`)."""
        return {p.name.lower(): _factory(p) for p in self.plugins}

    async def start(self) -> None:
        await asyncio.gather(*(p.script.start() for p in self.plugins))
        for plugin in self.plugins:
            if plugin.script.load_error:
                log.error("transformer %s: %s", plugin.name, plugin.script.load_error)

    async def aclose(self) -> None:
        await asyncio.gather(*(p.script.aclose() for p in self.plugins))


def _factory(plugin: CustomPlugin) -> Factory:
    return lambda options: CustomTransformer(plugin, options)


def load_custom_transformers(config: Config) -> CustomTransformers:
    """Check every file in ``config.transformers`` in sandbox workers (the config validator has
    read and compiled them already).

    Raises :class:`InvalidConfig` listing every entry's problem, each with its file.
    """
    if not config.transformers:
        return CustomTransformers()
    from ccr.sandbox.transformer import TransformerFile, TransformerScript, check_files

    where = str(config.path) if config.path else None
    problems: list[tuple[str, str]] = []
    files: list[TransformerFile] = []
    for i, entry in enumerate(config.transformers):
        try:
            source = entry.path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:  # changed since the config was checked
            problems.append((f"transformers[{i}].path", f"cannot read {entry.path}: {exc}"))
            source = ""
        files.append(TransformerFile(entry.path, source, json.dumps(dict(entry.options)),
                                     entry.timeout_ms, entry.memory_mb))
    if problems:
        raise InvalidConfig(problems, file=where)
    plugins: list[CustomPlugin] = []
    seen: dict[str, int] = {}
    for i, (entry, file, described) in enumerate(zip(config.transformers, files,
                                                     check_files(files), strict=True)):
        key = f"transformers[{i}]"
        if isinstance(described, str):
            problems.append((key, described))
            continue
        name = described.name.lower()
        if name in seen:
            problems.append((key, f"{file.name} defines transformer {described.name!r}, already "
                             f"defined by transformers[{seen[name]}]: give each one its own name"))
            continue
        seen[name] = i
        _warn_if_shadowing(described.name, file.name)
        script = TransformerScript(file, described, workers=entry.workers)
        plugins.append(CustomPlugin(i, described.name, described.hooks, dict(entry.options),
                                    entry.on_error, script))
    if problems:
        raise InvalidConfig(problems, file=where)
    return CustomTransformers(tuple(plugins))


def _warn_if_shadowing(name: str, filename: str) -> None:
    if BUILTINS.get(name) is not None:
        log.warning("transformer %s in %s replaces the built-in of that name in this config",
                    name, filename)

"""Which keys a config may hold, so a typo is named instead of silently ignored.

A misspelt section (``"Routr"``) otherwise starts a server whose every request fails for a
reason that never mentions the typo. Keys of the Node.js claude-code-router that ccr does not
implement are named as such, with what to do instead. Free-form sections (``StatusLine``,
``CUSTOM_ROUTER_OPTIONS``, transformer options, a provider's per-model ``transformer``) are
not checked: their keys belong to someone else; nor are the team-gateway sections, which
:mod:`ccr.config.gateway` checks itself.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from ccr.config.model import ROUTE_SLOTS

TOP_LEVEL = frozenset({
    "Providers", "providers", "Router", "APIKEY", "HOST", "PORT", "LOG", "LOG_LEVEL",
    "API_TIMEOUT_MS", "CONNECT_TIMEOUT_MS", "STREAM_IDLE_TIMEOUT_MS", "PING_INTERVAL_MS",
    "SHUTDOWN_TIMEOUT_MS", "PROXY_URL", "CUSTOM_ROUTER_PATH", "CUSTOM_ROUTER_OPTIONS",
    "CUSTOM_ROUTER_TIMEOUT_MS", "CUSTOM_ROUTER_MEMORY_MB", "CUSTOM_ROUTER_WORKERS",
    "transformers", "forceUseImageAgent", "StatusLine", "NON_INTERACTIVE_MODE", "CLAUDE_PATH",
    # the team gateway (checked in detail by ccr.config.gateway)
    "APIKEYS", "ADMIN_KEY", "METRICS", "STATE", "LEDGER", "PRICES", "BUDGETS", "RATE_LIMIT",
    "MAX_CONCURRENT_REQUESTS", "QUEUE_TIMEOUT_MS",
    # request recording (ccr.context.records)
    "RECORD",
    # failover (checked in detail by ccr.config.resilience)
    "fallback", "RETRY", "COOLDOWN",
    # server processes sharing the port (ccr.service.workers)
    "WORKERS",
})
PROVIDER = frozenset({"name", "api_base_url", "api_key", "models", "transformer",
                      "max_concurrency"})
ROUTER = frozenset({*ROUTE_SLOTS, "longContextThreshold"})
TRANSFORMER_ENTRY = frozenset({"path", "options", "on_error", "timeout_ms", "memory_mb",
                               "workers"})

#: CCR keys ccr reads past, and what to do instead.
UNSUPPORTED_TOP_LEVEL = {
    "plugins": "a CCR key ccr does not support: ccr has no plugin system; write a Python "
               'transformer and list it under "transformers" instead',
    "REWRITE_SYSTEM_PROMPT": "a CCR key ccr does not support: the system prompt is sent as "
                             "Claude Code wrote it; a transformer (transformers[]) can change "
                             "it in transform_request",
}
UNSUPPORTED_PROVIDER = {
    "tokenizer": "a CCR key ccr does not support: ccr counts tokens with cl100k_base for every "
                 "provider (close enough for routing); remove it",
}


def _suggest(key: str, known: frozenset[str]) -> str:
    lowered: dict[str, str] = {}
    for name in sorted(known):  # "Providers" before "providers"
        lowered.setdefault(name.lower(), name)
    if key.lower() in lowered:
        return f' (did you mean "{lowered[key.lower()]}"? keys are case-sensitive)'
    import difflib  # only when there is a typo to name

    close = difflib.get_close_matches(key.lower(), list(lowered), n=1, cutoff=0.6)
    return f' (did you mean "{lowered[close[0]]}"?)' if close else ""


def _unknown(section: Mapping[str, Any], known: frozenset[str], unsupported: Mapping[str, str],
             prefix: str) -> Iterator[tuple[str, str]]:
    for key in section:
        if key in known:
            continue
        name = str(key)
        path = f"{prefix}.{name}" if prefix else name
        if name in unsupported:
            yield path, f"ignored: {unsupported[name]}"
        else:
            yield path, f"unknown key, ignored{_suggest(name, known)}"


def unknown_key_warnings(raw: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    """``(key path, message)`` for every key ccr does not read, at every checked level."""
    yield from _unknown(raw, TOP_LEVEL, UNSUPPORTED_TOP_LEVEL, "")
    providers_key = "Providers" if "Providers" in raw else "providers"
    providers = raw.get(providers_key)
    if isinstance(providers, list):
        for i, entry in enumerate(providers):
            if isinstance(entry, dict):
                yield from _unknown(entry, PROVIDER, UNSUPPORTED_PROVIDER,
                                    f"{providers_key}[{i}]")
    router = raw.get("Router")
    if isinstance(router, dict):
        yield from _unknown(router, ROUTER, {}, "Router")
    transformers = raw.get("transformers")
    if isinstance(transformers, list):
        for i, entry in enumerate(transformers):
            if isinstance(entry, dict):
                yield from _unknown(entry, TRANSFORMER_ENTRY, {}, f"transformers[{i}]")

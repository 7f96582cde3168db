"""What the Overview page shows: the server's own state, read defensively where it depends on
optional parts (provider health, sandbox statistics), with no keys and no URLs in it."""

from __future__ import annotations

import os
import time
from typing import Any

from ccr import __version__
from ccr.ui.masking import scrub


def has_client_keys(config: Any) -> bool:
    """Whether the server asks clients for a key (``APIKEY``, named ``APIKEYS`` or an
    ``ADMIN_KEY``): only then may the console answer beyond loopback."""
    raw = getattr(config, "raw", {}) or {}
    return bool(config.apikey or raw.get("APIKEYS") or raw.get("ADMIN_KEY"))


def overview(state: Any, secrets: list[str]) -> dict[str, Any]:
    """What the server knows about itself, for the Overview page (no keys, no URLs; a reload
    error quoting a value from the file has the file's ``secrets`` masked)."""
    engine = state.engine
    config = state.config
    script = engine.script
    transformers = getattr(engine, "transformers", None)
    plugins = getattr(transformers, "plugins", ()) or ()
    health = provider_health(engine)
    return {
        "version": __version__,
        "pid": os.getpid(),
        "uptime_s": round(time.time() - state.stats.started_at, 1),
        "requests": state.stats.requests,
        "errors": state.stats.errors,
        "reloads": state.reloads,
        "reload_error": scrub(state.reload_error, secrets) if state.reload_error else None,
        "config": str(config.path) if config.path else None,
        "client_key": has_client_keys(config),
        "log_enabled": bool(config.log),
        "providers": [{"name": p.name, "models": list(p.models),
                       "health": health.get(p.name)} for p in config.providers],
        "router_script": None if script is None else {
            "path": str(script.path), "load_error": script.load_error,
        },
        "sandboxes": sandbox_status(engine),
        "transformers": [{"name": p.name, "path": str(getattr(p.script, "path", "")),
                          "load_error": getattr(p.script, "load_error", None)}
                         for p in plugins],
    }


def sandbox_status(engine: Any) -> list[dict[str, Any]] | None:
    """The router script's and transformers' calls, errors, timeouts and switch-off, when the
    engine reports them (``engine.scripts_status()``; read defensively, plain values only)."""
    status = getattr(engine, "scripts_status", None)
    if not callable(status):
        return None
    try:
        rows = status()
    except Exception:
        return None
    return [{str(k): v for k, v in row.items() if isinstance(v, str | int | float | bool | None)}
            for row in rows if isinstance(row, dict)] if isinstance(rows, list) else None


def provider_health(engine: Any) -> dict[str, dict[str, Any]]:
    """Each provider's health and cooldown by name, when the engine tracks them (read
    defensively: ``engine.resilience.health.status(...)``; only plain values, never keys)."""
    resilience = getattr(engine, "resilience", None)
    health = getattr(resilience, "health", None)
    status = getattr(health, "status", None)
    providers = getattr(resilience, "providers", None)
    if not callable(status) or not callable(providers):
        return {}
    try:
        rows = status(providers(engine.config))
    except Exception:
        return {}
    found = {}
    for row in rows if isinstance(rows, list) else []:
        if isinstance(row, dict) and isinstance(row.get("provider"), str):
            found[row["provider"]] = {str(k): v for k, v in row.items() if k != "provider"
                                      and isinstance(v, str | int | float | bool | None)}
    return found

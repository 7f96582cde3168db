"""Structured config edits from the console: providers and the Router, on the data as written.

A provider's key is write-only: an edit that leaves it out keeps the stored one, so the console
never needs to read a key back to save a form. Everything else a form sends replaces what the
file has; the result is checked by the loader before it is written (see ``configfile``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any

from ccr.config import ROUTE_SLOTS, redact, redact_text
from ccr.errors import CcrError
from ccr.ui.masking import key_display

ROUTER_KEYS = (*ROUTE_SLOTS, "longContextThreshold")
#: The rules a ``fallback`` list may be keyed by (CCR v2's Router slots, then ccr's own rules).
FALLBACK_KEYS = (*ROUTE_SLOTS, "explicit", "subagent", "custom")


class EditError(CcrError, ValueError):
    """A form that cannot become a config edit (a missing name, a duplicate provider)."""


def provider_list(data: dict[str, Any]) -> list[Any]:
    """The provider list as written (``Providers``, or CCR's older ``providers``)."""
    key = "providers" if "providers" in data and "Providers" not in data else "Providers"
    value = data.setdefault(key, [])
    if not isinstance(value, list):
        raise EditError(f'"{key}" is not a list: fix it on the Config file page first')
    return value


def _index(data: dict[str, Any], name: str) -> int | None:
    want = name.strip().lower()
    for i, provider in enumerate(provider_list(data)):
        if isinstance(provider, dict) and str(provider.get("name", "")).strip().lower() == want:
            return i
    return None


def providers_view(data: dict[str, Any], env: Mapping[str, str] | None = None,
                   ) -> list[dict[str, Any]]:
    """Providers for the console: URLs without credentials, keys only as "set …abcd"."""
    env = os.environ if env is None else env
    shown = []
    for provider in provider_list(dict(data)):
        if not isinstance(provider, dict):
            continue
        models = provider.get("models")
        transformer = provider.get("transformer")
        shown.append({
            "name": str(provider.get("name", "")),
            "api_base_url": redact_text(str(provider.get("api_base_url", ""))),
            "key": key_display(provider.get("api_key"), env),
            "models": [m for m in models if isinstance(m, str)] if isinstance(models, list)
            else [],
            "transformer": redact(transformer) if transformer is not None else None,
        })
    return shown


def _clean_models(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace("\n", ",").split(",")
    if not isinstance(value, list):
        raise EditError("models: a list of model names")
    return [m.strip() for m in value if isinstance(m, str) and m.strip()]


def upsert_provider(data: dict[str, Any], form: Mapping[str, Any], *,
                    original: str | None) -> dict[str, Any]:
    """Add a provider (``original`` None) or change the one named ``original``.

    ``form``: ``name``, ``api_base_url``, ``models`` (list or comma text), optional
    ``api_key`` (a new key or ``$VAR``; absent or empty keeps the stored one),
    ``clear_key`` (remove the stored key), optional ``transformer`` (a JSON object, or null).
    """
    name = str(form.get("name") or "").strip()
    if not name:
        raise EditError("name: a provider needs a name")
    providers = provider_list(data)
    existing = _index(data, original) if original is not None else None
    if original is not None and existing is None:
        raise EditError(f"provider {original!r} is not configured")
    clash = _index(data, name)
    if clash is not None and clash != existing:
        raise EditError(f"provider {name!r} already exists")
    entry: dict[str, Any] = dict(providers[existing]) if existing is not None else {}
    old_name = entry.get("name")
    entry["name"] = name
    entry["api_base_url"] = str(form.get("api_base_url") or "").strip()
    key = form.get("api_key")
    if form.get("clear_key"):
        entry.pop("api_key", None)
    elif isinstance(key, str) and key.strip():
        entry["api_key"] = key.strip()
    entry["models"] = _clean_models(form.get("models", []))
    if "transformer" in form:
        transformer = form["transformer"]
        if transformer in (None, "", {}):
            entry.pop("transformer", None)
        elif isinstance(transformer, dict):
            entry["transformer"] = transformer
        else:
            raise EditError("transformer: a JSON object like {\"use\": [\"deepseek\"]}")
    first = ("name", "api_base_url", "api_key", "models", "transformer")
    ordered: dict[str, Any] = {k: entry[k] for k in first if k in entry}
    ordered.update({k: v for k, v in entry.items() if k not in ordered})
    if existing is None:
        providers.append(ordered)
    else:
        providers[existing] = ordered
        if isinstance(old_name, str) and old_name != name:
            _rename_routes(data, old_name, name)
    return ordered


def _rename_routes(data: dict[str, Any], old: str, new: str) -> None:
    """A renamed provider keeps its Router slots pointing at it."""
    router = data.get("Router")
    if not isinstance(router, dict):
        return
    for slot in ROUTE_SLOTS:
        value = router.get(slot)
        if isinstance(value, str) and value.partition(",")[0].strip().lower() == old.lower():
            router[slot] = f"{new},{value.partition(',')[2]}"


def remove_provider(data: dict[str, Any], name: str) -> None:
    index = _index(data, name)
    if index is None:
        raise EditError(f"provider {name!r} is not configured")
    del provider_list(data)[index]


def router_view(data: dict[str, Any]) -> dict[str, Any]:
    router = data.get("Router")
    router = router if isinstance(router, dict) else {}
    return {key: router.get(key) for key in ROUTER_KEYS}


def set_router(data: dict[str, Any], form: Mapping[str, Any]) -> dict[str, Any]:
    """Replace the Router slots the form names (an empty slot is removed)."""
    router = data.get("Router")
    if not isinstance(router, dict):
        router = {}
        data["Router"] = router
    for key in ROUTER_KEYS:
        if key not in form:
            continue
        value = form[key]
        if value is None or (isinstance(value, str) and not value.strip()):
            router.pop(key, None)
        elif key == "longContextThreshold":
            text = str(value).strip()
            router[key] = int(text) if text.isdigit() else value
        else:
            router[key] = str(value).strip()
    return router


def routes_of(data: dict[str, Any]) -> list[str]:
    """Every ``provider,model`` the config as written offers, for the Router slot pickers."""
    found = []
    for provider in provider_list(dict(data)):
        if isinstance(provider, dict) and isinstance(provider.get("models"), list):
            found += [f"{provider.get('name')},{m}" for m in provider["models"]
                      if isinstance(m, str)]
    return found


def fallback_view(data: dict[str, Any]) -> dict[str, list[str]]:
    """The ``fallback`` lists as written (CCR v2: rule → routes tried when the route fails)."""
    fallback = data.get("fallback")
    if not isinstance(fallback, dict):
        return {}
    return {str(k): [r for r in v if isinstance(r, str)] for k, v in fallback.items()
            if isinstance(v, list)}


def _clean_routes(value: Any) -> list[str]:
    """Routes from a list, or from text separated by spaces, new lines, ``;`` or ``, ``
    (a route has a comma of its own: ``provider,model``)."""
    if isinstance(value, str):
        value = re.split(r"[\s;]+|,\s+", value)
    if not isinstance(value, list):
        raise EditError("fallback: a list of provider,model routes")
    return [r.strip().strip(",") for r in value if isinstance(r, str) and r.strip().strip(",")]


def set_fallback(data: dict[str, Any], form: Mapping[str, Any]) -> None:
    """Replace the fallback lists the form names (a list, or comma-separated text; empty
    removes it; no lists left removes ``fallback``)."""
    fallback = data.get("fallback")
    if not isinstance(fallback, dict):
        fallback = {}
    for key, value in form.items():
        if key not in FALLBACK_KEYS:
            raise EditError(f"fallback.{key}: unknown rule (fallback lists are keyed by "
                            f"{', '.join(FALLBACK_KEYS)})")
        routes = _clean_routes(value) if value is not None else []
        if routes:
            fallback[key] = routes
        else:
            fallback.pop(key, None)
    if fallback:
        data["fallback"] = fallback
    else:
        data.pop("fallback", None)

"""Secret-free copies of configuration data, for logs, the UI and user router scripts.

Secrets are recognised by key name (word-wise, so ``api_key`` and ``APIKEY`` are secrets while
``max_tokens`` and ``longContextThreshold`` are not) and by URL credentials inside any string.
"""

from __future__ import annotations

import copy
import re
from typing import TYPE_CHECKING, Any

from ccr.config.slots import ROUTE_SLOTS

if TYPE_CHECKING:
    from ccr.config.model import Config

REDACTED = "***"

#: Whole words that name a secret.
_SECRET_WORDS = frozenset({
    "key", "keys", "apikey", "apikeys", "secret", "secrets", "token", "password", "passwords",
    "passwd", "authorization", "auth", "credential", "credentials", "cookie",
})
#: Endings that name a secret when words are run together (``accesstoken``, ``xapikey``).
_SECRET_SUFFIXES = ("key", "token", "secret", "password")
#: Words that make a name a quantity rather than a secret (``token_count``, ``max_key_length``).
_COUNTER_WORDS = frozenset({
    "tokens", "count", "counts", "limit", "max", "min", "budget", "threshold", "length", "size",
    "usage", "total", "num", "number",
})

_CAMEL_LOWER_UPPER = re.compile(r"([a-z0-9])([A-Z])")
_CAMEL_ACRONYM = re.compile(r"([A-Z]+)([A-Z][a-z])")
_NON_ALNUM = re.compile(r"[^A-Za-z0-9]+")
#: ``scheme://userinfo@`` — userinfo runs to the last ``@`` before the path, query or fragment.
_URL_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.\-]*://)[^/?#\s]+@")
_QUERY_PARAM = re.compile(r"([?&])([^=&#\s]+)=([^&#\s]*)")


def _words(name: str) -> list[str]:
    spaced = _CAMEL_ACRONYM.sub(r"\1_\2", _CAMEL_LOWER_UPPER.sub(r"\1_\2", name))
    return [w for w in _NON_ALNUM.split(spaced.lower()) if w]


def is_secret_key(name: object) -> bool:
    """Whether a mapping key (or URL query parameter) names a secret value."""
    words = _words(str(name))
    if any(w in _COUNTER_WORDS for w in words):
        return False
    return any(w in _SECRET_WORDS or w.endswith(_SECRET_SUFFIXES) for w in words)


def _redact_query(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if value and is_secret_key(name):
        return f"{sep}{name}={REDACTED}"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with URL credentials (``https://user:pass@host``) and secret query values hidden."""
    if "://" not in text and "=" not in text:
        return text
    text = _URL_USERINFO.sub(rf"\1{REDACTED}@", text)
    if "?" in text:
        text = _QUERY_PARAM.sub(_redact_query, text)
    return text


def redact(obj: Any, *, _secret: bool = False) -> Any:
    """A deep copy of ``obj`` with every secret replaced by ``"***"``.

    Everything under a secret key is hidden, except ``null``, booleans and empty strings, which
    only say whether a secret is set.
    """
    if isinstance(obj, dict):
        return {k: redact(v, _secret=_secret or is_secret_key(k)) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return type(obj)(redact(v, _secret=_secret) for v in obj)
    if obj is None or isinstance(obj, bool):
        return obj
    if isinstance(obj, str):
        if _secret and obj:
            return REDACTED
        return redact_text(obj)
    if _secret:
        return REDACTED
    return copy.deepcopy(obj)


def _plain(obj: Any) -> Any:
    """JSON types only: tuples become lists, keys strings, anything else its string form."""
    if isinstance(obj, dict):
        return {str(k): _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    return str(obj)


def script_view(config: Config) -> dict[str, Any]:
    """The read-only projection of ``config`` a user router script sees: names, models, routes.

    No keys, no URLs, nothing else from the raw config; every call returns fresh copies.
    """
    router: dict[str, Any] = {slot: config.router.slot(slot) for slot in ROUTE_SLOTS}
    router["longContextThreshold"] = config.router.longContextThreshold
    options = config.raw.get("CUSTOM_ROUTER_OPTIONS")
    return {
        "Providers": [{"name": p.name, "models": list(p.models)} for p in config.providers],
        "Router": router,
        "CUSTOM_ROUTER_OPTIONS": _plain(redact(options)) if isinstance(options, dict) else {},
    }

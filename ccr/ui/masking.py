"""Keys never leave the server: how the console shows them, and how edited text gets them back.

A provider key is shown only as "set …abcd". The config file editor shows the file's own text
(comments kept) with each secret replaced by a numbered placeholder; on save every placeholder
is put back from the file on disk, so a user edits around keys without ever receiving them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from ccr.config import is_secret_key, redact_text
from ccr.errors import CcrError

#: A whole-string ``$VAR`` / ``${VAR}`` reference: a name, not a secret.
_VARIABLE = re.compile(r"\$(?:\{(?P<braced>[A-Za-z_]\w*)\}|(?P<bare>[A-Za-z_]\w*))")
#: Keys shorter than this are shown as "set" only: four characters of a short key is too much.
_MIN_LENGTH_FOR_LAST4 = 12
_PLACEHOLDER = re.compile(r"\*\*\*secret (\d+)(?: …[^*\s\"']{0,4})?\*\*\*")
_PLACEHOLDER_START = "***secret "


def variable_name(value: str) -> str | None:
    """``NAME`` when ``value`` is exactly ``$NAME`` or ``${NAME}``."""
    match = _VARIABLE.fullmatch(value.strip())
    if match is None:
        return None
    return match.group("braced") or match.group("bare")


def last4(secret: str) -> str | None:
    return secret[-4:] if len(secret) >= _MIN_LENGTH_FOR_LAST4 else None


def key_display(value: Any, env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """How an ``api_key`` as written is shown: kind, ``$VAR`` name, set or not, last four.

    The value itself is never part of the answer.
    """
    env = os.environ if env is None else env
    if value is None or (isinstance(value, str) and not value.strip()):
        return {"kind": "none", "variable": None, "set": False, "last4": None, "text": "no key"}
    if not isinstance(value, str):
        return {"kind": "invalid", "variable": None, "set": False, "last4": None,
                "text": "not a string"}
    name = variable_name(value)
    if name is not None:
        resolved = env.get(name) or ""
        tail = last4(resolved)
        shown = f"set …{tail}" if tail else "set"
        return {"kind": "variable", "variable": name, "set": bool(resolved), "last4": tail,
                "text": f"${name} ({shown if resolved else 'NOT SET'})"}
    tail = last4(value)
    return {"kind": "literal", "variable": None, "set": True, "last4": tail,
            "text": f"set …{tail}" if tail else "set"}


def _walk_secrets(value: Any, secret: bool) -> Iterator[str]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _walk_secrets(child, secret or is_secret_key(key))
    elif isinstance(value, list):
        for child in value:
            yield from _walk_secrets(child, secret)
    elif isinstance(value, str) and value:
        if secret and variable_name(value) is None:
            yield value
        elif not secret and redact_text(value) != value:
            yield value  # a URL with credentials or a secret query parameter
    elif secret and isinstance(value, int | float) and not isinstance(value, bool):
        yield json.dumps(value)


def secret_values(data: Any) -> list[str]:
    """Every secret in a config as written, in file order, once each."""
    seen: dict[str, None] = {}
    for value in _walk_secrets(data, False):
        seen.setdefault(value, None)
    return list(seen)


def _forms(secret: str) -> list[str]:
    """How a secret can appear in JSON5 text: as is, and JSON-escaped when that differs."""
    escaped = json.dumps(secret, ensure_ascii=False)[1:-1]
    return [secret] if escaped == secret else [secret, escaped]


@dataclass(frozen=True)
class MaskedText:
    """A config file's text with its secrets replaced, and what is needed to put them back."""

    text: str
    #: The exact strings replaced, by placeholder number (1-based), longest first.
    forms: tuple[str, ...]
    #: A fingerprint of the file on disk: a save must be based on the text it was shown.
    version: str


def fingerprint(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


def placeholder(number: int, form: str) -> str:
    tail = last4(form)
    shown = f"{number} …{tail}" if tail else str(number)
    return f"{_PLACEHOLDER_START}{shown}***"


def mask_text(raw: str, data: Any) -> MaskedText:
    """``raw`` (the file's text, parsed as ``data``) with every secret replaced."""
    forms: dict[str, None] = {}
    for secret in secret_values(data):
        for form in _forms(secret):
            forms.setdefault(form, None)
    ordered = tuple(sorted(forms, key=len, reverse=True))
    text = raw
    for number, form in enumerate(ordered, 1):
        text = text.replace(form, placeholder(number, form))
    masked = MaskedText(text=text, forms=ordered, version=fingerprint(raw))
    if ordered and (_PLACEHOLDER_START in raw or unmask_text(text, masked) != raw):
        raise PlaceholderError("this file's keys cannot be hidden for editing here (one of "
                               "them overlaps another, or the text already holds a ***secret "
                               "placeholder); edit the file with a text editor")
    return masked


class PlaceholderError(CcrError, ValueError):
    """Edited text holds a placeholder that cannot be put back."""


def unmask_text(text: str, masked: MaskedText) -> str:
    """Edited text with every placeholder replaced by the secret it stands for."""

    def restore(match: re.Match[str]) -> str:
        number = int(match.group(1))
        if not 1 <= number <= len(masked.forms):
            raise PlaceholderError(f"{match.group(0)} does not stand for a stored secret; type "
                                   "the key itself (or $VARIABLE) instead")
        return masked.forms[number - 1]

    restored = _PLACEHOLDER.sub(restore, text)
    if _PLACEHOLDER_START in _PLACEHOLDER.sub("", text):
        raise PlaceholderError("a stored-secret placeholder (***secret N …***) was edited: put "
                               "it back as it was, or replace the whole string with the new key")
    return restored


def scrub(text: str, secrets: list[str] | tuple[str, ...]) -> str:
    """``text`` (an error message, say) with any of ``secrets`` in it replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return redact_text(text)


#: ``"api_key": "..."`` and the like in text that may not parse (an editor mid-edit).
_SECRET_ASSIGNMENT = re.compile(
    r"""(["']?[A-Za-z_]*(?:key|KEY|Key|token|TOKEN|Token|secret|SECRET|password|PASSWORD)"""
    r"""["']?\s*:\s*)(["'])((?:(?!\2)[^\\\n]|\\.)*)\2""")


def scrub_assignments(text: str) -> str:
    """Secret-named string values in JSON5-ish text hidden, placeholders and ``$VAR`` kept."""

    def hide(match: re.Match[str]) -> str:
        value = match.group(3)
        if not value or value.startswith(_PLACEHOLDER_START) or variable_name(value):
            return match.group(0)
        return f"{match.group(1)}{match.group(2)}***{match.group(2)}"

    return _SECRET_ASSIGNMENT.sub(hide, text)

"""``$VAR`` and ``${VAR}`` in config strings, resolved from the environment.

Kept free of the validator and JSON5 so ``ccr statusline``, which Claude Code runs on every
refresh, can resolve ``APIKEY: "$CCR_APIKEY"`` without loading the rest of the config code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ccr.config.keypath import child_path

#: ``$$`` (literal ``$``), ``${NAME}``, ``$NAME``, or a ``${`` that does not form ``${NAME}``.
_REFERENCE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*)"
    r"|(?P<bad>\{[^}]*\}?))"
)

Problems = list[tuple[str, str]]


def _substitute_str(text: str, env: Mapping[str, str], path: str, problems: Problems) -> str:
    def replace(match: re.Match[str]) -> str:
        if match.group("dollar"):
            return "$"
        name = match.group("braced") or match.group("bare")
        if name is None:
            problems.append((path, f'"{match.group(0)}" is not a variable reference: write '
                             "$NAME or ${NAME}, and $$ for a literal $"))
            return match.group(0)
        if name not in env:
            problems.append((path, f"environment variable {name} is not set (export it, or "
                             "write $$ for a literal $)"))
            return match.group(0)
        return env[name]

    return _REFERENCE.sub(replace, text) if "$" in text else text


def substitute(value: Any, env: Mapping[str, str], path: str = "",
               problems: Problems | None = None) -> tuple[Any, Problems]:
    """A copy of ``value`` with references replaced in every string (keys untouched), and the
    ``(key path, message)`` of each reference that could not be resolved."""
    found: Problems = [] if problems is None else problems
    if isinstance(value, str):
        return _substitute_str(value, env, path, found), found
    if isinstance(value, dict):
        return {k: substitute(v, env, child_path(path, str(k)), found)[0]
                for k, v in value.items()}, found
    if isinstance(value, list):
        return [substitute(v, env, child_path(path, i), found)[0]
                for i, v in enumerate(value)], found
    return value, found


def referenced_variables(value: Any) -> list[tuple[str, str]]:
    """``(key path, variable name)`` for every ``$VAR`` the config refers to."""
    found: list[tuple[str, str]] = []

    def walk(item: Any, path: str) -> None:
        if isinstance(item, str) and "$" in item:
            for match in _REFERENCE.finditer(item):
                name = match.group("braced") or match.group("bare")
                if name:
                    found.append((path, name))
        elif isinstance(item, dict):
            for k, v in item.items():
                walk(v, child_path(path, str(k)))
        elif isinstance(item, list):
            for i, v in enumerate(item):
                walk(v, child_path(path, i))

    walk(value, "")
    return found

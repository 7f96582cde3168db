"""JSON Schema (as tools declare their input) -> the OpenAPI subset Gemini accepts.

Gemini's ``functionDeclarations[].parameters`` is a ``Schema`` message, not JSON Schema: an
unknown keyword (``$schema``, ``additionalProperties``, ``const``, ``propertyNames``, ...) makes
the whole request fail with ``Invalid JSON payload received. Unknown name ...``. The cleaner
keeps the keywords the message has, translates the ones with an equivalent, and drops the rest.

It walks the schema knowing where it is: the keys of ``properties`` are property *names*
(a property called ``default`` or ``format`` is kept), everything else is a keyword.
Translations, so that nothing the model needs is silently lost:

- ``$ref`` to ``#/$defs/...`` or ``#/definitions/...`` is inlined (a recursive reference
  becomes an untyped schema); ``allOf`` parts are merged into one schema; ``oneOf`` is ``anyOf``.
- ``type: [X, "null"]`` and ``anyOf`` members ``{"type": "null"}`` become ``nullable: true``;
  several types become ``anyOf``; an ``anyOf`` left with one member is that member.
- ``const`` is a one-value ``enum``. ``enum`` holds strings only: on a non-string type it is
  dropped and its values are written into the description, as is a ``default``.
- ``exclusiveMinimum``/``exclusiveMaximum`` become ``minimum``/``maximum`` (± 1 on integers,
  the inclusive bound on numbers: close enough to guide the model, which is all it does).
- ``format`` is kept only where Gemini supports it (``date-time``/``enum`` on strings,
  ``float``/``double`` on numbers, ``int32``/``int64`` on integers).
- ``required`` lists only properties that exist (Gemini rejects "property is not defined").
- An object without properties (a free-form map) and an array without ``items`` lose their
  ``type``: Gemini rejects both ("should be non-empty for OBJECT type", "items: missing field"),
  while an untyped schema is accepted and still carries its description.

Types are sent as Gemini's enum names (``STRING``, ``OBJECT``, ...).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, TypeGuard

_TYPES = {
    "string": "STRING",
    "number": "NUMBER",
    "integer": "INTEGER",
    "boolean": "BOOLEAN",
    "array": "ARRAY",
    "object": "OBJECT",
}
_FORMATS = {
    "string": {"date-time", "enum"},
    "number": {"float", "double"},
    "integer": {"int32", "int64"},
}
_STRING_KEYWORDS = ("title", "description", "pattern")
_COUNT_KEYWORDS = (
    "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties"
)
_MAX_REF_DEPTH = 16


def gemini_parameters(schema: Any) -> dict[str, Any] | None:
    """The ``parameters`` of a function declaration, or None for a tool without parameters
    (Gemini rejects an object schema with no properties, so the key must then be left out)."""
    if not isinstance(schema, Mapping):
        return None
    defs = _definitions(schema)
    cleaned = _Cleaner(defs).clean(schema)
    if not cleaned.get("properties"):
        return None
    cleaned["type"] = "OBJECT"
    return cleaned


def clean_schema(schema: Any) -> dict[str, Any]:
    """One schema cleaned for Gemini (see the module docstring); the input is not changed."""
    if not isinstance(schema, Mapping):
        return {}
    return _Cleaner(_definitions(schema)).clean(schema)


def _definitions(schema: Mapping[str, Any]) -> dict[str, Any]:
    defs: dict[str, Any] = {}
    for key in ("definitions", "$defs"):
        value = schema.get(key)
        if isinstance(value, Mapping):
            defs.update({f"#/{key}/{name}": sub for name, sub in value.items()})
    return defs


class _Cleaner:
    """Holds the root's definitions while one schema tree is walked."""

    def __init__(self, defs: dict[str, Any]) -> None:
        self.defs = defs

    def clean(self, node: Any, refs: frozenset[str] = frozenset()) -> dict[str, Any]:
        if not isinstance(node, Mapping):
            return {}  # boolean schemas (true/false) and junk: no constraint Gemini can express
        node, refs = self._resolve(node, refs)
        node = self._merge_all_of(node, refs)
        out: dict[str, Any] = {}
        for key in _STRING_KEYWORDS:
            if isinstance(node.get(key), str):
                out[key] = node[key]
        kind, nullable, alternatives = _types(node.get("type"))
        nullable = nullable or node.get("nullable") is True

        variants: list[dict[str, Any]] = []
        for member in [*_as_list(node.get("anyOf")), *_as_list(node.get("oneOf"))]:
            if isinstance(member, Mapping) and member.get("type") == "null" and len(member) == 1:
                nullable = True
            else:
                variants.append(self.clean(member, refs))
        if not variants and alternatives:
            variants = [{"type": _TYPES[t]} for t in alternatives]

        if len(variants) == 1 and kind is None:
            # One alternative left: it is the schema; the parent's own words stay on it.
            out = {**variants[0], **out}
        else:
            if variants:
                out["anyOf"] = variants
                kind = None
            self._enum(node, kind, out)
            if kind is not None:
                out["type"] = _TYPES[kind]
                self._by_kind(node, kind, out, refs)
            elif "anyOf" not in out:
                self._object(node, out, refs)  # properties without a type: an object
                if out.get("properties"):
                    out["type"] = "OBJECT"
            self._numbers(node, kind, out)

        for key in _COUNT_KEYWORDS:
            if _is_count(node.get(key)):
                out[key] = node[key]
        if isinstance(node.get("propertyOrdering"), list):
            order = [name for name in node["propertyOrdering"] if isinstance(name, str)]
            if order:
                out["propertyOrdering"] = order
        if node.get("default") is not None:
            _note(out, "Default: " + _dump(node["default"]))
        if nullable:
            out["nullable"] = True
        return out

    def _resolve(self, node: Mapping[str, Any], refs: frozenset[str]) -> tuple[
            Mapping[str, Any], frozenset[str]]:
        """Inline a local ``$ref`` (its siblings override the target's keywords)."""
        ref = node.get("$ref")
        if not isinstance(ref, str):
            return node, refs
        siblings = {k: v for k, v in node.items() if k != "$ref"}
        target = self.defs.get(ref)
        if not isinstance(target, Mapping) or ref in refs or len(refs) >= _MAX_REF_DEPTH:
            return siblings, refs  # unknown or recursive: keep what is said here, untyped
        resolved, refs = self._resolve(target, refs | {ref})
        return {**resolved, **siblings}, refs

    def _merge_all_of(self, node: Mapping[str, Any], refs: frozenset[str]) -> Mapping[str, Any]:
        parts = node.get("allOf")
        if not isinstance(parts, list):
            return node
        merged: dict[str, Any] = {k: v for k, v in node.items() if k != "allOf"}
        properties: dict[str, Any] = dict(merged.get("properties") or {})
        required: list[Any] = list(merged.get("required") or [])
        for part in parts:
            if not isinstance(part, Mapping):
                continue
            part, _ = self._resolve(part, refs)
            part = self._merge_all_of(part, refs)
            if isinstance(part.get("properties"), Mapping):
                for name, sub in part["properties"].items():
                    properties.setdefault(name, sub)
            required += [r for r in part.get("required") or () if r not in required]
            for key, value in part.items():
                if key not in ("properties", "required"):
                    merged.setdefault(key, value)
        if properties:
            merged["properties"] = properties
        if required:
            merged["required"] = required
        return merged

    def _by_kind(self, node: Mapping[str, Any], kind: str, out: dict[str, Any],
                 refs: frozenset[str]) -> None:
        fmt = node.get("format")
        if isinstance(fmt, str) and fmt in _FORMATS.get(kind, ()):
            out["format"] = fmt
        if kind == "object":
            self._object(node, out, refs)
            if not out.get("properties"):
                del out["type"]  # a free-form object: Gemini rejects OBJECT without properties
        elif kind == "array":
            items = node.get("items")
            if isinstance(items, list):  # the tuple form: describe the first position
                items = items[0] if items else None
            if isinstance(items, Mapping):
                out["items"] = self.clean(items, refs)
            else:
                del out["type"]  # an ARRAY without items is rejected; untyped is accepted

    def _object(self, node: Mapping[str, Any], out: dict[str, Any],
                refs: frozenset[str]) -> None:
        properties = node.get("properties")
        if not isinstance(properties, Mapping) or not properties:
            return
        # Keys here are property names, never keywords: each one is kept as it is.
        out["properties"] = {
            str(name): self.clean(sub, refs)
            for name, sub in properties.items()
        }
        required = [
            name for name in _as_list(node.get("required"))
            if isinstance(name, str) and name in out["properties"]
        ]
        if required:
            out["required"] = list(dict.fromkeys(required))

    @staticmethod
    def _enum(node: Mapping[str, Any], kind: str | None, out: dict[str, Any]) -> None:
        values = node.get("enum")
        if not isinstance(values, list):
            values = [node["const"]] if "const" in node else None
        if values is None:
            return
        present = [v for v in values if v is not None]
        if len(present) < len(values):
            out["nullable"] = True
        if kind in (None, "string") and present and all(isinstance(v, str) for v in present):
            out["enum"] = present
            if kind is None and "anyOf" not in out:
                out["type"] = "STRING"
        elif present:
            _note(out, "Allowed values: " + ", ".join(_dump(v) for v in present))

    @staticmethod
    def _numbers(node: Mapping[str, Any], kind: str | None, out: dict[str, Any]) -> None:
        if kind not in (None, "number", "integer"):
            return
        for bound, exclusive, step in (("minimum", "exclusiveMinimum", 1),
                                       ("maximum", "exclusiveMaximum", -1)):
            value = node.get(bound)
            if _is_number(value):
                out[bound] = value
            limit = node.get(exclusive)
            if _is_number(limit) and bound not in out:
                integral = kind == "integer" and float(limit).is_integer()
                out[bound] = int(limit) + step if integral else limit
            elif kind == "integer" and limit is True and _is_number(value):
                out[bound] = value + step  # draft-4 boolean form: the bound itself is excluded


def _types(value: Any) -> tuple[str | None, bool, list[str] | None]:
    """(single type, nullable, several types) from ``type``; unknown types are ignored."""
    if isinstance(value, str):
        if value == "null":
            return None, True, None
        return (value if value in _TYPES else None), False, None
    if not isinstance(value, list):
        return None, False, None
    nullable = "null" in value
    known = list(dict.fromkeys(t for t in value if isinstance(t, str) and t in _TYPES))
    if len(known) == 1:
        return known[0], nullable, None
    return None, nullable, (known or None)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_number(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _note(out: dict[str, Any], text: str) -> None:
    description = out.get("description")
    out["description"] = f"{description} ({text})" if description else text


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)

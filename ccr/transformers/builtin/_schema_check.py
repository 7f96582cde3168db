"""A small JSON Schema check for tool arguments: the subset tool schemas use.

Used to decide whether a tool call a model wrote as text is a real call; a call is only made
from text when its arguments fit the tool's schema. Keywords checked: ``type`` (one or a list),
``enum``, ``const``, ``required``, ``properties``, ``additionalProperties``, ``items``,
``anyOf``/``oneOf`` (one alternative must fit), ``allOf``, ``minItems``/``maxItems``,
``minLength``/``maxLength``, ``minimum``/``maximum``. Anything else (``$ref``, ``format``,
``pattern``, ...) is not checked: an unknown keyword never rejects a call a server would accept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MAX_DEPTH = 64


def fits(value: Any, schema: Any) -> bool:
    """True when ``value`` satisfies the checked keywords of ``schema``."""
    return _fits(value, schema, 0)


def _type_ok(value: Any, kind: Any) -> bool:
    if isinstance(kind, list):
        return any(_type_ok(value, k) for k in kind)
    if kind == "string":
        return isinstance(value, str)
    if kind == "integer":
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer())
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if kind == "null":
        return value is None
    return True  # an unknown type name is not ours to reject


def _fits(value: Any, schema: Any, depth: int) -> bool:
    if schema is True or schema is None or depth > _MAX_DEPTH:
        return True
    if schema is False:
        return False
    if not isinstance(schema, Mapping):
        return True
    if "type" in schema and not _type_ok(value, schema["type"]):
        return False
    if "enum" in schema and isinstance(schema["enum"], list) and value not in schema["enum"]:
        return False
    if "const" in schema and value != schema["const"]:
        return False
    for key in ("anyOf", "oneOf"):
        options = schema.get(key)
        if isinstance(options, list) and options and not any(
                _fits(value, option, depth + 1) for option in options):
            return False
    for part in schema.get("allOf") or ():
        if not _fits(value, part, depth + 1):
            return False
    if isinstance(value, dict):
        return _object_fits(value, schema, depth)
    if isinstance(value, list):
        return _array_fits(value, schema, depth)
    if isinstance(value, str):
        return _bounds(len(value), schema.get("minLength"), schema.get("maxLength"))
    if isinstance(value, int | float) and not isinstance(value, bool):
        return _bounds(value, schema.get("minimum"), schema.get("maximum"))
    return True


def _object_fits(value: dict[str, Any], schema: Mapping[str, Any], depth: int) -> bool:
    required = schema.get("required")
    if isinstance(required, list) and any(
            isinstance(key, str) and key not in value for key in required):
        return False
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        properties = {}
    extra = schema.get("additionalProperties", True)
    for key, item in value.items():
        if key in properties:
            if not _fits(item, properties[key], depth + 1):
                return False
        elif extra is False or (isinstance(extra, Mapping) and not _fits(item, extra, depth + 1)):
            return False
    return True


def _array_fits(value: list[Any], schema: Mapping[str, Any], depth: int) -> bool:
    if not _bounds(len(value), schema.get("minItems"), schema.get("maxItems")):
        return False
    items = schema.get("items")
    if isinstance(items, Mapping | bool):
        return all(_fits(item, items, depth + 1) for item in value)
    return True


def _bounds(size: float, low: Any, high: Any) -> bool:
    if isinstance(low, int | float) and not isinstance(low, bool) and size < low:
        return False
    return not (isinstance(high, int | float) and not isinstance(high, bool) and size > high)

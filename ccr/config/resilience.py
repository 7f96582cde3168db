"""The resilience settings of a config: fallback lists, retries, cooldowns, key pools.

Parsed and checked once at load (every fallback route like a Router route) into frozen objects,
so the engine's attempt loop reads typed values and never the raw JSON. ``fallback`` is CCR
v2's shape unchanged: ``{"default": ["provider,model", ...], "think": [...], ...}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

#: Rules that may carry their own fallback list; CCR v2 uses the Router slots, ccr adds its
#: own rule names (a rule without a list of its own falls back through ``default``'s).
FALLBACK_KEYS = ("default", "background", "think", "longContext", "webSearch", "image",
                 "explicit", "subagent", "custom")

#: Problems are reported as ``(key path, message)``, like the rest of the config checks.
AddProblem = Callable[[str, str], None]
#: Checks one ``provider,model`` string at a key path; returns the canonical route or None.
CheckRoute = Callable[[Any, str], "str | None"]


@dataclass(frozen=True)
class RetryPolicy:
    """``RETRY``: retries on the same target before moving on, and the request's time budget."""

    max_retries: int = 1
    backoff_ms: int = 500
    #: A ``retry-after`` longer than this is not waited out: the next target is tried instead.
    max_retry_wait_ms: int = 10_000
    #: All attempts of one request (waits included) must start within this many milliseconds.
    budget_ms: int = 60_000


@dataclass(frozen=True)
class CooldownPolicy:
    """``COOLDOWN``: ``failures`` in ``window_s`` cool a provider (or key) for ``cooldown_s``."""

    failures: int = 3
    window_s: float = 60.0
    cooldown_s: float = 30.0


@dataclass(frozen=True)
class Resilience:
    """Everything the attempt loop reads from one config."""

    #: Fallback routes (canonical ``provider,model``) by the rule that chose the route.
    fallback: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    cooldown: CooldownPolicy = field(default_factory=CooldownPolicy)
    #: ``Providers[].max_concurrency`` by provider name (lower-cased).
    provider_concurrency: Mapping[str, int] = field(default_factory=dict)

    def fallback_for(self, rule: str) -> tuple[str, ...]:
        """The fallback list for a route chosen by ``rule``: its own, else ``default``'s."""
        if rule in self.fallback:
            return self.fallback[rule]
        return self.fallback.get("default", ())

    def max_concurrency(self, provider: str) -> int | None:
        return self.provider_concurrency.get(provider.strip().lower())


def _show(value: Any, limit: int = 60) -> str:
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _number(value: Any) -> float | None:
    """A finite number from a number or numeric string (``$VAR`` substitution yields strings)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if number == number and abs(number) != float("inf") else None
    return None


def _int_in(value: Any, low: int, high: int | None) -> int | None:
    number = _number(value)
    if number is None or not number.is_integer():
        return None
    whole = int(number)
    if whole < low or (high is not None and whole > high):
        return None
    return whole


_UNITS_MS = {
    "ms": 1, "millisecond": 1, "milliseconds": 1, "msec": 1, "msecs": 1,
    "s": 1000, "sec": 1000, "secs": 1000, "second": 1000, "seconds": 1000,
    "m": 60_000, "min": 60_000, "mins": 60_000, "minute": 60_000, "minutes": 60_000,
    "h": 3_600_000, "hr": 3_600_000, "hrs": 3_600_000, "hour": 3_600_000, "hours": 3_600_000,
    "d": 86_400_000, "day": 86_400_000, "days": 86_400_000,
}
_DURATION = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([A-Za-z]*)\s*\Z")


def parse_time_window(value: Any) -> float | None:
    """A ``RATE_LIMIT.timeWindow`` in seconds: milliseconds as a number, or text like
    ``"1 minute"``, ``"30s"``, ``"2 hours"`` (the forms fastify-rate-limit, which CCR uses,
    accepts)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return value / 1000 if value > 0 else None
    if not isinstance(value, str):
        return None
    match = _DURATION.match(value)
    if match is None:
        return None
    amount = float(match.group(1))
    unit = match.group(2).lower() or "ms"
    if unit not in _UNITS_MS or amount <= 0:
        return None
    return amount * _UNITS_MS[unit] / 1000


def _section(raw: Mapping[str, Any], key: str, add: AddProblem,
             example: str) -> Mapping[str, Any] | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        add(key, f"expected an object like {example}, got {_show(value)}")
        return None
    return value


def _field(section: Mapping[str, Any], key: str, path: str, add: AddProblem, default: int, *,
           low: int, high: int | None, expected: str) -> int:
    if section.get(key) is None:
        return default
    number = _int_in(section[key], low, high)
    if number is None:
        add(f"{path}.{key}" if path else key, f"expected {expected}, got {_show(section[key])}")
        return default
    return number


def _unknown(section: Mapping[str, Any], known: tuple[str, ...], path: str,
             add: AddProblem) -> None:
    for key in section:
        if key not in known:
            add(f"{path}.{key}" if str(key).isidentifier() else f"{path}[{_show(key)}]",
                f"unknown setting (expected one of {', '.join(known)})")


def parse_fallback(value: Any, path: str, add: AddProblem,
                   check_route: CheckRoute) -> dict[str, tuple[str, ...]]:
    """CCR v2's ``fallback`` object: each list's routes checked, duplicates dropped."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        add(path, 'expected an object like {"default": ["provider,model", ...]}, '
            f"got {_show(value)}")
        return {}
    out: dict[str, tuple[str, ...]] = {}
    for rule, routes in value.items():
        rpath = f"{path}.{rule}" if str(rule).isidentifier() else f"{path}[{_show(rule)}]"
        if rule not in FALLBACK_KEYS:
            add(rpath, f"unknown rule (fallback lists are keyed by {', '.join(FALLBACK_KEYS)})")
            continue
        if routes is None:
            continue
        if isinstance(routes, str):
            routes = [routes]
        if not isinstance(routes, list):
            add(rpath, f'expected a list of "provider,model" routes, got {_show(routes)}')
            continue
        checked: list[str] = []
        for i, route in enumerate(routes):
            canonical = check_route(route, f"{rpath}[{i}]")
            if canonical is not None and canonical not in checked:
                checked.append(canonical)
        out[rule] = tuple(checked)
    return out


def parse_retry(raw: Mapping[str, Any], add: AddProblem) -> RetryPolicy:
    section = _section(raw, "RETRY", add, '{"max_retries": 1, "backoff_ms": 500}')
    if section is None:
        return RetryPolicy()
    _unknown(section, ("max_retries", "backoff_ms", "max_retry_wait_ms", "budget_ms"), "RETRY",
             add)
    d = RetryPolicy()
    ms = "a whole number of milliseconds"
    return RetryPolicy(
        max_retries=_field(section, "max_retries", "RETRY", add, d.max_retries, low=0, high=10,
                           expected="an integer 0-10"),
        backoff_ms=_field(section, "backoff_ms", "RETRY", add, d.backoff_ms, low=0, high=None,
                          expected=f"{ms} (0 or more)"),
        max_retry_wait_ms=_field(section, "max_retry_wait_ms", "RETRY", add, d.max_retry_wait_ms,
                                 low=0, high=None, expected=f"{ms} (0 or more)"),
        budget_ms=_field(section, "budget_ms", "RETRY", add, d.budget_ms, low=1, high=None,
                         expected=f"a positive {ms}"),
    )


def parse_cooldown(raw: Mapping[str, Any], add: AddProblem) -> CooldownPolicy:
    section = _section(raw, "COOLDOWN", add, '{"failures": 3, "window_s": 60, "cooldown_s": 30}')
    if section is None:
        return CooldownPolicy()
    _unknown(section, ("failures", "window_s", "cooldown_s"), "COOLDOWN", add)
    d = CooldownPolicy()
    failures = _field(section, "failures", "COOLDOWN", add, d.failures, low=1, high=None,
                      expected="a positive integer")
    seconds = {}
    for key, default in (("window_s", d.window_s), ("cooldown_s", d.cooldown_s)):
        value = section.get(key)
        number = _number(value) if value is not None else default
        if number is None or number <= 0:
            add(f"COOLDOWN.{key}", f"expected a positive number of seconds, got {_show(value)}")
            number = default
        seconds[key] = number
    return CooldownPolicy(failures, seconds["window_s"], seconds["cooldown_s"])


def parse_api_keys(value: Any, path: str, add: AddProblem) -> tuple[str, ...] | None:
    """``api_key`` as one string or a list of them (a key pool); None when it is not valid.
    Problems never echo a key."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return ()
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list):
        add(path, "expected a string or a list of strings, got "
            + ("a number" if isinstance(value, int | float) else type(value).__name__))
        return None
    keys: list[str] = []
    ok = True
    for i, key in enumerate(value):
        if not isinstance(key, str) or not key.strip():
            add(f"{path}[{i}]", "expected a non-empty key string")
            ok = False
        elif key not in keys:
            keys.append(key)
    if not keys and ok:
        add(path, "is an empty list; give at least one key, or leave api_key out")
        return None
    return tuple(keys) if ok else None


def parse_max_concurrency(entry: Mapping[str, Any], path: str, add: AddProblem) -> int | None:
    if entry.get("max_concurrency") is None:
        return None
    number = _int_in(entry["max_concurrency"], 1, None)
    if number is None:
        add(f"{path}.max_concurrency",
            f"expected a positive integer, got {_show(entry['max_concurrency'])}")
    return number


def parse_resilience(raw: Mapping[str, Any], add: AddProblem, check_route: CheckRoute,
                     provider_concurrency: Mapping[str, int] | None = None) -> Resilience:
    """All resilience settings of a substituted config; problems go to ``add``."""
    return Resilience(
        fallback=parse_fallback(raw.get("fallback"), "fallback", add, check_route),
        retry=parse_retry(raw, add),
        cooldown=parse_cooldown(raw, add),
        provider_concurrency=dict(provider_concurrency or {}),
    )

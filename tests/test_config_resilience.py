"""Resilience settings in the config: fallback lists, RETRY, COOLDOWN, key pools and limits."""

from __future__ import annotations

from typing import Any

import json5
import pytest

from ccr.config import InvalidConfig, parse_config
from ccr.config.keys import RateLimit, key_settings
from ccr.config.resilience import (
    CooldownPolicy,
    RetryPolicy,
    parse_time_window,
)

ENV = {"DS_KEY_1": "sk-ds-one-aaaa1111", "DS_KEY_2": "sk-ds-two-bbbb2222", "HOME": "/home/t"}

PROVIDERS: list[dict[str, Any]] = [
    {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions",
     "api_key": "sk-x", "models": ["deepseek-chat", "deepseek-reasoner"]},
    {"name": "openrouter", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
     "api_key": "sk-y", "models": ["qwen/qwen3-coder:free", "z-ai/glm-4.5-air:free"]},
    {"name": "ollama", "api_base_url": "http://127.0.0.1:11434/v1/chat/completions",
     "models": ["qwen2.5-coder:latest"]},
]


def config_with(**extra: Any) -> dict[str, Any]:
    return {"Providers": [dict(p) for p in PROVIDERS],
            "Router": {"default": "deepseek,deepseek-chat"}, **extra}


def problems(data: dict[str, Any]) -> dict[str, str]:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(data, env=ENV)
    return dict(caught.value.problems)


#: A CCR v2 config's fallback section exactly as its documentation writes it.
CCR_V2_FALLBACK = """
{
  "Providers": [
    {"name": "deepseek", "api_base_url": "https://api.deepseek.com/chat/completions",
     "api_key": "sk-x", "models": ["deepseek-chat", "deepseek-reasoner"]},
    {"name": "openrouter", "api_base_url": "https://openrouter.ai/api/v1/chat/completions",
     "api_key": "sk-y", "models": ["qwen/qwen3-coder:free"]},
  ],
  "Router": {"default": "deepseek,deepseek-chat", "think": "deepseek,deepseek-reasoner"},
  "fallback": {
    "default": ["openrouter,qwen/qwen3-coder:free"],
    "think": ["deepseek,deepseek-chat", "openrouter,qwen/qwen3-coder:free"],
    "background": [],
  },
}
"""


def test_ccr_v2_fallback_section_loads_unchanged_keyed_by_rule() -> None:
    config = parse_config(json5.loads(CCR_V2_FALLBACK), env=ENV)
    fallback = config.resilience.fallback
    assert fallback["default"] == ("openrouter,qwen/qwen3-coder:free",)
    assert fallback["think"] == ("deepseek,deepseek-chat", "openrouter,qwen/qwen3-coder:free")
    assert fallback["background"] == ()


def test_a_rule_without_its_own_list_falls_back_through_default() -> None:
    config = parse_config(json5.loads(CCR_V2_FALLBACK), env=ENV)
    assert config.resilience.fallback_for("webSearch") == ("openrouter,qwen/qwen3-coder:free",)
    assert config.resilience.fallback_for("explicit") == ("openrouter,qwen/qwen3-coder:free",)
    assert config.resilience.fallback_for("background") == ()


def test_fallback_routes_are_canonicalised_like_router_routes() -> None:
    config = parse_config(config_with(fallback={"default": ["OpenRouter,QWEN/qwen3-coder:FREE"]}),
                          env=ENV)
    assert config.resilience.fallback["default"] == ("openrouter,qwen/qwen3-coder:free",)


def test_duplicate_fallback_routes_are_kept_once() -> None:
    routes = ["ollama,qwen2.5-coder:latest", "ollama,qwen2.5-coder:latest"]
    config = parse_config(config_with(fallback={"default": routes}), env=ENV)
    assert config.resilience.fallback["default"] == ("ollama,qwen2.5-coder:latest",)


def test_a_fallback_naming_an_unknown_provider_fails_at_load_with_its_key_path() -> None:
    found = problems(config_with(fallback={"default": ["nope,model"]}))
    assert "fallback.default[0]" in found
    assert "provider \"nope\" is not configured" in found["fallback.default[0]"]


def test_a_fallback_naming_an_unknown_model_fails_at_load() -> None:
    found = problems(config_with(fallback={"think": ["deepseek,deepseek-coder"]}))
    assert "is not in provider \"deepseek\"'s models" in found["fallback.think[0]"]


def test_a_malformed_fallback_route_fails_at_load() -> None:
    found = problems(config_with(fallback={"default": ["deepseek"]}))
    assert "is not a \"provider,model\" route" in found["fallback.default[0]"]


def test_a_fallback_keyed_by_an_unknown_rule_is_reported() -> None:
    found = problems(config_with(fallback={"defualt": ["deepseek,deepseek-chat"]}))
    assert "unknown rule" in found["fallback.defualt"]


def test_a_fallback_that_is_not_an_object_is_reported() -> None:
    found = problems(config_with(fallback=["deepseek,deepseek-chat"]))
    assert "expected an object" in found["fallback"]


def test_a_single_route_string_is_accepted_as_a_one_item_list() -> None:
    config = parse_config(config_with(fallback={"default": "ollama,qwen2.5-coder:latest"}),
                          env=ENV)
    assert config.resilience.fallback["default"] == ("ollama,qwen2.5-coder:latest",)


def test_retry_and_cooldown_have_sensible_defaults() -> None:
    config = parse_config(config_with(), env=ENV)
    assert config.resilience.retry == RetryPolicy(max_retries=1, backoff_ms=500,
                                                  max_retry_wait_ms=10_000, budget_ms=60_000)
    assert config.resilience.cooldown == CooldownPolicy(failures=3, window_s=60, cooldown_s=30)


def test_retry_settings_are_read_including_numeric_strings() -> None:
    retry = {"max_retries": "2", "backoff_ms": 50, "max_retry_wait_ms": 2000, "budget_ms": 9000}
    config = parse_config(config_with(RETRY=retry), env=ENV)
    assert config.resilience.retry == RetryPolicy(2, 50, 2000, 9000)


def test_bad_retry_values_are_each_reported() -> None:
    found = problems(config_with(RETRY={"max_retries": 99, "budget_ms": 0, "backof_ms": 1}))
    assert "an integer 0-10" in found["RETRY.max_retries"]
    assert "positive" in found["RETRY.budget_ms"]
    assert "unknown setting" in found["RETRY.backof_ms"]


def test_cooldown_settings_are_read() -> None:
    config = parse_config(config_with(COOLDOWN={"failures": 5, "window_s": 10,
                                                "cooldown_s": 2.5}), env=ENV)
    assert config.resilience.cooldown == CooldownPolicy(5, 10.0, 2.5)


def test_a_non_positive_cooldown_is_reported() -> None:
    found = problems(config_with(COOLDOWN={"cooldown_s": -1}))
    assert "positive number of seconds" in found["COOLDOWN.cooldown_s"]


def test_api_key_may_be_a_list_each_interpolated() -> None:
    providers = [dict(PROVIDERS[0], api_key=["$DS_KEY_1", "${DS_KEY_2}"])]
    config = parse_config({"Providers": providers}, env=ENV)
    provider = config.providers[0]
    assert provider.api_keys == ("sk-ds-one-aaaa1111", "sk-ds-two-bbbb2222")
    assert provider.api_key == "sk-ds-one-aaaa1111"


def test_a_single_api_key_string_is_a_pool_of_one() -> None:
    config = parse_config({"Providers": [dict(PROVIDERS[0], api_key="$DS_KEY_1")]}, env=ENV)
    assert config.providers[0].api_keys == ("sk-ds-one-aaaa1111",)


def test_a_provider_without_a_key_has_an_empty_pool() -> None:
    config = parse_config({"Providers": [PROVIDERS[2]]}, env=ENV)
    assert config.providers[0].api_keys == ()
    assert config.providers[0].api_key is None


def test_an_unset_variable_in_a_key_list_names_its_position() -> None:
    providers = [dict(PROVIDERS[0], api_key=["$DS_KEY_1", "$MISSING_KEY"])]
    found = problems({"Providers": providers})
    assert "MISSING_KEY is not set" in found["Providers[0].api_key[1]"]


def test_a_bad_entry_in_a_key_list_is_reported_without_echoing_keys() -> None:
    providers = [dict(PROVIDERS[0], api_key=["sk-secret-value-1234", 42])]
    with pytest.raises(InvalidConfig) as caught:
        parse_config({"Providers": providers}, env=ENV)
    assert "Providers[0].api_key[1]" in dict(caught.value.problems)
    assert "sk-secret-value-1234" not in str(caught.value)


def test_an_empty_key_list_is_reported() -> None:
    found = problems({"Providers": [dict(PROVIDERS[0], api_key=[])]})
    assert "empty list" in found["Providers[0].api_key"]


def test_provider_max_concurrency_is_read_and_indexed_by_name() -> None:
    providers = [dict(p) for p in PROVIDERS]
    providers[2]["max_concurrency"] = 1
    config = parse_config({"Providers": providers}, env=ENV)
    assert config.provider("ollama").max_concurrency == 1  # type: ignore[union-attr]
    assert config.resilience.max_concurrency("Ollama") == 1
    assert config.resilience.max_concurrency("deepseek") is None


def test_a_zero_max_concurrency_is_reported() -> None:
    providers = [dict(PROVIDERS[2], max_concurrency=0)]
    found = problems({"Providers": providers})
    assert "positive integer" in found["Providers[0].max_concurrency"]





@pytest.mark.parametrize(("written", "seconds"), [
    ("1 minute", 60.0), ("30s", 30.0), ("2 hours", 7200.0), ("500 ms", 0.5), (60000, 60.0),
    ("1500", 1.5), ("1.5m", 90.0),
])
def test_time_window_forms(written: Any, seconds: float) -> None:
    assert parse_time_window(written) == seconds


@pytest.mark.parametrize("written", ["soon", "-1 minute", 0, True, "1 fortnight", None])
def test_time_window_rejects_what_it_cannot_read(written: Any) -> None:
    assert parse_time_window(written) is None


def test_rate_limit_also_reads_ccrs_own_object_form() -> None:
    settings = key_settings({"RATE_LIMIT": {"max": 100, "timeWindow": "1 minute"}})
    assert settings.default_limits.rate == RateLimit(100, 60)


def test_an_unreadable_rate_limit_object_is_reported() -> None:
    found = problems(config_with(RATE_LIMIT={"max": 5, "timeWindow": "a while"}))
    assert "timeWindow" in found["RATE_LIMIT"]


def test_the_failover_keys_are_known_and_draw_no_warning() -> None:
    providers = [dict(PROVIDERS[0], api_key=["$DS_KEY_1"], max_concurrency=2)]
    config = parse_config({"Providers": providers, "Router": {"default": "deepseek,deepseek-chat"},
                           "fallback": {"default": []}, "RETRY": {"max_retries": 0},
                           "COOLDOWN": {"failures": 2}}, env=ENV)
    assert config.warnings == ()

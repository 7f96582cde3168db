"""Config typos and leftovers are named: unknown keys at every level with a "did you mean", CCR
keys ccr lacks with what to do instead, every problem at once (transformer files included, each
with its file); typed values for every option; proxy environment variables honoured."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from ccr.config import InvalidConfig, parse_config
from ccr.config.proxy import proxy_settings
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config

PROVIDER = {"name": "ds", "api_base_url": "https://api.deepseek.com/chat/completions",
            "models": ["chat"]}


def warnings_of(data: dict[str, Any], **env: str) -> dict[str, str]:
    return dict(parse_config(data, env=env).warnings)


def problems_of(data: dict[str, Any], file: str | None = None) -> dict[str, str]:
    with pytest.raises(InvalidConfig) as caught:
        parse_config(data, env={}, file=file)
    return dict(caught.value.problems)


# -- unknown keys ----------------------------------------------------------------------------


def test_a_misspelt_section_is_named_with_the_key_it_resembles() -> None:
    found = warnings_of({"Providers": [PROVIDER], "Routr": {"default": "ds,chat"}})
    assert found == {"Routr": 'unknown key, ignored (did you mean "Router"?)'}


def test_provider_in_the_singular_suggests_providers() -> None:
    assert warnings_of({"Provider": [PROVIDER]})["Provider"].endswith('(did you mean "Providers"?)')


def test_wrong_case_is_named_as_such() -> None:
    assert "keys are case-sensitive" in warnings_of({"router": {}})["router"]


def test_unknown_keys_inside_providers_router_and_transformers_are_named(tmp_path: Path) -> None:
    plugin = tmp_path / "t.py"
    plugin.write_text("class T:\n    name = 't'\n")
    found = warnings_of({
        "Providers": [{**PROVIDER, "modles": ["x"]}],
        "Router": {"default": "ds,chat", "thnik": "ds,chat"},
        "transformers": [{"path": str(plugin), "option": {}}],
    })
    assert found["Providers[0].modles"].endswith('(did you mean "models"?)')
    assert found["Router.thnik"].endswith('(did you mean "think"?)')
    assert found["transformers[0].option"].endswith('(did you mean "options"?)')


def test_free_form_sections_are_not_checked() -> None:
    assert warnings_of({
        "Providers": [{**PROVIDER, "transformer": {"use": ["deepseek"], "chat": {"use": []}}}],
        "StatusLine": {"enabled": True, "currentStyle": "default", "anything": 1},
        "CUSTOM_ROUTER_OPTIONS": {"whatever": True},
    }) == {}


def test_ccr_keys_ccr_lacks_are_named_with_what_to_do() -> None:
    found = warnings_of({"plugins": [], "REWRITE_SYSTEM_PROMPT": "x.md",
                         "Providers": [{**PROVIDER, "tokenizer": {"type": "tiktoken"}}]})
    assert "ccr has no plugin system" in found["plugins"]
    assert '"transformers"' in found["plugins"]
    assert "does not support" in found["REWRITE_SYSTEM_PROMPT"]
    assert "cl100k_base" in found["Providers[0].tokenizer"]


def test_a_javascript_transformer_is_a_problem_saying_to_port_it(tmp_path: Path) -> None:
    (tmp_path / "gemini.js").write_text("module.exports = class {}")
    found = problems_of({"transformers": [{"path": str(tmp_path / "gemini.js")}]})
    assert "JavaScript transformer" in found["transformers[0].path"]
    assert "Python" in found["transformers[0].path"]


# -- every problem at once ----------------------------------------------------------------------


def test_transformer_file_problems_come_with_every_other_problem(tmp_path: Path) -> None:
    broken = tmp_path / "broken.py"
    broken.write_text("class Broken:\n    name = 'b'\n    def transform_request(self\n")
    found = problems_of({
        "Providers": [PROVIDER],
        "Router": {"default": "nope,chat"},
        "PORT": "http",
        "transformers": [{"path": str(broken)}, {"path": "missing.py"},
                         {"path": str(broken), "workers": 0, "on_error": "ignore"}],
    }, file=str(tmp_path / "config.json"))
    assert "provider \"nope\" is not configured" in found["Router.default"]
    assert "PORT" in found
    assert found["transformers[0].path"].startswith("broken.py:3: SyntaxError")
    assert "missing.py" in found["transformers[1].path"]
    assert str(tmp_path) in found["transformers[1].path"]  # relative to the config's folder
    assert "transformers[2].workers" in found and "transformers[2].on_error" in found


# -- typed values ----------------------------------------------------------------------------


def test_every_tuning_option_is_typed_on_the_config() -> None:
    config = parse_config({
        "CONNECT_TIMEOUT_MS": "2500", "STREAM_IDLE_TIMEOUT_MS": 30000, "PING_INTERVAL_MS": 5000,
        "SHUTDOWN_TIMEOUT_MS": 0, "CUSTOM_ROUTER_TIMEOUT_MS": 250, "CUSTOM_ROUTER_MEMORY_MB": 128,
        "CUSTOM_ROUTER_WORKERS": 3, "forceUseImageAgent": "true", "CLAUDE_PATH": " /opt/claude ",
        "CUSTOM_ROUTER_OPTIONS": {"a": 1}, "StatusLine": {"theme": "powerline"},
    }, env={})
    assert (config.connect_timeout_ms, config.stream_idle_timeout_ms, config.ping_interval_ms,
            config.shutdown_timeout_ms) == (2500, 30000, 5000, 0)
    assert (config.custom_router_timeout_ms, config.custom_router_memory_mb,
            config.custom_router_workers) == (250, 128, 3)
    assert config.force_use_image_agent is True
    assert config.claude_path == "/opt/claude"
    assert config.custom_router_options == {"a": 1}
    assert config.status_line == {"theme": "powerline"}


def test_defaults_when_unset() -> None:
    config = parse_config({"API_TIMEOUT_MS": 90000}, env={})
    assert config.idle_timeout_ms == 90000 and config.stream_idle_timeout_ms is None
    assert (config.connect_timeout_ms, config.ping_interval_ms) == (10000, 15000)
    assert config.transformers == () and config.warnings == ()


@pytest.mark.parametrize("key", ["CONNECT_TIMEOUT_MS", "CUSTOM_ROUTER_WORKERS", "PORT"])
@pytest.mark.parametrize("value", [True, 0, -5, "soon", 1.5])
def test_whole_number_options_refuse_booleans_and_junk(key: str, value: Any) -> None:
    assert key in problems_of({key: value})


def test_transformer_entries_are_typed_with_resolved_paths(tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("class T:\n    name = 't'\n")
    config = parse_config({"transformers": [{"path": "t.py", "options": {"x": 1},
                                             "on_error": "skip", "timeout_ms": "300"}]},
                          env={}, file=str(tmp_path / "config.json"))
    (entry,) = config.transformers
    assert entry.path == tmp_path / "t.py"
    assert (entry.options, entry.on_error, entry.timeout_ms, entry.workers) == (
        {"x": 1}, "skip", 300, 2)


# -- proxies ---------------------------------------------------------------------------------


def test_proxy_url_wins_over_the_environment() -> None:
    config = parse_config({"PROXY_URL": "http://127.0.0.1:7890"},
                          env={"HTTPS_PROXY": "http://corp:3128"})
    assert config.proxy_url == "http://127.0.0.1:7890"
    assert config.proxy_for("http://localhost:11434/v1") == "http://127.0.0.1:7890"


def test_proxy_environment_is_used_when_proxy_url_is_unset() -> None:
    config = parse_config({}, env={"https_proxy": "corp:3128", "NO_PROXY": ".internal,api.x.com"})
    assert config.proxy_url == "http://corp:3128"
    assert config.proxy_for("https://api.deepseek.com/chat") == "http://corp:3128"
    assert config.proxy_for("https://llm.internal/v1") is None
    assert config.proxy_for("https://api.x.com/v1") is None
    assert config.proxy_for("http://127.0.0.1:11434/v1") is None  # loopback never proxied


def test_no_proxy_star_means_no_proxy_at_all() -> None:
    assert "*" in proxy_settings(None, {"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"})[1]
    config = parse_config({}, env={"HTTPS_PROXY": "http://p:1", "NO_PROXY": "*"})
    assert config.proxy_for("https://api.deepseek.com") is None


def test_requests_go_through_a_proxy_from_the_environment(make_ccr: MakeCcr,
                                                          fake: FakeUpstream) -> None:
    """The fake upstream doubles as the HTTP proxy: a host that does not resolve is reached
    only if ccr really sends the request through it."""
    config = fake_config(fake)
    config["Providers"][0]["api_base_url"] = "http://upstream.invalid/v1/chat/completions"
    server = make_ccr(config, env={"HTTPS_PROXY": fake.base_url})
    response = httpx.post(f"{server.base_url}/v1/messages", timeout=20, json={
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200, response.text
    assert fake.chat_requests[-1].path == "http://upstream.invalid/v1/chat/completions"


def test_no_proxy_hosts_are_reached_directly(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    config = fake_config(fake)
    config["Providers"][0]["api_base_url"] = "http://upstream.invalid/v1/chat/completions"
    server = make_ccr(config, env={"HTTPS_PROXY": fake.base_url, "NO_PROXY": "upstream.invalid"})
    response = httpx.post(f"{server.base_url}/v1/messages", timeout=20, json={
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 502
    assert not fake.chat_requests


def test_team_gateway_and_recording_keys_are_known() -> None:
    assert warnings_of({"RECORD": {"enabled": False}, "QUEUE_TIMEOUT_MS": 1000,
                        "RATE_LIMIT": "60/min", "MAX_CONCURRENT_REQUESTS": 4}) == {}

"""Configuration: CCR-compatible JSON5 files, $VAR substitution, validation, redaction."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ccr.config import (
    ROUTE_SLOTS,
    Config,
    InvalidConfig,
    ccr_home,
    default_config_path,
    is_loopback_host,
    is_secret_key,
    load_config,
    parse_config,
    redact,
    script_view,
    substitute_env,
)
from ccr.errors import ConfigError

ENV = {"DEEPSEEK_API_KEY": "sk-deepseek-secret", "OPENROUTER_API_KEY": "sk-or-secret",
       "HOME": "/home/tester"}

#: A config as the Node.js claude-code-router v2 documents it, with comments and trailing commas.
CCR_V2_CONFIG = """
// ~/.claude-code-router/config.json
{
  "LOG": true,
  "LOG_LEVEL": "debug",
  "API_TIMEOUT_MS": "600000",   // CCR's UI writes this as a string
  "NON_INTERACTIVE_MODE": false,
  "APIKEY": "",
  "PROXY_URL": "",
  "CLAUDE_PATH": "",
  "forceUseImageAgent": false,
  "StatusLine": {"enabled": false, "currentStyle": "default"},
  "Providers": [
    {
      "name": "deepseek",
      "api_base_url": "https://api.deepseek.com/chat/completions",
      "api_key": "$DEEPSEEK_API_KEY",
      "models": ["deepseek-chat", "deepseek-reasoner"],
      "transformer": {
        "use": ["deepseek"],
        "deepseek-chat": {"use": ["tooluse"]},
      },
    },
    {
      "name": "ollama",
      "api_base_url": "http://localhost:11434/v1/chat/completions",
      "models": ["qwen2.5-coder:latest", "llama3.2:3b"],
    },
    {
      /* OpenRouter, with a per-request token cap */
      name: "openrouter",
      api_base_url: "https://openrouter.ai/api/v1/chat/completions",
      api_key: "${OPENROUTER_API_KEY}",
      models: ["google/gemini-2.5-pro-preview", "anthropic/claude-sonnet-4"],
      transformer: {
        use: ["openrouter", ["maxtoken", {"max_tokens": 16384}]],
      },
    },
  ],
  "Router": {
    "default": "deepseek,deepseek-chat",
    "background": "ollama,qwen2.5-coder:latest",
    "think": "deepseek,deepseek-reasoner",
    "longContext": "openrouter,google/gemini-2.5-pro-preview",
    "longContextThreshold": 60000,
    "webSearch": "",
    "image": "",
  },
  "transformers": [
    {"path": "~/.claude-code-router/plugins/gemini-cli.py", "options": {"project": "x"}},
  ],
}
"""


def _ccr_v2_env(tmp_path: Path) -> dict[str, str]:
    """ENV with a HOME holding the transformer file CCR_V2_CONFIG names (files are checked)."""
    home = tmp_path / "home"
    plugin = home / ".claude-code-router" / "plugins" / "gemini-cli.py"
    plugin.parent.mkdir(parents=True, exist_ok=True)
    plugin.write_text("class GeminiCli:\n    name = 'gemini-cli'\n")
    return {**ENV, "HOME": str(home)}


def _provider(name: str = "deepseek", models: list[str] | None = None, **extra: Any
              ) -> dict[str, Any]:
    return {"name": name, "api_base_url": f"https://{name}.example.com/v1/chat/completions",
            "models": models or [f"{name}-chat"], **extra}


def _problems(exc: pytest.ExceptionInfo[ConfigError]) -> dict[str, str]:
    """The problems of a failed validation as {key path: message}."""
    assert isinstance(exc.value, InvalidConfig)
    return dict(exc.value.problems)


def _write(tmp_path: Path, text: str, name: str = "config.json") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# -- paths ----------------------------------------------------------------------------------


def test_ccr_home_is_ccr_home_env_var_when_set(monkeypatch: pytest.MonkeyPatch,
                                               tmp_path: Path) -> None:
    monkeypatch.setenv("CCR_HOME", str(tmp_path / "custom"))
    assert ccr_home() == tmp_path / "custom"
    assert default_config_path() == tmp_path / "custom" / "config.json"


def test_ccr_home_defaults_to_the_node_ccr_directory(monkeypatch: pytest.MonkeyPatch,
                                                     tmp_path: Path) -> None:
    monkeypatch.delenv("CCR_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert ccr_home() == tmp_path / ".claude-code-router"


# -- loading files --------------------------------------------------------------------------


def test_realistic_ccr_v2_config_loads_unchanged(tmp_path: Path) -> None:
    path = _write(tmp_path, CCR_V2_CONFIG)
    config = load_config(path, env=_ccr_v2_env(tmp_path))

    assert config.path == path
    assert [p.name for p in config.providers] == ["deepseek", "ollama", "openrouter"]
    deepseek, ollama, openrouter = config.providers
    assert deepseek.api_key == "sk-deepseek-secret"
    assert deepseek.transformer == {"use": ["deepseek"], "deepseek-chat": {"use": ["tooluse"]}}
    assert ollama.api_key is None
    assert ollama.models == ("qwen2.5-coder:latest", "llama3.2:3b")
    assert openrouter.api_key == "sk-or-secret"
    assert openrouter.transformer == {"use": ["openrouter", ["maxtoken", {"max_tokens": 16384}]]}
    assert config.router.default == "deepseek,deepseek-chat"
    assert config.router.background == "ollama,qwen2.5-coder:latest"
    assert config.router.longContext == "openrouter,google/gemini-2.5-pro-preview"
    assert config.router.webSearch is None and config.router.image is None
    assert config.api_timeout_ms == 600000
    assert config.log_level == "debug"
    assert config.apikey is None and config.proxy_url is None


def test_unknown_ccr_keys_are_kept_in_raw(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, CCR_V2_CONFIG), env=_ccr_v2_env(tmp_path))
    assert config.raw["StatusLine"] == {"enabled": False, "currentStyle": "default"}
    assert config.raw["forceUseImageAgent"] is False
    assert config.raw["transformers"][0]["options"] == {"project": "x"}


def test_raw_holds_substituted_values(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, CCR_V2_CONFIG), env=_ccr_v2_env(tmp_path))
    assert config.raw["Providers"][0]["api_key"] == "sk-deepseek-secret"


def test_missing_default_config_runs_on_defaults(monkeypatch: pytest.MonkeyPatch,
                                                 tmp_path: Path) -> None:
    monkeypatch.setenv("CCR_HOME", str(tmp_path / "nothing-here"))
    config = load_config(env={})
    assert config == Config()
    assert not config.has_providers and config.path is None


def test_default_config_path_is_read_when_present(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setenv("CCR_HOME", str(tmp_path))
    _write(tmp_path, json.dumps({"Providers": [_provider()], "PORT": 4000}))
    config = load_config(env={})
    assert config.port == 4000
    assert config.path == tmp_path / "config.json"


def test_missing_explicit_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.json"):
        load_config(missing, env={})


def test_json5_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '{\n  "PORT": 3456,\n  "LOG": ,\n}')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    message = str(exc.value)
    assert message.startswith(str(path))
    assert "line 3" in message


def test_top_level_must_be_an_object(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must be a JSON object"):
        load_config(_write(tmp_path, "[1, 2]"), env={})


def test_empty_file_is_an_error_suggesting_braces(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="empty"):
        load_config(_write(tmp_path, "  \n"), env={})


def test_utf8_byte_order_mark_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.json"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps({"PORT": 4001}).encode())
    assert load_config(path, env={}).port == 4001


def test_load_uses_process_environment_when_env_not_given(monkeypatch: pytest.MonkeyPatch,
                                                          tmp_path: Path) -> None:
    monkeypatch.setenv("CCR_TEST_KEY", "from-process")
    path = _write(tmp_path, json.dumps({"Providers": [_provider(api_key="$CCR_TEST_KEY")]}))
    assert load_config(path).providers[0].api_key == "from-process"


# -- env substitution -----------------------------------------------------------------------


def test_bare_and_braced_variables_are_substituted() -> None:
    env = {"A": "1", "B_2": "two"}
    assert substitute_env("$A-${B_2}x", env) == "1-twox"


def test_substitution_recurses_through_dicts_and_lists_but_not_keys() -> None:
    env = {"K": "v"}
    data = {"$K": ["$K", {"inner": "${K}"}], "n": 5, "b": True, "z": None}
    assert substitute_env(data, env) == {"$K": ["v", {"inner": "v"}], "n": 5, "b": True,
                                         "z": None}


def test_substitution_does_not_modify_its_input() -> None:
    data = {"a": ["$X"]}
    substitute_env(data, {"X": "y"})
    assert data == {"a": ["$X"]}


def test_double_dollar_is_a_literal_dollar() -> None:
    assert substitute_env("pa$$word $$HOME", {"HOME": "/h"}) == "pa$word $HOME"


def test_dollar_not_followed_by_a_name_stays_literal() -> None:
    assert substitute_env("cost $5, or $ or end$", {}) == "cost $5, or $ or end$"


def test_substituted_values_are_not_substituted_again() -> None:
    assert substitute_env("$A", {"A": "$B", "B": "no"}) == "$B"


def test_unset_env_var_is_a_config_error_naming_it_and_the_key_path() -> None:
    data = {"Providers": [{"api_key": "$DEEPSEEK_API_KEY"}]}
    with pytest.raises(ConfigError) as exc:
        substitute_env(data, {})
    assert str(exc.value) == ("Providers[0].api_key: environment variable DEEPSEEK_API_KEY is "
                              "not set (export it, or write $$ for a literal $)")


def test_every_unset_env_var_is_reported() -> None:
    with pytest.raises(ConfigError) as exc:
        substitute_env({"a": "$ONE", "b": ["${TWO}"]}, {})
    problems = _problems(exc)
    assert "ONE" in problems["a"] and "TWO" in problems["b[0]"]


def test_empty_env_var_counts_as_set() -> None:
    assert substitute_env("x${EMPTY}y", {"EMPTY": ""}) == "xy"


def test_malformed_braced_reference_is_an_error() -> None:
    with pytest.raises(ConfigError, match=r"\$\{HOME:-/tmp\}.*not a variable reference"):
        substitute_env({"p": "${HOME:-/tmp}"}, {"HOME": "/h"})


def test_unclosed_brace_is_an_error() -> None:
    with pytest.raises(ConfigError, match="not a variable reference"):
        substitute_env("${HOME", {"HOME": "/h"})


def test_unset_variable_in_file_error_starts_with_file_path(tmp_path: Path) -> None:
    path = _write(tmp_path, json.dumps({"Providers": [_provider(api_key="$MISSING_KEY")]}))
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert str(exc.value).startswith(f"{path}: Providers[0].api_key: ")
    assert "MISSING_KEY" in str(exc.value)


def test_key_path_quotes_keys_that_are_not_identifiers() -> None:
    data = {"transformer": {"qwen2.5-coder:latest": {"use": ["$NOPE"]}}}
    with pytest.raises(ConfigError) as exc:
        substitute_env(data, {})
    assert list(_problems(exc)) == ['transformer["qwen2.5-coder:latest"].use[0]']


# -- top-level scalars ----------------------------------------------------------------------


def test_defaults_apply_when_keys_are_absent() -> None:
    config = parse_config({}, env={})
    assert (config.host, config.port, config.log, config.log_level) == (
        "127.0.0.1", 3456, True, "info")
    assert config.api_timeout_ms == 600_000
    assert config.router.longContextThreshold == 60000
    assert config.non_interactive_mode is False


def test_port_must_be_an_integer_in_range() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"PORT": "abc"}, env={})
    assert str(exc.value) == 'PORT: expected an integer 1-65535, got "abc"'


@pytest.mark.parametrize("port", [0, 65536, -1, 3456.5, True])
def test_port_out_of_range_or_not_integral_is_rejected(port: Any) -> None:
    with pytest.raises(ConfigError, match="PORT: expected an integer 1-65535"):
        parse_config({"PORT": port}, env={})


def test_numeric_string_port_from_env_var_is_accepted() -> None:
    assert parse_config({"PORT": "$PORT"}, env={"PORT": "8080"}).port == 8080


def test_api_timeout_accepts_numeric_string() -> None:
    assert parse_config({"API_TIMEOUT_MS": "120000"}, env={}).api_timeout_ms == 120000


@pytest.mark.parametrize("value", [0, -5, "soon", "1.5"])
def test_api_timeout_must_be_positive_integer(value: Any) -> None:
    with pytest.raises(ConfigError, match="API_TIMEOUT_MS: expected a positive integer"):
        parse_config({"API_TIMEOUT_MS": value}, env={})


@pytest.mark.parametrize(("written", "stored"), [("DEBUG", "debug"), ("Warn", "warn"),
                                                 ("warning", "warning"), ("trace", "trace")])
def test_log_level_is_case_insensitive_and_stored_lowercase(written: str, stored: str) -> None:
    assert parse_config({"LOG_LEVEL": written}, env={}).log_level == stored


def test_unknown_log_level_is_rejected_listing_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"LOG_LEVEL: expected one of debug, info.*\"verbose\""):
        parse_config({"LOG_LEVEL": "verbose"}, env={})


def test_log_accepts_booleans_and_their_string_forms() -> None:
    assert parse_config({"LOG": False}, env={}).log is False
    assert parse_config({"LOG": "$CCR_LOG"}, env={"CCR_LOG": "false"}).log is False


def test_non_boolean_log_is_rejected() -> None:
    with pytest.raises(ConfigError, match='LOG: expected true or false, got "yes"'):
        parse_config({"LOG": "yes"}, env={})


def test_non_interactive_mode_is_read() -> None:
    assert parse_config({"NON_INTERACTIVE_MODE": True}, env={}).non_interactive_mode is True


def test_apikey_is_read_and_empty_means_none() -> None:
    assert parse_config({"APIKEY": "s3cret"}, env={}).apikey == "s3cret"
    assert parse_config({"APIKEY": ""}, env={}).apikey is None


def test_non_string_apikey_error_does_not_echo_the_value() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"APIKEY": 123456789}, env={})
    assert "APIKEY: expected a string" in str(exc.value)
    assert "123456789" not in str(exc.value)


def test_proxy_url_must_be_a_proxy_url() -> None:
    assert parse_config({"PROXY_URL": "http://127.0.0.1:7890"}, env={}).proxy_url == (
        "http://127.0.0.1:7890")
    with pytest.raises(ConfigError, match=r"PROXY_URL: .* is not a proxy URL"):
        parse_config({"PROXY_URL": "127.0.0.1:7890"}, env={})


def test_bad_proxy_url_error_hides_its_credentials() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"PROXY_URL": "ftp://user:hunter2@proxy"}, env={})
    assert "hunter2" not in str(exc.value)


def test_custom_router_path_expands_home() -> None:
    config = parse_config({"CUSTOM_ROUTER_PATH": "~/.claude-code-router/custom_router.py"},
                          env={"HOME": "/home/tester"})
    assert config.custom_router_path == "/home/tester/.claude-code-router/custom_router.py"


def test_custom_router_path_with_home_variable_is_substituted() -> None:
    config = parse_config({"CUSTOM_ROUTER_PATH": "$HOME/r.py"}, env={"HOME": "/home/t"})
    assert config.custom_router_path == "/home/t/r.py"


def test_custom_router_options_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="CUSTOM_ROUTER_OPTIONS: expected an object"):
        parse_config({"CUSTOM_ROUTER_OPTIONS": ["x"]}, env={})


def test_transformers_must_be_a_list_of_objects_with_a_path() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"transformers": [{"options": {}}, "x.py", {"path": 3},
                                       {"path": "a.py", "options": 1}]}, env={})
    problems = _problems(exc)
    assert 'missing "path"' in problems["transformers[0]"]
    assert "transformers[1]" in problems
    assert "transformers[2].path" in problems
    assert "transformers[3].options" in problems


def test_transformers_not_a_list_is_rejected() -> None:
    with pytest.raises(ConfigError, match="transformers: expected a list"):
        parse_config({"transformers": {"path": "a.py"}}, env={})


# -- HOST and APIKEY ------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.53", "localhost", "::1", "[::1]",
                                  "::ffff:127.0.0.1", "LOCALHOST"])
def test_loopback_hosts_are_recognised(host: str) -> None:
    assert is_loopback_host(host)


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.5", "example.com", "128.0.0.1"])
def test_non_loopback_hosts_are_recognised(host: str) -> None:
    assert not is_loopback_host(host)


def test_non_loopback_host_without_apikey_is_refused() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"HOST": "0.0.0.0"}, env={})
    message = str(exc.value)
    assert message.startswith("HOST: ccr refuses to listen on \"0.0.0.0\" without APIKEY")
    assert '"APIKEY"' in message and "127.0.0.1" in message


def test_non_loopback_host_with_apikey_is_allowed() -> None:
    config = parse_config({"HOST": "0.0.0.0", "APIKEY": "k"}, env={})
    assert config.host == "0.0.0.0"


def test_loopback_host_without_apikey_is_allowed() -> None:
    assert parse_config({"HOST": "localhost"}, env={}).host == "localhost"


# -- providers ------------------------------------------------------------------------------


def test_lowercase_providers_key_is_accepted() -> None:
    config = parse_config({"providers": [_provider("ollama")]}, env={})
    assert [p.name for p in config.providers] == ["ollama"]


def test_capitalised_providers_key_wins_over_lowercase() -> None:
    config = parse_config({"Providers": [_provider("a")], "providers": [_provider("b")]}, env={})
    assert [p.name for p in config.providers] == ["a"]


def test_keyless_provider_is_accepted() -> None:
    config = parse_config({"Providers": [_provider("ollama")]}, env={})
    assert config.providers[0].api_key is None


def test_empty_provider_api_key_means_none() -> None:
    config = parse_config({"Providers": [_provider("ollama", api_key="")]}, env={})
    assert config.providers[0].api_key is None


def test_provider_missing_api_base_url_explains_what_it_is() -> None:
    entry = _provider("ollama")
    del entry["api_base_url"]
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider(), entry]}, env={})
    assert str(exc.value) == ('Providers[1]: missing "api_base_url" (the full chat-completions '
                              "URL, e.g. https://api.deepseek.com/chat/completions)")


def test_provider_api_base_url_must_be_a_full_url() -> None:
    with pytest.raises(ConfigError, match=r"Providers\[0\].api_base_url: \"api.deepseek.com\" "
                       "is not a full http"):
        parse_config({"Providers": [_provider(api_base_url="api.deepseek.com")]}, env={})


def test_provider_missing_name_and_models_are_both_reported() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [{"api_base_url": "https://x.example/v1/chat/completions"}]},
                     env={})
    messages = [m for _, m in exc.value.problems]  # type: ignore[attr-defined]
    assert any('missing "name"' in m for m in messages)
    assert any('missing "models"' in m for m in messages)


def test_provider_models_must_be_a_non_empty_list_of_names() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [{**_provider("a"), "models": []},
                                    _provider("b", models=["ok", 3]),
                                    {**_provider("c"), "models": "c-chat"}]}, env={})
    problems = _problems(exc)
    assert "is empty" in problems["Providers[0].models"]
    assert "Providers[1].models[1]" in problems
    assert "expected a list of model names" in problems["Providers[2].models"]


def test_provider_name_must_not_contain_a_comma() -> None:
    with pytest.raises(ConfigError, match=r"Providers\[0\].name: .*must not contain a comma"):
        parse_config({"Providers": [_provider("deep,seek")]}, env={})


def test_provider_entry_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match=r"Providers\[0\]: expected an object"):
        parse_config({"Providers": ["deepseek"]}, env={})


def test_providers_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match="Providers: expected a list"):
        parse_config({"Providers": {"name": "deepseek"}}, env={})


def test_duplicate_provider_names_are_rejected_case_insensitively() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider("deepseek"), _provider("DeepSeek")]}, env={})
    problems = _problems(exc)
    assert "duplicate provider name" in problems["Providers[1].name"]
    assert "Providers[0]" in problems["Providers[1].name"]


def test_non_string_provider_api_key_error_does_not_echo_it() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider(api_key=987654321)]}, env={})
    assert "Providers[0].api_key" in str(exc.value)
    assert "987654321" not in str(exc.value)


# -- provider transformer shape -------------------------------------------------------------


def test_transformer_with_names_pairs_and_per_model_uses_is_accepted() -> None:
    transformer = {"use": ["deepseek", ["maxtoken", {"max_tokens": 65536}], ["enhancetool"]],
                   "deepseek-chat": {"use": ["tooluse"]}}
    config = parse_config({"Providers": [_provider(transformer=transformer)]}, env={})
    assert config.providers[0].transformer == transformer


def test_provider_transformer_is_a_copy_of_raw() -> None:
    config = parse_config({"Providers": [_provider(transformer={"use": ["deepseek"]})]}, env={})
    assert config.providers[0].transformer is not None
    config.providers[0].transformer["use"].append("x")
    assert config.raw["Providers"][0]["transformer"] == {"use": ["deepseek"]}


def test_transformer_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match=r"Providers\[0\].transformer: expected an object"):
        parse_config({"Providers": [_provider(transformer=["deepseek"])]}, env={})


def test_transformer_use_entries_must_be_names_or_name_option_pairs() -> None:
    transformer = {"use": ["ok", 5, ["maxtoken", 16384], [], ["a", {}, "extra"]]}
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider(transformer=transformer)]}, env={})
    assert set(_problems(exc)) == {f"Providers[0].transformer.use[{i}]" for i in (1, 2, 3, 4)}


def test_transformer_use_must_be_a_list() -> None:
    with pytest.raises(ConfigError, match=r"transformer.use: expected a list"):
        parse_config({"Providers": [_provider(transformer={"use": "deepseek"})]}, env={})


def test_per_model_transformer_must_be_an_object_with_use() -> None:
    transformer = {"qwen2.5-coder:latest": ["tooluse"], "m2": {"options": {}}}
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider(transformer=transformer)]}, env={})
    assert set(_problems(exc)) == {'Providers[0].transformer["qwen2.5-coder:latest"]',
                                   "Providers[0].transformer.m2"}


# -- Router ---------------------------------------------------------------------------------


def _routed(router: dict[str, Any]) -> Config:
    providers = [_provider("deepseek", ["deepseek-chat", "deepseek-reasoner"]),
                 _provider("ollama", ["qwen2.5-coder:latest"])]
    return parse_config({"Providers": providers, "Router": router}, env={})


def test_every_route_slot_is_read() -> None:
    config = _routed({slot: "deepseek,deepseek-chat" for slot in ROUTE_SLOTS})
    assert all(config.router.slot(slot) == "deepseek,deepseek-chat" for slot in ROUTE_SLOTS)


def test_routes_are_matched_case_insensitively_and_stored_canonically() -> None:
    config = _routed({"default": "DeepSeek, Deepseek-Chat"})
    assert config.router.default == "deepseek,deepseek-chat"


def test_empty_or_absent_route_is_unset() -> None:
    config = _routed({"default": "deepseek,deepseek-chat", "think": "", "image": None})
    assert config.router.think is None and config.router.image is None
    assert config.router.background is None


def test_route_without_comma_is_not_a_route() -> None:
    with pytest.raises(ConfigError) as exc:
        _routed({"think": "deepseek"})
    message = _problems(exc)["Router.think"]
    assert message.startswith('"deepseek" is not a "provider,model" route')
    assert "deepseek,deepseek-chat" in message


def test_route_to_unconfigured_provider_lists_configured_ones() -> None:
    with pytest.raises(ConfigError) as exc:
        _routed({"default": "deepsek,deepseek-chat"})
    assert str(exc.value) == ('Router.default: provider "deepsek" is not configured '
                              "(configured: deepseek, ollama)")


def test_route_to_unknown_model_lists_the_providers_models() -> None:
    with pytest.raises(ConfigError) as exc:
        _routed({"background": "ollama,gpt-5"})
    assert str(exc.value) == ('Router.background: model "gpt-5" is not in provider "ollama"\'s '
                              "models (qwen2.5-coder:latest)")


def test_long_model_lists_are_shortened_in_messages() -> None:
    models = [f"m{i}" for i in range(20)]
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [_provider("p", models)], "Router": {"default": "p,zzz"}},
                     env={})
    message = str(exc.value)
    assert "m0, m1" in message and message.endswith(", ...)")
    assert "m19" not in message


def test_route_when_no_providers_are_configured_says_so() -> None:
    with pytest.raises(ConfigError, match="no providers configured"):
        parse_config({"Router": {"default": "deepseek,deepseek-chat"}}, env={})


def test_route_when_every_provider_is_invalid_says_none_is_valid() -> None:
    broken = {"name": "ollama", "models": ["qwen"]}  # no api_base_url
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [broken], "Router": {"default": "other,m"}}, env={})
    assert "no valid providers configured" in _problems(exc)["Router.default"]


def test_route_to_an_invalid_provider_is_not_reported_twice() -> None:
    broken = {"name": "ollama", "models": ["qwen"]}  # no api_base_url
    with pytest.raises(ConfigError) as exc:
        parse_config({"Providers": [broken], "Router": {"default": "ollama,qwen"}}, env={})
    assert list(_problems(exc)) == ["Providers[0]"]


def test_non_string_route_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"Router.default: expected a \"provider,model\" string"):
        _routed({"default": ["deepseek", "deepseek-chat"]})


def test_long_context_threshold_is_read_and_validated() -> None:
    assert _routed({"longContextThreshold": 32000}).router.longContextThreshold == 32000
    with pytest.raises(ConfigError, match=r"Router\.longContextThreshold: expected a positive"):
        _routed({"longContextThreshold": 0})


def test_router_must_be_an_object() -> None:
    with pytest.raises(ConfigError, match="Router: expected an object"):
        parse_config({"Router": "deepseek,deepseek-chat"}, env={})


def test_unknown_router_keys_are_kept() -> None:
    config = _routed({"default": "deepseek,deepseek-chat", "custom": "whatever"})
    assert config.raw["Router"]["custom"] == "whatever"


# -- collecting problems --------------------------------------------------------------------


def test_all_problems_are_reported_one_per_line() -> None:
    data = {"PORT": "abc", "LOG": "maybe",
            "Providers": [_provider("deepseek"), {"name": "x", "models": ["m"]}],
            "Router": {"think": "deepseek", "default": "nope,m"}}
    with pytest.raises(ConfigError) as exc:
        parse_config(data, env={})
    lines = str(exc.value).splitlines()
    assert lines[0] == "5 problems:"
    keys = sorted(line.split(": ", 1)[0] for line in lines[1:])
    assert keys == ["LOG", "PORT", "Providers[1]", "Router.default", "Router.think"]


def test_validation_error_from_file_starts_with_its_path(tmp_path: Path) -> None:
    path = _write(tmp_path, '{"PORT": 0, "LOG": "x"}')
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert str(exc.value).startswith(f"{path}: 2 problems:\n")
    assert exc.value.file == str(path)


def test_parse_config_sets_path_from_file_argument() -> None:
    assert parse_config({}, env={}, file="/etc/ccr.json").path == Path("/etc/ccr.json")


# -- redaction ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["api_key", "apikey", "APIKEY", "apiKey", "x-api-key",
                                  "access_token", "auth_token", "accessToken", "Authorization",
                                  "proxy-authorization", "client_secret", "password", "key",
                                  "OPENROUTER_API_KEY", "refresh_token", "api_keys", "secrets"])
def test_secret_key_names_are_recognised(name: str) -> None:
    assert is_secret_key(name)


@pytest.mark.parametrize("name", ["max_tokens", "budget_tokens", "maxTokens", "tokens",
                                  "longContextThreshold", "token_count", "max_output_tokens",
                                  "keyboard", "tokenizer", "name", "models", "think",
                                  "input_tokens", "keep_alive"])
def test_counter_and_ordinary_names_are_not_secrets(name: str) -> None:
    assert not is_secret_key(name)


def test_redact_hides_secret_values_at_any_depth() -> None:
    data = {"APIKEY": "top", "Providers": [{"name": "d", "api_key": "sk-1",
                                             "headers": {"x-api-key": "sk-2"}}],
            "thinking": {"budget_tokens": 31999}, "max_tokens": 4096}
    assert redact(data) == {"APIKEY": "***", "Providers": [{"name": "d", "api_key": "***",
                                                            "headers": {"x-api-key": "***"}}],
                            "thinking": {"budget_tokens": 31999}, "max_tokens": 4096}


def test_redact_hides_everything_under_a_secret_key() -> None:
    assert redact({"api_keys": ["a", "b"], "auth": {"value": "v", "n": 3}}) == {
        "api_keys": ["***", "***"], "auth": {"value": "***", "n": "***"}}


def test_redact_keeps_unset_markers_under_secret_keys() -> None:
    assert redact({"api_key": "", "token": None, "use_api_key": True}) == {
        "api_key": "", "token": None, "use_api_key": True}


def test_redact_hides_url_credentials_anywhere() -> None:
    data = {"PROXY_URL": "http://user:p@ss@proxy.local:8080/x",
            "note": "see https://tok@github.com/a and https://plain.example/?a=b"}
    assert redact(data) == {"PROXY_URL": "http://***@proxy.local:8080/x",
                            "note": "see https://***@github.com/a and https://plain.example/?a=b"}


def test_redact_hides_secret_query_parameters() -> None:
    url = "https://generativelanguage.googleapis.com/v1beta/models?key=AIzaSecret&alt=sse"
    assert redact(url) == ("https://generativelanguage.googleapis.com/v1beta/models"
                           "?key=***&alt=sse")


def test_redact_returns_a_deep_copy() -> None:
    data = {"a": [{"b": 1}]}
    copied = redact(data)
    copied["a"][0]["b"] = 2
    assert data == {"a": [{"b": 1}]}


def test_redacted_realistic_config_contains_no_secret(tmp_path: Path) -> None:
    config = load_config(_write(tmp_path, CCR_V2_CONFIG), env=_ccr_v2_env(tmp_path))
    text = json.dumps(redact(config.raw))
    assert "sk-deepseek-secret" not in text and "sk-or-secret" not in text
    assert '"max_tokens": 16384' in text


# -- script view ----------------------------------------------------------------------------


def test_script_view_exposes_names_models_routes_and_options_only() -> None:
    data = {"APIKEY": "top-secret", "PROXY_URL": "http://127.0.0.1:7890",
            "Providers": [_provider("deepseek", ["deepseek-chat"], api_key="sk-1")],
            "Router": {"default": "deepseek,deepseek-chat", "longContextThreshold": 1000},
            "CUSTOM_ROUTER_OPTIONS": {"prefer": "deepseek", "api_key": "opt-secret"},
            "StatusLine": {"enabled": True}}
    view = script_view(parse_config(data, env={}))
    expected_router: dict[str, Any] = dict.fromkeys(ROUTE_SLOTS)
    expected_router.update(default="deepseek,deepseek-chat", longContextThreshold=1000)
    assert view == {"Providers": [{"name": "deepseek", "models": ["deepseek-chat"]}],
                    "Router": expected_router,
                    "CUSTOM_ROUTER_OPTIONS": {"prefer": "deepseek", "api_key": "***"}}


def test_script_view_is_plain_json_and_a_fresh_copy() -> None:
    config = parse_config({"Providers": [_provider()], "CUSTOM_ROUTER_OPTIONS": {"l": [1]}},
                          env={})
    view = script_view(config)
    assert json.loads(json.dumps(view)) == view
    view["CUSTOM_ROUTER_OPTIONS"]["l"].append(2)
    view["Providers"][0]["models"].append("x")
    assert config.raw["CUSTOM_ROUTER_OPTIONS"] == {"l": [1]}
    assert script_view(config)["Providers"][0]["models"] == ["deepseek-chat"]


def test_script_view_of_defaults_has_empty_options() -> None:
    view = script_view(Config())
    assert view["Providers"] == [] and view["CUSTOM_ROUTER_OPTIONS"] == {}
    assert view["Router"]["longContextThreshold"] == 60000


@pytest.mark.parametrize("key", ["CONNECT_TIMEOUT_MS", "STREAM_IDLE_TIMEOUT_MS",
                                 "PING_INTERVAL_MS", "CUSTOM_ROUTER_TIMEOUT_MS",
                                 "CUSTOM_ROUTER_WORKERS"])
def test_tuning_numbers_that_are_not_positive_integers_are_config_errors(key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        parse_config({key: "soon"}, env={})


def test_tuning_numbers_accept_numeric_strings() -> None:
    config = parse_config({"PING_INTERVAL_MS": "2000", "SHUTDOWN_TIMEOUT_MS": 0}, env={})
    assert config.raw["PING_INTERVAL_MS"] == "2000"

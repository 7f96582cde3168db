"""The built-in catalog imports a transformer's module only when a config names it, and still
lists, finds and rejects names as it did when every module was imported up front."""

from __future__ import annotations

import pytest

from ccr.errors import ConfigError
from ccr.transformers.registry import BUILTIN_MODULES, instantiate, lookup, names
from tests.support.fresh_python import last_json_line


def registered_modules() -> dict[str, str]:
    """Every built-in name (lower-cased) and the module its class was registered from."""
    names()  # imports every built-in module
    found: dict[str, str] = {}
    for name in names():
        factory = lookup(name)
        assert factory is not None
        found[name.lower()] = factory.__module__.removeprefix("ccr.transformers.builtin.")
    return found


def modules_loaded_by(code: str) -> list[str]:
    """The built-in transformer modules a fresh interpreter holds after running ``code``."""
    script = (
        "import json, sys\n" + code + "\n"
        "prefix = 'ccr.transformers.builtin.'\n"
        "print(json.dumps(sorted(m[len(prefix):] for m in sys.modules"
        " if m.startswith(prefix) and not m[len(prefix):].startswith('_'))))\n"
    )
    return list(last_json_line(script))


def test_the_module_table_names_every_built_in_and_where_it_is_registered() -> None:
    assert registered_modules() == BUILTIN_MODULES


@pytest.mark.e2e  # a fresh interpreter
def test_a_chain_imports_only_the_modules_it_names() -> None:
    loaded = modules_loaded_by(
        "from ccr.config import parse_config\n"
        "from ccr.transformers.chain import build_chains\n"
        "build_chains(parse_config({'Providers': [{'name': 'ds', 'api_base_url': "
        "'http://127.0.0.1:9/v1/chat/completions', 'models': ['m'], "
        "'transformer': {'use': ['deepseek', 'tooluse']}}]}))\n"
    )
    assert loaded == ["deepseek", "openai", "tooluse"]  # openai: the default endpoint


@pytest.mark.e2e  # a fresh interpreter
def test_listing_the_names_imports_every_built_in_module() -> None:
    loaded = modules_loaded_by("from ccr.transformers.registry import names\nnames()\n")
    assert set(loaded) == set(BUILTIN_MODULES.values())


def test_names_are_found_whatever_their_case() -> None:
    assert lookup("ANTHROPIC") is lookup("anthropic") is not None
    assert lookup("Vertex-Gemini") is not None


def test_an_unknown_name_is_an_error_listing_every_built_in() -> None:
    with pytest.raises(ConfigError) as caught:
        instantiate("deepseeek", key_path="Providers[0].transformer.use[0]")
    message = str(caught.value)
    assert "unknown transformer 'deepseeek'" in message
    listed = message.split("available:")[1]
    assert all(name in listed for name in ("Anthropic", "deepseek", "vertex-openai"))


@pytest.mark.e2e  # a fresh interpreter
def test_a_built_in_missing_from_the_table_is_still_found() -> None:
    loaded = modules_loaded_by(
        "from ccr.transformers.registry import BUILTIN_MODULES, lookup\n"
        "del BUILTIN_MODULES['groq']\n"
        "assert lookup('groq') is not None\n"
    )
    assert "groq" in loaded

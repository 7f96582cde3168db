"""Every built-in transformer of CCR (musistudio/llms) has a ccr equivalent under the same name:
a CCR config that uses any of them, with CCR's option shapes, loads unchanged, and the README's
transformer table lists each one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from ccr.config import parse_config
from ccr.engine.engine import Engine
from ccr.transformers.registry import lookup

README = Path(__file__).resolve().parents[1] / "README.md"

#: CCR's built-in transformers as its config names them, with the endpoint each one speaks
#: (None: it only adjusts requests and answers).
CCR_TRANSFORMERS: dict[str, str | None] = {
    "Anthropic": "anthropic", "gemini": "gemini", "vertex-gemini": "gemini",
    "vertex-claude": "anthropic", "deepseek": None, "tooluse": None, "openrouter": None,
    "openai": "openai", "maxtoken": None, "groq": None, "cleancache": None,
    "enhancetool": None, "reasoning": None, "sampling": None, "maxcompletiontokens": None,
    "cerebras": None, "streamoptions": None, "customparams": None, "vercel": None,
    "openai-responses": "openai-responses", "forcereasoning": None, "extrathinktag": None,
    "vertex-openai": "openai",
}

#: Options as CCR's docs and users write them (secrets are placeholders).
CCR_OPTIONS: dict[str, dict[str, Any]] = {
    "maxtoken": {"max_tokens": 16384},
    "sampling": {"temperature": 0.6, "top_p": 0.95},
    "customparams": {"chat_template_kwargs": {"enable_thinking": True}},
    "vercel": {"providerOptions": {"gateway": {"order": ["vertex", "anthropic"]}}},
    "openrouter": {"provider": {"only": ["moonshotai/fp8"]}},
    "vertex-openai": {"client_email": "router@example-project.iam.gserviceaccount.com",
                      "private_key": "-----BEGIN PRIVATE KEY-----\\nplaceholder\\n"
                                     "-----END PRIVATE KEY-----\\n"},
    "reasoning": {"enable": True},
    "Anthropic": {"UseBearer": True},
}

#: Where CCR users point each endpoint transformer.
CCR_URLS = {
    "gemini": "https://generativelanguage.googleapis.com/v1beta/models/",
    "vertex-gemini": "https://us-central1-aiplatform.googleapis.com/",
    "vertex-claude": "https://us-east5-aiplatform.googleapis.com/",
    "vertex-openai": "https://us-central1-aiplatform.googleapis.com/v1/projects/example-project/"
                     "locations/us-central1/endpoints/openapi/chat/completions",
    "openai-responses": "https://api.openai.com/v1/responses",
    "Anthropic": "https://api.deepseek.com/anthropic",
}


def _use(name: str) -> list[Any]:
    return [[name, CCR_OPTIONS[name]]] if name in CCR_OPTIONS else [name]


def _ccr_config() -> dict[str, Any]:
    """One CCR provider per transformer, each using it as CCR configs do."""
    providers = []
    for name in CCR_TRANSFORMERS:
        providers.append({
            "name": f"p-{name.lower()}",
            "api_base_url": CCR_URLS.get(name, "https://api.example.com/v1/chat/completions"),
            "api_key": "sk-placeholder",
            "models": ["some-model"],
            "transformer": {"use": _use(name)},
        })
    return {"Providers": providers, "Router": {"default": "p-openai,some-model"}, "LOG": False}


@pytest.mark.parametrize("name", list(CCR_TRANSFORMERS))
def test_each_ccr_transformer_has_an_equivalent_of_the_same_name(name: str) -> None:
    cls = lookup(name)
    assert cls is not None, f"no transformer named {name!r}"
    assert cls.endpoint == CCR_TRANSFORMERS[name]


def test_a_ccr_config_using_every_transformer_loads_unchanged() -> None:
    engine = Engine.build(parse_config(_ccr_config(), env={}))
    for name, endpoint in CCR_TRANSFORMERS.items():
        chain = engine.chains[(f"p-{name.lower()}", "some-model")]
        if endpoint is None:
            assert [t.name for t in chain.transformers] == [name]
        else:
            assert chain.endpoint.name == name and chain.protocol == endpoint


def test_readme_table_lists_every_ccr_transformer() -> None:
    listed = set(re.findall(r"^\| `([^`]+)` \|", README.read_text(), flags=re.MULTILINE))
    assert set(CCR_TRANSFORMERS) <= listed

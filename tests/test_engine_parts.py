"""An engine builds what only sending needs (failover state, the upstream client, agents) when
it is first used, so routing alone (``ccr route --dry-run``) loads none of it."""

from __future__ import annotations

import asyncio

import pytest

from ccr.config import parse_config
from ccr.engine.engine import Engine
from tests.support.fresh_python import last_json_line

PROVIDER = {"name": "local", "api_base_url": "http://127.0.0.1:9/v1/chat/completions",
            "models": ["m"], "max_concurrency": 2}
#: Modules only sending a request needs.
SENDING_ONLY = ("ccr.engine.attempt_loop", "ccr.engine.upstream", "ccr.engine.resilience",
                "ccr.agents", "ccr.state", "aiohttp", "httpx", "json_repair")


def engine() -> Engine:
    return Engine.build(parse_config({"Providers": [PROVIDER], "Router": {"default": "local,m"},
                                      "COOLDOWN": {"cooldown_s": 7}}, env={}))


def test_the_resilience_state_is_built_from_the_engines_own_config_on_first_use() -> None:
    built = engine()
    state = built.resilience
    assert state is built.resilience
    assert state.health.policy.cooldown_s == 7
    gate = state.gates.gate("local")
    assert gate is not None and gate.limit == 2


def test_a_new_engine_takes_over_the_health_of_the_one_it_replaces() -> None:
    previous, replacement = engine(), engine()
    health = previous.resilience.health

    async def start() -> None:
        await replacement.start(previous, upstream=False)
        await replacement.aclose()

    asyncio.run(start())
    assert replacement.resilience.health is health


@pytest.mark.e2e  # a fresh interpreter
def test_building_an_engine_and_routing_load_nothing_only_sending_needs() -> None:
    script = (
        "import asyncio, json, sys\n"
        "from ccr.config import parse_config\n"
        "from ccr.engine.engine import ClientRequest, Engine\n"
        f"config = parse_config({{'Providers': [{PROVIDER!r}], "
        "'Router': {'default': 'local,m'}}, env={})\n"
        "engine = Engine.build(config)\n"
        "body = {'model': 'x', 'max_tokens': 8, 'messages': [{'role': 'user', 'content': 'hi'}]}\n"
        "decision = asyncio.run(engine.route(ClientRequest(body, {})))\n"
        "assert decision.route.name == 'local,m'\n"
        "print(json.dumps(sorted(sys.modules)))\n"
    )
    loaded = last_json_line(script)
    packages = tuple(f"{name}." for name in SENDING_ONLY)
    assert [m for m in loaded if m in SENDING_ONLY or m.startswith(packages)] == []

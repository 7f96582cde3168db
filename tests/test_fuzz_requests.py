"""Fuzzing the Messages request schema through a real server: whatever a client sends, the answer
is never a 5xx, every error is Anthropic-shaped, and the server keeps serving afterwards.

Bodies are built field by field from the Anthropic schema, each field either well-formed or
replaced by arbitrary JSON, so most examples get past the outer checks and reach routing, token
counting and conversion with one thing wrong deep inside.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import fake_config
from tests.support.gateway_client import sse_events

pytestmark = pytest.mark.slow

scalars = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70),
                    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12))
any_json = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=8)


def maybe(good: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Usually (nine times in ten) the well-formed value, else anything at all: most bodies
    then get past the first fields and carry their one wrong value deep inside."""
    return st.integers(0, 9).flatmap(lambda roll: any_json if roll == 0 else good)


def obj(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """An object whose fields are each present or left out."""
    return st.fixed_dictionaries({}, optional=fields)


text_ = st.text(max_size=20)
source = obj(type=maybe(st.sampled_from(["base64", "url", "text", "content", "file"])),
             media_type=maybe(st.just("image/png")), data=maybe(text_), url=maybe(text_),
             content=maybe(st.lists(obj(type=st.just("text"), text=maybe(text_)), max_size=2)))
leaf_block = st.one_of(
    st.fixed_dictionaries({"type": st.just("text"), "text": maybe(text_)}),
    st.fixed_dictionaries({"type": st.just("image"), "source": maybe(source)}),
    st.fixed_dictionaries({"type": st.just("document"), "source": maybe(source)},
                          optional={"title": maybe(text_)}),
    st.fixed_dictionaries({"type": st.just("tool_use"), "id": maybe(text_),
                           "name": maybe(text_)}, optional={"input": maybe(st.just({"a": 1}))}),
    st.fixed_dictionaries({"type": st.just("thinking"), "thinking": maybe(text_)},
                          optional={"signature": maybe(text_)}),
    st.fixed_dictionaries({"type": maybe(text_)}, optional={"text": maybe(text_)}),
)
block = st.one_of(leaf_block, st.fixed_dictionaries(
    {"type": st.just("tool_result"), "tool_use_id": maybe(text_)},
    optional={"content": maybe(st.one_of(text_, st.lists(leaf_block, max_size=2))),
              "is_error": maybe(st.booleans())}))
content = maybe(st.one_of(text_, st.lists(maybe(block), max_size=4)))
message = maybe(st.fixed_dictionaries(
    {"role": maybe(st.sampled_from(["user", "assistant"])), "content": content}))
tool = maybe(obj(name=maybe(text_), description=maybe(text_),
                 input_schema=maybe(st.just({"type": "object", "properties": {}})),
                 type=maybe(st.sampled_from(["custom", "web_search_20250305"]))))
request_bodies = st.fixed_dictionaries(
    {"model": maybe(st.sampled_from(["claude-sonnet-5", "fake,fake-model", "claude-haiku"])),
     "messages": maybe(st.lists(message, min_size=1, max_size=4))},
    optional={
        "max_tokens": maybe(st.integers(1, 4096)),
        "system": maybe(st.one_of(text_, st.lists(maybe(block), max_size=3))),
        "stream": maybe(st.booleans()),
        "temperature": maybe(st.floats(0, 1)),
        "stop_sequences": maybe(st.lists(text_, max_size=2)),
        "tools": maybe(st.lists(tool, max_size=3)),
        "tool_choice": maybe(obj(type=maybe(st.sampled_from(["auto", "any", "tool", "none"])),
                                 name=maybe(text_))),
        "thinking": maybe(obj(type=maybe(st.sampled_from(["enabled", "adaptive", "disabled"])),
                              budget_tokens=maybe(st.integers(0, 10000)))),
        "metadata": maybe(obj(user_id=maybe(text_))),
    },
)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CcrServer]:
    with FakeUpstream(record=False) as fake:
        config = fake_config(fake, Router={"background": "fake,fake-model-large",
                                           "think": "fake,fake-model-large"})
        with CcrServer(config, tmp_path_factory.mktemp("ccr-home")) as running:
            yield running


@pytest.fixture(scope="module")
def client(server: CcrServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=20) as http:
        yield http


def check_answer(response: httpx.Response, success_key: str = "type") -> None:
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        body = response.json()
        assert body["type"] == "error"
        assert set(body["error"]) == {"type", "message"}
        assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    elif response.headers["content-type"].startswith("text/event-stream"):
        names = [name for name, _ in sse_events(response.content)]
        assert names[0] == "message_start" and names[-1] == "message_stop", names
    else:
        assert success_key in response.json()


@settings(max_examples=200, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(body=request_bodies)
def test_no_request_body_gets_a_5xx(client: httpx.Client, body: dict[str, Any]) -> None:
    check_answer(client.post("/v1/messages", json=body))
    check_answer(client.post("/v1/messages/count_tokens", json=body), "input_tokens")


def test_the_server_still_serves_after_the_fuzzing(client: httpx.Client) -> None:
    response = client.post("/v1/messages", json={
        "model": "m", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]})
    assert response.status_code == 200
    assert response.json()["content"][0]["text"] == "Hello from fake."

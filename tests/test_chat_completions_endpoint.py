"""``POST /v1/chat/completions`` with the official ``openai`` SDK as the client: the same
routing and transformers as ``/v1/messages``, answers in OpenAI's format, streamed and not."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import openai
import pytest

from tests.support.ccr_server import CcrServer
from tests.support.fake_responses import FakeResponses, call, reasoning, respond
from tests.support.fake_upstream import Call, FakeUpstream, Usage, error, text, tool_calls
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.teams_helpers import ALICE_KEY, ledger_rows, wait_for

CLIENT_KEY = "ccr-client-key"
WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}


def _client(server: CcrServer, key: str = CLIENT_KEY) -> openai.OpenAI:
    return openai.OpenAI(base_url=server.base_url + "/v1", api_key=key, max_retries=0,
                         timeout=20)


@pytest.fixture
def server(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    return make_ccr(fake_config(fake, APIKEY=CLIENT_KEY))


def _stream(client: openai.OpenAI, **params: Any) -> list[Any]:
    return list(client.chat.completions.create(stream=True, **params))


def test_json_answer_is_a_chat_completion(server: CcrServer, fake: FakeUpstream) -> None:
    fake.enqueue(text("Hello from the fake.", usage=Usage(prompt=21, completion=5)))

    completion = _client(server).chat.completions.create(
        model="claude-sonnet-5", messages=[{"role": "system", "content": "Be nice."},
                                           {"role": "user", "content": "Hi"}])

    assert completion.choices[0].message.content == "Hello from the fake."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (21, 5)
    sent = fake.chat_requests[-1].body
    assert sent is not None and sent["model"] == "fake-model"
    assert sent["messages"] == [{"role": "system", "content": "Be nice."},
                                {"role": "user", "content": "Hi"}]


def test_streamed_answer_is_chunks_then_usage(server: CcrServer, fake: FakeUpstream) -> None:
    fake.enqueue(text("one two three", usage=Usage(prompt=8, completion=3)))

    chunks = _stream(_client(server), model="claude-sonnet-5",
                     messages=[{"role": "user", "content": "count"}],
                     stream_options={"include_usage": True})

    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content == "one two three"
    finishes = [c.choices[0].finish_reason for c in chunks if c.choices]
    assert finishes[-1] == "stop" and all(f is None for f in finishes[:-1])
    assert chunks[-1].choices == [] and chunks[-1].usage is not None
    assert chunks[-1].usage.prompt_tokens == 8


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_tool_calls_reach_the_client_and_results_go_back(
    server: CcrServer, fake: FakeUpstream, streamed: bool
) -> None:
    client = _client(server)
    fake.enqueue(tool_calls([Call("get_weather", {"city": "Oslo"})]))
    params: dict[str, Any] = {"model": "claude-sonnet-5", "tools": [WEATHER],
                              "messages": [{"role": "user", "content": "Weather in Oslo?"}]}
    if streamed:
        chunks = _stream(client, **params)
        fragments = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or ()]
        call_id, name = fragments[0].id, fragments[0].function.name
        arguments = "".join(f.function.arguments or "" for f in fragments)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        choice = client.chat.completions.create(**params).choices[0]
        [call] = choice.message.tool_calls or []
        call_id, name, arguments = call.id, call.function.name, call.function.arguments
        finish = choice.finish_reason
    assert (name, json.loads(arguments), finish) == ("get_weather", {"city": "Oslo"},
                                                     "tool_calls")

    fake.enqueue(text("It is 4°C."))
    follow_up = client.chat.completions.create(model="claude-sonnet-5", tools=[WEATHER], messages=[
        *params["messages"],
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": name, "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": "4°C"}])
    assert follow_up.choices[0].message.content == "It is 4°C."
    sent = fake.chat_requests[-1].body
    assert sent is not None
    assert sent["messages"][-1] == {"role": "tool", "tool_call_id": call_id, "content": "4°C"}


def test_explicit_provider_model_routes_there(server: CcrServer, fake: FakeUpstream) -> None:
    fake.enqueue(text("big"))
    _client(server).chat.completions.create(model="fake,fake-model-large",
                                            messages=[{"role": "user", "content": "x"}])
    assert fake.chat_requests[-1].body["model"] == "fake-model-large"  # type: ignore[index]


def test_reasoning_effort_takes_the_think_route_and_its_transformers(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    config = fake_config(fake, Router={"think": "fake,fake-model-large"})
    config["Providers"][0]["transformer"] = {"fake-model-large": {"use": [
        ["maxtoken", {"max_tokens": 3000}]]}}
    fake.enqueue(text("thought"))
    _client(make_ccr(config)).chat.completions.create(
        model="gpt-5", messages=[{"role": "user", "content": "x"}], reasoning_effort="medium",
        max_completion_tokens=20000)
    sent = fake.chat_requests[-1].body
    assert sent is not None
    assert (sent["model"], sent["max_tokens"]) == ("fake-model-large", 3000)


def test_router_script_decides_as_for_messages(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    script = tmp_path / "router.py"
    script.write_text(
        "def router(req, config):\n"
        "    if req.body['system'] == 'big job':\n"
        "        return 'fake,fake-model-large'\n"
        "    return None\n")
    fake.enqueue(text("routed"))
    server = make_ccr(fake_config(fake, CUSTOM_ROUTER_PATH=str(script)))
    _client(server).chat.completions.create(
        model="gpt-4o", messages=[{"role": "system", "content": "big job"},
                                  {"role": "user", "content": "x"}])
    assert fake.chat_requests[-1].body["model"] == "fake-model-large"  # type: ignore[index]


def test_upstream_error_is_an_openai_error_with_its_status(
    server: CcrServer, fake: FakeUpstream
) -> None:
    fake.handler = lambda request: error(429, {"error": {"message": "slow down"}})
    with pytest.raises(openai.RateLimitError) as caught:
        _client(server).chat.completions.create(model="m",
                                                messages=[{"role": "user", "content": "x"}])
    assert isinstance(caught.value.body, dict) and "message" in caught.value.body
    assert "sk-fake-upstream-key" not in str(caught.value)
    assert caught.value.response.headers["x-ccr-route"] == "fake,fake-model"


def test_unsupported_request_is_a_bad_request(server: CcrServer) -> None:
    with pytest.raises(openai.BadRequestError):
        _client(server).chat.completions.create(model="m", n=3,
                                                messages=[{"role": "user", "content": "x"}])


def test_wrong_client_key_is_refused(server: CcrServer) -> None:
    with pytest.raises(openai.AuthenticationError):
        _client(server, key="wrong").chat.completions.create(
            model="m", messages=[{"role": "user", "content": "x"}])


def test_stream_cut_by_the_upstream_raises_in_the_client(
    server: CcrServer, fake: FakeUpstream
) -> None:
    fake.handler = lambda request: text("a b c d e f", drop_after=3)  # every try is cut
    with pytest.raises(openai.APIError):
        _stream(_client(server), model="m", messages=[{"role": "user", "content": "x"}])


# --------------------------------------------------------------------------------------------
# A team's gateway applies to OpenAI-format clients too


def _team(fake: FakeUpstream, **extra: Any) -> dict[str, Any]:
    return fake_config(fake, APIKEYS=[{"name": "alice", "key": ALICE_KEY, **extra}],
                       PRICES={"fake,fake-model": {"input": 1000, "output": 1000}})


def test_a_named_keys_requests_reach_the_ledger_under_its_name(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    server = make_ccr(_team(fake))
    _client(server, ALICE_KEY).chat.completions.create(
        model="m", messages=[{"role": "user", "content": "x"}])
    [row] = wait_for(lambda: ledger_rows(server.state.home / "ledger.db"))
    assert (row["client"], row["input_tokens"], row["output_tokens"], row["status"]) == \
        ("alice", 12, 4, 200)
    assert ALICE_KEY not in str(row)


def test_a_clients_rate_limit_holds_on_this_endpoint(
    make_ccr: MakeCcr, fake: FakeUpstream
) -> None:
    server = make_ccr(_team(fake, RATE_LIMIT="1/min"))
    client = _client(server, ALICE_KEY)
    client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.RateLimitError) as caught:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "x"}])
    assert 1 <= int(caught.value.response.headers["retry-after"]) <= 60
    assert len(fake.chat_requests) == 1


def test_an_openai_client_reaches_a_responses_api_provider(make_ccr: MakeCcr) -> None:
    with FakeResponses() as responses:
        server = make_ccr({
            "Providers": [{"name": "openai", "api_base_url": responses.api_base_url,
                           "api_key": "sk-test", "models": ["gpt-5-codex"],
                           "transformer": {"use": ["openai-responses"]}}],
            "Router": {"default": "openai,gpt-5-codex"}, "LOG": False})
        responses.enqueue(respond(reasoning("Need the weather."),
                                  call("get_weather", {"city": "Oslo"}, call_id="call_w")))
        chunks = _stream(_client(server, "any"), model="gpt-5-codex", tools=[WEATHER],
                         reasoning_effort="low",
                         messages=[{"role": "user", "content": "Weather in Oslo?"}])
        assert responses.rejections == []
    deltas = [c.choices[0].delta for c in chunks if c.choices]
    reasoning_text = "".join(getattr(d, "reasoning_content", None) or "" for d in deltas)
    calls = [t for d in deltas for t in d.tool_calls or ()]
    assert reasoning_text == "Need the weather."
    assert calls[0].id == "call_w" and calls[0].function.name == "get_weather"
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"


def test_a_failing_route_falls_back_as_for_messages(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    config = fake_config(fake, fallback={"default": ["fake,fake-model-large"]})
    server = make_ccr(config)

    def answer(request: Any) -> Any:
        if request.body and request.body.get("model") == "fake-model":
            return error(503, {"error": {"message": "down"}})
        return text("from the fallback")

    fake.handler = answer
    response = _client(server).chat.completions.with_raw_response.create(
        model="m", messages=[{"role": "user", "content": "x"}])
    assert response.parse().choices[0].message.content == "from the fallback"
    assert response.headers["x-ccr-route"] == "fake,fake-model-large"
    assert response.headers["x-ccr-fallback-from"] == "fake,fake-model"

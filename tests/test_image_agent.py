"""The image agent end to end: a text-only model asks ccr's ``analyzeImage`` tool about an image,
ccr answers it with the image route and the client only ever sees the final answer."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.fake_upstream import Call, FakeUpstream, Recorded, Reply, Usage, text, tool_calls
from tests.support.fixtures import MakeCcr
from tests.support.gateway_client import Sdk

PNG = {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgoAAAANSUhEUg=="}
VISION_ANSWER = "A red square with the word HELLO."


def _config(fake: FakeUpstream, *, forced: bool = True) -> dict[str, Any]:
    return {
        "Providers": [
            {"name": "main", "api_base_url": fake.chat_url, "api_key": "sk-main",
             "models": ["text-model"]},
            {"name": "vision", "api_base_url": fake.chat_url, "api_key": "sk-vision",
             "models": ["vision-model"]},
        ],
        "Router": {"default": "main,text-model", "image": "vision,vision-model"},
        "forceUseImageAgent": forced,
        "LOG": False,
    }


def _answer(request: Recorded) -> Reply:
    body = request.body or {}
    if body.get("model") == "vision-model":
        return text(VISION_ANSWER, usage=Usage(prompt=50, completion=8))
    tool_results = [m for m in request.messages if m.get("role") == "tool"]
    if tool_results:
        return text("The image says HELLO.", usage=Usage(prompt=300, completion=6))
    return tool_calls(
        [Call("analyzeImage", {"imageId": ["1"], "task": "read the text"}, id="call_img")],
        text="Let me look at the image.", usage=Usage(prompt=200, completion=15),
    )


def _request(**extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5",
        "max_tokens": 300,
        "messages": [{"role": "user", "content": [
            {"type": "image", "source": PNG},
            {"type": "text", "text": "What does this image say?"},
        ]}],
        **extra,
    }


@pytest.fixture(params=["json", "stream"])
def streamed(request: pytest.FixtureRequest) -> bool:
    return request.param == "stream"


def test_client_sees_only_the_final_answer(make_ccr: MakeCcr, fake: FakeUpstream,
                                           streamed: bool) -> None:
    fake.handler = _answer
    sdk = Sdk.on(make_ccr(_config(fake)))
    message = sdk.ask(streamed, **_request())
    kinds = [block.type for block in message.content]
    assert kinds == ["text"]
    assert message.content[0].text == "Let me look at the image.The image says HELLO."
    assert message.stop_reason == "end_turn"


def test_output_tokens_of_every_round_are_reported(make_ccr: MakeCcr, fake: FakeUpstream,
                                                   streamed: bool) -> None:
    fake.handler = _answer
    sdk = Sdk.on(make_ccr(_config(fake)))
    message = sdk.ask(streamed, **_request())
    assert message.usage.output_tokens == 15 + 6
    assert message.usage.input_tokens == 300


def test_text_model_gets_a_reference_and_the_tool_never_the_image(
    make_ccr: MakeCcr, fake: FakeUpstream, streamed: bool
) -> None:
    fake.handler = _answer
    Sdk.on(make_ccr(_config(fake))).ask(streamed, **_request())
    first = fake.chat_requests[0].body
    assert first["model"] == "text-model"
    assert "image_url" not in json.dumps(first)
    assert "[Image #1]" in json.dumps(first["messages"])
    assert "analyzeImage" in [t["function"]["name"] for t in first["tools"]]


def test_image_route_gets_the_image_and_the_task(make_ccr: MakeCcr, fake: FakeUpstream,
                                                 streamed: bool) -> None:
    fake.handler = _answer
    Sdk.on(make_ccr(_config(fake))).ask(streamed, **_request())
    vision = next(r for r in fake.chat_requests if r.body["model"] == "vision-model")
    assert vision.headers["authorization"] == "Bearer sk-vision"
    content = vision.messages[-1]["content"]
    assert content[0]["image_url"]["url"] == f"data:image/png;base64,{PNG['data']}"
    assert "read the text" in json.dumps(content)


def test_follow_up_carries_the_analysis_as_the_tool_result(
    make_ccr: MakeCcr, fake: FakeUpstream, streamed: bool
) -> None:
    fake.handler = _answer
    Sdk.on(make_ccr(_config(fake))).ask(streamed, **_request())
    follow = fake.chat_requests[-1]
    assert follow.body["model"] == "text-model"
    assistant, tool = follow.messages[-2], follow.messages[-1]
    assert assistant["tool_calls"][0]["function"]["name"] == "analyzeImage"
    assert tool == {"role": "tool", "tool_call_id": assistant["tool_calls"][0]["id"],
                    "content": VISION_ANSWER}


def test_a_real_tool_call_beside_the_internal_one_reaches_the_client(
    make_ccr: MakeCcr, fake: FakeUpstream, streamed: bool
) -> None:
    fake.enqueue(tool_calls([
        Call("analyzeImage", {"imageId": ["1"], "task": "x"}),
        Call("Bash", {"command": "ls"}),
    ]))
    sdk = Sdk.on(make_ccr(_config(fake)))
    message = sdk.ask(streamed, **_request(tools=[
        {"name": "Bash", "input_schema": {"type": "object"}}]))
    assert [(b.type, getattr(b, "name", None)) for b in message.content] == [("tool_use", "Bash")]
    assert message.stop_reason == "tool_use"
    assert len(fake.chat_requests) == 1


def test_without_force_an_image_in_the_last_turn_goes_to_the_image_route(
    make_ccr: MakeCcr, fake: FakeUpstream, streamed: bool
) -> None:
    fake.handler = _answer
    message = Sdk.on(make_ccr(_config(fake, forced=False))).ask(streamed, **_request())
    assert message.content[0].text == VISION_ANSWER
    assert [r.body["model"] for r in fake.chat_requests] == ["vision-model"]

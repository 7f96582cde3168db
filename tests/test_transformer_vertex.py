"""``vertex-gemini``, ``vertex-claude`` and ``vertex-openai`` against a fake Google: a token
endpoint that checks the service account's signed JWT, and Vertex endpoints that check the
Bearer token, the project and region in the URL, and each API's body."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from ccr.config.model import Provider
from ccr.errors import ApiError
from ccr.transformers.base import TransformContext
from ccr.transformers.builtin._vertex import vertex_root
from ccr.transformers.builtin.vertex import VertexGemini
from tests.support.fake_vertex import FakeGoogle
from tests.support.fixtures import MakeCcr
from tests.support.gateway_client import Sdk

#: A fake Google on loopback serves every test here but the URL ones.
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def google() -> Iterator[FakeGoogle]:
    with FakeGoogle(project="acme-ai", location="europe-west4") as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh(google: FakeGoogle) -> None:
    google.calls.clear()
    google.rejections.clear()
    google.token_lifetime_s = 3600


def _key_file(google: FakeGoogle, tmp_path: Path) -> str:
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(google.key_info()))
    return str(path)


def _config(google: FakeGoogle, name: str, model: str, options: dict[str, Any],
            base: str | None = None) -> dict[str, Any]:
    return {
        "Providers": [{"name": "vertex", "api_base_url": base or google.base_url,
                       "api_key": "", "models": [model],
                       "transformer": {"use": [[name, options]]}}],
        "Router": {"default": f"vertex,{model}"},
        "LOG": False,
    }


# --------------------------------------------------------------------------------------------
# Through a real server, one test per API, streamed and not


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_vertex_gemini_calls_the_projects_model_with_a_fresh_token(
    google: FakeGoogle, make_ccr: MakeCcr, tmp_path: Path, streamed: bool
) -> None:
    options = {"credentials": _key_file(google, tmp_path), "location": "europe-west4"}
    sdk = Sdk.on(make_ccr(_config(google, "vertex-gemini", "gemini-2.5-pro", options)))

    message = sdk.ask(streamed)

    assert message.content[0].text == "Hi from Vertex."  # type: ignore[union-attr]
    [call] = google.calls
    method = "streamGenerateContent" if streamed else "generateContent"
    assert call.path == ("/v1beta1/projects/acme-ai/locations/europe-west4/publishers/google/"
                         f"models/gemini-2.5-pro:{method}")
    assert call.headers["authorization"].removeprefix("Bearer ") in google.issued()
    assert "x-goog-api-key" not in call.headers
    assert google.rejections == []


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_vertex_claude_forwards_the_messages_body_with_vertexs_version(
    google: FakeGoogle, make_ccr: MakeCcr, streamed: bool
) -> None:
    info = google.key_info()
    options = {"client_email": info["client_email"],
               "private_key": info["private_key"].replace("\n", "\\n"),
               "token_uri": google.token_uri, "project": "acme-ai", "region": "europe-west4"}
    sdk = Sdk.on(make_ccr(_config(google, "vertex-claude", "claude-sonnet-4@20250514",
                                  options)))

    message = sdk.ask(streamed, extra_headers={"anthropic-beta": "context-1m-2025-08-07"})

    assert message.content[0].text == "Hi from Claude on Vertex."  # type: ignore[union-attr]
    [call] = google.calls
    method = "streamRawPredict" if streamed else "rawPredict"
    assert call.path == ("/v1/projects/acme-ai/locations/europe-west4/publishers/anthropic/"
                         f"models/claude-sonnet-4@20250514:{method}")
    assert call.body is not None and call.body["anthropic_version"] == "vertex-2023-10-16"
    assert call.body["messages"] == [{"role": "user", "content": "hi"}]
    assert call.headers.get("anthropic-beta") == "context-1m-2025-08-07"
    assert google.rejections == []


@pytest.mark.parametrize("streamed", [True, False], ids=["streamed", "json"])
def test_vertex_openai_uses_the_endpoint_url_a_ccr_config_names(
    google: FakeGoogle, make_ccr: MakeCcr, tmp_path: Path, streamed: bool
) -> None:
    base = (f"{google.base_url}/v1/projects/acme-ai/locations/europe-west4/endpoints/openapi/"
            "chat/completions")
    info = google.key_info()
    options = {"client_email": info["client_email"], "private_key": info["private_key"],
               "token_uri": google.token_uri}
    sdk = Sdk.on(make_ccr(_config(google, "vertex-openai", "meta/llama-4", options, base)))

    message = sdk.ask(streamed)

    assert message.content[0].text == "Hi from Vertex OpenAI."  # type: ignore[union-attr]
    [call] = google.calls
    assert call.body is not None and call.body["model"] == "meta/llama-4"
    assert google.rejections == []


# --------------------------------------------------------------------------------------------
# Tokens


def _transformer(google: FakeGoogle, tmp_path: Path) -> tuple[VertexGemini, TransformContext]:
    transformer = VertexGemini({"credentials": _key_file(google, tmp_path),
                                "location": "europe-west4"})
    provider = Provider(name="v", api_base_url=google.base_url, models=("g",))
    return transformer, TransformContext(provider=provider, model="g", stream=False)


def _unified() -> dict[str, Any]:
    return {"model": "g", "messages": [{"role": "user", "content": "hi"}]}


def test_a_valid_token_is_reused_across_requests(google: FakeGoogle, tmp_path: Path) -> None:
    transformer, ctx = _transformer(google, tmp_path)
    before = google.token_requests
    first = transformer.build_http(_unified(), ctx).headers["authorization"]
    second = transformer.build_http(_unified(), ctx).headers["authorization"]
    assert first == second
    assert google.token_requests == before + 1


def test_an_expiring_token_is_refreshed(google: FakeGoogle, tmp_path: Path) -> None:
    google.token_lifetime_s = 60  # inside google-auth's refresh margin: never valid for long
    transformer, ctx = _transformer(google, tmp_path)
    first = transformer.build_http(_unified(), ctx).headers["authorization"]
    google.token_lifetime_s = 3600
    second = transformer.build_http(_unified(), ctx).headers["authorization"]
    assert first != second
    assert second.removeprefix("Bearer ") in google.issued()


def test_a_token_near_its_end_is_refreshed_in_the_background(
    google: FakeGoogle, tmp_path: Path
) -> None:
    google.token_lifetime_s = 400  # valid, but inside ccr's early-refresh window
    transformer, ctx = _transformer(google, tmp_path)
    first = transformer.build_http(_unified(), ctx).headers["authorization"]
    google.token_lifetime_s = 3600
    assert transformer.build_http(_unified(), ctx).headers["authorization"] == first
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        now = transformer.build_http(_unified(), ctx).headers["authorization"]
        if now != first:
            break
        time.sleep(0.02)
    assert now != first


def test_a_key_the_token_endpoint_rejects_is_an_authentication_error(
    google: FakeGoogle, make_ccr: MakeCcr, tmp_path: Path
) -> None:
    info = dict(google.key_info())
    info["client_email"] = "someone-else@acme-ai.iam.gserviceaccount.com"
    path = tmp_path / "wrong.json"
    path.write_text(json.dumps(info))
    sdk = Sdk.on(make_ccr(_config(google, "vertex-gemini", "g",
                                  {"credentials": str(path), "location": "europe-west4"})))
    with pytest.raises(anthropic.AuthenticationError) as caught:
        sdk.create()
    assert "BEGIN PRIVATE KEY" not in str(caught.value)
    assert google.calls == []


def test_missing_credentials_are_named_at_the_first_request_not_at_load(
    google: FakeGoogle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    transformer = VertexGemini({})  # loads: the config is valid without credentials on hand
    provider = Provider(name="v", api_base_url="", models=("g",))
    ctx = TransformContext(provider=provider, model="g", stream=False)
    with pytest.raises(ApiError) as caught:
        transformer.build_http(_unified(), ctx)
    assert "GOOGLE_APPLICATION_CREDENTIALS" in caught.value.message


def test_environment_gives_credentials_project_and_region_as_in_ccr(
    google: FakeGoogle, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", _key_file(google, tmp_path))
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "from-env")
    monkeypatch.setenv("GOOGLE_CLOUD_LOCATION", "asia-east1")
    transformer = VertexGemini({})
    provider = Provider(name="v", api_base_url="", models=("g",))
    http = transformer.build_http(_unified(), TransformContext(
        provider=provider, model="gemini-2.5-flash", stream=True))
    assert http.url == ("https://asia-east1-aiplatform.googleapis.com/v1beta1/projects/from-env/"
                        "locations/asia-east1/publishers/google/models/gemini-2.5-flash:"
                        "streamGenerateContent?alt=sse")


@pytest.mark.parametrize(("base", "location", "root"), [
    ("", "us-east5", "https://us-east5-aiplatform.googleapis.com/v1"),
    ("", "global", "https://aiplatform.googleapis.com/v1"),
    ("https://us-central1-aiplatform.googleapis.com/", "us-central1",
     "https://us-central1-aiplatform.googleapis.com/v1"),
    ("https://proxy.example/vertex/v1beta1", "x", "https://proxy.example/vertex/v1beta1"),
])
def test_url_root(base: str, location: str, root: str) -> None:
    assert vertex_root(base, location, "v1") == root


def test_the_private_key_is_hidden_wherever_the_config_is_shown(google: FakeGoogle) -> None:
    from ccr.config.redact import redact

    info = google.key_info()
    config = _config(google, "vertex-openai", "m", {"client_email": info["client_email"],
                                                    "private_key": info["private_key"]})
    shown = str(redact(config))
    assert "PRIVATE KEY" not in shown and info["client_email"] in shown


def test_the_token_is_fetched_off_the_servers_event_loop(
    google: FakeGoogle, make_ccr: MakeCcr, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    from ccr.transformers.builtin._vertex import TokenSource

    threads: list[str] = []
    original = TokenSource._refresh

    def recording(self: TokenSource, credentials: Any) -> None:
        threads.append(threading.current_thread().name)
        original(self, credentials)

    monkeypatch.setattr(TokenSource, "_refresh", recording)
    options = {"credentials": _key_file(google, tmp_path), "location": "europe-west4"}
    server = make_ccr(_config(google, "vertex-gemini", "gemini-2.5-pro", options))
    Sdk.on(server).create()
    assert threads and server._thread.name not in threads


def test_requests_do_not_wait_for_a_background_refresh(
    google: FakeGoogle, tmp_path: Path
) -> None:
    import threading

    from ccr.transformers.builtin import _vertex

    transformer, ctx = _transformer(google, tmp_path)
    google.token_lifetime_s = 400  # valid, inside the early-refresh window
    first = transformer.build_http(_unified(), ctx).headers["authorization"]
    release = threading.Event()
    original = _vertex.TokenSource._refresh

    def slow(self: Any, credentials: Any) -> None:
        release.wait(5)  # Google is slow to answer the background refresh
        original(self, credentials)

    _vertex.TokenSource._refresh = slow  # type: ignore[method-assign]
    try:
        started = time.monotonic()
        for _ in range(3):  # the first starts the refresh; none waits for it
            assert transformer.build_http(_unified(), ctx).headers["authorization"] == first
        assert time.monotonic() - started < 1.0
    finally:
        release.set()
        _vertex.TokenSource._refresh = original  # type: ignore[method-assign]

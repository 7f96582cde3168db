"""Shared fixtures: a fake OpenAI-compatible upstream and a real ccr server in front of it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anthropic
import pytest

from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream
from tests.support.fixtures import MakeCcr, fake_config


@pytest.fixture(autouse=True, scope="session")
def _tokenizer_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The tokeniser's decoded ranks are cached in a folder of this test run (the processes the
    tests start inherit it), never under the user's ``~/.claude-code-router``."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        yield
        return
    os.environ["TIKTOKEN_CACHE_DIR"] = str(tmp_path_factory.mktemp("tiktoken-cache"))
    try:
        yield
    finally:
        os.environ.pop("TIKTOKEN_CACHE_DIR", None)


@pytest.fixture
def fake() -> Iterator[FakeUpstream]:
    with FakeUpstream() as upstream:
        yield upstream


@pytest.fixture
def make_ccr(tmp_path: Path) -> Iterator[MakeCcr]:
    servers: list[CcrServer] = []

    def make(config: dict[str, Any], **kwargs: Any) -> CcrServer:
        server = CcrServer(config, tmp_path / "ccr-home", **kwargs).start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def ccr(make_ccr: MakeCcr, fake: FakeUpstream) -> CcrServer:
    return make_ccr(fake_config(fake))


@pytest.fixture
def client(ccr: CcrServer) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=ccr.base_url, api_key="test", max_retries=0, timeout=20)


#: Fixtures that start real servers or processes: a test that uses one is end-to-end.
END_TO_END_FIXTURES = frozenset({"fake", "make_ccr", "ccr", "client"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark end-to-end tests ``e2e`` and ``slow``, so ``pytest -m "not slow"`` is the quick
    inner loop of unit tests; modules that start processes themselves mark themselves."""
    for item in items:
        if END_TO_END_FIXTURES.intersection(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.e2e)
            item.add_marker(pytest.mark.slow)
        elif item.get_closest_marker("e2e") is not None:
            item.add_marker(pytest.mark.slow)

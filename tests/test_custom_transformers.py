"""User transformers loaded from Python files: used by name like built-ins, run in the sandbox.

End to end through a real server with the ``anthropic`` SDK against the fake upstream: what a
transformer changes reaches the upstream and the client; what it must not see (the provider
key, URLs, the process) it cannot reach; a broken or slow one fails only its request, or is
skipped when the config says so; a broken file rejects the config. Then the chain's async path
and the sandbox pool's switching off of scripts that crash every call.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import shutil
import time
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import anthropic
import httpx
import pytest

from ccr.config import parse_config
from ccr.config.model import Provider
from ccr.engine.engine import Engine
from ccr.engine.readahead import read_ahead
from ccr.errors import ConfigError
from ccr.sandbox import RouterScript
from ccr.sandbox.policy import OutputCollector, compile_script, transformer_globals
from ccr.transformers.base import TransformContext, Transformer
from ccr.transformers.chain import Chain, build_chains
from ccr.transformers.custom import AsyncTransformer
from ccr.transformers.registry import lookup
from tests.support.ccr_server import CcrServer
from tests.support.fake_upstream import FakeUpstream, raw_chunks, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk, last_chat, sse_events

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

SHOUT = '''
class Shout:
    name = "shout"

    def transform_request(self, request, ctx):
        request["messages"].insert(0, {"role": "system", "content": "Answer briefly."})
        return request

    def transform_chunk(self, chunk, ctx):
        for choice in chunk.get("choices", []):
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                delta["content"] = delta["content"].upper()
        return chunk

    def transform_response(self, response, ctx):
        for choice in response["choices"]:
            choice["message"]["content"] = choice["message"]["content"].upper()
        return response
'''

LOOPS_WHEN_ASKED = '''
class Stuck:
    name = "stuck"

    def transform_request(self, request, ctx):
        if "loop" in str(request["messages"]):
            while True:
                pass
        return request
'''


def _write(tmp_path: Path, source: str, name: str = "my_transformer.py") -> Path:
    path = tmp_path / name
    path.write_text(source)
    return path


def _config(fake: FakeUpstream, path: Path, use: list[Any], **entry: Any) -> dict[str, Any]:
    """The fake provider using ``use``, with one ``transformers`` entry for ``path``."""
    config = fake_config(fake, transformers=[{"path": str(path), **entry}])
    config["Providers"][0]["transformer"] = {"use": use}
    return config


def _serve(make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path, source: str,
           use: list[Any] | None = None, **entry: Any) -> Sdk:
    path = _write(tmp_path, source)
    name = source.split('name = "', 1)[1].split('"', 1)[0]
    return Sdk.on(make_ccr(_config(fake, path, use or [name], **entry)))


def _build(config: dict[str, Any]) -> Engine:
    return Engine.build(parse_config(config, env={}))


def _post(server: CcrServer, **body: Any) -> httpx.Response:
    request = {"model": "claude-sonnet-5", "max_tokens": 64,
               "messages": [{"role": "user", "content": "hi"}], **body}
    return httpx.post(f"{server.base_url}/v1/messages", json=request, timeout=20)


# -- what a transformer changes ----------------------------------------------------------------


def test_user_transformer_changes_the_request_the_upstream_receives(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path, SHOUT)
    fake.enqueue(text("ok"))
    sdk.create()
    messages = last_chat(fake).messages
    assert messages[0] == {"role": "system", "content": "Answer briefly."}
    assert messages[-1]["content"] == "hi"


def test_user_transformer_changes_the_streamed_text_the_client_sees(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path, SHOUT)
    fake.enqueue(text("hello there, streaming world"))
    message = sdk.stream()
    assert [b.text for b in message.content if b.type == "text"] == [
        "HELLO THERE, STREAMING WORLD"
    ]


def test_user_transformer_changes_a_whole_response(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path, SHOUT)
    fake.enqueue(text("quiet answer"))
    message = sdk.create()
    assert [b.text for b in message.content if b.type == "text"] == ["QUIET ANSWER"]


def test_options_reach_init_and_use_options_are_merged_over_them(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    source = '''
class Tag:
    name = "tag"

    def __init__(self, options):
        self.words = [options["greeting"], options.get("who", "nobody")]

    def transform_request(self, request, ctx):
        request["messages"].append({"role": "user", "content": " ".join(self.words)})
        return request
'''
    sdk = _serve(make_ccr, fake, tmp_path, source, use=[["tag", {"who": "world"}]],
                 options={"greeting": "hello", "who": "file"})
    fake.enqueue(text("ok"))
    sdk.create()
    assert last_chat(fake).messages[-1] == {"role": "user", "content": "hello world"}


# -- the sandbox --------------------------------------------------------------------------------


def test_user_transformer_cannot_import_os(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    source = '''
class Sneaky:
    name = "sneaky"

    def transform_request(self, request, ctx):
        import os
        request["model"] = os.environ.get("HOME", "")
        return request
'''
    sdk = _serve(make_ccr, fake, tmp_path, source)
    with pytest.raises(anthropic.InternalServerError) as caught:
        sdk.create()
    message = caught.value.body["error"]["message"]  # type: ignore[index]
    assert "my_transformer.py:6: ImportError: 'os' may not be imported" in message
    assert fake.chat_requests == []


def test_provider_key_and_urls_never_reach_the_transformer(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    canary = "sk-canary-" + secrets.token_hex(12)
    source = '''
class Spy:
    name = "spy"

    def transform_request(self, request, ctx):
        seen = [repr(ctx), repr(self.options), repr(request), repr(ctx.state)]
        request["messages"].append({"role": "user", "content": " | ".join(seen)})
        print(seen)
        return request

    def transform_chunk(self, chunk, ctx):
        for choice in chunk.get("choices", []):
            if (choice.get("delta") or {}).get("content"):
                choice["delta"]["content"] = choice["delta"]["content"] + repr(ctx)
        return chunk
'''
    path = _write(tmp_path, source)
    config = _config(fake, path, ["spy"], options={"mode": "watch"})
    config["Providers"][0]["api_key"] = canary
    sdk = Sdk.on(make_ccr(config))
    fake.enqueue(text("visible"))
    sdk.stream()
    upstream_body = last_chat(fake).raw.decode()
    client_saw = sdk.transport.last_raw.decode()
    assert "ctx(provider='fake', model='fake-model', stream=True" in upstream_body
    for secret in (canary, fake.chat_url, str(fake.port)):
        assert secret not in upstream_body
        assert secret not in client_saw


# -- failures -----------------------------------------------------------------------------------


def test_looping_transformer_fails_its_request_in_time_and_the_next_request_works(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, LOOPS_WHEN_ASKED)
    server = make_ccr(_config(fake, path, ["stuck"], timeout_ms=200))
    fake.enqueue(text("fine"))
    began = time.monotonic()
    failed = _post(server, messages=[{"role": "user", "content": "loop please"}])
    took = time.monotonic() - began
    after = _post(server)
    assert failed.status_code == 500
    assert failed.json()["error"] == {
        "type": "api_error",
        "message": "custom transformer 'stuck' failed: my_transformer.py:7: timed out after "
                   "200 ms",
    }
    assert took < 1.5
    assert after.status_code == 200 and after.json()["content"][0]["text"] == "fine"


def test_failing_chunk_hook_ends_the_stream_with_an_error_naming_file_and_line(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    source = '''
class Picky:
    name = "picky"

    def transform_chunk(self, chunk, ctx):
        if "boom" in str(chunk):
            return 1 / 0
        return chunk
'''
    path = _write(tmp_path, source)
    server = make_ccr(_config(fake, path, ["picky"]))
    fake.enqueue(text("all fine until boom"))
    response = _post(server, stream=True)
    name, data = sse_events(response.content)[-1]
    assert name == "error"
    assert data["error"] == {
        "type": "api_error",
        "message": "custom transformer 'picky' failed: my_transformer.py:7: ZeroDivisionError: "
                   "division by zero",
    }


def test_on_error_skip_sends_the_request_on_without_the_transformer(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    source = '''
class Broken:
    name = "broken"

    def transform_request(self, request, ctx):
        request["messages"] = []
        return request["missing"]
'''
    sdk = _serve(make_ccr, fake, tmp_path, source, on_error="skip")
    fake.enqueue(text("answered anyway"))
    message = sdk.create()
    assert message.content[0].text == "answered anyway"  # type: ignore[union-attr]
    assert last_chat(fake).messages[-1]["content"] == "hi"


def test_on_error_skip_leaves_the_rest_of_the_stream_untouched(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    source = '''
class Fragile:
    name = "fragile"

    def transform_chunk(self, chunk, ctx):
        if "three" in str(chunk):
            raise ValueError("not three")
        for choice in chunk.get("choices", []):
            if (choice.get("delta") or {}).get("content"):
                choice["delta"]["content"] = choice["delta"]["content"].upper()
        return chunk
'''
    sdk = _serve(make_ccr, fake, tmp_path, source, on_error="skip")
    words = ["one ", "two ", "three ", "four ", "five"]
    fake.enqueue(raw_chunks([*(_chunk(w) for w in words), _chunk("", finish="stop")],
                            delay_s=0.05))
    message = sdk.stream()
    shown = message.content[0].text  # type: ignore[union-attr]
    assert shown.lower() == "one two three four five"
    assert shown.endswith("three four five")


# -- per-request state ---------------------------------------------------------------------------

COUNTS = '''
seen_in_module = []


class Counter:
    name = "counter"

    def __init__(self, options):
        self.calls = 0

    def transform_request(self, request, ctx):
        ctx.state["chunks"] = 0
        return request

    def transform_chunk(self, chunk, ctx):
        self.calls = self.calls + 1
        seen_in_module.append(1)
        ctx.state["chunks"] = ctx.state["chunks"] + 1
        return chunk

    def end_stream(self, ctx):
        self.calls = self.calls + 1
        note = f" [chunks={ctx.state['chunks']} self={self.calls}]"
        return [{"choices": [{"index": 0, "delta": {"content": note}, "finish_reason": None}]}]
'''


def test_state_lasts_for_the_whole_request(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, COUNTS)
    server = make_ccr(_config(fake, path, ["counter"]))
    fake.enqueue(raw_chunks([_chunk("a"), _chunk("b"), _chunk("c")], delay_s=0.02,
                            include_done=False))
    response = _post(server, stream=True)
    texts = [d["delta"].get("text", "") for n, d in sse_events(response.content)
             if n == "content_block_delta"]
    assert "".join(texts) == "abc [chunks=3 self=1]"


def test_state_and_instances_do_not_carry_over_to_the_next_request(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path, COUNTS)
    fake.enqueue(text("first"), text("second"))
    first, second = sdk.stream(), sdk.stream()
    first_note = first.content[0].text.removeprefix("first")  # type: ignore[union-attr]
    second_note = second.content[0].text.removeprefix("second")  # type: ignore[union-attr]
    assert first_note.endswith(" self=1]") and first_note.startswith(" [chunks=")
    assert second_note == first_note


# -- config errors --------------------------------------------------------------------------------


def test_syntax_error_in_a_transformer_file_is_a_config_error_naming_file_and_line(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, "class Bad:\n    name = 'bad'\n    def transform_request(self\n",
                  "bad_transformer.py")
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["bad"]))
    assert caught.value.key_path == "transformers[0].path"
    assert "bad_transformer.py:3: SyntaxError" in str(caught.value)


def test_options_refused_by_init_are_a_config_error_naming_file_and_line(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, (EXAMPLES / "transformers" / "redact_emails.py").read_text())
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["redact-emails"], options={"label": "E-Mail"}))
    assert "my_transformer.py:27: ValueError: \"label\" must be 1-20 lowercase letters" in str(
        caught.value)


def test_module_code_that_never_ends_is_a_config_error(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, "while True:\n    pass\n" + SHOUT)
    began = time.monotonic()
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["shout"], timeout_ms=100))
    assert "my_transformer.py:1: module code timed out after 100 ms" in str(caught.value)
    assert time.monotonic() - began < 2


def test_file_without_a_transformer_class_is_a_config_error(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, "def transform_request(request, ctx):\n    return request\n")
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["anything"]))
    assert "my_transformer.py: no transformer class" in str(caught.value)


def test_unknown_name_in_use_is_a_config_error_listing_the_user_transformers(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, SHOUT)
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["shuot"]))
    assert caught.value.key_path == "Providers[0].transformer.use[0]"
    assert "unknown transformer 'shuot'" in str(caught.value)
    assert "shout" in str(caught.value).split("available:")[1]


def test_user_transformer_names_belong_to_their_config_only(
    fake: FakeUpstream, tmp_path: Path
) -> None:
    path = _write(tmp_path, SHOUT)
    with_it = _build(_config(fake, path, ["shout"]))
    without = fake_config(fake)
    without["Providers"][0]["transformer"] = {"use": ["shout"]}
    with pytest.raises(ConfigError, match="unknown transformer 'shout'"):
        _build(without)
    assert lookup("shout") is None
    assert with_it.chains[("fake", "fake-model")].is_async


def test_unknown_on_error_value_is_a_config_error(fake: FakeUpstream, tmp_path: Path) -> None:
    path = _write(tmp_path, SHOUT)
    with pytest.raises(ConfigError) as caught:
        _build(_config(fake, path, ["shout"], on_error="ignore"))
    assert caught.value.key_path == "transformers[0].on_error"


# -- the example ---------------------------------------------------------------------------------


def test_example_config_loads_with_its_transformer_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    plugins = tmp_path / ".claude-code-router" / "plugins"
    plugins.mkdir(parents=True)
    shutil.copy(EXAMPLES / "transformers" / "redact_emails.py", plugins)
    raw = json.loads((EXAMPLES / "config-custom-transformer.json").read_text())
    engine = Engine.build(parse_config(raw, env={"DEEPSEEK_API_KEY": "sk-test"}))
    chain = engine.chains[("deepseek", "deepseek-chat")]
    assert [t.name for t in chain.transformers] == ["deepseek", "redact-emails", "tooluse"]


def test_example_hides_emails_from_the_upstream_and_restores_them_in_a_stream(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path,
                 (EXAMPLES / "transformers" / "redact_emails.py").read_text())
    fake.enqueue(raw_chunks([_chunk("Write to [em"), _chunk("ail-1] or [email-"),
                             _chunk("2]."), _chunk("", finish="stop")], delay_s=0.02))
    message = sdk.stream(messages=[{"role": "user", "content":
                                    "Mail ann@example.com and bob@corp.example.org"}])
    sent = last_chat(fake).raw.decode()
    assert "@" not in sent and "Mail [email-1] and [email-2]" in sent
    assert message.content[0].text == (  # type: ignore[union-attr]
        "Write to ann@example.com or bob@corp.example.org.")


def test_example_restores_emails_in_a_whole_response(
    make_ccr: MakeCcr, fake: FakeUpstream, tmp_path: Path
) -> None:
    sdk = _serve(make_ccr, fake, tmp_path,
                 (EXAMPLES / "transformers" / "redact_emails.py").read_text())
    fake.enqueue(text("Reply to [email-1]."))
    message = sdk.create(messages=[{"role": "user", "content": "From: ann@example.com"}])
    assert message.content[0].text == "Reply to ann@example.com."  # type: ignore[union-attr]


# -- the chain's async path ----------------------------------------------------------------------


class _Suffix(Transformer):
    """Appends its letter to streamed text; flushes one chunk holding its letter at the end."""

    name = "suffix"

    def transform_chunk(self, chunk: dict[str, Any], ctx: TransformContext) -> list[dict[str, Any]]:
        return [{"text": chunk["text"] + self.options["letter"]}]

    def end_stream(self, ctx: TransformContext) -> list[dict[str, Any]]:
        return [{"text": "end-" + self.options["letter"]}]


class _Batched(AsyncTransformer):
    """A :class:`_Suffix` behind the async interface, recording the batches it is given."""

    name = "batched"

    def __init__(self, letter: str) -> None:
        super().__init__({"letter": letter})
        self.inner = _Suffix({"letter": letter})
        self.batches: list[int] = []

    async def atransform_chunks(self, chunks: list[dict[str, Any]], ctx: TransformContext, *,
                                end: bool) -> list[dict[str, Any]]:
        self.batches.append(len(chunks))
        out = [o for c in chunks for o in self.inner.transform_chunk(c, ctx)]
        return out + (self.inner.end_stream(ctx) if end else [])


PROVIDER = Provider(name="p", api_base_url="http://127.0.0.1:1/v1/chat/completions",
                    models=("m",))


async def test_async_chain_gives_a_sandboxed_stage_each_read_in_one_batch() -> None:
    ctx = TransformContext(provider=PROVIDER, model="m", stream=True)
    batched = _Batched("b")
    chain = Chain((_Suffix({"letter": "x"}), batched, _Suffix({"letter": "y"})),
                  _Suffix({"letter": "e"}))
    plain = Chain(tuple(_Suffix({"letter": c}) for c in "xby"), _Suffix({"letter": "e"}))
    reads = [[{"text": "1"}, {"text": "2"}, {"text": "3"}], [{"text": "4"}]]
    got = [await chain.achunks(reads[0], ctx), await chain.achunks(reads[1], ctx, end=True)]
    want = [[o for c in reads[0] for o in plain.chunk(c, ctx)],
            [o for c in reads[1] for o in plain.chunk(c, ctx)] + plain.end(ctx)]
    assert got == want
    assert batched.batches == [3, 3]  # the second read: its chunk and two flushed ones
    assert chain.is_async and not plain.is_async


async def _upstream(items: list[bytes | None], fail: Exception | None = None
                    ) -> AsyncGenerator[bytes | None, None]:
    for item in items:
        await asyncio.sleep(0)
        yield item
    if fail is not None:
        raise fail


async def _consume_slowly(reads: AsyncGenerator[bytes | None, None]) -> list[bytes | None]:
    got = []
    async for item in reads:
        got.append(item)
        await asyncio.sleep(0.05)  # the sandbox at work
    return got


async def test_read_ahead_joins_what_arrived_while_the_chain_was_busy() -> None:
    chain = Chain((_Batched("b"),), _Suffix({"letter": "e"}))
    items: list[bytes | None] = [b"e1;", b"e2;", None, b"e3;", b"e4;", b"e5;", b""]
    got = await _consume_slowly(read_ahead(_upstream(items), chain))
    assert got == [b"e1;", b"e2;", None, b"e3;e4;e5;", b""]  # pings and the end stay apart


async def test_read_ahead_raises_an_upstream_failure_after_the_data_before_it() -> None:
    chain = Chain((_Batched("b"),), _Suffix({"letter": "e"}))
    got: list[bytes | None] = []
    with pytest.raises(httpx.ReadTimeout):
        async for item in read_ahead(_upstream([b"e1;", b"e2;"], httpx.ReadTimeout("x")), chain):
            got.append(item)
    assert b"".join(i for i in got if i) == b"e1;e2;"


def test_read_ahead_leaves_the_reads_of_a_synchronous_chain_alone() -> None:
    reads = _upstream([b"e1;"])
    assert read_ahead(reads, Chain((), _Suffix({"letter": "e"}))) is reads


def test_chains_of_built_ins_alone_stay_synchronous(fake: FakeUpstream) -> None:
    config = fake_config(fake)
    config["Providers"][0]["transformer"] = {"use": [["maxtoken", {"max_tokens": 10}]]}
    chains = build_chains(parse_config(config, env={}))
    assert not any(chain.is_async for chain in chains.values())


# -- the sandbox ---------------------------------------------------------------------------------


def _run_transformer_code(source: str) -> Any:
    """Module code run as the worker runs a transformer file (minus the process); ``out``."""
    namespace, _classes = transformer_globals(OutputCollector())
    exec(compile_script(source, "t.py"), namespace)
    return namespace.get("out")


def test_transformer_code_may_set_attributes_on_instances_of_its_own_classes() -> None:
    assert _run_transformer_code("class T:\n    pass\nt = T()\nt.seen = 1\nout = t.seen") == 1


@pytest.mark.parametrize("source", [
    "class T:\n    pass\nT.seen = 1",
    "class T:\n    pass\nsetattr(T(), 'seen', 1)",
    "f = lambda: 0\nf.seen = 1",
    "import re\nre.sub = None",
])
def test_transformer_code_may_not_set_attributes_on_anything_else(source: str) -> None:
    with pytest.raises(TypeError):
        _run_transformer_code(source)


# -- the sandbox pool ----------------------------------------------------------------------------


async def test_script_that_runs_out_of_memory_every_call_is_switched_off(
    tmp_path: Path
) -> None:
    path = tmp_path / "custom_router.py"
    path.write_text("def router(req, config):\n    hoard = 'a' * (10 ** 10)\n    return None\n")
    async with RouterScript(path, timeout_ms=500, disable_after=2, disable_for_s=60) as script:
        results = [await script.call({"body": {}}, {}) for _ in range(3)]
    assert [r.disabled for r in results] == [False, False, True]
    assert results[2].error is not None and "crashed or timed out" in results[2].error
    assert "MemoryError" in results[2].error
    assert results[2].elapsed_ms < 50


async def test_transformer_that_times_out_every_call_is_switched_off(tmp_path: Path) -> None:
    from ccr.sandbox.transformer import TransformerFile, TransformerScript, check_files

    file = TransformerFile(_write(tmp_path, LOOPS_WHEN_ASKED), LOOPS_WHEN_ASKED, "{}", 100, 256)
    [described] = check_files([file])
    assert not isinstance(described, str)
    looping = {"messages": [{"role": "user", "content": "loop"}]}
    context = {"provider": "p", "model": "m", "stream": False}
    async with TransformerScript(file, described, workers=1, disable_after=2) as script:
        results = [await script.run("request", looping, ctx=context, state={}, options="{}")
                   for _ in range(3)]
    assert [(r.timed_out, r.disabled) for r in results] == [(True, False), (True, False),
                                                           (False, True)]


def _chunk(content: str, finish: str | None = None) -> dict[str, Any]:
    delta = {"content": content} if content else {}
    return {"id": "chatcmpl-t", "object": "chat.completion.chunk", "model": "fake-model",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

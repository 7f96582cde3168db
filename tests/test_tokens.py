"""Token counting: the shipped cl100k_base encoding and what an Anthropic request counts."""

from __future__ import annotations

import asyncio
import base64
import copy
import json
import os
import socket
import struct
import threading
from pathlib import Path
from typing import Any

import pytest
import tiktoken

from ccr.context import tokens
from ccr.context.tokens import (
    DEFAULT_IMAGE_TOKENS,
    TokenCounter,
    TokenizerDataError,
    cl100k_encoding,
    count_text,
    estimate_image_tokens,
)
from tests.support.recorded import facts, recorded

ENCODING_PATH = Path(tokens.__file__).parent / "data" / tokens.ENCODING_FILE


class SpyEncoding:
    """Wraps the real encoding and records every text it is asked to encode."""

    def __init__(self) -> None:
        self.encoded: list[str] = []

    def encode_ordinary(self, text: str) -> list[int]:
        self.encoded.append(text)
        return cl100k_encoding().encode_ordinary(text)


def spy_counter() -> tuple[TokenCounter, SpyEncoding]:
    spy = SpyEncoding()
    return TokenCounter(encoding=lambda: spy), spy  # type: ignore[arg-type, return-value]


def user(content: Any) -> dict[str, Any]:
    return {"role": "user", "content": content}


def request(*messages: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"model": "m", "max_tokens": 10, "messages": list(messages), **extra}


# -- the encoding ---------------------------------------------------------------------------


def test_hello_world_encodes_to_cl100k_ids() -> None:
    assert cl100k_encoding().encode_ordinary("hello world") == [15339, 1917]
    assert count_text("hello world") == 2


def test_shipped_encoding_matches_tiktokens_own_cl100k_definition(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tiktoken_ext import openai_public

    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", "")  # read the file directly, write no cache
    real_loader = openai_public.load_tiktoken_bpe

    def load_local(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
        return real_loader(str(ENCODING_PATH), expected_hash=expected_hash)

    monkeypatch.setattr(openai_public, "load_tiktoken_bpe", load_local)
    reference = tiktoken.Encoding(**openai_public.cl100k_base())
    samples = [
        "hello world",
        "tiktoken is great!",
        "def f(x):\n    return x ** 2  # ünïcödé — 日本語\n\n\n",
        "I'm   you'll\t\tWE'VE 12345678 <|endoftext|> <|fim_prefix|>",
    ]
    ours = cl100k_encoding()
    assert [ours.encode_ordinary(s) for s in samples] == [
        reference.encode_ordinary(s) for s in samples
    ]
    assert ours.special_tokens_set == reference.special_tokens_set


def test_encoding_loads_without_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_network(*_args: Any, **_kwargs: Any) -> Any:
        raise AssertionError("the tokeniser tried to use the network")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    cl100k_encoding.cache_clear()
    try:
        assert count_text("hello world") == 2
    finally:
        cl100k_encoding.cache_clear()


def test_encoding_is_built_once_per_process() -> None:
    assert cl100k_encoding() is cl100k_encoding()


def test_corrupt_encoding_file_is_a_clear_error() -> None:
    with pytest.raises(TokenizerDataError, match=r"corrupt: sha256 is .*reinstall"):
        tokens._encoding_from_bytes(b"aGVsbG8= 0\n", source="broken.tiktoken")


def test_special_token_markers_count_as_plain_text() -> None:
    text = "before <|endoftext|> after"
    assert count_text(text) == len(cl100k_encoding().encode(text, disallowed_special=()))
    assert TokenCounter().count_request(request(user(text))) == count_text(text)


def test_lone_surrogates_are_counted_without_error() -> None:
    assert TokenCounter().count_text("broken \ud800 pair") > 0


# -- what a request counts ------------------------------------------------------------------


def test_string_and_text_block_content_count_the_same() -> None:
    counter = TokenCounter()
    as_string = counter.count_request(request(user("Say hello to the world")))
    as_blocks = counter.count_request(
        request(user([{"type": "text", "text": "Say hello to the world"}]))
    )
    assert as_string == as_blocks == count_text("Say hello to the world")


def test_system_string_and_blocks_count_the_same() -> None:
    counter = TokenCounter()
    blocks = [
        {"type": "text", "text": "You are terse."},
        {"type": "text", "text": "Answer in French.", "cache_control": {"type": "ephemeral"}},
    ]
    assert counter.count_request(request(system=blocks)) == (
        count_text("You are terse.") + count_text("Answer in French.")
    )
    assert counter.count_request(request(system="You are terse.")) == count_text("You are terse.")


def test_every_message_counts_including_mid_conversation_system_messages() -> None:
    body = request(
        user("first question"),
        {"role": "assistant", "content": "an answer"},
        {"role": "system", "content": "a reminder"},
    )
    expected = sum(count_text(t) for t in ("first question", "an answer", "a reminder"))
    assert TokenCounter().count_request(body) == expected


def test_tool_use_adds_its_name_and_json_input() -> None:
    counter = TokenCounter()
    base = counter.count_request(request(user("list files")))
    tool_input = {"command": "ls -la", "description": "Liste les fichiers — tous"}
    with_tool = counter.count_request(
        request(
            user("list files"),
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "toolu_1", "name": "Bash",
                             "input": tool_input}],
            },
        )
    )
    assert with_tool - base == count_text("Bash") + count_text(
        json.dumps(tool_input, ensure_ascii=False)
    )


def test_tool_result_counts_string_and_nested_block_content() -> None:
    counter = TokenCounter()
    as_string = counter.count_request(
        request(user([{"type": "tool_result", "tool_use_id": "t", "content": "total 0\nfile"}]))
    )
    nested = counter.count_request(
        request(
            user(
                [
                    {
                        "type": "tool_result",
                        "tool_use_id": "t",
                        "content": [
                            {"type": "text", "text": "total 0\nfile"},
                            {"type": "text", "text": "second part"},
                        ],
                    }
                ]
            )
        )
    )
    assert as_string == count_text("total 0\nfile")
    assert nested == as_string + count_text("second part")


def test_image_inside_a_tool_result_counts_by_estimate() -> None:
    image = {"type": "image", "source": {"type": "url", "url": "https://example.com/a.png"}}
    body = request(
        user([{"type": "tool_result", "tool_use_id": "t", "content": [image]}])
    )
    assert TokenCounter().count_request(body) == DEFAULT_IMAGE_TOKENS


def test_thinking_counts_its_text_but_not_the_signature() -> None:
    counter = TokenCounter()
    base = counter.count_request(request({"role": "assistant", "content": "done"}))
    with_thinking = counter.count_request(
        request(
            {
                "role": "assistant",
                "content": [
                    {"type": "thinking", "thinking": "Let me think step by step.",
                     "signature": "EqQBCkYIBxgCKkB" * 20},
                    {"type": "text", "text": "done"},
                ],
            }
        )
    )
    assert with_thinking - base == count_text("Let me think step by step.")


def test_redacted_thinking_counts_its_data() -> None:
    block = {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va3pzix/LafPsn4a"}
    body = request({"role": "assistant", "content": [block]})
    assert TokenCounter().count_request(body) == count_text(block["data"])


def test_text_document_counts_title_context_and_data() -> None:
    block = {
        "type": "document",
        "title": "Notes",
        "context": "from the wiki",
        "source": {"type": "text", "media_type": "text/plain", "data": "The sky is blue."},
    }
    expected = sum(count_text(t) for t in ("Notes", "from the wiki", "The sky is blue."))
    assert TokenCounter().count_request(request(user([block]))) == expected


def test_tool_definition_adds_name_description_and_schema_json() -> None:
    counter = TokenCounter()
    schema = {"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}
    tool = {"name": "Read", "description": "Read a file from disk.", "input_schema": schema}
    base = counter.count_request(request(user("hi")))
    with_tool = counter.count_request(request(user("hi"), tools=[tool]))
    assert with_tool - base == (
        count_text("Read") + count_text("Read a file from disk.") + count_text(json.dumps(schema))
    )


def test_server_tool_counts_its_json() -> None:
    tool = {"type": "web_search_20250305", "name": "web_search", "max_uses": 5}
    body = request(tools=[tool])
    assert TokenCounter().count_request(body) == count_text(json.dumps(tool))


def test_junk_request_shapes_count_zero_without_error() -> None:
    counter = TokenCounter()
    assert counter.count_request({"messages": "nope", "tools": 5, "system": 7}) == 0
    assert counter.count_request({"messages": [None, 3, {"content": {"x": 1}}]}) == 0
    assert counter.count_request([]) == 0  # type: ignore[arg-type]


# -- images ---------------------------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def png(width: int, height: int) -> str:
    ihdr = struct.pack(">II", width, height) + bytes([8, 6, 0, 0, 0])
    return b64(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr + b"\0" * 40)


def gif(width: int, height: int) -> str:
    return b64(b"GIF89a" + struct.pack("<HH", width, height) + b"\0" * 40)


def jpeg(width: int, height: int) -> str:
    app0 = b"\xff\xe0" + struct.pack(">H", 16) + b"JFIF\0" + b"\0" * 9
    exif = b"\xff\xe1" + struct.pack(">H", 3002) + b"E" * 3000  # a large segment to skip
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 11, 8, height, width, 3) + b"\0" * 3
    return b64(b"\xff\xd8" + app0 + exif + sof + b"\xff\xda" + b"\0" * 100)


def webp_lossy(width: int, height: int) -> str:
    frame = b"\0\0\0" + b"\x9d\x01\x2a" + struct.pack("<HH", width, height)
    return b64(b"RIFF" + b"\0" * 4 + b"WEBP" + b"VP8 " + b"\0" * 4 + frame + b"\0" * 20)


def webp_lossless(width: int, height: int) -> str:
    bits = (width - 1) | ((height - 1) << 14)
    body = b"\x2f" + bits.to_bytes(4, "little")
    return b64(b"RIFF" + b"\0" * 4 + b"WEBP" + b"VP8L" + b"\0" * 4 + body + b"\0" * 20)


def webp_extended(width: int, height: int) -> str:
    body = b"\0" * 4 + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    return b64(b"RIFF" + b"\0" * 4 + b"WEBP" + b"VP8X" + b"\0" * 4 + body + b"\0" * 20)


def base64_source(data: str, media_type: str = "image/png") -> dict[str, str]:
    return {"type": "base64", "media_type": media_type, "data": data}


@pytest.mark.parametrize("encode", [png, gif, jpeg, webp_lossy, webp_lossless, webp_extended])
def test_image_size_is_read_from_its_header(encode: Any) -> None:
    assert tokens.image_size(encode(300, 200)) == (300, 200)


def test_image_tokens_are_width_times_height_over_750() -> None:
    assert estimate_image_tokens(base64_source(png(750, 400))) == 400


def test_large_image_is_scaled_to_the_long_edge_limit_and_capped() -> None:
    # 3136x392 scales to 1568x196: 307328 px / 750 = 409.77 -> 410
    assert estimate_image_tokens(base64_source(png(3136, 392))) == 410
    assert estimate_image_tokens(base64_source(png(4000, 4000))) == DEFAULT_IMAGE_TOKENS


def test_image_without_readable_size_counts_the_default_estimate() -> None:
    assert estimate_image_tokens({"type": "url", "url": "https://x/y.png"}) == DEFAULT_IMAGE_TOKENS
    assert estimate_image_tokens(base64_source("not base64 at all!")) == DEFAULT_IMAGE_TOKENS
    assert estimate_image_tokens(base64_source(b64(b"BM" + b"\0" * 60))) == DEFAULT_IMAGE_TOKENS
    assert estimate_image_tokens(base64_source(png(0, 10))) == DEFAULT_IMAGE_TOKENS


def test_image_block_in_a_message_counts_by_its_estimate() -> None:
    image = {"type": "image", "source": base64_source(jpeg(600, 500), "image/jpeg")}
    body = request(user([image, {"type": "text", "text": "what is this?"}]))
    assert TokenCounter().count_request(body) == 600 * 500 // 750 + count_text("what is this?")


# -- the cache ------------------------------------------------------------------------------


def test_counting_the_same_request_twice_encodes_nothing_the_second_time() -> None:
    counter, spy = spy_counter()
    body = request(
        user("hello"),
        system=[{"type": "text", "text": "system prompt"}],
        tools=[{"name": "Bash", "description": "Run a command", "input_schema": {}}],
    )
    first = counter.count_request(body)
    encoded_first = len(spy.encoded)
    second = counter.count_request(json.loads(json.dumps(body)))  # equal content, new objects
    assert second == first
    assert encoded_first > 0
    assert len(spy.encoded) == encoded_first


def test_next_turn_encodes_only_the_new_text() -> None:
    counter, spy = spy_counter()
    system = [{"type": "text", "text": "long shared system prompt"}]
    tools = [{"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}]
    counter.count_request(request(user("first turn"), system=system, tools=tools))
    spy.encoded.clear()
    counter.count_request(
        request(
            user("first turn"),
            {"role": "assistant", "content": "reply"},
            user("second turn"),
            system=system,
            tools=tools,
        )
    )
    assert sorted(spy.encoded) == ["reply", "second turn"]


def test_adding_a_tool_encodes_only_that_tool() -> None:
    counter, spy = spy_counter()
    bash = {"name": "Bash", "description": "Run a command", "input_schema": {"type": "object"}}
    read = {"name": "Read", "description": "Read a file", "input_schema": {"type": "string"}}
    counter.count_tools([bash])
    spy.encoded.clear()
    counter.count_tools([bash, read])
    assert sorted(spy.encoded) == sorted(["Read", "Read a file", '{"type": "string"}'])


def test_least_recently_used_counts_are_evicted_at_cache_size() -> None:
    spy = SpyEncoding()
    counter = TokenCounter(cache_size=2, encoding=lambda: spy)  # type: ignore[arg-type, return-value]
    for text in ("one", "two", "three", "one"):
        counter.count_text(text)
    assert spy.encoded == ["one", "two", "three", "one"]


# -- real Claude Code traffic ---------------------------------------------------------------


def test_real_claude_code_request_counts_in_the_expected_range() -> None:
    body = recorded("01-plain")["body"]
    count = TokenCounter().count_request(body)
    low, high = facts("01-plain")["token_range"]
    assert low <= count <= high


# -- counting off the event loop ------------------------------------------------------------


class ThreadSpy(SpyEncoding):
    """Also records which thread each text was encoded on."""

    def __init__(self) -> None:
        super().__init__()
        self.threads: set[str] = set()

    def encode_ordinary(self, text: str) -> list[int]:
        self.threads.add(threading.current_thread().name)
        return super().encode_ordinary(text)


def big_request(chars: int) -> dict[str, Any]:
    words = [f"word{i}" for i in range(chars // 7)]
    return request(user(" ".join(words)), user([{"type": "text", "text": "short"}]))


def test_async_count_equals_the_synchronous_count() -> None:
    body = big_request(40_000)
    expected = TokenCounter().count_request(body)
    assert asyncio.run(TokenCounter().acount_request(body)) == expected


def test_a_large_cold_count_is_encoded_in_a_worker_thread() -> None:
    spy = ThreadSpy()
    counter = TokenCounter(encoding=lambda: spy)  # type: ignore[arg-type, return-value]
    asyncio.run(counter.acount_request(big_request(tokens.INLINE_CHARS * 2)))
    assert spy.threads and threading.main_thread().name not in spy.threads


def test_a_small_cold_count_is_encoded_inline() -> None:
    spy = ThreadSpy()
    counter = TokenCounter(encoding=lambda: spy)  # type: ignore[arg-type, return-value]
    asyncio.run(counter.acount_request(request(user("a short question"))))
    assert spy.threads == {threading.main_thread().name}


def test_other_tasks_run_while_a_large_count_is_encoded() -> None:
    async def main() -> int:
        ticks = 0
        counting = asyncio.ensure_future(TokenCounter().acount_request(big_request(400_000)))
        while not counting.done():
            ticks += 1
            await asyncio.sleep(0)
        await counting
        return ticks

    assert asyncio.run(main()) > 1


def test_the_routing_count_after_an_async_count_reuses_it_without_encoding() -> None:
    spy = SpyEncoding()
    counter = TokenCounter(cache_size=1, encoding=lambda: spy)  # type: ignore[arg-type, return-value]
    body = big_request(1_000)
    count = asyncio.run(counter.acount_request(body))
    spy.encoded.clear()
    assert counter.count_request(body) == count
    assert spy.encoded == []


def test_a_warm_count_serialises_nothing_with_the_stdlib(monkeypatch) -> None:
    body = request(
        user("hi"),
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}]},
        tools=[{"name": "Bash", "description": "Run", "input_schema": {"type": "object"}}],
    )
    counter = TokenCounter()
    expected = counter.count_request(body)

    def refuse(*args: Any, **kwargs: Any) -> str:
        raise AssertionError("json.dumps on the warm path")

    monkeypatch.setattr(tokens.json, "dumps", refuse)
    assert counter.count_request(copy.deepcopy(body)) == expected


def test_a_text_repeated_within_one_request_is_encoded_once_and_counted_each_time() -> None:
    counter, spy = spy_counter()
    once = counter.count_request(request(user("the same sentence here")))
    twice = counter.count_request(request(user("a different one")) | {
        "messages": [user("the same sentence here"), user("the same sentence here")]})
    assert twice == 2 * once
    assert spy.encoded == ["the same sentence here"]


def test_concurrent_large_counts_share_one_lower_priority_thread() -> None:
    niceness: set[int] = set()

    class NiceSpy(ThreadSpy):
        def encode_ordinary(self, text: str) -> list[int]:
            niceness.add(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
            return super().encode_ordinary(text)

    spy = NiceSpy()
    counter = TokenCounter(encoding=lambda: spy)  # type: ignore[arg-type, return-value]

    async def main() -> None:
        await asyncio.gather(*(counter.acount_request(big_request(tokens.INLINE_CHARS + 1000 * i))
                               for i in range(1, 5)))

    asyncio.run(main())
    assert len(spy.threads) == 1
    assert niceness == {os.getpriority(os.PRIO_PROCESS, 0) + tokens.ENCODER_NICE}


def test_the_encoding_keeps_no_python_copy_of_its_vocabulary() -> None:
    """100K Python objects would cost ~15 MiB per process and slow every full collection."""
    encoding = cl100k_encoding()
    assert len(getattr(encoding, "_mergeable_ranks", {})) == 0
    assert encoding.encode_ordinary("hello world") == [15339, 1917]

"""Properties of the conversions, checked on generated inputs.

Stream: for any sequence of unified (OpenAI) chunks, however the upstream mixes reasoning, text
and tool call fragments, StreamConverter emits an Anthropic stream Claude Code accepts, and that
stream carries exactly what the upstream said: the text, the reasoning, every tool call's
argument bytes, the finish reason and the usage. The same holds after the server's SSE decoding
with reads split anywhere. Request: anthropic_to_openai gives OpenAI message lists servers accept,
never changes its input and keeps every tool call's name, id and input.
"""

from __future__ import annotations

import asyncio
import copy
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ccr.config.model import Provider
from ccr.convert.common import is_generated_signature
from ccr.convert.request import BILLING_PREFIX, anthropic_to_openai
from ccr.convert.stream import StreamConverter
from ccr.engine.converted import ConvertedExchange
from ccr.engine.roundtrip import Outcome
from ccr.protocol.sse import SSEDecoder
from ccr.routing.context import Route
from ccr.transformers.base import TransformContext
from ccr.transformers.chain import build_chain
from tests.support.anthropic_stream_check import check_stream

pytestmark = pytest.mark.slow  # property tests: many examples each

Event = tuple[str, dict[str, Any]]

#: Deterministic (no example database, no random seed): the same examples on every run.
PROPERTY = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SMALL = settings(PROPERTY, max_examples=100)

INPUT_ESTIMATE = 77
MODEL = "claude-test"
FINISH_REASONS = ["stop", "length", "tool_calls", "function_call", "content_filter", "eos",
                  "abort"]
#: The documented mapping when the turn made no tool call (unknown reasons end the turn).
STOP_WITHOUT_TOOLS = {None: "end_turn", "stop": "end_turn", "eos": "end_turn",
                      "length": "max_tokens", "tool_calls": "end_turn",
                      "function_call": "end_turn", "content_filter": "refusal",
                      "abort": "end_turn"}
TOOL_NAMES = ["Bash", "Read", "Edit", "TodoWrite", "mcp__files__read_file"]

# --- what an upstream says ---------------------------------------------------------------------

WHITESPACE = st.text(alphabet=" \n\t\u3000", min_size=1, max_size=3)
WORDS = st.text(st.characters(codec="utf-8"), min_size=1, max_size=6)
SAMPLES = st.sampled_from(["é", "世界", "🎉", "👩‍👩‍👧", "\u2028", '"q"', "\\", "ok", " a ", "\r\n"])
PIECE_TEXT = st.one_of(st.just(""), WHITESPACE, WORDS, SAMPLES)

JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**9, 10**9),
                         st.floats(allow_nan=False, allow_infinity=False), PIECE_TEXT)
JSON_VALUES = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(PIECE_TEXT, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def argument_texts(draw: st.DrawFn) -> str:
    """A call's whole ``arguments``: a JSON object as some server would print it, or ""."""
    if draw(st.integers(0, 9)) == 0:
        return ""
    value = draw(st.dictionaries(PIECE_TEXT, JSON_VALUES, max_size=4))
    style = draw(st.sampled_from(["compact", "spaced", "indented"]))
    text = json.dumps(
        value,
        ensure_ascii=draw(st.booleans()),
        indent=2 if style == "indented" else None,
        separators=(",", ":") if style == "compact" else None,
    )
    return draw(st.sampled_from(["", " ", "\n"])) + text + draw(st.sampled_from(["", "\n"]))


@st.composite
def splits(draw: st.DrawFn, text: str) -> list[str]:
    """``text`` cut anywhere into 1-5 fragments, empty ones included."""
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    return [text[a:b] for a, b in zip([0, *cuts], [*cuts, len(text)], strict=True)]


@dataclass
class Call:
    """One upstream tool call as planned: what the client must receive for it."""

    name: str
    id: str | None
    arguments: str
    fragments: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Piece:
    """One thing a delta says. ``rank`` orders pieces inside one chunk as the converter reads
    them (reasoning and signature, then text, then tool calls)."""

    kind: str  # "reasoning", "signature", "content", "tool", "role", "noise"
    value: Any = None
    key: str = ""  # where reasoning is carried

    @property
    def rank(self) -> int:
        return {"reasoning": 0, "signature": 0, "content": 1, "tool": 2}.get(self.kind, 3)


@dataclass
class Upstream:
    chunks: list[dict[str, Any] | None]
    pieces: list[Piece]
    calls: list[Call]  # in order of first appearance
    finish_reason: str | None  # the last one sent
    usage: dict[str, Any] | None  # the last one sent

    @property
    def reasoning(self) -> str:
        return "".join(p.value for p in self.pieces if p.kind == "reasoning")

    @property
    def text(self) -> str:
        return "".join(p.value for p in self.pieces if p.kind == "content")

    @property
    def text_ends_the_turn(self) -> bool:
        """True when nothing but whitespace text and inert chunks follows the last real text,
        so the converter has no block boundary at which trailing whitespace could fall away."""
        tail: list[Piece] = []
        for piece in reversed(self.pieces):
            if piece.kind == "content" and piece.value.strip():
                break
            tail.append(piece)
        return not any(
            p.kind in ("signature", "tool") or (p.kind == "reasoning" and p.value) for p in tail
        )


@st.composite
def planned_calls(draw: st.DrawFn) -> tuple[list[Call], list[dict[str, Any]], bool]:
    """0-4 tool calls and their fragments in upstream order; True when in the legacy form.

    Identification follows what real upstreams do: a distinct ``index`` per call (id on the
    first fragment, on every fragment or nowhere), index 0 reused with a new id and name per
    call, ids on every fragment and no index, or neither after a call's first fragment (calls
    then come one after the other). Names come on the first fragment or a later one where the
    call stays identifiable.
    """
    mode = draw(st.sampled_from(["index", "index_reused", "id", "sequential", "legacy"]))
    count = draw(st.integers(0, 1 if mode == "legacy" else 4))
    base = draw(st.sampled_from([0, 1]))
    calls: list[Call] = []
    per_call: list[list[dict[str, Any]]] = []
    for k in range(count):
        arguments = draw(argument_texts())
        pieces = draw(splits(arguments))
        has_id = mode != "legacy" and (mode != "index" or draw(st.booleans()))
        call = Call(name=draw(st.sampled_from(TOOL_NAMES)),
                    id=f"call_{k}_{draw(st.integers(0, 999))}" if has_id else None,
                    arguments=arguments)
        repeat_id = mode == "id" or draw(st.booleans())
        late_name = mode in ("index", "id", "sequential")
        name_at = draw(st.integers(0, len(pieces) - 1)) if late_name else 0
        fragments = []
        for i, text in enumerate(pieces):
            fragment: dict[str, Any] = {}
            function: dict[str, Any] = {}
            if mode == "index":
                fragment["index"] = base + k
            elif mode == "index_reused":
                fragment["index"] = 0
            if call.id is not None and (i == 0 or repeat_id):
                fragment["id"] = call.id
                fragment["type"] = "function"
            if i == name_at:
                function["name"] = call.name
            elif draw(st.integers(0, 5)) == 0:
                function["name"] = None
            if text or draw(st.booleans()):
                function["arguments"] = text
            fragment["function"] = function
            fragments.append(fragment)
        call.fragments = fragments
        calls.append(call)
        per_call.append(list(fragments))

    order: list[dict[str, Any]] = []
    if mode in ("index", "id"):  # these identify every fragment: any interleaving is possible
        while any(per_call):
            k = draw(st.sampled_from([k for k, f in enumerate(per_call) if f]))
            order.append(per_call[k].pop(0))
    else:
        order = [fragment for fragments in per_call for fragment in fragments]
    firsts = [next(i for i, f in enumerate(order) if f is call.fragments[0]) for call in calls]
    calls = [call for _, call in sorted(zip(firsts, calls, strict=True), key=lambda x: x[0])]
    return calls, order, mode == "legacy"


def _usage(prompt: int, completion: int, cached: int | None) -> dict[str, Any]:
    usage: dict[str, Any] = {"prompt_tokens": prompt, "completion_tokens": completion,
                             "total_tokens": prompt + completion}
    if cached is not None:
        usage["prompt_tokens_details"] = {"cached_tokens": min(cached, prompt)}
    return usage


USAGES = st.builds(_usage, st.integers(0, 200_000), st.integers(0, 40_000),
                   st.none() | st.integers(0, 200_000))


def _chunk(delta: dict[str, Any] | None, finish: str | None = None) -> dict[str, Any]:
    return {"id": "chatcmpl-x", "object": "chat.completion.chunk", "model": "up",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}


NOISE = [
    {"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": []},
    {"id": "chatcmpl-x", "choices": None, "usage": None},
    _chunk(None),
    _chunk({"content": None, "reasoning_content": None, "tool_calls": None, "role": None,
            "function_call": None, "reasoning": None, "thinking": None}),
    # Malformed: wrong types where objects are expected, read as absent.
    {"id": "chatcmpl-x", "choices": [None]},
    {"id": "chatcmpl-x", "choices": {"index": 0, "delta": {"content": "lost"}}},
    _chunk("not a delta"),  # type: ignore[arg-type]
    _chunk({"tool_calls": [None, "x", 3], "thinking": {"signature": None}}),
    {"id": "chatcmpl-x", "choices": [{"delta": {}, "finish_reason": ["stop"]}], "usage": 7},
]


def _choice(chunk: dict[str, Any] | None) -> dict[str, Any] | None:
    """The chunk's well-formed first choice, if it has one."""
    choices = chunk.get("choices") if chunk else None
    if isinstance(choices, list) and choices and isinstance(choices[0], dict):
        return choices[0]
    return None


OTHER_PIECES = st.one_of(
    st.builds(Piece, st.just("reasoning"), PIECE_TEXT,
              st.sampled_from(["reasoning_content", "reasoning", "thinking", "both"])),
    st.builds(Piece, st.just("content"), PIECE_TEXT),
    st.builds(Piece, st.just("content"), WORDS | SAMPLES),
    st.builds(Piece, st.just("content"), WHITESPACE),
    st.builds(Piece, st.just("signature"), st.sampled_from(["SIG-A", "SIG-B", "EqAbc=="])),
    st.builds(Piece, st.just("role")),
    st.builds(Piece, st.just("noise"), st.integers(0, len(NOISE) - 1)),
)


def _delta(group: list[Piece], legacy: bool) -> dict[str, Any]:
    delta: dict[str, Any] = {}
    for piece in group:
        if piece.kind == "reasoning":
            if piece.key == "both":
                delta["reasoning_content"] = delta["reasoning"] = piece.value
            elif piece.key == "thinking":
                delta.setdefault("thinking", {})["content"] = piece.value
            else:
                delta[piece.key] = piece.value
        elif piece.kind == "signature":
            delta.setdefault("thinking", {})["signature"] = piece.value
        elif piece.kind == "content":
            delta["content"] = piece.value
        elif piece.kind == "tool":
            if legacy:
                delta["function_call"] = piece.value["function"]
            else:
                delta.setdefault("tool_calls", []).append(piece.value)
        elif piece.kind == "role":
            delta["role"] = "assistant"
    return delta


def _fits(group: list[Piece], piece: Piece, legacy: bool) -> bool:
    """Whether ``piece`` can join the chunk being built without changing what is read first."""
    if piece.kind == "noise" or any(p.kind == "noise" for p in group):
        return False
    if piece.kind == "role":
        return not any(p.kind == "role" for p in group)
    ranked = [p for p in group if p.kind != "role"]
    if ranked and ranked[-1].rank > piece.rank:
        return False
    if piece.kind == "tool":
        return not legacy
    # Reasoning and a signature may share a delta in either order: the converter applies the
    # signature first, which ends up the same (both belong to the thinking block then open).
    return not any(p.kind == piece.kind for p in group)


@st.composite
def upstreams(draw: st.DrawFn) -> Upstream:
    """A whole upstream stream: the chunks, and what they say."""
    calls, fragments, legacy = draw(planned_calls())
    others = draw(st.lists(OTHER_PIECES, max_size=10))
    tools = [Piece("tool", fragment) for fragment in fragments]
    pieces: list[Piece] = []
    while others or tools:  # any interleaving of the two
        if others and (not tools or draw(st.booleans())):
            pieces.append(others.pop(0))
        else:
            pieces.append(tools.pop(0))

    groups: list[list[Piece]] = []
    for piece in pieces:
        if groups and _fits(groups[-1], piece, legacy) and draw(st.booleans()):
            groups[-1].append(piece)
        else:
            groups.append([piece])
    chunks: list[dict[str, Any] | None] = [
        copy.deepcopy(NOISE[group[0].value]) if group[0].kind == "noise"
        else _chunk(_delta(group, legacy))
        for group in groups
    ]

    finish_reason = None
    for _ in range(draw(st.integers(0, 2))):
        reason = draw(st.sampled_from(FINISH_REASONS))
        at = draw(st.integers(0, len(chunks)))
        choice = _choice(chunks[at]) if at < len(chunks) else None
        if choice is None:
            chunks.insert(at, _chunk(draw(st.sampled_from([{}, None])), reason))
        else:
            choice["finish_reason"] = reason
    for chunk in chunks:
        choice = _choice(chunk)
        if choice and isinstance(choice.get("finish_reason"), str):
            finish_reason = choice["finish_reason"]

    usage = None
    placement = draw(st.sampled_from(["none", "finish", "after", "every", "null"]))
    if placement == "finish" and chunks:
        usage = draw(USAGES)
        finishing = [c for c in chunks if (_choice(c) or {}).get("finish_reason") in FINISH_REASONS]
        (finishing[-1] if finishing else chunks[-1])["usage"] = usage  # type: ignore[index]
    elif placement == "after":
        usage = draw(USAGES)
        chunks.append({"id": "chatcmpl-x", "object": "chat.completion.chunk", "choices": [],
                       "usage": usage})
    elif placement == "every":
        for chunk in chunks:
            if chunk is not None:
                usage = chunk["usage"] = draw(USAGES)
    elif placement == "null":
        for chunk in chunks:
            if chunk is not None:
                chunk["usage"] = None
    if draw(st.booleans()):
        chunks.append(None)  # [DONE]
    return Upstream(chunks, pieces, calls, finish_reason, usage)


# --- running the converter ---------------------------------------------------------------------


def converter() -> StreamConverter:
    return StreamConverter(model=MODEL, input_tokens=INPUT_ESTIMATE, message_id="msg_1")


def convert(chunks: list[dict[str, Any] | None]) -> list[Event]:
    conv = converter()
    events = conv.start()
    for chunk in chunks:
        events += conv.feed(copy.deepcopy(chunk))
    return events + conv.finish()


def normalized(events: list[Event]) -> list[Event]:
    """Events with the values made up per run (ids, generated signatures) numbered instead."""
    out: list[Event] = []
    made_up: dict[str, str] = {}
    for name, data in json.loads(json.dumps(events)):
        if name == "message_start":
            data["message"]["id"] = "msg"
        elif name == "content_block_start" and data["content_block"]["type"] == "tool_use":
            block = data["content_block"]
            if block["id"].startswith("toolu_"):
                block["id"] = made_up.setdefault(block["id"], f"toolu_{len(made_up)}")
        elif name == "content_block_delta" and data["delta"]["type"] == "signature_delta":
            if is_generated_signature(data["delta"]["signature"]):
                data["delta"]["signature"] = "generated"
        out.append((name, data))
    return out


def block_texts(message: dict[str, Any], kind: str) -> str:
    key = "text" if kind == "text" else "thinking"
    return "".join(b[key] for b in message["content"] if b["type"] == kind)


def tool_json(events: list[Event]) -> list[tuple[str, str, str]]:
    """(id, name, concatenated partial_json) per tool_use block, in block order."""
    blocks: dict[int, list[Any]] = {}
    for name, data in events:
        if name == "content_block_start" and data["content_block"]["type"] == "tool_use":
            block = data["content_block"]
            blocks[data["index"]] = [block["id"], block["name"], ""]
        elif name == "content_block_delta" and data["delta"]["type"] == "input_json_delta":
            blocks[data["index"]][2] += data["delta"]["partial_json"]
    return [tuple(blocks[i]) for i in sorted(blocks)]  # type: ignore[misc]


def expected_usage(usage: dict[str, Any] | None) -> dict[str, int]:
    if usage is None:
        return {"input_tokens": INPUT_ESTIMATE, "output_tokens": 0}
    out = {"input_tokens": usage["prompt_tokens"], "output_tokens": usage["completion_tokens"]}
    details = usage.get("prompt_tokens_details")
    if details:
        out["input_tokens"] -= details["cached_tokens"]
        out["cache_read_input_tokens"] = details["cached_tokens"]
    return out


# --- stream properties -------------------------------------------------------------------------


@PROPERTY
@given(upstreams())
def test_any_upstream_stream_becomes_a_valid_anthropic_stream(upstream: Upstream):
    check_stream(convert(upstream.chunks))


@PROPERTY
@given(upstreams())
def test_text_is_every_content_delta_less_only_whitespace_nothing_could_carry(upstream: Upstream):
    sent = block_texts(check_stream(convert(upstream.chunks)), "text")
    said = upstream.text
    if upstream.text_ends_the_turn or not said.strip():
        # Leading whitespace waits for real text and goes with it; whitespace alone never does.
        assert sent == (said if said.strip() else "")
    else:
        # A block boundary after the last real text may leave trailing whitespace with no
        # block to go in: only that may be missing, and only whole deltas of it.
        assert said.startswith(sent)
        assert len(sent) >= len(said.rstrip())
        ends, total = {0}, 0
        for piece in upstream.pieces:
            if piece.kind == "content":
                total += len(piece.value)
                ends.add(total)
        assert len(sent) in ends


@PROPERTY
@given(upstreams())
def test_thinking_is_every_reasoning_delta_in_order(upstream: Upstream):
    message = check_stream(convert(upstream.chunks))
    assert block_texts(message, "thinking") == upstream.reasoning


@PROPERTY
@given(upstreams())
def test_signatures_are_the_upstreams_or_generated(upstream: Upstream):
    message = check_stream(convert(upstream.chunks))
    said = {p.value for p in upstream.pieces if p.kind == "signature"}
    for block in message["content"]:
        if block["type"] == "thinking":
            assert block["signature"] in said or is_generated_signature(block["signature"])


@PROPERTY
@given(upstreams())
def test_every_tool_call_arrives_once_in_order_with_its_argument_bytes(upstream: Upstream):
    events = convert(upstream.chunks)
    message = check_stream(events)
    sent = tool_json(events)
    assert [name for _, name, _ in sent] == [call.name for call in upstream.calls]
    for (block_id, _, raw), call, block in zip(
        sent, upstream.calls, [b for b in message["content"] if b["type"] == "tool_use"],
        strict=True,
    ):
        if call.id is not None:
            assert block_id == call.id
        else:
            assert block_id.startswith("toolu_")
        if raw != call.arguments:
            # Documented exception: whitespace after the complete object, arriving once the
            # block has been closed, has nowhere to go (and changes nothing).
            assert call.arguments.startswith(raw)
            assert not call.arguments[len(raw):].strip()
            assert raw.strip()
        assert block["input"] == (json.loads(call.arguments) if call.arguments.strip() else {})
    ids = [block_id for block_id, _, _ in sent]
    assert len(set(ids)) == len(ids)


@PROPERTY
@given(upstreams())
def test_stop_reason_is_tool_use_exactly_when_tools_were_called(upstream: Upstream):
    message = check_stream(convert(upstream.chunks))
    if upstream.calls:
        assert message["stop_reason"] == "tool_use"
    else:
        assert message["stop_reason"] == STOP_WITHOUT_TOOLS[upstream.finish_reason]


@PROPERTY
@given(upstreams())
def test_message_delta_usage_is_the_last_upstream_usage(upstream: Upstream):
    events = convert(upstream.chunks)
    [usage] = [data["usage"] for name, data in events if name == "message_delta"]
    assert usage == expected_usage(upstream.usage)


@SMALL
@given(upstreams(), st.data())
def test_a_failure_ends_a_valid_prefix_with_one_error_event(upstream: Upstream,
                                                           data: st.DataObject):
    cut = data.draw(st.integers(0, len(upstream.chunks)))
    conv = converter()
    events = conv.start()
    for chunk in upstream.chunks[:cut]:
        events += conv.feed(copy.deepcopy(chunk))
    events += conv.fail("overloaded_error", "upstream went away")
    assert conv.feed(upstream.chunks[-1] if upstream.chunks else None) == []
    assert conv.finish() == []

    assert events[-1] == ("error", {"type": "error", "error": {
        "type": "overloaded_error", "message": "upstream went away"}})
    prefix = normalized(events[:-1])
    complete = normalized(convert(upstream.chunks))
    assert prefix == complete[: len(prefix)]
    assert [name for name, _ in prefix].count("message_start") == 1
    assert not {"message_delta", "message_stop", "error"} & {name for name, _ in prefix}


# --- the same chunks through the server's SSE path ---------------------------------------------


class _Reads(httpx.AsyncByteStream):
    """An upstream body arriving in the given reads."""

    def __init__(self, reads: list[bytes]) -> None:
        self._reads = reads

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for read in self._reads:
            yield read


def _body(reads: list[bytes]) -> httpx.Response:
    return httpx.Response(200, stream=_Reads(reads))


def _sse_body(chunks: list[dict[str, Any] | None], newline: bytes, comments: bool) -> bytes:
    out = b": OPENROUTER PROCESSING" + newline + newline if comments else b""
    for chunk in chunks:
        if chunk is None:
            continue
        out += b"data: " + json.dumps(chunk, ensure_ascii=False).encode() + newline + newline
        if comments:
            out += b": keep-alive" + newline + newline
    return out + b"data: [DONE]" + newline + newline


def _served(reads: list[bytes]) -> list[Event]:
    """What ccr sends for an upstream body arriving in ``reads``, parsed back into events."""
    provider = Provider(name="up", api_base_url="http://127.0.0.1:9/v1/chat/completions",
                        models=(MODEL,))
    exchange = ConvertedExchange(
        route=Route(provider, MODEL, "default"),
        ctx=TransformContext(provider=provider, model=MODEL, stream=True, original={}),
        response=_body(reads),
        input_estimate=INPUT_ESTIMATE, outcome=Outcome(), idle_s=5.0, ping_interval_s=5.0,
        chain=build_chain(provider, MODEL, key_path="Providers[0]"),
    )

    async def collect() -> bytes:
        return b"".join([piece async for piece in exchange.events()])

    decoder = SSEDecoder()
    sent = decoder.feed(asyncio.run(collect())) + decoder.flush()
    return [(event.event or "", json.loads(event.data)) for event in sent]


@SMALL
@given(upstreams(), st.data())
def test_sse_reads_split_anywhere_give_the_same_events(upstream: Upstream, data: st.DataObject):
    body = _sse_body(upstream.chunks, data.draw(st.sampled_from([b"\n", b"\r\n", b"\r"])),
                     data.draw(st.booleans()))
    how = data.draw(st.sampled_from(["anywhere", "inside characters", "every byte"]))
    if how == "every byte":
        cuts = list(range(1, len(body)))
    elif how == "inside characters":  # between the bytes of multi-byte UTF-8 characters
        inside = [i for i in range(1, len(body)) if 0x80 <= body[i] < 0xC0]
        cuts = data.draw(st.lists(st.sampled_from(inside), max_size=8)) if inside else []
    else:
        cuts = data.draw(st.lists(st.integers(1, max(len(body) - 1, 1)), max_size=12))
    cuts = sorted(set(cuts))
    reads = [body[a:b] for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    assert normalized(_served(reads)) == normalized(convert(upstream.chunks))


# --- request conversion ------------------------------------------------------------------------

SHORT_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=8).filter(str.strip)
IMAGE = st.builds(
    lambda data: {"type": "image",
                  "source": {"type": "base64", "media_type": "image/png", "data": data}},
    st.sampled_from(["iVBORw0KGgo=", "R0lGOD=="]),
) | st.just({"type": "image", "source": {"type": "url", "url": "http://127.0.0.1/x.png"}})


OTHER_USER_BLOCKS = st.sampled_from([
    {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "doc"},
     "title": "notes"},
    {"type": "document", "source": {"type": "base64", "media_type": "application/pdf",
                                    "data": "JVBERi0="}},
    {"type": "search_result", "source": "s", "title": "t", "content": []},
])
TOOLS = st.one_of(
    st.builds(lambda name, props: {"name": name, "description": "d", "input_schema": {
        "type": "object", "properties": props, "required": sorted(props)}},
        st.sampled_from(TOOL_NAMES),
        st.dictionaries(st.sampled_from(["path", "command", "n"]),
                        st.just({"type": "string"}), max_size=2)),
    st.just({"type": "web_search_20250305", "name": "web_search", "max_uses": 5}),
)


def _text_block(text: str, cached: bool) -> dict[str, Any]:
    block: dict[str, Any] = {"type": "text", "text": text}
    if cached:
        block["cache_control"] = {"type": "ephemeral"}
    return block


TEXT_BLOCK = st.builds(_text_block, SHORT_TEXT, st.booleans())
SYSTEMS = st.one_of(
    st.none(),
    SHORT_TEXT,
    st.lists(TEXT_BLOCK, max_size=3).map(
        lambda blocks: [{"type": "text", "text": BILLING_PREFIX + " cc_version=2.1;"}, *blocks]),
)


@st.composite
def tool_result_blocks(draw: st.DrawFn, tool_id: str) -> dict[str, Any]:
    content = draw(st.one_of(
        st.none(), st.just(""), SHORT_TEXT,
        st.lists(TEXT_BLOCK | IMAGE, max_size=3),
    ))
    block: dict[str, Any] = {"type": "tool_result", "tool_use_id": tool_id}
    if content is not None:
        block["content"] = content
    if draw(st.booleans()):
        block["is_error"] = draw(st.booleans())
    return block


@st.composite
def anthropic_requests(draw: st.DrawFn) -> dict[str, Any]:
    """A conversation as Claude Code builds it: turns of text, images, thinking, tool calls and
    their results, sometimes a system message in the middle, sometimes results for calls that
    are not in the latest assistant turn."""
    messages: list[dict[str, Any]] = []
    open_calls: list[str] = []  # ids of the latest assistant turn's tool calls
    earlier_calls: list[str] = []
    counter = 0
    for _ in range(draw(st.integers(1, 6))):
        role = draw(st.sampled_from(["user", "assistant", "system"]))
        if role == "system":
            messages.append({"role": "system", "content": draw(SHORT_TEXT | st.lists(TEXT_BLOCK,
                                                                                       max_size=2))})
            continue
        if role == "assistant":
            if draw(st.booleans()):
                messages.append({"role": "assistant", "content": draw(SHORT_TEXT)})
                earlier_calls += open_calls
                open_calls = []
                continue
            blocks: list[dict[str, Any]] = []
            if draw(st.booleans()):
                blocks.append({"type": "thinking", "thinking": draw(SHORT_TEXT | st.just("")),
                               "signature": draw(st.sampled_from(["sig", ""]))})
            if draw(st.integers(0, 5)) == 0:
                blocks.append({"type": "redacted_thinking", "data": "opaque"})
            blocks += draw(st.lists(TEXT_BLOCK, max_size=2))
            earlier_calls += open_calls
            open_calls = []
            for _ in range(draw(st.integers(0, 3))):
                counter += 1
                open_calls.append(f"toolu_{counter:02d}")
                blocks.append({"type": "tool_use", "id": open_calls[-1],
                               "name": draw(st.sampled_from(TOOL_NAMES)),
                               "input": draw(st.dictionaries(PIECE_TEXT, JSON_VALUES,
                                                             max_size=3))})
            if not blocks:
                blocks.append({"type": "thinking", "thinking": "hmm", "signature": "sig"})
            messages.append({"role": "assistant", "content": blocks})
            continue
        if draw(st.booleans()) and not open_calls:
            messages.append({"role": "user", "content": draw(SHORT_TEXT)})
            continue
        content: list[dict[str, Any]] = []
        answered = draw(st.lists(st.sampled_from(open_calls), unique=True)) if open_calls else []
        stale = (draw(st.lists(st.sampled_from(earlier_calls), max_size=1, unique=True))
                 if earlier_calls else [])
        for tool_id in [*answered, *stale]:
            content.append(draw(tool_result_blocks(tool_id)))
        content += draw(st.lists(TEXT_BLOCK | IMAGE | OTHER_USER_BLOCKS, max_size=2,
                                 min_size=0 if content else 1))
        if draw(st.booleans()):
            content = draw(st.permutations(content))
        messages.append({"role": "user", "content": content})
        open_calls = [tool_id for tool_id in open_calls if tool_id not in answered]
    body: dict[str, Any] = {"model": "claude-sonnet-5", "max_tokens": 1000, "messages": messages,
                            "stream": True}
    system = draw(SYSTEMS)
    if system is not None:
        body["system"] = system
    if draw(st.booleans()):
        body["tools"] = draw(st.lists(TOOLS, max_size=4))
        body["tool_choice"] = draw(st.sampled_from([
            {"type": "auto"}, {"type": "any", "disable_parallel_tool_use": True},
            {"type": "tool", "name": "Bash"}, {"type": "none"}]))
    return body


def _tool_uses(message: dict[str, Any]) -> list[dict[str, Any]]:
    content = message.get("content")
    if not isinstance(content, list):
        return []
    return [b for b in content if b.get("type") == "tool_use"]


@PROPERTY
@given(anthropic_requests())
def test_request_conversion_never_changes_its_input(body: dict[str, Any]):
    before = copy.deepcopy(body)
    anthropic_to_openai(body, "m")
    assert body == before


@PROPERTY
@given(anthropic_requests())
def test_every_tool_message_follows_the_assistant_message_that_made_the_call(
    body: dict[str, Any],
):
    messages = anthropic_to_openai(body, "m")["messages"]
    for i, message in enumerate(messages):
        if message["role"] != "tool":
            continue
        j = i - 1
        while messages[j]["role"] == "tool":
            j -= 1
        assert messages[j]["role"] == "assistant"
        assert message["tool_call_id"] in {c["id"] for c in messages[j].get("tool_calls", ())}
    answered = [m["tool_call_id"] for m in messages if m["role"] == "tool"]
    assert len(answered) == len(set(answered))


@PROPERTY
@given(anthropic_requests())
def test_a_result_without_its_call_in_the_latest_turn_becomes_user_text(body: dict[str, Any]):
    messages = anthropic_to_openai(body, "m")["messages"]
    answered = {m["tool_call_id"] for m in messages if m["role"] == "tool"}
    user_text = json.dumps([m["content"] for m in messages if m["role"] == "user"])
    latest: set[str] = set()
    for message in body["messages"]:
        if message["role"] == "assistant":
            latest = {b["id"] for b in _tool_uses(message)}
        elif message["role"] == "user" and isinstance(message["content"], list):
            for block in message["content"]:
                if block.get("type") != "tool_result":
                    continue
                if block["tool_use_id"] in latest:
                    assert block["tool_use_id"] in answered
                else:
                    assert block["tool_use_id"] not in answered
                    assert f"Result of tool call {block['tool_use_id']}:" in user_text


@PROPERTY
@given(anthropic_requests())
def test_only_messages_with_tool_calls_have_empty_content(body: dict[str, Any]):
    for message in anthropic_to_openai(body, "m")["messages"]:
        if not message.get("tool_calls"):
            assert message["content"], message


@PROPERTY
@given(anthropic_requests())
def test_custom_tools_become_functions_with_their_names_and_schemas(body: dict[str, Any]):
    out = anthropic_to_openai(body, "m")
    custom = [tool for tool in body.get("tools", ()) if "input_schema" in tool]
    assert [(t["function"]["name"], t["function"]["parameters"]) for t in out.get("tools", ())] \
        == [(tool["name"], tool["input_schema"]) for tool in custom]


@PROPERTY
@given(anthropic_requests())
def test_tool_calls_keep_their_names_ids_and_inputs(body: dict[str, Any]):
    messages = anthropic_to_openai(body, "m")["messages"]
    said = [(b["id"], b["name"], b["input"])
            for m in body["messages"] if m["role"] == "assistant" for b in _tool_uses(m)]
    sent = [(c["id"], c["function"]["name"], json.loads(c["function"]["arguments"]))
            for m in messages if m["role"] == "assistant" for c in m.get("tool_calls", ())]
    assert sent == said

"""SSE decoding of upstream streams and encoding of ours."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from ccr.protocol.sse import RawEvent, SSEDecoder, SSEEvent, encode_event

STREAM = (
    b"event: message_start\n"
    b'data: {"type":"message_start"}\n'
    b"\n"
    b": keep-alive comment\n"
    b'data: {"text":"caf\xc3\xa9 \xf0\x9f\x8e\x89"}\n'
    b"\n"
    b"data: [DONE]\n"
    b"\n"
)
EXPECTED = [
    SSEEvent("message_start", '{"type":"message_start"}'),
    SSEEvent(None, '{"text":"café 🎉"}'),
    SSEEvent(None, "[DONE]"),
]


def decode_all(*reads: bytes) -> list[SSEEvent]:
    decoder = SSEDecoder()
    events: list[SSEEvent] = []
    for data in reads:
        events += decoder.feed(data)
    return events + decoder.flush()


def test_events_are_parsed_with_names_and_data():
    assert decode_all(STREAM) == EXPECTED


def test_every_split_point_gives_the_same_events():
    for cut in range(len(STREAM) + 1):
        assert decode_all(STREAM[:cut], STREAM[cut:]) == EXPECTED, cut


def test_byte_by_byte_reads_give_the_same_events():
    assert decode_all(*(STREAM[i:i + 1] for i in range(len(STREAM)))) == EXPECTED


def test_crlf_and_cr_line_endings_are_accepted():
    for ending in (b"\r\n", b"\r"):
        data = STREAM.replace(b"\n", ending)
        assert decode_all(data) == EXPECTED
        for cut in range(len(data) + 1):
            assert decode_all(data[:cut], data[cut:]) == EXPECTED, (ending, cut)


def test_multi_line_data_is_joined_with_newlines():
    assert decode_all(b"data: one\ndata: two\ndata:\n\n") == [SSEEvent(None, "one\ntwo\n")]


def test_event_name_does_not_leak_into_the_next_event():
    events = decode_all(b"event: ping\ndata: {}\n\ndata: x\n\n")
    assert [event.event for event in events] == ["ping", None]


def test_value_without_space_after_colon_and_id_field():
    assert decode_all(b"event:delta\nid: 7\ndata:{}\n\n") == [SSEEvent("delta", "{}", "7")]


def test_an_event_with_no_data_is_not_dispatched():
    assert decode_all(b"event: nothing\n\nretry: 10\n\n") == []


def test_flush_dispatches_a_last_event_without_the_blank_line():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: tail") == []
    assert decoder.flush() == [SSEEvent(None, "tail")]


def test_feed_returns_events_as_soon_as_they_complete():
    decoder = SSEDecoder()
    assert decoder.feed(b"data: a\n") == []
    assert decoder.feed(b"\ndata: b") == [SSEEvent(None, "a")]


def test_invalid_utf8_is_replaced_not_fatal():
    assert decode_all(b"data: \xff\n\n") == [SSEEvent(None, "\ufffd")]


def test_encode_event_writes_compact_unescaped_json():
    data = {"type": "content_block_delta", "delta": {"text": "é 世界\n"}}
    encoded = encode_event("content_block_delta", data)
    expected = 'event: content_block_delta\ndata: {"type":"content_block_delta",' \
        '"delta":{"text":"é 世界\\n"}}\n\n'
    assert encoded == expected.encode()


def test_encoded_events_decode_back_to_the_same_data():
    data = {"type": "x", "text": "line1\nline2\r\n\u2028 🎉"}
    [event] = decode_all(encode_event("x", data))
    assert (event.event, json.loads(event.data)) == ("x", data)


def test_encode_survives_a_lone_surrogate():
    assert encode_event("x", {"text": "\ud83d"}).startswith(b"event: x\n")


def decode_raw(*reads: bytes) -> list[RawEvent]:
    decoder = SSEDecoder()
    events: list[RawEvent] = []
    for data in reads:
        events += decoder.feed_raw(data)
    return events + decoder.flush_raw()


def test_raw_events_carry_the_data_bytes_undecoded():
    assert decode_raw(STREAM) == [
        RawEvent("message_start", b'{"type":"message_start"}'),
        RawEvent(None, '{"text":"café 🎉"}'.encode()),
        RawEvent(None, b"[DONE]"),
    ]


def test_a_character_split_across_reads_is_whole_in_the_raw_data():
    payload = 'data: {"t":"🎉"}\n\n'.encode()
    for cut in range(len(payload) + 1):
        assert decode_raw(payload[:cut], payload[cut:]) == [RawEvent(None, '{"t":"🎉"}'.encode())]


def test_many_events_in_one_read_come_out_in_order():
    read = b"".join(b"data: %d\n\n" % i for i in range(200))
    assert [event.data for event in decode_raw(read)] == [b"%d" % i for i in range(200)]


def test_an_event_spanning_reads_keeps_its_name_and_lines():
    reads = (b"event: e\ndata: one\n", b"data: two\n", b"\ndata: three\n\n")
    assert decode_raw(*reads) == [RawEvent("e", b"one\ntwo"), RawEvent(None, b"three")]


def decode_data(*reads: bytes) -> list[bytes]:
    decoder = SSEDecoder()
    payloads: list[bytes] = []
    for data in reads:
        payloads += decoder.feed_data(data)
    return payloads + decoder.flush_data()


def test_data_only_reads_give_each_events_data_bytes():
    assert decode_data(STREAM) == [b'{"type":"message_start"}', '{"text":"café 🎉"}'.encode(),
                                   b"[DONE]"]


def test_data_only_reads_of_one_line_events_split_anywhere_give_the_same_data():
    stream = b"".join(b'data: {"n":%d}\n\n' % i for i in range(20))
    expected = [b'{"n":%d}' % i for i in range(20)]
    for cut in range(len(stream) + 1):
        assert decode_data(stream[:cut], stream[cut:]) == expected, cut


@given(st.lists(st.sampled_from([
    b'data: {"a":1}\n\n', b"data: [DONE]\n\n", b"data:x\n\n", b"data: \n\n", b": ping\n\n",
    b"event: e\ndata: one\ndata: two\n\n", b"id: 7\ndata: i\n\n", b"data: crlf\r\n\r\n",
    b"data: cr\r\r", b"\n", b"retry: 5\n\n", b"data: last-without-blank-line",
]), max_size=12), st.lists(st.integers(min_value=0, max_value=400), max_size=6))
def test_data_only_reads_agree_with_the_full_decoder_on_any_stream_and_split(
        pieces: list[bytes], cuts: list[int]) -> None:
    stream = b"".join(pieces)
    points = sorted({min(c, len(stream)) for c in cuts})
    reads = [stream[a:b] for a, b in zip([0, *points], [*points, len(stream)], strict=True)]
    assert decode_data(*reads) == [event.data for event in decode_raw(*reads)]

"""Text pieces streamed through one transformer and the stream converter, checked as Anthropic
SSE: how the tests of content-rewriting transformers see what a client would."""

from __future__ import annotations

from typing import Any

from ccr.convert.stream import StreamConverter
from ccr.transformers.base import TransformContext, Transformer
from tests.support.anthropic_stream_check import check_stream


def stream_through(transformer: Transformer, ctx: TransformContext,
                   pieces: list[str]) -> dict[str, Any]:
    """``pieces`` as content deltas, then a ``stop`` finish; the checked Anthropic message."""
    converter = StreamConverter(model="m", input_tokens=1)
    events = converter.start()
    chunks = [{"choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]}
              for p in pieces]
    chunks.append({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    for chunk in chunks:
        for out in transformer.transform_chunk(chunk, ctx):
            events += converter.feed(out)
    for out in transformer.end_stream(ctx):
        events += converter.feed(out)
    events += converter.finish()
    return check_stream(events)

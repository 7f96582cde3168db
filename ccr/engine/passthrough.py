"""The passthrough round trip for Anthropic-compatible upstreams: nothing is converted.

The upstream's events are forwarded as they arrive (re-framed event by event, so a stream cut
mid-event never leaves half an event before our ``event: error``); usage is read on the way
for the log and the session.
"""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

import httpx

from ccr.engine.roundtrip import BaseExchange, Dropped
from ccr.errors import ApiError, error_body
from ccr.protocol.sse import SSEDecoder, SSEEvent, encode_event


@dataclass
class PassthroughExchange(BaseExchange):
    async def json(self) -> dict[str, Any]:
        raw = await self.read_body()
        try:
            message = json.loads(raw)
        except ValueError:
            raise self.fail(ApiError(
                f"provider {self.route.provider.name} sent a response that is not JSON", 502
            )) from None
        if not isinstance(message, dict):
            raise self.fail(ApiError(
                f"provider {self.route.provider.name} sent a response that is not an object", 502
            ))
        if message.get("type") == "error":
            error = message.get("error") or {}
            raise self.fail(ApiError(str(error.get("message") or "upstream error"), 502,
                                     error.get("type") or "api_error"))
        self.outcome.usage = dict(message.get("usage") or {})
        self.outcome.stop_reason = message.get("stop_reason")
        return message

    async def events(self) -> AsyncGenerator[bytes, None]:
        decoder = SSEDecoder()
        stopped = began = False
        try:
            async with aclosing(self.reads()) as reads:
                async for data in reads:
                    # At the end, an event without its blank line was cut off: not forwarded.
                    events = decoder.feed(data) if data else []
                    out = []
                    for event in events:
                        stopped = self._observe(event) or stopped
                        out.append(_frame(event))
                    if not began and any(e.event == "message_start" for e in events):
                        began = True
                        if not any(e.event == "content_block_start" for e in events):
                            yield b""  # the upstream began answering (see PrimedStream)
                    if out:
                        yield b"".join(out)
                    if stopped:
                        break
            if not stopped:
                raise Dropped()
        except (ApiError, Dropped, httpx.HTTPError, TimeoutError) as exc:
            error = self.stream_failure(exc)
            yield encode_event("error", error_body(error.error_type, error.message))

    def _observe(self, event: SSEEvent) -> bool:
        """Note usage and stop reason; True once the message (or an error) has ended."""
        name = event.event or ""
        if name == "message_stop":
            return True
        if name not in ("message_start", "message_delta", "error"):
            return False
        try:
            data = json.loads(event.data)
        except ValueError:
            return False
        if name == "error":
            error = data.get("error") or {}
            self.outcome.status = 502
            self.outcome.error = str(error.get("message") or "upstream stream error")
            return True
        if name == "message_start":
            usage = (data.get("message") or {}).get("usage") or {}
        else:
            usage = data.get("usage") or {}
            stop = (data.get("delta") or {}).get("stop_reason")
            if stop:
                self.outcome.stop_reason = stop
        self.outcome.usage.update({k: v for k, v in usage.items() if v is not None})
        return False


def _frame(event: SSEEvent) -> bytes:
    lines = [f"event: {event.event}"] if event.event else []
    lines += [f"data: {line}" for line in event.data.split("\n")]
    return ("\n".join(lines) + "\n\n").encode()

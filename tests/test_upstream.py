"""The upstream client: proxying, failure classification, error messages and key scrubbing."""

from __future__ import annotations

import asyncio
import gzip

import aiohttp
import httpx
import pytest

from ccr.engine.upstream import (
    Timeouts,
    Upstream,
    body_reads,
    classify,
    extract_message,
    scrub,
    upstream_error,
)
from ccr.protocol.http import HttpRequest
from tests.support.fake_upstream import FakeUpstream, text
from tests.support.fixtures import MakeCcr, fake_config
from tests.support.gateway_client import Sdk


def test_requests_go_through_proxy_url(make_ccr: MakeCcr, fake: FakeUpstream) -> None:
    config = fake_config(fake, PROXY_URL=fake.base_url)
    config["Providers"][0]["api_base_url"] = "http://provider.invalid:9/v1/chat/completions"
    message = Sdk.on(make_ccr(config)).create()
    assert message.content[0].text == "Hello from fake."
    # a proxy receives the absolute URL of the real target
    assert fake.chat_requests[0].path == "http://provider.invalid:9/v1/chat/completions"


def test_refused_connection_is_a_connect_failure() -> None:
    cause = aiohttp.ClientConnectorError(
        aiohttp.client_reqrep.ConnectionKey("h", 1, False, True, None, None, None),
        ConnectionRefusedError(111, "Connection refused"),
    )
    error = httpx.ConnectTimeout("mapped loosely by the transport")
    error.__cause__ = cause
    assert classify(error)[0] == "connect"


def test_server_disconnect_is_a_dropped_stream() -> None:
    error = httpx.ConnectTimeout("mapped loosely by the transport")
    error.__cause__ = aiohttp.ServerDisconnectedError()
    assert classify(error)[0] == "dropped"


def test_read_timeout_is_a_timeout() -> None:
    error = httpx.ReadTimeout("x")
    error.__cause__ = aiohttp.SocketTimeoutError("Timeout on reading data from socket")
    assert classify(error)[0] == "timeout"


def test_asyncio_wait_for_timeout_is_a_timeout_not_its_cancellation() -> None:
    async def slow() -> None:
        await asyncio.sleep(1)

    async def main() -> BaseException:
        try:
            await asyncio.wait_for(slow(), 0.01)
        except TimeoutError as exc:
            return exc
        raise AssertionError("no timeout")

    assert classify(asyncio.run(main()))[0] == "timeout"


def test_json_error_message_is_extracted() -> None:
    body = b'{"error": {"message": "Rate limit reached for model", "type": "rate_limit"}}'
    assert extract_message(body, "application/json") == "Rate limit reached for model"


def test_html_error_page_becomes_one_line() -> None:
    page = b"<html><head><title>502 Bad Gateway</title></head><body><h1>x</h1></body></html>"
    assert extract_message(page, "text/html") == "502 Bad Gateway"


def test_upstream_error_names_the_provider_and_keeps_the_status_meaning() -> None:
    error = upstream_error("deepseek", 429, b'{"error": {"message": "slow down"}}', "")
    assert (error.status, error.error_type) == (429, "rate_limit_error")
    assert error.message == "provider deepseek answered HTTP 429 (Too Many Requests): slow down"


@pytest.mark.parametrize("status", [502, 503, 504, 500])
def test_upstream_5xx_is_an_api_error(status: int) -> None:
    assert upstream_error("p", status, b"", "").error_type == "api_error"


def test_scrub_removes_the_provider_key_and_key_shaped_strings() -> None:
    headers = {"authorization": "Bearer my-provider-secret-1234"}
    text = "bad key my-provider-secret-1234; also sk-abcdefghij_klmnopqrstuv"
    assert scrub(text, headers) == "bad key ***; also ***"


def test_connections_opened_for_a_burst_of_streams_are_all_reused_by_the_next() -> None:
    """More concurrent streams than any fixed idle cap: the second burst opens no connection."""
    concurrent = 160

    async def burst(upstream: Upstream, url: str) -> None:
        async def one() -> None:
            body = {"model": "fake-model", "messages": [], "stream": True}
            response = await upstream.open(HttpRequest(url=url, headers={}, body=body),
                                           provider="fake")
            await response.aread()
            await response.aclose()

        await asyncio.gather(*(one() for _ in range(concurrent)))

    async def main(fake: FakeUpstream) -> tuple[int, int]:
        upstream = Upstream(Timeouts())
        try:
            await burst(upstream, fake.chat_url)
            first = fake.connections_accepted
            await burst(upstream, fake.chat_url)
            return first, fake.connections_accepted
        finally:
            await upstream.aclose()

    with FakeUpstream(record=False) as fake:
        fake.default = text("hi", first_byte_delay_s=0.05)  # all of a burst open at once
        first, total = asyncio.run(main(fake))
    assert first == concurrent
    assert total == first


async def _serve_once(answer: bytes) -> tuple[asyncio.Server, str]:
    """A loopback HTTP server that reads one request and writes ``answer`` (raw bytes)."""
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readuntil(b"\r\n\r\n")
        length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
        await reader.readexactly(length)
        writer.write(answer)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/v1/chat/completions"


def _read_through_upstream(answer: bytes) -> bytes:
    """The body of ``answer`` (a raw HTTP response) as the exchanges read it."""
    async def main() -> bytes:
        server, url = await _serve_once(answer)
        upstream = Upstream(Timeouts())
        try:
            response = await upstream.open(HttpRequest(url=url, headers={}, body={}),
                                           provider="fake")
            return b"".join([read async for read in body_reads(response)])
        finally:
            await upstream.aclose()
            server.close()

    return asyncio.run(main())


def _answer(body: bytes, *extra_headers: bytes) -> bytes:
    head = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\n" + b"".join(
        h + b"\r\n" for h in extra_headers)
    return head + b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body) + body


def test_a_gzip_encoded_stream_is_read_decoded() -> None:
    sse = b'data: {"a":1}\n\ndata: [DONE]\n\n'
    answer = _answer(gzip.compress(sse), b"content-encoding: gzip")
    assert _read_through_upstream(answer) == sse


def test_an_unencoded_stream_is_read_as_it_arrived() -> None:
    sse = b'data: {"a":1}\n\ndata: [DONE]\n\n'
    assert _read_through_upstream(_answer(sse)) == sse

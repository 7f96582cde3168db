"""The one pooled httpx client every upstream call goes through, and its failure messages.

Timeouts: ``connect`` to open a connection, ``first_byte`` until the response headers arrive,
``idle`` between two reads of a streamed body. Failures become :class:`ApiError` with the
status and message a client should see; the provider's key never appears in them.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from html import unescape
from http import HTTPStatus
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlsplit

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

from ccr.engine.failures import Failure, FailureKind, parse_retry_after
from ccr.errors import ApiError, error_type_for_status
from ccr.protocol import codec
from ccr.protocol.http import HttpRequest

if TYPE_CHECKING:
    from ccr.config.model import Config

DEFAULT_CONNECT_TIMEOUT_S = 10.0
#: Upstream connections one server process may hold open at once (beyond it, requests wait
#: for a free connection); all of them may stay idle in the pool between requests.
MAX_CONNECTIONS = 512
#: Upstream URLs remembered with their transport (a config names a handful).
_MAX_URLS = 1024


@dataclass(frozen=True)
class Timeouts:
    connect_s: float = DEFAULT_CONNECT_TIMEOUT_S
    first_byte_s: float = 600.0
    idle_s: float = 600.0
    #: Upstream silence after which the client gets a ``ping`` event to keep its connection.
    ping_s: float = 15.0

    @classmethod
    def of(cls, config: Config) -> Timeouts:
        """``API_TIMEOUT_MS`` bounds the wait for the first byte and between chunks;
        ``CONNECT_TIMEOUT_MS``, ``STREAM_IDLE_TIMEOUT_MS`` and ``PING_INTERVAL_MS`` refine it."""
        return cls(
            connect_s=config.connect_timeout_ms / 1000,
            first_byte_s=config.api_timeout_ms / 1000,
            idle_s=config.idle_timeout_ms / 1000,
            ping_s=config.ping_interval_ms / 1000,
        )


def _direct_mounts(no_proxy: Sequence[str],
                   limits: httpx.Limits) -> dict[str, httpx.AsyncBaseTransport] | None:
    """Transports without the proxy for the ``NO_PROXY`` hosts (and their subdomains)."""
    if not no_proxy:
        return None
    direct = AiohttpTransport(limits=limits, trust_env=False)
    mounts: dict[str, httpx.AsyncBaseTransport] = {}
    for host in no_proxy:
        name = host.lstrip(".")
        shown = f"[{name}]" if ":" in name else name
        mounts[f"all://{shown}"] = direct
        if ":" not in name:
            mounts[f"all://*.{name}"] = direct
    return mounts


class Upstream:
    """Owns the shared ``httpx.AsyncClient`` (create it inside the serving event loop).

    The client runs on aiohttp's transport (``httpx-aiohttp``): the same httpx API, with a C
    HTTP parser that halves the client's CPU per request, which is most of what ccr adds.
    """

    def __init__(self, timeouts: Timeouts, *, proxy_url: str | None = None,
                 no_proxy: Sequence[str] = ()) -> None:
        self.timeouts = timeouts
        # Every connection a burst of concurrent streams opened stays pooled for the next burst
        # (aiohttp keeps idle connections up to the total limit); none is reopened per request.
        limits = httpx.Limits(max_connections=MAX_CONNECTIONS,
                              max_keepalive_connections=MAX_CONNECTIONS)
        if proxy_url and "*" in no_proxy:
            proxy_url, no_proxy = None, ()
        self._client = httpx.AsyncClient(
            # The first byte is bounded by first_byte_s (in open) and the gaps in a body by
            # idle_s (the exchange's read loop); the transport's own read timeout only backs
            # them up, so it must not be the shorter of the two.
            timeout=httpx.Timeout(
                connect=timeouts.connect_s,
                read=max(timeouts.first_byte_s, timeouts.idle_s),
                write=60.0,
                pool=timeouts.connect_s,
            ),
            transport=AiohttpTransport(
                limits=limits,
                trust_env=False,
                proxy=httpx.Proxy(proxy_url) if proxy_url else None,
            ),
            trust_env=False,
            follow_redirects=False,
            mounts=_direct_mounts(no_proxy, limits) if proxy_url else None,
        )
        self._default_headers = dict(self._client.headers)
        self._extensions = {"timeout": self._client.timeout.as_dict()}
        #: Each upstream URL parsed once, with the transport (direct or proxy) that serves it.
        self._routes: dict[str, tuple[httpx.URL, httpx.AsyncBaseTransport]] = {}

    async def open(self, http: HttpRequest, *, provider: str) -> httpx.Response:
        """Send the request and return the response with its body unread (caller closes it).
        A non-2xx answer is read, closed and raised as an :class:`ApiError`."""
        try:
            async with asyncio.timeout(self.timeouts.first_byte_s):
                response = await self._send(http)
        except (TimeoutError, httpx.HTTPError) as exc:
            kind, detail = classify(exc)
            where = f"provider {provider} ({_host(http.url)})"
            if kind == "connect_timeout":
                raise UpstreamFailed(f"ccr timed out trying to connect to {where}", 504,
                                     failure=Failure("connect_timeout", message=detail)) from None
            if kind == "timeout":
                raise UpstreamFailed(f"ccr timed out waiting for an answer from {where}", 504,
                                     failure=Failure("timeout", message=detail)) from None
            failed: FailureKind = "connect" if kind == "connect" else "dropped"
            raise UpstreamFailed(f"ccr could not reach {where}: {detail}", 502,
                                 failure=Failure(failed, message=detail)) from None
        if response.status_code >= 400:
            try:
                body = await asyncio.wait_for(response.aread(), self.timeouts.idle_s)
            except (TimeoutError, httpx.HTTPError):
                body = b""
            finally:
                await response.aclose()
            error = upstream_error(provider, response.status_code, body,
                                   response.headers.get("content-type", ""))
            message = scrub(error.message, http.headers)
            failure = Failure("http", response.status_code, message,
                              parse_retry_after(response.headers))
            raise UpstreamFailed(message, error.status, error.error_type, failure=failure)
        return response

    async def _send(self, http: HttpRequest) -> httpx.Response:
        """The request straight to its transport (the client's proxy mounts chosen once per
        URL): no redirects, auth or cookies to handle, so the client's per-request machinery
        (URL and header merging, cookie extraction) is skipped."""
        known = self._routes.get(http.url)
        if known is None:
            url = httpx.URL(http.url)
            known = (url, self._client._transport_for_url(url))
            if len(self._routes) < _MAX_URLS:
                self._routes[http.url] = known
        url, transport = known
        headers = httpx.Headers(self._default_headers)
        headers.update(http.headers)
        request = httpx.Request("POST", url, headers=headers, content=codec.dumps(http.body),
                                extensions=self._extensions)
        return await transport.handle_async_request(request)

    async def aclose(self) -> None:
        await self._client.aclose()


def body_reads(response: httpx.Response) -> AsyncIterator[bytes]:
    """A streamed body's reads: straight from the transport when the body is not encoded
    (httpx's decoder and chunker would only pass each read through), else decoded by httpx."""
    encoding = response.headers.get("content-encoding")
    stream = response.stream
    if (not encoding or encoding == "identity") and isinstance(stream, httpx.AsyncByteStream):
        return stream.__aiter__()
    return response.aiter_bytes().__aiter__()


class UpstreamFailed(ApiError):
    """A call that failed before any answer: the error a client would see, and the
    :class:`Failure` the attempt loop decides on (kind, status, ``retry-after``)."""

    def __init__(self, message: str, status: int, error_type: str | None = None, *,
                 failure: Failure) -> None:
        super().__init__(message, status, error_type)
        self.failure = failure


NetworkFailure = Literal["connect_timeout", "timeout", "connect", "dropped", "other"]


def classify(exc: BaseException) -> tuple[NetworkFailure, str]:
    """What kind of network failure ``exc`` is, and a short description of it. The transport
    maps aiohttp's errors to httpx's loosely (a refused connection arrives as ConnectTimeout),
    so the original error, kept as the cause, decides."""
    original: BaseException = exc
    if isinstance(exc, httpx.HTTPError) and exc.__cause__ is not None:
        original = exc.__cause__
    detail = f"{type(original).__name__}{': ' + str(original) if str(original) else ''}"
    if isinstance(original, aiohttp.ConnectionTimeoutError):
        return "connect_timeout", detail
    if isinstance(original, TimeoutError | aiohttp.ServerTimeoutError):
        return "timeout", detail
    if isinstance(original, aiohttp.ClientConnectorError | httpx.ConnectError):
        return "connect", detail
    if isinstance(original, httpx.ConnectTimeout):
        return "connect_timeout", detail
    if isinstance(original, httpx.TimeoutException):
        return "timeout", detail
    if isinstance(original, aiohttp.ServerDisconnectedError | aiohttp.ClientPayloadError
                  | httpx.RemoteProtocolError | httpx.ReadError | ConnectionError):
        return "dropped", detail
    return "other", detail


_SECRET_HEADERS = ("authorization", "x-api-key", "x-goog-api-key", "api-key")
_KEYLIKE = re.compile(r"\b(sk|AIza|gsk|xai|pk)[-_A-Za-z0-9]{16,}")


def scrub(text: str, headers: dict[str, str]) -> str:
    """Remove the provider's key (and anything key-shaped) from an upstream's message: some
    providers echo the key they rejected."""
    for name, value in headers.items():
        if name.lower() in _SECRET_HEADERS and value:
            secret = value.split(" ", 1)[-1]
            if len(secret) >= 4:
                text = text.replace(secret, "***")
    return _KEYLIKE.sub("***", text)




def _host(url: str) -> str:
    parts = urlsplit(url)
    return parts.hostname or url[:40]


def upstream_error(provider: str, status: int, body: bytes, content_type: str) -> ApiError:
    """An upstream failure as the client should see it: status mapped, message extracted."""
    message = extract_message(body, content_type)
    reason = _reason(status)
    text = f"provider {provider} answered HTTP {status}{reason}"
    if message:
        text += f": {message}"
    if status == 529:
        client_status = 529
    elif status >= 500:
        client_status = status if status in (500, 502, 503, 504) else 500
    else:
        client_status = status
    return ApiError(text, client_status, error_type_for_status(status))


def _reason(status: int) -> str:
    try:
        return f" ({HTTPStatus(status).phrase})"
    except ValueError:
        return ""


_TAGS = re.compile(r"<[^>]+>")
_SPACE = re.compile(r"\s+")


def extract_message(body: bytes, content_type: str = "") -> str:
    """The human part of an error body: JSON ``error.message`` and friends, or an HTML page's
    title/heading reduced to one line."""
    text = body.decode("utf-8", "replace").strip()
    if not text:
        return ""
    if text[:1] in "{[":
        try:
            found = _message_from_json(json.loads(text))
        except ValueError:
            found = None
        if found:
            return _one_line(found)
    if "html" in content_type.lower() or text.lstrip()[:1] == "<":
        for tag in ("title", "h1"):
            match = re.search(rf"<{tag}[^>]*>(.*?)</{tag}>", text, re.S | re.I)
            if match and match.group(1).strip():
                return _one_line(unescape(_TAGS.sub(" ", match.group(1))))
        return _one_line(unescape(_TAGS.sub(" ", text)))
    return _one_line(text)


def _message_from_json(data: Any) -> str | None:
    if isinstance(data, list) and data:
        return _message_from_json(data[0])
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        for key in ("message", "msg", "detail"):
            if isinstance(error.get(key), str):
                return error[key]
    if isinstance(error, str):
        return error
    for key in ("message", "detail", "msg"):
        value = data.get(key)
        if isinstance(value, str):
            return value
    return None


def _one_line(text: str, limit: int = 300) -> str:
    text = _SPACE.sub(" ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"

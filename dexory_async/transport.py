"""The network seam: send one GET, get back its status, headers and a body bounded while it streams.

Everything above it (the client, retries, the throttle, redaction, the extractor) runs over any `Transport`:
`AiohttpTransport` in a sync, `MockTransport(handler)` in tests, where the handler is a plain function (sync or
async) of the `Request` that returns a `Response` or raises a `RequestError`, as httpx's MockTransport does.

A request's URL carries the key, so a `Request` leaves it out of its repr(): a crash report prints the locals of the
failing frames, and no frame holds the keyed URL under a name of its own.

The aiohttp transport is the one place where aiohttp's exceptions become the connector's (see errors.py). They are
raised outside the `except` block, so aiohttp's error, whose message may hold the URL with the key, is not chained
to them.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
from yarl import URL

from .errors import ConnectionFailed, RequestError, ResponseTooLarge, TLSFailed
from .links import KEY_PARAM, without_key
from .redaction import redact

_CHUNK_BYTES = 1 << 16


@dataclass(frozen=True, slots=True)
class Request:
    url: URL = field(repr=False)  # with the key
    limit: int  # the most body bytes, decompressed, read before ResponseTooLarge

    @property
    def shown(self) -> URL:
        """The URL as a message may show it."""
        return without_key(self.url)


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # looked up without regard to case

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


class Transport(Protocol):
    async def get(self, request: Request) -> Response:
        """GET the request's URL, without following redirects; raise ResponseTooLarge once the body, decompressed,
        passes its limit."""

    async def aclose(self) -> None: ...


TransportFactory = Callable[[], Transport]  # called on the extractor's loop, which the transport then belongs to


class AiohttpTransport:
    """One session for a whole sync: pooled keep-alive connections. The pool is not a second budget: a request that
    waits long steps out of the shared budget, and must not keep its connection from the sites that go on (the
    budget and the sites' lanes bound the connections)."""

    def __init__(self) -> None:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        # No timeout here: the client bounds each request itself, the same over any transport.
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    async def get(self, request: Request) -> Response:
        try:
            async with self._session.get(request.url, allow_redirects=False) as response:
                body = await _read_bounded(response.content, request)
                return Response(response.status, body, response.headers)
        except aiohttp.ClientSSLError as error:
            message = (
                f"TLS failed for {request.shown}: {_described(error, request)}; not retried: check that base_url is "
                "the API's https address and that this machine trusts its certificate (a proxy intercepting TLS?)"
            )
            failure: RequestError = TLSFailed(message, url=request.shown)
        except aiohttp.ClientError as error:
            failure = ConnectionFailed(_described(error, request), url=request.shown)
        raise failure

    async def aclose(self) -> None:
        await self._session.close()


async def _read_bounded(content: aiohttp.StreamReader, request: Request) -> bytes:
    """The body, decompressed chunk by chunk, refused as soon as it passes the limit: a gzip bomb never inflates."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > request.limit:
            raise _too_large(request)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(request: Request) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"the answer for {request.shown} passed {request.limit / 1e6:,.0f} MB (decompressed) and was not read "
        "further, to protect the connector's memory: lower page_size, or ask Dexory why a page is this large",
        url=request.shown,
    )


def _described(error: BaseException, request: Request) -> str:
    """aiohttp's words for `error`, with the key masked (a connection error's message may hold the URL)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return redact(text, request.url.query.get(KEY_PARAM, ""))


Handler = Callable[[Request], Response | Awaitable[Response]]


class MockTransport:
    """Answers from `handler`, in memory; the body bound applies as over a socket."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def get(self, request: Request) -> Response:
        answer = self._handler(request)
        response = await answer if inspect.isawaitable(answer) else answer
        if len(response.body) > request.limit:
            raise _too_large(request)
        return response

    async def aclose(self) -> None:
        return None

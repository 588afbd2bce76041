"""The network seam: send one GET, get back its status, headers and a body bounded while it streams.

Everything above it (the client, retries, the throttle, redaction, the extractor) runs over any `Transport`:
`AiohttpTransport` in a sync, `MockTransport(handler)` in tests, where the handler is a plain function (sync or
async) of the URL that returns a `Response` or raises a `RequestError`, as httpx's MockTransport does.

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
class Response:
    status: int
    body: bytes = b""
    headers: Mapping[str, str] = field(default_factory=dict)  # looked up without regard to case

    def header(self, name: str) -> str | None:
        return next((value for key, value in self.headers.items() if key.lower() == name.lower()), None)


class Transport(Protocol):
    async def get(self, url: URL, *, limit: int) -> Response:
        """GET `url` (it carries the key), without following redirects; raise ResponseTooLarge once the body,
        decompressed, passes `limit` bytes."""

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """One session for a whole sync: pooled keep-alive connections, at most `concurrency` of them."""

    def __init__(self, concurrency: int) -> None:
        connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
        # No timeout here: the client bounds each request itself, the same over any transport.
        self._session = aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=None))

    async def get(self, url: URL, *, limit: int) -> Response:
        failure: RequestError | None = None
        try:
            async with self._session.get(url, allow_redirects=False) as response:
                body = await _read_bounded(response.content, url, limit)
                return Response(response.status, body, response.headers)
        except aiohttp.ClientSSLError as error:
            message = (
                f"TLS failed for {without_key(url)}: {_described(error, url)}; not retried: check that base_url is the "
                "API's https address and that this machine trusts its certificate (a proxy intercepting TLS?)"
            )
            failure = TLSFailed(message, url=without_key(url))
        except aiohttp.ClientError as error:
            failure = ConnectionFailed(_described(error, url), url=without_key(url))
        raise failure

    async def aclose(self) -> None:
        await self._session.close()


async def _read_bounded(content: aiohttp.StreamReader, url: URL, limit: int) -> bytes:
    """The body, decompressed chunk by chunk, refused as soon as it passes `limit`: a gzip bomb never inflates."""
    chunks: list[bytes] = []
    size = 0
    async for chunk in content.iter_chunked(_CHUNK_BYTES):
        size += len(chunk)
        if size > limit:
            raise too_large(url, limit)
        chunks.append(chunk)
    return b"".join(chunks)


def too_large(url: URL, limit: int) -> ResponseTooLarge:
    return ResponseTooLarge(
        f"the answer for {without_key(url)} passed {limit / 1e6:,.0f} MB (decompressed) and was not read further, to "
        "protect the connector's memory: lower page_size, or ask Dexory why a page is this large",
        url=without_key(url),
    )


def _described(error: BaseException, url: URL) -> str:
    """aiohttp's words for `error`, with the key masked (a connection error's message holds the URL)."""
    text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
    return redact(text, url.query.get(KEY_PARAM, ""))


Handler = Callable[[URL], Response | Awaitable[Response]]


class MockTransport:
    """Answers from `handler`, in memory; the body bound applies as over a socket."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler

    async def get(self, url: URL, *, limit: int) -> Response:
        answer = self._handler(url)
        response = await answer if inspect.isawaitable(answer) else answer
        if len(response.body) > limit:
            raise too_large(url, limit)
        return response

    async def aclose(self) -> None:
        return None

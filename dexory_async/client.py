"""HTTP access to the locations endpoint: one aiohttp session, the retry policy, the key added at the last moment."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import backoff
import orjson
from yarl import URL

from .config import Settings
from .errors import RetriesExhausted, TransientError
from .links import with_key
from .redaction import redact
from .retry import error_for_status, parse_retry_after, retry_waits
from .throttle import Throttle

logger = logging.getLogger(__name__)

BODY_EXCERPT_CHARS = 200


@dataclass
class FetchedPage:
    url: URL
    locations: list[Any]
    next_link: Any
    last_link: Any
    size_bytes: int


@dataclass
class RequestCounters:
    requests: int = 0
    retries: int = 0
    bytes_received: int = 0


def open_session(settings: Settings) -> aiohttp.ClientSession:
    """The one session of a sync: pooled keep-alive connections, a timeout per request."""
    connector = aiohttp.TCPConnector(limit=settings.concurrency, limit_per_host=settings.concurrency)
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout_seconds)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


def parse_page(url: URL, body: bytes) -> FetchedPage:
    """A 200 answer as a page; a body that is not JSON or has no `data` list is transient (a proxy's error page)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise TransientError(f"response body is not valid JSON ({len(body)} bytes)") from None
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise TransientError("response has no `data` list")
    links = document.get("links")
    links = links if isinstance(links, dict) else {}
    return FetchedPage(url, document["data"], links.get("next"), links.get("last"), len(body))


class DexoryClient:
    def __init__(self, settings: Settings, session: aiohttp.ClientSession, throttle: Throttle) -> None:
        self._settings = settings
        self._session = session
        self._throttle = throttle
        self.counters = RequestCounters()
        self._fetch_with_retries = backoff.on_exception(
            retry_waits,
            TransientError,
            max_tries=settings.max_retries + 1,
            jitter=None,
            on_backoff=self._on_backoff,
            logger=None,  # _on_backoff logs each retry once, in our words
            base_delay=settings.base_retry_delay,
        )(self._fetch_once)

    async def fetch(self, url: URL) -> FetchedPage:
        """GET one page (`url` has no key), retrying transient failures; permanent ones raise at once."""
        try:
            return await self._fetch_with_retries(url)
        except TransientError as error:
            attempts = self._settings.max_retries + 1
            message = f"giving up on {url} after {attempts} attempts; last error: {error}"
            raise RetriesExhausted(message, last_error=error) from None

    async def _fetch_once(self, url: URL) -> FetchedPage:
        failure: TransientError | None = None
        async with self._throttle.slot():
            self.counters.requests += 1
            try:
                async with self._session.get(self._with_key(url), allow_redirects=False) as response:
                    body = await response.read()
                    status = response.status
                    retry_after = parse_retry_after(response.headers.get("Retry-After"))
            except (TimeoutError, aiohttp.ClientError) as error:
                cause = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
                failure = TransientError(self._redact(cause), timed_out=isinstance(error, TimeoutError))
        if failure is not None:
            # Raised outside the `except` block, so aiohttp's error is not chained to it as __context__: its message
            # can hold the URL with the key (ConnectionTimeoutError's does).
            raise failure
        self.counters.bytes_received += len(body)
        if status != 200:
            excerpt = self._redact(body[:BODY_EXCERPT_CHARS].decode("utf-8", "replace"))
            raise error_for_status(status, self._settings.site_name, excerpt, retry_after)
        page = parse_page(url, body)
        self._throttle.succeeded()
        return page

    def _with_key(self, url: URL) -> URL:
        # The key is never bound to a local name: a crash report prints the locals of the failing frames.
        return with_key(url, self._settings.site_api_key)

    def _redact(self, text: str) -> str:
        return redact(text, self._settings.site_api_key)

    def _on_backoff(self, details: dict[str, Any]) -> None:
        error: TransientError = details["exception"]  # type: ignore[typeddict-item]
        wait: float = details["wait"]  # type: ignore[typeddict-item]
        self.counters.retries += 1
        if error.rate_limited:
            self._throttle.rate_limited(wait)
        logger.warning(
            "%s failed: %s; retry %d of %d in %.1fs",
            details["args"][0],
            error,
            details["tries"],
            self._settings.max_retries,
            wait,
        )

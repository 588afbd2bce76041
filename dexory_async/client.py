"""HTTP access to one site's pages: the shared aiohttp session, the retry policy, the key added at the last moment."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import aiohttp
import backoff
import orjson
from yarl import URL

from .config import Settings, Site
from .errors import RetriesExhausted, TransientError
from .links import first_page_url, link_identity, with_key
from .page import Page
from .redaction import excerpt, redact
from .retry import Patience, error_for_status, parse_retry_after
from .throttle import Throttle

logger = logging.getLogger(__name__)

BODY_EXCERPT_CHARS = 200
_BODY_SCAN_BYTES = 65_536  # of an error body: masked before the excerpt is cut from it


@dataclass
class RequestCounters:
    requests: int = 0
    retries: int = 0
    bytes_received: int = 0


def open_session(settings: Settings) -> aiohttp.ClientSession:
    """The one session of a sync, for every site: pooled keep-alive connections, a timeout per request. The pool is
    not a second budget: a request that waits long steps out of the shared budget, and must not keep its connection
    from the sites that go on (the budget and the sites' lanes bound the connections)."""
    connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
    timeout = aiohttp.ClientTimeout(total=settings.request_timeout_seconds)
    return aiohttp.ClientSession(connector=connector, timeout=timeout, raise_for_status=False)


def parse_page(site: str, url: URL, body: bytes) -> Page:
    """A 200 answer as a page; a body that is not JSON or has no `data` list is transient (a proxy's error page)."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = _with_unpaired_surrogates_replaced(site, url, body)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise TransientError("response has no `data` list")
    links = document.get("links")
    return Page(site, url, document["data"], links if isinstance(links, dict) else {}, len(body))


def _with_unpaired_surrogates_replaced(site: str, url: URL, body: bytes) -> Any:
    """JSON that orjson refuses only because a string escapes half a UTF-16 pair (`"\\ud800"`): the standard library
    reads it, and the half, which no warehouse can store, is replaced by U+FFFD. Anything else is not JSON."""
    try:
        document = json.loads(body, parse_int=_as_orjson_reads_it, parse_constant=_not_json)
    except (ValueError, RecursionError):
        raise TransientError(f"response body is not valid JSON ({len(body)} bytes)") from None
    logger.warning("site %r: %s has strings that are not valid Unicode; kept with U+FFFD in their place", site, url)
    return _valid_unicode(document)


def _as_orjson_reads_it(text: str) -> int | float:
    """An integer beyond 64 bits becomes a float, as orjson (and the SDK, for an inferred column) makes it."""
    number = int(text)
    return number if -(2**63) <= number < 2**64 else float(text)


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _valid_unicode(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_valid_unicode(item) for item in value]
    if isinstance(value, dict):
        return {_valid_unicode(key): _valid_unicode(item) for key, item in value.items()}
    return value


class DexoryClient:
    """One site's requests: its key, its throttle, its counters; the session is shared by every site."""

    def __init__(self, settings: Settings, site: Site, session: aiohttp.ClientSession, throttle: Throttle) -> None:
        self._settings = settings
        self._site = site
        self._session = session
        self._throttle = throttle
        self._first_page = link_identity(first_page_url(settings, site))
        self.counters = RequestCounters()

    async def fetch(self, url: URL) -> Page:
        """GET one page (`url` has no key), retrying transient failures; permanent ones raise at once."""
        patience = self._patience()
        retrying = backoff.on_exception(
            patience.waits,  # type: ignore[arg-type]  # backoff's stub says wait generators are sent None; it sends the error
            TransientError,
            max_tries=None,
            giveup=patience.exhausted_by,  # type: ignore[arg-type]  # only ever given the TransientErrors it retries
            jitter=None,
            on_backoff=lambda details: self._on_backoff(details, patience),
            logger=None,  # _on_backoff logs each retry once, in our words
        )(self._fetch_once)
        try:
            page: Page = await retrying(url)
        except TransientError as error:
            message = f"giving up on {url} after {patience.attempts} attempts; last error: {error}"
            if error.rate_limited:
                message += (
                    f" (rate limited for {patience.rate_limited_seconds:.0f} s; rate_limit_patience_seconds is "
                    f"{self._settings.rate_limit_patience_seconds:g})"
                )
            raise RetriesExhausted(message, last_error=error) from None
        return page

    def _patience(self) -> Patience:
        settings = self._settings
        return Patience(
            base_delay=settings.base_retry_delay,
            max_retries=settings.max_retries,
            rate_limit_seconds=settings.rate_limit_patience_seconds,
        )

    async def _fetch_once(self, url: URL) -> Page:
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
            shown = excerpt(body[:_BODY_SCAN_BYTES], self._site.api_key, BODY_EXCERPT_CHARS)
            first_page = link_identity(url) == self._first_page
            raise error_for_status(status, self._site.name, url, shown, retry_after, first_page=first_page)
        page = parse_page(self._site.name, url, body)
        self._throttle.succeeded()
        return page

    def _with_key(self, url: URL) -> URL:
        # The key is never bound to a local name: a crash report prints the locals of the failing frames.
        return with_key(url, self._site.api_key)

    def _redact(self, text: str) -> str:
        return redact(text, self._site.api_key)

    def _on_backoff(self, details: Any, patience: Patience) -> None:
        error: TransientError = details["exception"]
        wait: float = details["wait"]
        self.counters.retries += 1
        if error.rate_limited:
            self._throttle.rate_limited(wait)
            used = f"{patience.rate_limited_seconds:.0f} of {self._settings.rate_limit_patience_seconds:g} s"
            retry = f"rate limited ({used} of rate_limit_patience_seconds used); retry"
        else:
            retry = f"retry {patience.failures} of {self._settings.max_retries}"
        logger.warning("site %r: %s failed: %s; %s in %.1fs", self._site.name, details["args"][0], error, retry, wait)

"""HTTP access to one site's pages over a transport: the retry policy, the request timeout, the key added at the
last moment."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import backoff
from yarl import URL

from .answers import error_for_status, parse_page
from .config import Settings, Site
from .errors import RateLimited, RequestError, RetriesExhausted, TimedOut, TransientError
from .links import first_page_url, link_identity, page_number, with_key
from .messages import RequestCounters
from .page import Page
from .redaction import excerpt
from .retry import Patience
from .throttle import Throttle
from .transport import Request, Response, Transport

logger = logging.getLogger(__name__)

BODY_EXCERPT_CHARS = 200
_BODY_SCAN_BYTES = 65_536  # of an error body: masked before the excerpt is cut from it
BODY_FLOOR_BYTES = 32_000_000  # the bound on any page's body, decompressed...
BODY_BYTES_PER_LOCATION = 16_000  # ...or this much per location asked for, when more (the simulator's average ~1 kB)
SLOW_REQUEST_SECONDS = 5.0  # a request outstanding this long is logged, so a stall leaves a trace


def body_limit(settings: Settings) -> int:
    return max(BODY_FLOOR_BYTES, settings.page_size * BODY_BYTES_PER_LOCATION)


class DexoryClient:
    """One site's requests: its key, its throttle, its counters; the transport is shared by every site."""

    def __init__(self, settings: Settings, site: Site, transport: Transport, throttle: Throttle) -> None:
        self._settings = settings
        self._site = site
        self._transport = transport
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
            if isinstance(error, RateLimited):
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
        async with self._throttle.slot():
            self.counters.requests += 1
            response = await self._get(url)
        self.counters.bytes_received += len(response.body)
        if response.status != 200:
            shown = excerpt(response.body[:_BODY_SCAN_BYTES], self._site.api_key, BODY_EXCERPT_CHARS)
            first_page = link_identity(url) == self._first_page
            raise error_for_status(response, self._site.name, url, shown, first_page=first_page)
        page = parse_page(self._site.name, url, response.body)
        self._throttle.succeeded()
        return page

    async def _get(self, url: URL) -> Response:
        """The answer to one request, within the timeout; one outstanding for long is logged while it waits."""
        limit = self._settings.request_timeout_seconds
        slow = asyncio.get_running_loop().call_later(SLOW_REQUEST_SECONDS, self._log_slow, url)
        try:
            async with asyncio.timeout(limit):
                # The key is never bound to a local name: a crash report prints the locals of the failing frames.
                return await self._transport.get(Request(with_key(url, self._site.api_key), body_limit(self._settings)))
        except TimeoutError:
            message = f"no answer within {limit:g}s (request_timeout_seconds): the server never answered {url}"
            raise TimedOut(message, url=url, site=self._site.name) from None
        except RequestError as error:
            error.site = self._site.name
            raise
        finally:
            slow.cancel()

    def _log_slow(self, url: URL) -> None:
        number = page_number(url)
        page = url if number is None else number
        logger.warning(
            "site %r: page %s has had no answer for %.0fs (it times out after %gs)",
            self._site.name,
            page,
            SLOW_REQUEST_SECONDS,
            self._settings.request_timeout_seconds,
        )

    def _on_backoff(self, details: Any, patience: Patience) -> None:
        error: TransientError = details["exception"]
        wait: float = details["wait"]
        self.counters.retries += 1
        if isinstance(error, RateLimited):
            self._throttle.rate_limited(wait)
            used = f"{patience.rate_limited_seconds:.0f} of {self._settings.rate_limit_patience_seconds:g} s"
            retry = f"rate limited ({used} of rate_limit_patience_seconds used); retry"
        else:
            retry = f"retry {patience.failures} of {self._settings.max_retries}"
        logger.warning("site %r: %s failed: %s; %s in %.1fs", self._site.name, details["args"][0], error, retry, wait)

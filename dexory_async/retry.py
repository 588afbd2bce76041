"""The retry policy: which answers are worth retrying, and how long to wait before each retry.

The waiting itself is done by the `backoff` library; this module only supplies its wait generator and the
classification of an HTTP answer.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator

from yarl import URL

from .errors import ApiKeyRejected, DexoryError, PageRejected, RequestFailed, SiteNotFound, TransientError

RETRY_AFTER_CAP_SECONDS = 300.0


def retry_waits(base_delay: float, cap: float = RETRY_AFTER_CAP_SECONDS) -> Generator[float, TransientError, None]:
    """backoff wait generator: `base_delay * 2**n` before retry n, or the server's Retry-After when that is longer.

    backoff sends the exception that caused each retry, so Retry-After can stretch the wait. A Retry-After of 0 or
    in the past never shortens it (the retries would burn instantly). Both are capped, so neither an absurd
    Retry-After nor a long run of retries waits more than `cap` seconds at a time.
    """
    error = yield  # type: ignore[misc]  # backoff primes the generator with send(None)
    attempt = 0
    while True:
        delay = base_delay * 2**attempt
        if error is not None and error.retry_after:
            delay = max(delay, error.retry_after)
        delay = min(delay, cap)
        error = yield delay
        attempt += 1


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After as seconds from now: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, OverflowError):  # overflow: an absurd zone offset
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def error_for_status(
    status: int, site: str, url: URL, excerpt: str, retry_after: float | None, *, first_page: bool
) -> DexoryError:
    """The error an HTTP answer other than 200 stands for: transient ones are retried, the rest fail fast.

    Only a 404 on a site's first page means the site is unknown; on a later page it means that page is gone."""
    if status == 429:
        return TransientError("HTTP 429 Too Many Requests", retry_after=retry_after, rate_limited=True)
    if status >= 500 or status == 408:
        return TransientError(f"HTTP {status} from the server", retry_after=retry_after)
    if status in (401, 403):
        return ApiKeyRejected(f"the API key was rejected for site {site!r} (HTTP {status}): check site_api_key")
    if status == 404 and first_page:
        return SiteNotFound(f"site {site!r} not found (HTTP 404): check site_name (and customer, base_url)")
    if 300 <= status < 400:
        return RequestFailed(f"unexpected redirect (HTTP {status}); redirects are not followed so the key stays put")
    if first_page:
        return RequestFailed(f"HTTP {status} from the API for the first page of site {site!r}: {excerpt}")
    return PageRejected(f"the API refused page {url} of site {site!r} (HTTP {status}): {excerpt}")

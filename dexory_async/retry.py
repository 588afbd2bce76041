"""The retry policy: how long to wait before each retry, and when to give up; and Retry-After read as seconds.

A request is patient in attempts for transient failures (`max_retries` retries, waits doubling from
`base_retry_delay`), and in time for rate limiting: a 429 is retried after the server's Retry-After for as long as the
waits add up to at most `rate_limit_patience_seconds`, since a storm is measured in seconds, not in answers. The
waiting itself is done by the `backoff` library: `Patience` supplies its wait generator and its give-up test.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator

from .errors import RateLimited, TransientError

RETRY_AFTER_CAP_SECONDS = 300.0


class Patience:
    """How long one request keeps trying. Create one per request: it counts that request's retries."""

    def __init__(
        self, *, base_delay: float, max_retries: int, rate_limit_seconds: float, cap: float = RETRY_AFTER_CAP_SECONDS
    ) -> None:
        self._base_delay = base_delay
        self._max_retries = max_retries
        self._rate_limit_seconds = rate_limit_seconds
        self._cap = cap  # no single wait is longer, whatever a server asks
        self.failures = 0  # retries after transient failures other than rate limiting
        self.rate_limited = 0  # retries after a 429
        self._unannounced = 0  # of those, the ones without a usable Retry-After: their waits double
        self.rate_limited_seconds = 0.0  # waited after 429s so far

    def wait_after(self, error: TransientError) -> float:
        """Seconds to wait before retrying after `error`. A 429 waits what its Retry-After says; anything else waits
        `base_delay * 2**n`, or its Retry-After when longer (a Retry-After of 0 or in the past never shortens it)."""
        if isinstance(error, RateLimited) and error.retry_after:
            return min(error.retry_after, self._cap)
        doubled = self._unannounced if isinstance(error, RateLimited) else self.failures
        return min(max(self._base_delay * 2.0**doubled, error.retry_after or 0.0), self._cap)

    def exhausted_by(self, error: TransientError) -> bool:
        """Whether to give up rather than retry after `error`."""
        if isinstance(error, RateLimited):
            return self.rate_limited_seconds + self.wait_after(error) > self._rate_limit_seconds
        return self.failures >= self._max_retries

    def waits(self) -> Generator[float, TransientError, None]:
        """backoff's wait generator: backoff sends the error behind each retry (after priming it with None) and
        sleeps what comes back; each wait is counted as it is handed out."""
        error = yield  # type: ignore[misc]
        while True:
            wait = self.wait_after(error)
            if isinstance(error, RateLimited):
                self.rate_limited += 1
                self._unannounced += not error.retry_after
                self.rate_limited_seconds += wait
            else:
                self.failures += 1
            error = yield wait

    @property
    def attempts(self) -> int:
        return 1 + self.failures + self.rate_limited


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

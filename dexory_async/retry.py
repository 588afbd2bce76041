"""The retry policy: how long to wait before each retry.

The waiting itself is done by the `backoff` library; this module only supplies its wait generator and reads
Retry-After.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator

from .errors import TransientError

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

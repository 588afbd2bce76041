"""The retry policy: backoff's wait generator and Retry-After parsing."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator
from types import SimpleNamespace

import backoff
import pytest

import dexory_async.retry as retry_module
from dexory_async.errors import RateLimited, ServerError, TransientError
from dexory_async.retry import RETRY_AFTER_CAP_SECONDS, parse_retry_after, retry_waits

# ---------------------------------------------------------------------------------------------------- retry_waits


def primed(base_delay: float, **kwargs: float) -> Generator[float, TransientError, None]:
    """The generator as backoff holds it: created with its kwargs, then primed with send(None)."""
    waits = retry_waits(base_delay, **kwargs)
    assert waits.send(None) is None  # type: ignore[arg-type]
    return waits


def drive(base_delay: float, errors: list[TransientError], **kwargs: float) -> list[float]:
    waits = primed(base_delay, **kwargs)
    return [waits.send(error) for error in errors]


def plain(n: int = 1) -> list[TransientError]:
    return [ServerError("HTTP 503 from the server") for _ in range(n)]


@pytest.mark.parametrize(("base_delay", "expected"), [(2.0, [2.0, 4.0, 8.0]), (1.0, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])])
def test_waits_double_from_the_base_delay(base_delay: float, expected: list[float]) -> None:
    assert drive(base_delay, plain(len(expected))) == expected


def test_fractional_base_delay() -> None:
    assert drive(0.05, plain(4)) == pytest.approx([0.05, 0.1, 0.2, 0.4])


def test_zero_base_delay_never_waits() -> None:
    assert drive(0.0, plain(3)) == [0.0, 0.0, 0.0]


def test_longer_retry_after_wins_over_backoff() -> None:
    errors = [RateLimited("429", retry_after=30.0), *plain(1)]

    assert drive(2.0, errors) == [30.0, 4.0]  # the next wait goes back to the backoff schedule


def test_retry_after_stretches_a_later_retry() -> None:
    errors = [*plain(2), RateLimited("429", retry_after=17.5)]

    assert drive(2.0, errors) == [2.0, 4.0, 17.5]


def test_retry_after_does_not_reset_the_backoff_counter() -> None:
    errors = [TransientError("429", retry_after=100.0), *plain(2)]

    assert drive(2.0, errors) == [100.0, 4.0, 8.0]


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 1.99, None])
def test_zero_or_shorter_retry_after_never_shortens_the_wait(retry_after: float | None) -> None:
    errors = [TransientError("503", retry_after=retry_after) for _ in range(3)]

    assert drive(2.0, errors) == [2.0, 4.0, 8.0]


def test_retry_after_shorter_than_a_later_backoff_is_ignored() -> None:
    errors = [*plain(2), TransientError("429", retry_after=5.0)]

    assert drive(2.0, errors) == [2.0, 4.0, 8.0]


def test_absurd_retry_after_is_capped() -> None:
    errors = [TransientError("429", retry_after=86_400.0), TransientError("429", retry_after=float("inf"))]

    assert drive(2.0, errors) == [RETRY_AFTER_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS]


def test_custom_cap() -> None:
    assert drive(1.0, [TransientError("429", retry_after=1000.0)], cap=60.0) == [60.0]


def test_cap_also_bounds_a_long_run_of_retries() -> None:
    assert drive(100.0, plain(3), cap=250.0) == [100.0, 200.0, 250.0]


def test_backoff_library_uses_these_waits(monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through backoff.on_exception, with its sleep recorded rather than slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    failures = iter(
        [
            ServerError("HTTP 503 from the server"),
            RateLimited("HTTP 429 Too Many Requests", retry_after=45.0),
            ServerError("HTTP 502 from the server", retry_after=0.0),
        ]
    )
    calls: list[int] = []

    # backoff sends each exception into the wait generator, but its annotations say it sends None
    @backoff.on_exception(
        retry_waits,  # type: ignore[arg-type]
        TransientError,
        max_tries=4,
        jitter=None,
        logger=None,
        base_delay=2.0,
    )
    def fetch() -> str:
        calls.append(1)
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return "page"

    assert fetch() == "page"
    assert len(calls) == 4
    assert slept == [2.0, 45.0, 8.0]


# ---------------------------------------------------------------------------------------------------- parse_retry_after

NOW = 1_800_000_000.0  # a fixed "now" (2027-01-15), so HTTP dates are compared without the clock


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("120", 120.0), ("0", 0.0), (" 5 ", 5.0), ("1.5", 1.5), ("-5", 0.0)],
)
def test_retry_after_in_seconds(raw: str, expected: float) -> None:
    assert parse_retry_after(raw, now=NOW) == expected


def test_retry_after_as_a_future_http_date() -> None:
    header = email.utils.formatdate(NOW + 90, usegmt=True)

    assert parse_retry_after(header, now=NOW) == pytest.approx(90.0)


def test_retry_after_as_a_literal_http_date() -> None:
    # Wed, 21 Oct 2015 07:28:00 GMT is 1445412480 seconds after the epoch
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1_445_412_480 - 30) == pytest.approx(30.0)


def test_retry_after_as_a_past_http_date_is_zero() -> None:
    header = email.utils.formatdate(NOW - 3600, usegmt=True)

    assert parse_retry_after(header, now=NOW) == 0.0


def test_retry_after_http_date_uses_the_clock_without_now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry_module, "time", SimpleNamespace(time=lambda: NOW))
    header = email.utils.formatdate(NOW + 3600, usegmt=True)

    assert parse_retry_after(header) == pytest.approx(3600.0)


@pytest.mark.parametrize("raw", ["soon", "later please", "Mon, 99 Foo 2026 99:99:99 GMT", "12 parsecs"])
def test_unreadable_retry_after_is_none(raw: str) -> None:
    assert parse_retry_after(raw, now=NOW) is None


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_absent_retry_after_is_none(raw: str | None) -> None:
    assert parse_retry_after(raw, now=NOW) is None

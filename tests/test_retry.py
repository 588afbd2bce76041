"""The retry policy: its waits and when it gives up (in attempts, and in time for 429s), and Retry-After parsing;
then rate-limit storms through the client, over the in-memory simulator on a fake clock."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Generator, Sequence
from types import SimpleNamespace

import backoff
import pytest

import dexory_async.retry as retry_module
from dexory_async.errors import RateLimited, RetriesExhausted, ServerError, TransientError
from dexory_async.retry import RETRY_AFTER_CAP_SECONDS, Patience, parse_retry_after
from dexory_simulator import FaultPlan, Simulator, SimulatorConfig
from tests.conftest import TEST_KEY, FakeClock, in_memory, settings_for
from tests.extraction import assert_exactly_ground_truth, run_extract

# ------------------------------------------------------------------------------------------------------- Patience


def patience(
    base_delay: float = 2.0, *, max_retries: int = 3, rate_limit_seconds: float = 300.0, cap: float = 300.0
) -> Patience:
    return Patience(base_delay=base_delay, max_retries=max_retries, rate_limit_seconds=rate_limit_seconds, cap=cap)


def primed(policy: Patience) -> Generator[float, TransientError, None]:
    """The wait generator as backoff holds it: created, then primed with send(None)."""
    waits = policy.waits()
    assert waits.send(None) is None  # type: ignore[arg-type]
    return waits


def drive(base_delay: float, errors: Sequence[TransientError], cap: float = RETRY_AFTER_CAP_SECONDS) -> list[float]:
    waits = primed(patience(base_delay, cap=cap))
    return [waits.send(error) for error in errors]


def plain(n: int = 1) -> list[TransientError]:
    return [ServerError("HTTP 503 from the server") for _ in range(n)]


def rate_limited(retry_after: float | None, n: int = 1) -> list[TransientError]:
    return [RateLimited("HTTP 429", retry_after=retry_after) for _ in range(n)]


@pytest.mark.parametrize(("base_delay", "expected"), [(2.0, [2.0, 4.0, 8.0]), (1.0, [1.0, 2.0, 4.0, 8.0, 16.0, 32.0])])
def test_waits_double_from_the_base_delay(base_delay: float, expected: list[float]) -> None:
    assert drive(base_delay, plain(len(expected))) == expected


def test_fractional_base_delay() -> None:
    assert drive(0.05, plain(4)) == pytest.approx([0.05, 0.1, 0.2, 0.4])


def test_zero_base_delay_never_waits() -> None:
    assert drive(0.0, plain(3)) == [0.0, 0.0, 0.0]


def test_a_429_waits_exactly_its_retry_after_and_does_not_advance_the_backoff() -> None:
    errors = [*rate_limited(30.0), *plain(1), *rate_limited(1.0), *plain(1)]

    assert drive(2.0, errors) == [30.0, 2.0, 1.0, 4.0]


def test_a_429_without_a_usable_retry_after_backs_off_on_its_own_count() -> None:
    errors = [*rate_limited(None), *plain(1), *rate_limited(0.0), *rate_limited(None)]

    assert drive(2.0, errors) == [2.0, 2.0, 4.0, 8.0]


def test_a_longer_retry_after_on_another_failure_stretches_its_wait() -> None:
    errors = [*plain(2), ServerError("503", retry_after=17.5), *plain(1)]

    assert drive(2.0, errors) == [2.0, 4.0, 17.5, 16.0]


@pytest.mark.parametrize("retry_after", [0.0, 0.5, 1.99, None])
def test_zero_or_shorter_retry_after_never_shortens_the_wait(retry_after: float | None) -> None:
    errors = [ServerError("503", retry_after=retry_after) for _ in range(3)]

    assert drive(2.0, errors) == [2.0, 4.0, 8.0]


def test_absurd_retry_after_is_capped() -> None:
    errors = [*rate_limited(86_400.0), ServerError("503", retry_after=float("inf"))]

    assert drive(2.0, errors) == [RETRY_AFTER_CAP_SECONDS, RETRY_AFTER_CAP_SECONDS]


def test_custom_cap() -> None:
    assert drive(1.0, rate_limited(1000.0), cap=60.0) == [60.0]


def test_cap_also_bounds_a_long_run_of_retries() -> None:
    assert drive(100.0, plain(3), cap=250.0) == [100.0, 200.0, 250.0]


def run_out(policy: Patience, errors: list[TransientError]) -> tuple[int, float]:
    """Feed `errors` as backoff does (give-up test first, then the wait) until the policy gives up: how many retries
    it allowed, and the seconds they waited."""
    waits = primed(policy)
    waited = 0.0
    for retries, error in enumerate(errors):
        if policy.exhausted_by(error):
            return retries, waited
        waited += waits.send(error)
    raise AssertionError("never gave up")


def test_transient_failures_give_up_after_max_retries_whatever_the_rate_limiting_between() -> None:
    policy = patience(max_retries=3)
    errors = [*plain(1), *rate_limited(5.0, 10), *plain(10)]

    retries, _ = run_out(policy, errors)
    assert retries == 10 + 3  # ten 429s did not use up the three retries
    assert policy.attempts == 14


@pytest.mark.parametrize("retry_after", [5.0, 35.0, 1.0])
def test_a_429_storm_is_ridden_out_for_the_patience_in_time_not_in_attempts(retry_after: float) -> None:
    """With `Retry-After` 5 and 300 s of patience, a 60 s storm (12 answers) is ridden out, and the request gives up
    only once the next wait would take it past 300 s, however many 429s that is."""
    policy = patience(max_retries=3, rate_limit_seconds=300.0)

    retries, waited = run_out(policy, rate_limited(retry_after, 1000))
    assert retries == int(300.0 // retry_after)
    assert waited <= 300.0 < waited + retry_after
    assert policy.rate_limited_seconds == waited


def test_no_rate_limit_patience_fails_a_429_at_once() -> None:
    assert run_out(patience(rate_limit_seconds=0.0), rate_limited(5.0, 3)) == (0, 0.0)


def test_backoff_library_uses_these_waits_and_gives_up_when_told(monkeypatch: pytest.MonkeyPatch) -> None:
    """End to end through backoff.on_exception, with its sleep recorded rather than slept."""
    slept: list[float] = []
    monkeypatch.setattr(time, "sleep", slept.append)
    failures = iter(
        [
            ServerError("HTTP 503 from the server"),
            RateLimited("HTTP 429 Too Many Requests", retry_after=45.0),
            ServerError("HTTP 502 from the server", retry_after=0.0),
            ServerError("HTTP 504 from the server"),
            ServerError("HTTP 500 from the server"),
        ]
    )
    calls: list[int] = []
    policy = patience(max_retries=3)

    @backoff.on_exception(
        policy.waits,  # type: ignore[arg-type]  # backoff sends each exception in; its annotations say None
        TransientError,
        max_tries=None,
        giveup=policy.exhausted_by,  # type: ignore[arg-type]
        jitter=None,
        logger=None,
    )
    def fetch() -> str:
        calls.append(1)
        raise next(failures)

    with pytest.raises(ServerError, match="HTTP 500"):
        fetch()
    assert len(calls) == 5
    assert slept == [2.0, 45.0, 4.0, 8.0]


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


# ---------------------------------------------------------------------------------------------- through the client


async def test_a_60_s_rate_limit_storm_is_ridden_out_with_the_default_patience(clock: FakeClock) -> None:
    """Page 2 answers 429 with Retry-After 5 for 60 s (12 answers), max_retries 3 as by default: the retries after a
    429 do not count against it, and the site lands every row (it gave up after 4 attempts, some 18 s, before)."""
    simulator = Simulator(SimulatorConfig(locations=300, seed=3, api_key=TEST_KEY, faults=storm(12)))
    run = await clock.run(run_extract(settings_for(simulator, max_retries=3), in_memory(simulator)))
    assert_exactly_ground_truth(simulator, run)
    assert run.requests.retries == 12


async def test_a_rate_limit_storm_past_the_patience_fails_the_site_saying_which_setting(clock: FakeClock) -> None:
    simulator = Simulator(SimulatorConfig(locations=300, seed=3, api_key=TEST_KEY, faults=storm(None)))
    settings = settings_for(simulator, max_retries=1, rate_limit_patience_seconds=60)
    run = await clock.run(run_extract(settings, in_memory(simulator)))
    error = run.error
    assert isinstance(error, RetriesExhausted)
    assert "after 13 attempts" in str(error)  # twelve waits of 5 s fit in 60 s, a thirteenth would not
    assert "rate limited for 60 s; rate_limit_patience_seconds is 60" in str(error)


def storm(answers: int | None) -> FaultPlan:
    """Page 2 answers 429 with Retry-After 5 to its first `answers` requests (None: to every one)."""
    return FaultPlan.parse([f"2:retry_after=5@{'*' if answers is None else f'1-{answers}'}"])

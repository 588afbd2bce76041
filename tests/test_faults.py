"""The extractor against every fault the simulator can inject, ridden out (or refused), the simulator answering in
memory.

Each transient fault is retried per policy and the site lands exactly the ground truth; the waits follow
Retry-After; a 429 pauses every request of the site and lowers its concurrency; exhausted retries, a rejected key and
an unknown site end the site with an error that says so, and a link to another origin is refused; malformed records
are skipped and counted; either side of the thread bridge failing ends the sync promptly and cleanly.

And in every test here, the API key's value (a distinctive one) never shows up in an exception (str, repr,
traceback, anything chained to it), in a log record of `dexory_async`, `aiohttp` or `asyncio` at DEBUG, or in
what the simulator recorded of a request.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import itertools
import logging
import os
import re
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from dexory_async.bridge import ExtractorThread
from dexory_async.errors import KeyRejected, RetriesExhausted, SiteNotFound, TimedOut, TransientError
from dexory_async.flatten import (
    SKIP_LOCATION_BAD_SCAN_DATE,
    SKIP_LOCATION_MISSING_KEY,
    SKIP_LOCATION_NOT_OBJECT,
    SKIP_OBJECT_NOT_OBJECT,
    SKIP_OBJECTS_NOT_LIST,
)
from dexory_async.messages import Failed, SiteEnded
from dexory_async.page import LinkRefused, Page
from dexory_async.throttle import Throttle
from dexory_simulator import FaultPlan, RequestRecord, Simulator, SimulatorConfig
from tests.conftest import TEST_KEY, WRONG_KEY, FakeClock, extractor_threads, in_memory, settings_for, wait_until
from tests.extraction import Run, assert_exactly_ground_truth, first_pages, run_extract
from tests.reliability import record, truth_rows

# What the simulator says is wrong with its malformed records, and the skip the connector counts for it.
SKIP_KIND = {
    "items that are not objects": SKIP_LOCATION_NOT_OBJECT,
    "locations without an aisle": SKIP_LOCATION_MISSING_KEY,
    "locations with an unreadable scan_date": SKIP_LOCATION_BAD_SCAN_DATE,
    "locations whose expected_inventory_objects is not a list": SKIP_OBJECTS_NOT_LIST,
    "inventory objects that are not objects": SKIP_OBJECT_NOT_OBJECT,
}
LOGGERS = ("dexory_async", "aiohttp", "asyncio")
RETRY_LINE = re.compile(r"; retry (?:\d+ of \d+ )?in ([\d.]+)s$")


# ---------------------------------------------------------------------------------------------------- the key guard


@dataclass
class KeyGuard:
    """Everything a test produced that could carry the key; checked when the test ends."""

    clock: FakeClock  # the test loop's: the extraction's waits (backoff, Retry-After, timeouts) take no real time
    secrets: tuple[str, ...] = (TEST_KEY, WRONG_KEY)
    simulators: list[Simulator] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)
    texts: list[str] = field(default_factory=list)  # reasons and URLs the extractor handed on

    def simulator(self, faults: list[str] | None = None, **config: Any) -> Simulator:
        """A simulator to answer in memory (see `in_memory`), its requests checked for the key at the end."""
        config.setdefault("api_key", TEST_KEY)
        simulator = Simulator(SimulatorConfig(faults=FaultPlan.parse(faults or []), **config))
        self.simulators.append(simulator)
        return simulator

    def keep(self, ended: SiteEnded) -> None:
        """How a site ended, for the final check."""
        if isinstance(ended.end, Failed):
            self.errors.append(ended.end.error)
        self.texts.append(repr(ended))

    def assert_clean(self, text: str, where: str) -> None:
        for secret in self.secrets:
            assert secret not in text, f"the API key leaked into {where}: {text[:500]}"

    def check(self, caplog: pytest.LogCaptureFixture) -> None:
        for error in self.errors:
            for link in _chain(error):
                self.assert_clean(str(link), f"str() of {type(link).__name__}")
                self.assert_clean(repr(link), f"repr() of {type(link).__name__}")
                self.assert_clean(repr(vars(link)), f"the attributes of {type(link).__name__}")
            self.assert_clean("".join(traceback.format_exception(error)), "a formatted traceback")
        for text in self.texts:
            self.assert_clean(text, "what the extractor handed on")
        for log_record in caplog.records:
            self.assert_clean(log_record.getMessage(), f"a log record of {log_record.name}")
        self.assert_clean(caplog.text, "the captured log")
        for simulator in self.simulators:
            for request in simulator.requests:
                self.assert_clean(repr(request), "the simulator's request log")
                assert request.query.get("api_key", "***") == "***"


def _chain(error: BaseException) -> list[BaseException]:
    """`error` and everything reachable from it: __cause__, __context__ (suppressed or not), `last_error`."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending:
        link = pending.pop()
        if link is None or any(link is known for known in seen):
            continue
        seen.append(link)
        pending += [link.__cause__, link.__context__, getattr(link, "last_error", None)]
    return seen


@pytest.fixture(autouse=True)
def guard(caplog: pytest.LogCaptureFixture, clock: FakeClock) -> Iterator[KeyGuard]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    key_guard = KeyGuard(clock)
    yield key_guard
    key_guard.check(caplog)


# ---------------------------------------------------------------------------------------------------- helpers


async def run(guard: KeyGuard, simulator: Simulator, *others: Simulator, **overrides: Any) -> Run:
    """One extraction against `simulator`, in memory (`others` answering at their own origins); how each site ended
    is kept for the key guard."""
    overrides.setdefault("request_timeout_seconds", 2)
    transport = in_memory(simulator, *others)
    result = await guard.clock.run(run_extract(settings_for(simulator, **overrides), transport))
    for ended in result.ended.values():
        guard.keep(ended)
    return result


def attempts(simulator: Simulator, page: int) -> list[RequestRecord]:
    return sorted((request for request in simulator.requests if request.page == page), key=lambda r: r.at)


def gaps(requests: list[RequestRecord]) -> list[float]:
    """Seconds from each answer to the next request for the same page: at least the wait the client put in."""
    return [later.at - earlier.answered for earlier, later in itertools.pairwise(requests)]


def logged_waits(caplog: pytest.LogCaptureFixture) -> list[float]:
    """The wait each retry line of the client announced, in seconds."""
    lines = [r.getMessage() for r in caplog.records if r.name == "dexory_async.client"]
    return [float(match.group(1)) for line in lines if (match := RETRY_LINE.search(line))]


def faults_seen(simulator: Simulator) -> Counter[str]:
    """What the FaultPlan injected, plus the token bucket's 429s (which the plan does not count)."""
    seen = Counter(simulator.config.faults.injected)
    seen["rate_limit"] += sum(1 for request in simulator.requests if request.fault == "rate_limit")
    return seen


# ---------------------------------------------------------------------------------------------------- transient faults

# (fault on a page, retries the client makes for it, injections, requests aiohttp resent on its own)
TRANSIENT = {
    "status=500@1-2": (2, {"status": 2}, 0),
    "status=502@1-2": (2, {"status": 2}, 0),
    "status=503@1-2": (2, {"status": 2}, 0),
    "status=504@1-2": (2, {"status": 2}, 0),
    "retry_after=1": (1, {"retry_after": 1}, 0),
    "retry_after=date+1": (1, {"retry_after": 1}, 0),
    "stall": (1, {"stall": 1}, 0),  # 3600 s, far past the 0.5 s request timeout
    "reset@1-2": (2, {"reset": 2}, 0),
    "truncated@1-2": (2, {"truncated": 2}, 0),
    "not_json@1-2": (2, {"not_json": 2}, 0),
    "data_not_list@1-2": (2, {"data_not_list": 2}, 0),
}
FAULTY_PAGES = (1, 3)  # the first page, fetched alone, and one fetched ahead in the prefetch window
RETRY_AFTER_SHOWN = {"1": "`1`", "date+2": "an HTTP date 2 s ahead", "0": "`0`", "date+-30": "an HTTP date 30 s ago"}


@pytest.mark.parametrize("fault", list(TRANSIENT))
async def test_transient_fault_is_retried_and_lands_exactly_the_ground_truth(
    guard: KeyGuard, fault: str, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    retries, injected, by_aiohttp = TRANSIENT[fault]
    faults = [f"{page}:{fault}" for page in FAULTY_PAGES]
    simulator = guard.simulator(faults, locations=1_000, seed=3, latency_ms=2)
    result = await run(guard, simulator, concurrency=4, request_timeout_seconds=0.5)

    assert_exactly_ground_truth(simulator, result)
    assert result.requests.retries == retries * len(FAULTY_PAGES)
    assert simulator.config.faults.injected == Counter({kind: n * len(FAULTY_PAGES) for kind, n in injected.items()})
    for page in range(1, 11):  # the faults, then the answer; every other page once
        assert len(attempts(simulator, page)) == (sum(injected.values()) + 1 if page in FAULTY_PAGES else 1)
    assert result.requests.requests == len(simulator.requests) - by_aiohttp * len(FAULTY_PAGES)
    assert len(logged_waits(caplog)) == result.requests.retries  # each retry logged once (and checked for the key)
    record(
        request.node.nodeid,
        f"transient `{fault}` on pages 1 and 3",
        "retries with backoff, lands everything once, in order"
        + ("; aiohttp resends each dropped request once by itself" if by_aiohttp else ""),
        faults=faults_seen(simulator),
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


@pytest.mark.parametrize(("retry_after", "announced"), [("1", (1.0, 1.0)), ("date+2", (0.9, 2.0))])
async def test_retry_after_longer_than_the_backoff_is_honoured(
    guard: KeyGuard,
    retry_after: str,
    announced: tuple[float, float],
    caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:
    simulator = guard.simulator([f"2:retry_after={retry_after}"], locations=400)
    result = await run(guard, simulator, concurrency=2, base_retry_delay=0.01)
    assert_exactly_ground_truth(simulator, result)
    [wait] = logged_waits(caplog)
    assert announced[0] <= wait <= announced[1]  # an HTTP date has whole seconds: date+2 is 1 to 2 s ahead
    [waited] = gaps(attempts(simulator, 2))
    assert waited >= 0.95  # the retry did not go out before the server's time (whatever the machine's load)
    record(
        request.node.nodeid,
        f"429 with Retry-After {RETRY_AFTER_SHOWN[retry_after]}",
        f"waits the server's Retry-After ({wait:.1f} s) instead of the 0.01 s backoff",
        faults=faults_seen(simulator),
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


@pytest.mark.parametrize("retry_after", ["0", "date+-30"], ids=["zero", "past-date"])
async def test_retry_after_zero_or_past_does_not_shorten_the_backoff(
    guard: KeyGuard, retry_after: str, caplog: pytest.LogCaptureFixture, request: pytest.FixtureRequest
) -> None:
    base = 0.3
    simulator = guard.simulator([f"2:retry_after={retry_after}"], locations=400)
    result = await run(guard, simulator, concurrency=2, base_retry_delay=base)
    assert_exactly_ground_truth(simulator, result)
    assert logged_waits(caplog) == [base]
    [waited] = gaps(attempts(simulator, 2))
    assert waited >= base * 0.95
    record(
        request.node.nodeid,
        f"429 with Retry-After {RETRY_AFTER_SHOWN[retry_after]}",
        f"keeps its own backoff ({base} s base)",
        faults=faults_seen(simulator),
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


@dataclass
class ThrottleLog:
    """When, on the event loop's clock, the throttle began each pause (and for how long) and granted each slot."""

    pauses: list[tuple[float, float]] = field(default_factory=list)
    grants: list[float] = field(default_factory=list)


@pytest.fixture
def throttle_log(monkeypatch: pytest.MonkeyPatch) -> ThrottleLog:
    log = ThrottleLog()
    rate_limited, slot = Throttle.rate_limited, Throttle.slot

    def recording_rate_limited(throttle: Throttle, wait: float) -> None:
        log.pauses.append((asyncio.get_running_loop().time(), wait))
        rate_limited(throttle, wait)

    @asynccontextmanager
    async def recording_slot(throttle: Throttle) -> AsyncIterator[None]:
        async with slot(throttle):
            log.grants.append(asyncio.get_running_loop().time())
            yield

    monkeypatch.setattr(Throttle, "rate_limited", recording_rate_limited)
    monkeypatch.setattr(Throttle, "slot", recording_slot)
    return log


async def test_a_429_pauses_every_request_of_the_site(
    guard: KeyGuard, throttle_log: ThrottleLog, request: pytest.FixtureRequest
) -> None:
    # After page 1, pages 2-4 go out together. Page 3 is told to wait 1 s; page 4 fails with 503 at about the same
    # moment and would be retried after 0.2 s on its own; page 2 answers only after 0.3 s, so page 5 is asked for
    # during the pause. The pause must hold back both.
    faults = ["2:stall=0.3", "3:retry_after=1", "4:status=503"]
    simulator = guard.simulator(faults, locations=1_000, latency_ms=30)
    result = await run(guard, simulator, concurrency=4, base_retry_delay=0.2)
    assert_exactly_ground_truth(simulator, result)
    [(paused_at, wait)] = throttle_log.pauses
    assert wait == 1.0
    during = [granted - paused_at for granted in throttle_log.grants if paused_at <= granted < paused_at + wait]
    assert during == []  # no request went out during the pause, whichever page it was for
    [told_to_wait] = [r for r in simulator.requests if r.status == 429]
    [_, retried] = attempts(simulator, 3)
    assert retried.at - told_to_wait.answered >= 0.99  # and the server saw the retry come after the pause
    assert result.ended[simulator.config.site].lowest_concurrency == 2
    record(
        request.node.nodeid,
        "429 (Retry-After 1) while 2 more requests are in flight, 1 of them failing",
        "pauses every request of the site 1 s (none went out meanwhile), halves concurrency 4 → 2",
        faults=faults_seen(simulator),
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


async def test_a_rate_limit_lowers_concurrency_and_the_sync_still_completes(
    guard: KeyGuard, request: pytest.FixtureRequest
) -> None:
    simulator = guard.simulator(locations=2_000, seed=8, latency_ms=5, rate_limit=8)
    result = await run(guard, simulator, concurrency=4)  # max_retries: the default 3
    assert_exactly_ground_truth(simulator, result)
    lowest = result.ended[simulator.config.site].lowest_concurrency
    assert lowest < 4
    rate_limited = sum(1 for r in simulator.requests if r.fault == "rate_limit")
    assert rate_limited > 0 and result.requests.retries == rate_limited
    record(
        request.node.nodeid,
        "API rate limit of 8 requests/s (token bucket) against concurrency 4",
        f"backs off and lowers concurrency to {lowest}; no retry budget exhausted",
        faults=faults_seen(simulator),
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


# (fault, the cause the error must name, requests per attempt)
EXHAUSTED = {
    "status=502@*": ("HTTP 502", 1),
    "stall@*": ("no answer within 0.3s", 1),
    "reset@*": ("reset the connection", 1),
    "not_json@*": ("not valid JSON", 1),
}


@pytest.mark.parametrize("fault", list(EXHAUSTED))
async def test_exhausted_retries_fail_the_site_with_the_cause(
    guard: KeyGuard, fault: str, request: pytest.FixtureRequest
) -> None:
    cause, per_attempt = EXHAUSTED[fault]
    simulator = guard.simulator([f"4:{fault}"], locations=1_000, latency_ms=2)
    result = await run(guard, simulator, concurrency=4, max_retries=2, request_timeout_seconds=0.3)
    error = result.error
    assert isinstance(error, RetriesExhausted)
    assert "after 3 attempts" in str(error) and cause in str(error)
    assert isinstance(error.last_error, TransientError) and cause in str(error.last_error)
    assert isinstance(error.last_error, TimedOut) == fault.startswith("stall")
    assert len(attempts(simulator, 4)) == 3 * per_attempt
    assert result.requests.retries == 2
    assert [page.sequence for page in result.pages] == [1, 2, 3]  # everything before the failing page was handed on
    assert result.pages[-1].next_url is not None and result.pages[-1].next_url.query["page[number]"] == "4"
    record(
        request.node.nodeid,
        f"`{fault}` on page 4 (max_retries 2)",
        f"fails the site with RetriesExhausted naming the cause ({cause}) after 3 attempts"
        + (" (aiohttp resent each once: 6 requests)" if per_attempt == 2 else ""),
        faults=faults_seen(simulator),
        retries=2,
        expected="pages 1-3, then the error",
        landed=result.landed,
    )


async def test_malformed_records_are_skipped_and_counted(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    simulator = guard.simulator(["2:malformed", "5:malformed"], locations=600, seed=2)
    result = await run(guard, simulator, concurrency=3)
    assert_exactly_ground_truth(simulator, result)
    skipped = Counter(skip.kind for page in result.pages for skip in page.rows.skipped)
    defects = simulator.malformed_truth().defects
    assert skipped == Counter({SKIP_KIND[defect]: count for defect, count in defects.items()})
    assert [bool(page.rows.skipped) for page in result.pages] == [False, True, False, False, True, False]
    record(
        request.node.nodeid,
        "malformed records on pages 2 and 5",
        f"skips and counts them ({sum(skipped.values())} skips), lands the valid rest",
        faults="malformed x2 pages (5 bad records each)",
        retries=result.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


# ---------------------------------------------------------------------------------------------------- bad input


async def test_a_wrong_key_fails_at_once_and_says_so(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    simulator = guard.simulator(locations=300)
    result = await run(guard, simulator, site_api_key=WRONG_KEY, base_retry_delay=1)
    assert isinstance(result.error, KeyRejected)
    assert "the API key was rejected for site 'demo-site' (HTTP 401)" in str(result.error)
    assert "check site_api_key" in str(result.error)
    assert len(simulator.requests) == 1 and simulator.requests[0].status == 401  # no retry
    assert result.pages == [] and result.requests.retries == 0
    record(
        request.node.nodeid,
        "wrong API key (401)",
        'fails the site at once, no retry: "the API key was rejected"',
        faults="none",
        retries=0,
        expected="nothing",
        landed=result.landed,
    )


async def test_an_unknown_site_fails_at_once_and_says_so(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    simulator = guard.simulator(locations=300)
    result = await run(guard, simulator, site_name="no-such-site", base_retry_delay=1)
    assert isinstance(result.error, SiteNotFound)
    assert "site 'no-such-site' not found (HTTP 404)" in str(result.error)
    assert len(simulator.requests) == 1 and simulator.requests[0].status == 404  # no retry
    assert result.pages == [] and result.requests.retries == 0
    record(
        request.node.nodeid,
        "unknown site (404)",
        "fails the site at once, no retry: \"site '…' not found\"",
        faults="none",
        retries=0,
        expected="nothing",
        landed=result.landed,
    )


# ---------------------------------------------------------------------------------------------------- off-origin links


@pytest.mark.parametrize("concurrency", [1, 4], ids=["serial", "prefetching"])
@pytest.mark.parametrize("page", [1, 4])
async def test_a_link_to_another_origin_is_refused_and_the_key_stays_home(
    guard: KeyGuard, page: int, concurrency: int, request: pytest.FixtureRequest
) -> None:
    foreign = guard.simulator(locations=100)
    foreign.port = 8081  # another origin than the simulator's, answering there
    simulator = guard.simulator([f"{page}:next_origin={foreign.base_url}"], locations=1_000)
    result = await run(guard, simulator, foreign, concurrency=concurrency)
    end = result.end
    assert isinstance(end, LinkRefused)
    assert f"host {foreign.host}:{foreign.port}" in end.reason
    assert "the API key must not be sent there" in end.reason
    assert foreign.requests == []  # not one request, so certainly none with the key
    assert [p.sequence for p in result.pages] == list(range(1, page + 1))
    assert result.pages[-1].next_url is None  # the refused link was never handed on
    assert end.page_url == result.pages[-1].url  # the page whose link was refused: the next sync re-reads it
    record(
        request.node.nodeid,
        f"page {page}'s links.next points to another host ({concurrency=})",
        "refuses the link (the site ends naming the host); the other host receives no request",
        faults=f"next_origin x1; foreign host requests: {len(foreign.requests)}",
        retries=0,
        expected=f"{'page 1' if page == 1 else f'pages 1-{page}'}, then the refusal",
        landed=result.landed,
    )


# ------------------------------------------------------------------------------------------------- timeouts and the key


async def test_a_read_timeout_is_reported_without_the_key(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    simulator = guard.simulator(["1:stall@*"], locations=100)
    result = await run(guard, simulator, max_retries=0, request_timeout_seconds=0.3)
    error = result.error
    assert isinstance(error, RetriesExhausted) and "no answer within 0.3s (request_timeout_seconds)" in str(error)
    assert isinstance(error.last_error, TimedOut)  # it gave up on the 3600 s stall: the timeout fired
    assert len(simulator.requests) == 1
    record(
        request.node.nodeid,
        "no answer within request_timeout_seconds (0.3 s)",
        "gives up on the request after the timeout; the message names the timeout, not the key",
        faults=faults_seen(simulator),
        retries=0,
        expected="nothing",
        landed=result.landed,
    )


# ---------------------------------------------------------------------------------------------------- shutdown
# The stalls below outlast the bridge's 30 s join timeout: a thread that was not cancelled is still alive after the
# `with` block, and the `no_leaks` fixture fails the test. No wall-clock assertion is needed.


def open_sockets() -> int:
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since listdir
            count += os.readlink(f"/proc/self/fd/{fd}").startswith("socket:")
    return count


@pytest.fixture
def no_leaks() -> Iterator[None]:
    """No extractor thread and no socket outlive the test (the autouse fixture in conftest covers tasks, sessions)."""
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to count sockets")
    gc.collect()
    before = open_sockets()
    yield
    gc.collect()
    assert not extractor_threads()
    assert open_sockets() == before


class WarehouseDown(RuntimeError):
    pass


@pytest.mark.usefixtures("no_leaks")
@pytest.mark.parametrize("raised", [WarehouseDown, KeyboardInterrupt])
def test_a_consumer_failure_with_requests_stalled_in_flight_ends_promptly(
    guard: KeyGuard, raised: type[BaseException], request: pytest.FixtureRequest
) -> None:
    # Pages 4 and 5 never answer (nor time out: 3600 s); the consumer fails on page 3.
    faults = ["4:stall@*", "5:stall@*"]
    simulator = guard.simulator(faults, locations=5_000, latency_ms=10)
    settings = settings_for(simulator, concurrency=4, request_timeout_seconds=3600)
    with (
        pytest.raises(raised),
        ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor,
    ):
        for item in extractor:
            if isinstance(item, Page) and item.sequence == 3:
                assert wait_until(lambda: simulator.in_flight >= 2)  # the stalled requests are out there
                raise raised("the warehouse is down")
    assert not extractor_threads()  # cancelled: joined long before the stalls could end
    assert wait_until(lambda: simulator.in_flight == 0)  # the client hung up: the server saw it go
    abandoned = [r for r in simulator.requests if r.page in (4, 5)]
    assert [r.status for r in abandoned] == [499, 499]  # the client hung up on both
    record(
        request.node.nodeid,
        f"the warehouse side raises {raised.__name__} while 2 requests stall",
        "cancels the extractor and closes its connections at once; no thread or socket left",
        faults=faults_seen(simulator),
        retries=0,
        expected="pages 1-3",
        landed="pages 1-3",
    )


@pytest.mark.usefixtures("no_leaks")
def test_a_consumer_failure_during_a_429_pause_ends_promptly(guard: KeyGuard, caplog: pytest.LogCaptureFixture) -> None:
    simulator = guard.simulator(["3:retry_after=60"], locations=2_000)
    settings = settings_for(simulator, concurrency=4)
    with (
        pytest.raises(WarehouseDown),
        ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor,
    ):
        for item in extractor:
            if isinstance(item, Page) and item.sequence == 2:
                assert wait_until(lambda: "rate limited by the API" in caplog.text)  # the 60 s pause began
                raise WarehouseDown("the warehouse is down")
    assert not extractor_threads()  # the pause was cut short
    assert any(r.status == 429 for r in simulator.requests)


@pytest.mark.usefixtures("no_leaks")
def test_a_site_failure_with_requests_stalled_in_flight_ends_promptly(
    guard: KeyGuard, request: pytest.FixtureRequest
) -> None:
    # Page 3 fails for good (its retry goes out 0.2 s after its first answer; page 5, asked for with it, stalls).
    faults = ["3:status=502@*", "5:stall@*"]
    simulator = guard.simulator(faults, locations=5_000, latency_ms=10)
    settings = settings_for(simulator, concurrency=4, max_retries=1, base_retry_delay=0.2, request_timeout_seconds=30)
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        items = list(extractor)
    assert wait_until(lambda: simulator.in_flight == 0)
    stalled = [r for r in simulator.requests if r.page == 5]
    *pages, ended = items
    assert [page.sequence for page in pages if isinstance(page, Page)] == [1, 2]
    assert isinstance(ended, SiteEnded) and isinstance(ended.end, Failed)
    guard.keep(ended)
    assert isinstance(ended.end.error, RetriesExhausted) and "HTTP 502" in str(ended.end.error)
    # Hung up on when the site failed: one request, not timed out after 30 s and retried.
    assert [r.status for r in stalled] == [499]
    record(
        request.node.nodeid,
        "the site fails (502 x2 on page 3) while page 5 stalls",
        "ends the site with RetriesExhausted and hangs up on the stalled request at once; no thread or socket left",
        faults=faults_seen(simulator),
        retries=1,
        expected="pages 1-2, then the error",
        landed="pages 1-2",
    )


@pytest.mark.usefixtures("no_leaks")
def test_leaving_right_after_the_last_page_never_trips_over_the_closing_loop(request: pytest.FixtureRequest) -> None:
    """The calling thread leaves the `with` block as soon as it has the extractor's final result, while the thread
    may still be closing its loop: close() must not fail then ('Event loop is closed' used to end ~4% of syncs)."""
    completed = 0
    simulator = Simulator(SimulatorConfig(locations=5, api_key=TEST_KEY))
    settings = settings_for(simulator, concurrency=1)
    for _ in range(200):
        with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
            items = list(extractor)
        assert [type(item) for item in items] == [Page, SiteEnded]
        completed += 1
    assert completed == 200
    record(
        request.node.nodeid,
        "the calling thread leaves right after the last page, while the extractor's loop is closing (x200)",
        "returns cleanly every time; no thread or socket left",
        faults="none",
        retries=0,
        expected="200 one-page syncs",
        landed=f"{completed} one-page syncs",
    )

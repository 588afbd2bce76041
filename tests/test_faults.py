"""Issue 4, extractor level: every fault the simulator can inject, ridden out (or refused) over real sockets.

Each transient fault is retried per policy and the sync lands exactly the ground truth; the waits follow
`base_retry_delay * 2**n` and Retry-After; a 429 pauses every worker and lowers the concurrency; exhausted retries,
a rejected key, an unknown site and a link to another origin fail with an error that says so; malformed records
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
import socket
import time
import traceback
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp.abc import AbstractResolver, ResolveResult

from dexory_async import extractor as extractor_module
from dexory_async.bridge import ExtractorThread
from dexory_async.config import Settings
from dexory_async.errors import (
    ApiKeyRejected,
    DexoryError,
    PaginationError,
    RetriesExhausted,
    SiteNotFound,
    TransientError,
)
from dexory_async.extractor import ExtractSummary, FlatPage, extract
from dexory_async.links import first_page_url
from dexory_async.retry import RETRY_AFTER_CAP_SECONDS, parse_retry_after, retry_waits
from dexory_async.simulator import FaultPlan, RequestRecord, Simulator, SimulatorConfig, serve_in_thread
from dexory_async.simulator import data as simulated
from dexory_async.simulator.faults import MALFORMED
from dexory_async.simulator.server import MALFORMED_EXTRA, MALFORMED_SKIPS
from tests.conftest import TEST_KEY, WRONG_KEY, extractor_threads, settings_for
from tests.reliability import record, rows, truth_rows

PAGE_SIZE = 100
LOGGERS = ("dexory_async", "aiohttp", "asyncio")


# ---------------------------------------------------------------------------------------------------- the key guard


@dataclass
class KeyGuard:
    """Everything a test produced that could carry the key; checked when the test ends."""

    secrets: tuple[str, ...] = (TEST_KEY, WRONG_KEY)
    simulators: list[Simulator] = field(default_factory=list)
    errors: list[BaseException] = field(default_factory=list)

    @asynccontextmanager
    async def simulator(self, faults: list[str] | None = None, **config: Any) -> AsyncIterator[Simulator]:
        config.setdefault("api_key", TEST_KEY)
        async with Simulator(SimulatorConfig(faults=FaultPlan.parse(faults or []), **config)) as simulator:
            self.simulators.append(simulator)
            yield simulator

    @contextmanager
    def threaded_simulator(self, faults: list[str] | None = None, **config: Any) -> Iterator[Simulator]:
        config.setdefault("api_key", TEST_KEY)
        with serve_in_thread(SimulatorConfig(faults=FaultPlan.parse(faults or []), **config)) as simulator:
            self.simulators.append(simulator)
            yield simulator

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
def guard(caplog: pytest.LogCaptureFixture) -> Iterator[KeyGuard]:
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    key_guard = KeyGuard()
    yield key_guard
    key_guard.check(caplog)


# ---------------------------------------------------------------------------------------------------- helpers


@dataclass
class Run:
    pages: list[FlatPage]
    summary: ExtractSummary | None
    error: DexoryError | None
    elapsed: float

    @property
    def names(self) -> list[str]:
        return [row["name"] for page in self.pages for row in page.locations]

    @property
    def objects(self) -> int:
        return sum(len(page.objects) for page in self.pages)

    @property
    def landed(self) -> str:
        return rows(len(self.names), self.objects)


async def run(guard: KeyGuard, simulator: Simulator, **overrides: Any) -> Run:
    """One extraction against `simulator`; a DexoryError is returned (and kept for the key guard), not raised."""
    overrides.setdefault("page_size", PAGE_SIZE)
    overrides.setdefault("request_timeout_seconds", 2)
    settings = settings_for(simulator, **overrides)
    return await run_settings(guard, settings)


async def run_settings(guard: KeyGuard, settings: Settings) -> Run:
    pages: list[FlatPage] = []

    async def collect(page: FlatPage) -> None:
        pages.append(page)

    started = time.monotonic()
    try:
        summary = await extract(settings, first_page_url(settings), collect)
    except DexoryError as error:
        guard.errors.append(error)
        return Run(pages, None, error, time.monotonic() - started)
    return Run(pages, summary, None, time.monotonic() - started)


def expected_names(simulator: Simulator) -> list[str]:
    """Every location's name in the API's order, with the valid records a `malformed` fault adds to its page."""
    config = simulator.config
    malformed = {fault.page for fault in config.faults.faults if fault.kind == MALFORMED}
    names: list[str] = []
    for number in range(1, -(-config.locations // PAGE_SIZE) + 1):
        start = (number - 1) * PAGE_SIZE
        names += [
            item["name"] for item in simulated.locations(config.seed, start, min(start + PAGE_SIZE, config.locations))
        ]
        if number in malformed:
            added = [f"MALFORMED-{number}-objects-not-list", f"MALFORMED-{number}-bad-objects"]
            assert len(added) == MALFORMED_EXTRA.locations
            names += added
    return names


def assert_exactly_ground_truth(simulator: Simulator, result: Run) -> None:
    assert result.error is None, result.error
    assert result.names == expected_names(simulator)  # every location once, in order
    truth = simulator.ground_truth()
    assert (len(result.names), result.objects) == (truth.locations, truth.objects)
    assert [page.sequence for page in result.pages] == list(range(1, len(result.pages) + 1))


def attempts(simulator: Simulator, page: int) -> list[RequestRecord]:
    return sorted((request for request in simulator.requests if request.page == page), key=lambda r: r.at)


def gaps(requests: list[RequestRecord]) -> list[float]:
    """Seconds from each answer to the next request for the same page: the wait the client put in between."""
    return [later.at - earlier.answered for earlier, later in itertools.pairwise(requests)]


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
    # aiohttp resends an idempotent GET once, at once, when the connection drops before an answer (RFC 9112 §9.3.1):
    # the first reset never reaches the retry policy, the second does.
    "reset@1-2": (1, {"reset": 2}, 1),
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
    async with guard.simulator(faults, locations=1_000, seed=3, latency_ms=2) as simulator:
        result = await run(guard, simulator, concurrency=4, request_timeout_seconds=0.5)

    assert_exactly_ground_truth(simulator, result)
    assert result.summary is not None
    assert result.summary.requests.retries == retries * len(FAULTY_PAGES)
    assert simulator.config.faults.injected == Counter({kind: n * len(FAULTY_PAGES) for kind, n in injected.items()})
    for page in range(1, 11):  # the faults, then the answer; every other page once
        assert len(attempts(simulator, page)) == (sum(injected.values()) + 1 if page in FAULTY_PAGES else 1)
    assert result.summary.requests.requests == len(simulator.requests) - by_aiohttp * len(FAULTY_PAGES)
    retry_lines = [r for r in caplog.records if r.name == "dexory_async.client" and "; retry " in r.getMessage()]
    assert len(retry_lines) == result.summary.requests.retries  # each retry logged once (and checked for the key)
    assert result.elapsed < 5
    record(
        request.node.nodeid,
        f"transient `{fault}` on pages 1 and 3",
        "retries with backoff, lands everything once, in order"
        + ("; aiohttp resends each dropped request once by itself" if by_aiohttp else ""),
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


async def test_waits_double_from_the_base_delay(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    base = 0.05
    async with guard.simulator(["3:status=503@1-3"], locations=500) as simulator:
        result = await run(guard, simulator, concurrency=2, base_retry_delay=base)
    assert_exactly_ground_truth(simulator, result)
    waited = gaps(attempts(simulator, 3))
    assert len(waited) == 3
    for retry, wait in enumerate(waited):
        assert base * 2**retry * 0.95 <= wait < base * 2**retry + 0.5, waited
    record(
        request.node.nodeid,
        "503 three times in a row",
        "waits 0.05 s, 0.1 s, 0.2 s (base * 2**n), then lands all",
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,  # type: ignore[union-attr]
        expected=truth_rows(simulator),
        landed=result.landed,
    )


@pytest.mark.parametrize(
    ("retry_after", "at_least", "at_most"), [("1", 0.95, 1.6), ("date+2", 0.95, 2.6)], ids=["seconds", "http-date"]
)
async def test_retry_after_longer_than_the_backoff_is_honoured(
    guard: KeyGuard, retry_after: str, at_least: float, at_most: float, request: pytest.FixtureRequest
) -> None:
    async with guard.simulator([f"2:retry_after={retry_after}"], locations=400) as simulator:
        result = await run(guard, simulator, concurrency=2, base_retry_delay=0.01)
    assert_exactly_ground_truth(simulator, result)
    [waited] = gaps(attempts(simulator, 2))
    assert at_least <= waited < at_most  # an HTTP date has whole seconds: date+2 is 1 to 2 s ahead
    record(
        request.node.nodeid,
        f"429 with Retry-After {RETRY_AFTER_SHOWN[retry_after]}",
        f"waits the server's Retry-After ({waited:.2f} s) instead of the 0.01 s backoff",
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,  # type: ignore[union-attr]
        expected=truth_rows(simulator),
        landed=result.landed,
    )


@pytest.mark.parametrize("retry_after", ["0", "date+-30"], ids=["zero", "past-date"])
async def test_retry_after_zero_or_past_does_not_shorten_the_backoff(
    guard: KeyGuard, retry_after: str, request: pytest.FixtureRequest
) -> None:
    base = 0.3
    async with guard.simulator([f"2:retry_after={retry_after}"], locations=400) as simulator:
        result = await run(guard, simulator, concurrency=2, base_retry_delay=base)
    assert_exactly_ground_truth(simulator, result)
    [waited] = gaps(attempts(simulator, 2))
    assert base * 0.95 <= waited < base + 0.5
    record(
        request.node.nodeid,
        f"429 with Retry-After {RETRY_AFTER_SHOWN[retry_after]}",
        f"keeps its own backoff ({waited:.2f} s for a 0.3 s base)",
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,  # type: ignore[union-attr]
        expected=truth_rows(simulator),
        landed=result.landed,
    )


def test_an_absurd_retry_after_is_capped(request: pytest.FixtureRequest) -> None:
    waits = retry_waits(0.01)
    waits.send(None)  # primed, as backoff does
    day = parse_retry_after("86400")
    assert day == 86_400
    assert waits.send(TransientError("429", retry_after=day, rate_limited=True)) == RETRY_AFTER_CAP_SECONDS
    far_future = parse_retry_after("Sun, 06 Nov 2039 08:49:37 GMT")
    assert far_future is not None and far_future > RETRY_AFTER_CAP_SECONDS
    assert waits.send(TransientError("429", retry_after=far_future)) == RETRY_AFTER_CAP_SECONDS
    assert waits.send(TransientError("503")) == pytest.approx(0.04)  # the backoff goes on doubling underneath
    assert waits.send(TransientError("429", retry_after=0.0)) == pytest.approx(0.08)
    record(
        request.node.nodeid,
        "429 with Retry-After one day / an HTTP date in 2039",
        f"waits at most {RETRY_AFTER_CAP_SECONDS:.0f} s (unit test of the wait policy)",
        faults="none (unit)",
        retries="n/a",
        expected="n/a",
        landed="n/a",
    )


async def test_a_429_pauses_every_worker(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    # Pages 2-5 go out together. Page 3 is told to wait 1 s; pages 4 and 5 fail with 503 at the same moment and
    # would be retried after 0.2 s on their own. The pause must hold those retries too.
    faults = ["3:retry_after=1", "4:status=503", "5:status=503"]
    async with guard.simulator(faults, locations=1_000, latency_ms=30) as simulator:
        result = await run(guard, simulator, concurrency=4, base_retry_delay=0.2)
    assert_exactly_ground_truth(simulator, result)
    [told_to_wait] = [r for r in simulator.requests if r.status == 429]
    paused_from = told_to_wait.answered + 0.1  # what was already on its way when the 429 arrived is excepted
    arrived_during_pause = [r for r in simulator.requests if paused_from < r.at < told_to_wait.answered + 0.9]
    assert arrived_during_pause == []
    retried = [attempts(simulator, page)[1] for page in (3, 4, 5)]
    assert all(r.at >= told_to_wait.answered + 0.9 for r in retried)
    assert result.summary is not None and result.summary.lowest_concurrency == 2
    record(
        request.node.nodeid,
        "429 (Retry-After 1) while 3 more requests are in flight, 2 of them failing",
        "pauses every worker ~1 s (no new request reached the API meanwhile), halves concurrency 4 → 2",
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


async def test_a_rate_limit_lowers_concurrency_and_the_sync_still_completes(
    guard: KeyGuard, request: pytest.FixtureRequest
) -> None:
    async with guard.simulator(locations=2_000, seed=8, latency_ms=5, rate_limit=8) as simulator:
        result = await run(guard, simulator, concurrency=4)  # max_retries: the default 3
    assert_exactly_ground_truth(simulator, result)
    assert result.summary is not None
    assert result.summary.lowest_concurrency < 4
    rate_limited = sum(1 for r in simulator.requests if r.fault == "rate_limit")
    assert rate_limited > 0 and result.summary.requests.retries == rate_limited
    record(
        request.node.nodeid,
        "API rate limit of 8 requests/s (token bucket) against concurrency 4",
        f"backs off and lowers concurrency to {result.summary.lowest_concurrency}; no retry budget exhausted",
        faults=faults_seen(simulator),
        retries=result.summary.requests.retries,
        expected=truth_rows(simulator),
        landed=result.landed,
    )


# (fault, the cause the error must name, requests per attempt)
EXHAUSTED = {
    "status=502@*": ("HTTP 502", 1),
    "stall@*": ("TimeoutError", 1),
    "reset@*": ("ServerDisconnectedError", 2),  # aiohttp's own immediate resend, see TRANSIENT
    "not_json@*": ("not valid JSON", 1),
    "retry_after=0@*": ("HTTP 429", 1),
}


@pytest.mark.parametrize("fault", list(EXHAUSTED))
async def test_exhausted_retries_fail_with_the_cause(
    guard: KeyGuard, fault: str, request: pytest.FixtureRequest
) -> None:
    cause, per_attempt = EXHAUSTED[fault]
    async with guard.simulator([f"4:{fault}"], locations=1_000, latency_ms=2) as simulator:
        result = await run(guard, simulator, concurrency=4, max_retries=2, request_timeout_seconds=0.3)
    assert isinstance(result.error, RetriesExhausted)
    assert "after 3 attempts" in str(result.error) and cause in str(result.error)
    assert isinstance(result.error.last_error, TransientError) and cause in str(result.error.last_error)
    assert len(attempts(simulator, 4)) == 3 * per_attempt
    assert [page.sequence for page in result.pages] == [1, 2, 3]  # everything before the failing page was handed on
    assert result.elapsed < 5
    record(
        request.node.nodeid,
        f"`{fault}` on page 4 (max_retries 2)",
        f"fails with RetriesExhausted naming the cause ({cause}) after 3 attempts"
        + (" (aiohttp resent each once: 6 requests)" if per_attempt == 2 else ""),
        faults=faults_seen(simulator),
        retries=2,
        expected="pages 1-3, then the error",
        landed=result.landed,
    )


async def test_malformed_records_are_skipped_and_counted(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    async with guard.simulator(["2:malformed", "5:malformed"], locations=600, seed=2) as simulator:
        result = await run(guard, simulator, concurrency=3)
    assert_exactly_ground_truth(simulator, result)
    skipped = Counter(skip.kind for page in result.pages for skip in page.skipped)
    assert skipped == Counter({kind: 2 * count for kind, count in MALFORMED_SKIPS.items()})
    assert [bool(page.skipped) for page in result.pages] == [False, True, False, False, True, False]
    record(
        request.node.nodeid,
        "malformed records on pages 2 and 5",
        f"skips and counts them ({sum(skipped.values())} skips), lands the valid rest",
        faults="malformed x2 pages (5 bad records each)",
        retries=result.summary.requests.retries,  # type: ignore[union-attr]
        expected=truth_rows(simulator),
        landed=result.landed,
    )


# ---------------------------------------------------------------------------------------------------- bad input


async def test_a_wrong_key_fails_at_once_and_says_so(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    async with guard.simulator(locations=300) as simulator:
        result = await run(guard, simulator, site_api_key=WRONG_KEY, base_retry_delay=1)
    assert isinstance(result.error, ApiKeyRejected)
    assert "API key was rejected" in str(result.error) and "check site_api_key" in str(result.error)
    assert len(simulator.requests) == 1 and simulator.requests[0].status == 401  # no retry
    assert result.elapsed < 2
    record(
        request.node.nodeid,
        "wrong API key (401)",
        'fails at once, no retry: "the API key was rejected"',
        faults="none",
        retries=0,
        expected="nothing",
        landed=result.landed,
    )


async def test_an_unknown_site_fails_at_once_and_says_so(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    async with guard.simulator(locations=300) as simulator:
        result = await run(guard, simulator, site_name="no-such-site", base_retry_delay=1)
    assert isinstance(result.error, SiteNotFound)
    assert "site 'no-such-site' not found" in str(result.error)
    assert len(simulator.requests) == 1 and simulator.requests[0].status == 404
    assert result.elapsed < 2
    record(
        request.node.nodeid,
        "unknown site (404)",
        "fails at once, no retry: \"site '…' not found\"",
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
    async with (
        guard.simulator(locations=100) as foreign,
        guard.simulator([f"{page}:next_origin={foreign.base_url}"], locations=1_000) as simulator,
    ):
        result = await run(guard, simulator, concurrency=concurrency)
    assert isinstance(result.error, PaginationError)
    assert f"host {foreign.host}:{foreign.port}" in str(result.error)
    assert "the API key must not be sent there" in str(result.error)
    assert foreign.requests == []  # not one request, so certainly none with the key
    assert [p.sequence for p in result.pages] == list(range(1, page + 1))
    refused_from = result.pages[-1].url  # the page whose link was refused: the next sync starts by re-reading it
    assert result.error.resume_url == refused_from and TEST_KEY not in refused_from
    record(
        request.node.nodeid,
        f"page {page}'s links.next points to another host ({concurrency=})",
        "refuses the link (PaginationError naming the host); the other host receives no request",
        faults=f"next_origin x1; foreign host requests: {len(foreign.requests)}",
        retries=0,
        expected=f"{'page 1' if page == 1 else f'pages 1-{page}'}, then the error",
        landed=result.landed,
    )


# ------------------------------------------------------------------------------------------------- timeouts and the key


async def test_a_read_timeout_is_reported_without_the_key(guard: KeyGuard, request: pytest.FixtureRequest) -> None:
    async with guard.simulator(["1:stall@*"], locations=100) as simulator:
        result = await run(guard, simulator, max_retries=0, request_timeout_seconds=0.3)
    assert isinstance(result.error, RetriesExhausted) and "TimeoutError" in str(result.error)
    assert 0.3 <= result.elapsed < 2
    record(
        request.node.nodeid,
        "no answer within request_timeout_seconds (0.3 s)",
        "gives up on the request after the timeout; the message names the timeout, not the key",
        faults=faults_seen(simulator),
        retries=0,
        expected="nothing",
        landed=result.landed,
    )


class _NeverResolves(AbstractResolver):
    """A DNS lookup that never answers: the only way to hold a connection attempt open on a loopback-only host."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        await asyncio.sleep(3600)
        raise AssertionError("unreachable")

    async def close(self) -> None:
        pass


async def test_a_connect_timeout_message_is_redacted(
    guard: KeyGuard, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> None:
    """aiohttp's ConnectionTimeoutError says "Connection timeout to host <URL>", key included."""

    def session_with_connect_timeout(settings: Settings) -> aiohttp.ClientSession:
        timeout = aiohttp.ClientTimeout(total=10, connect=settings.request_timeout_seconds)
        return aiohttp.ClientSession(connector=aiohttp.TCPConnector(resolver=_NeverResolves()), timeout=timeout)

    monkeypatch.setattr(extractor_module, "open_session", session_with_connect_timeout)
    settings = Settings(
        site_name="demo-site",
        site_api_key=TEST_KEY,
        base_url="http://dexory.invalid:8080",
        max_retries=1,
        base_retry_delay=0.01,
        request_timeout_seconds=0.3,
    )
    result = await run_settings(guard, settings)
    assert isinstance(result.error, RetriesExhausted)
    message = str(result.error)
    assert "ConnectionTimeoutError: Connection timeout to host http://dexory.invalid:8080/" in message
    assert "api_key=***" in message  # aiohttp's message did hold the key; the client masked it
    assert result.error.__cause__ is None and result.error.last_error.__context__ is None
    record(
        request.node.nodeid,
        "connection attempt times out (aiohttp puts the URL with the key in the message)",
        "retries, then fails with the message's key masked (`api_key=***`) and no aiohttp error chained",
        faults="connect timeout x2",
        retries=1,
        expected="nothing",
        landed=result.landed,
    )


# ---------------------------------------------------------------------------------------------------- shutdown


def wait_until(condition: Any, timeout: float = 2.0) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


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
    # Pages 4 and 5 never answer (within the 30 s timeout); the consumer fails on page 3.
    faults = ["4:stall@*", "5:stall@*"]
    with guard.threaded_simulator(faults, locations=5_000, latency_ms=10) as simulator:
        settings = settings_for(simulator, concurrency=4, page_size=PAGE_SIZE, request_timeout_seconds=30)
        started = time.monotonic()
        with pytest.raises(raised), ExtractorThread(settings, first_page_url(settings)) as extractor:
            for page in extractor:
                if page.sequence == 3:
                    assert simulator.in_flight >= 2  # the stalled requests are out there
                    raise raised("the warehouse is down")
        elapsed = time.monotonic() - started
        assert wait_until(lambda: simulator.in_flight == 0)  # the client hung up: the server saw it go
        abandoned = [r for r in simulator.requests if r.page in (4, 5)]
    assert elapsed < 2
    assert [r.status for r in abandoned] == [499, 499]  # the client hung up on both
    record(
        request.node.nodeid,
        f"the warehouse side raises {raised.__name__} while 2 requests stall",
        f"cancels the extractor and closes its connections in {elapsed:.2f} s; no thread or socket left",
        faults=faults_seen(simulator),
        retries=0,
        expected="pages 1-3",
        landed="pages 1-3",
    )


@pytest.mark.usefixtures("no_leaks")
def test_a_consumer_failure_during_a_429_pause_ends_promptly(guard: KeyGuard) -> None:
    with guard.threaded_simulator(["3:retry_after=60"], locations=2_000) as simulator:
        settings = settings_for(simulator, concurrency=4, page_size=PAGE_SIZE)
        started = time.monotonic()
        with pytest.raises(WarehouseDown), ExtractorThread(settings, first_page_url(settings)) as extractor:
            for page in extractor:
                if page.sequence == 2:
                    time.sleep(0.2)  # long enough for page 3's 429 to arrive and the pause to begin
                    raise WarehouseDown("the warehouse is down")
        assert time.monotonic() - started < 2
        assert any(r.status == 429 for r in simulator.requests)


@pytest.mark.usefixtures("no_leaks")
def test_an_extractor_failure_with_requests_stalled_in_flight_ends_promptly(
    guard: KeyGuard, request: pytest.FixtureRequest
) -> None:
    faults = ["3:status=502@*", "5:stall@*"]
    with guard.threaded_simulator(faults, locations=5_000, latency_ms=10) as simulator:
        settings = settings_for(
            simulator, concurrency=4, page_size=PAGE_SIZE, max_retries=1, request_timeout_seconds=30
        )
        started = time.monotonic()
        taken: list[int] = []
        with (
            pytest.raises(RetriesExhausted, match="HTTP 502") as raised,
            ExtractorThread(settings, first_page_url(settings)) as extractor,
        ):
            for page in extractor:
                taken.append(page.sequence)
        elapsed = time.monotonic() - started
        assert wait_until(lambda: simulator.in_flight == 0)
        stalled = [r for r in simulator.requests if r.page == 5]
    guard.errors.append(raised.value)
    assert taken == [1, 2]
    assert elapsed < 2
    assert [r.status for r in stalled] == [499]
    record(
        request.node.nodeid,
        "the extractor fails (502 x2 on page 3) while page 5 stalls",
        f"raises RetriesExhausted in the calling thread in {elapsed:.2f} s; no thread or socket left",
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
    with serve_in_thread(SimulatorConfig(locations=5, api_key=TEST_KEY)) as simulator:
        settings = settings_for(simulator, concurrency=1)
        for _ in range(200):
            with ExtractorThread(settings, first_page_url(settings)) as extractor:
                pages = list(extractor)
            assert len(pages) == 1
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

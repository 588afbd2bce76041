"""The asyncio extractor against the simulator over real sockets: pagination, prefetch, order, failures."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter

import pytest

from dexory_async.errors import ApiKeyRejected, PaginationError, RetriesExhausted, SiteNotFound
from dexory_async.extractor import ExtractSummary, FlatPage, extract
from dexory_async.links import first_page_url
from dexory_async.simulator import CURSOR, FaultPlan, Simulator, SimulatorConfig
from dexory_async.simulator.data import locations as expected_locations
from tests.conftest import settings_for


async def run_extract(simulator: Simulator, **overrides: object) -> tuple[list[FlatPage], ExtractSummary]:
    settings = settings_for(simulator, **overrides)
    pages: list[FlatPage] = []

    async def collect(page: FlatPage) -> None:
        pages.append(page)

    summary = await extract(settings, first_page_url(settings), collect)
    return pages, summary


def location_names(pages: list[FlatPage]) -> list[str]:
    return [row["name"] for page in pages for row in page.locations]


def assert_exactly_ground_truth(simulator: Simulator, pages: list[FlatPage]) -> None:
    config = simulator.config
    expected = [item["name"] for item in expected_locations(config.seed, 0, config.locations)]
    assert location_names(pages) == expected  # every location once, in the API's order
    truth = simulator.ground_truth()
    assert sum(len(page.objects) for page in pages) == truth.objects
    assert [page.sequence for page in pages] == list(range(1, len(pages) + 1))


async def test_numbered_pages_prefetch_in_order_exactly_once() -> None:
    async with Simulator(SimulatorConfig(locations=1_050, seed=5, latency_ms=5, jitter_ms=40)) as simulator:
        pages, summary = await run_extract(simulator, concurrency=4)
    assert_exactly_ground_truth(simulator, pages)
    assert len(pages) == 11 and pages[-1].next_url is None
    assert all(page.total_pages == 11 for page in pages)
    assert 2 <= simulator.max_in_flight <= 4  # it did fetch ahead, and never more than `concurrency`
    assert summary.requests.requests == 11 and summary.requests.retries == 0


@pytest.mark.parametrize("concurrency", [2, 3, 4])
async def test_the_window_runs_exactly_concurrency_pages_ahead_of_a_stuck_consumer(concurrency: int) -> None:
    async with Simulator(SimulatorConfig(locations=2_000, latency_ms=5, jitter_ms=10)) as simulator:
        settings = settings_for(simulator, concurrency=concurrency)
        release, pages = asyncio.Event(), []

        async def stuck_on_page_two(page: FlatPage) -> None:
            pages.append(page)
            if page.sequence == 2:
                await release.wait()

        extraction = asyncio.create_task(extract(settings, first_page_url(settings), stuck_on_page_two))
        await asyncio.sleep(0.5)  # ample time for every request the extractor is willing to make
        ahead = sorted(record.page for record in simulator.requests)
        release.set()
        await extraction
    # page 1 alone (the first numbered link comes with it), page 2 being handled, `concurrency` pages after it
    assert ahead == list(range(1, 2 + concurrency + 1))
    assert simulator.max_in_flight == concurrency
    assert_exactly_ground_truth(simulator, pages)


async def test_nothing_past_links_last_is_requested_even_for_a_slow_consumer() -> None:
    async with Simulator(SimulatorConfig(locations=1_050, latency_ms=2)) as simulator:
        settings = settings_for(simulator, concurrency=4)
        pages: list[FlatPage] = []

        async def slow(page: FlatPage) -> None:
            pages.append(page)
            await asyncio.sleep(0.02)

        await extract(settings, first_page_url(settings), slow)
    assert_exactly_ground_truth(simulator, pages)
    assert sorted(record.page for record in simulator.requests) == list(range(1, 12))


async def test_concurrency_one_is_serial() -> None:
    async with Simulator(SimulatorConfig(locations=500, latency_ms=5)) as simulator:
        pages, _ = await run_extract(simulator, concurrency=1)
    assert_exactly_ground_truth(simulator, pages)
    assert simulator.max_in_flight == 1


async def test_cursor_links_are_followed_serially() -> None:
    async with Simulator(SimulatorConfig(locations=730, pagination=CURSOR, latency_ms=5)) as simulator:
        pages, _ = await run_extract(simulator, concurrency=4)
    assert_exactly_ground_truth(simulator, pages)
    assert simulator.max_in_flight == 1
    assert all("cursor=" in page.url for page in pages[1:])
    assert pages[0].total_pages is None
    assert len(simulator.requests) == len(pages)  # nothing guessed, nothing wasted


async def test_without_last_link_pages_past_the_end_are_discarded() -> None:
    config = SimulatorConfig(locations=950, include_last=False, latency_ms=5, jitter_ms=20)
    async with Simulator(config) as simulator:
        pages, _ = await run_extract(simulator, concurrency=4)
    assert_exactly_ground_truth(simulator, pages)
    assert len(pages) == 10
    requested = {record.page for record in simulator.requests}
    assert max(requested) > 10  # the window looked past the end...
    assert max(page.sequence for page in pages) == 10  # ...but nothing past it was emitted


async def test_link_mismatch_falls_back_to_following_links(caplog: pytest.LogCaptureFixture) -> None:
    faults = FaultPlan.parse(["4:next_cursor"])  # from page 4 on, links.next is an opaque cursor
    config = SimulatorConfig(locations=1_000, latency_ms=5, faults=faults)
    with caplog.at_level(logging.WARNING, logger="dexory_async"):
        async with Simulator(config) as simulator:
            pages, _ = await run_extract(simulator, concurrency=4)
    assert_exactly_ground_truth(simulator, pages)
    assert any("following the links one by one" in message for message in caplog.messages)
    assert all("cursor=" in page.url for page in pages[4:])


async def test_transient_failures_are_retried_and_counted() -> None:
    faults = FaultPlan.parse(["2:status=503@1-2", "5:retry_after=0", "7:not_json", "8:truncated"])
    async with Simulator(SimulatorConfig(locations=1_000, faults=faults)) as simulator:
        pages, summary = await run_extract(simulator, concurrency=3)
    assert_exactly_ground_truth(simulator, pages)
    assert summary.requests.retries == 5
    assert simulator.config.faults.injected == Counter({"status": 2, "retry_after": 1, "not_json": 1, "truncated": 1})


async def test_exhausted_retries_fail_with_the_last_cause() -> None:
    faults = FaultPlan.parse(["3:status=502@*"])
    async with Simulator(SimulatorConfig(locations=1_000, faults=faults)) as simulator:
        with pytest.raises(RetriesExhausted, match="HTTP 502") as raised:
            await run_extract(simulator, concurrency=2, max_retries=2)
    assert "after 3 attempts" in str(raised.value)
    assert sum(1 for record in simulator.requests if record.page == 3) == 3


async def test_wrong_key_fails_at_once_without_retrying() -> None:
    async with Simulator(SimulatorConfig(locations=100)) as simulator:
        with pytest.raises(ApiKeyRejected, match="rejected for site 'demo-site'"):
            await run_extract(simulator, site_api_key="not-the-key")
    assert len(simulator.requests) == 1


async def test_unknown_site_fails_at_once() -> None:
    async with Simulator(SimulatorConfig(locations=100)) as simulator:
        with pytest.raises(SiteNotFound, match="site 'nowhere' not found"):
            await run_extract(simulator, site_name="nowhere")
    assert len(simulator.requests) == 1


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize(("page", "back_to"), [(3, 2), (3, 1), (1, 1)])
async def test_link_back_to_a_visited_page_is_a_loop(concurrency: int, page: int, back_to: int) -> None:
    """Page 1 was asked for without a number: a link to `page[number]=1` is still a loop."""
    faults = FaultPlan.parse([f"{page}:next_loop={back_to}"])
    pages: list[FlatPage] = []

    async def collect(flat: FlatPage) -> None:
        pages.append(flat)

    async with Simulator(SimulatorConfig(locations=1_000, faults=faults)) as simulator:
        settings = settings_for(simulator, concurrency=concurrency)
        with pytest.raises(PaginationError, match="pagination loop") as raised:
            await extract(settings, first_page_url(settings), collect)
    assert [flat.sequence for flat in pages] == list(range(1, page + 1))  # every page once, up to the bad link
    assert pages[-1].next_url is None  # the refused link never left the paginator
    assert raised.value.resume_url == pages[-1].url


async def test_max_pages_stops_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async with Simulator(SimulatorConfig(locations=1_000)) as simulator:
        with caplog.at_level(logging.WARNING, logger="dexory_async"):
            pages, summary = await run_extract(simulator, concurrency=4, max_pages=3)
    assert len(pages) == 3
    assert summary.stopped_at_max_pages is not None and "page%5Bnumber%5D=4" in summary.stopped_at_max_pages
    assert any("max_pages (3) reached" in message for message in caplog.messages)
    assert max(record.page for record in simulator.requests) <= 3  # no request beyond the budget

"""The asyncio extractor against the simulator, in memory: pagination, prefetch, order, how a site ends.

Failures (a wrong key, an unknown site, exhausted retries, refused links) are in test_faults.py.
"""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from collections.abc import Awaitable

import pytest
from yarl import URL

from dexory_async.client import DexoryClient
from dexory_async.extractor import extract
from dexory_async.links import page_number
from dexory_async.messages import Item
from dexory_async.page import LinkRefused, Page, StoppedAtMaxPages
from dexory_simulator import CURSOR, FaultPlan, Simulator, SimulatorConfig
from tests.conftest import in_memory, settings_for
from tests.extraction import Run, assert_exactly_ground_truth, first_pages, run_extract


def requested_pages(simulator: Simulator) -> list[int]:
    """The page number of every request, in arrival order: every request in these tests asks for a numbered page."""
    numbers = [record.page for record in simulator.requests if record.page is not None]
    assert len(numbers) == len(simulator.requests)
    return numbers


@pytest.fixture
def asked_for(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The page number of every fetch the paginator starts, recorded the moment it starts it (before any socket)."""
    numbers: list[int] = []
    fetch = DexoryClient.fetch

    def recording_fetch(client: DexoryClient, url: URL) -> Awaitable[Page]:
        numbers.append(page_number(url) or 1)  # the first page is asked for without a number
        return fetch(client, url)

    monkeypatch.setattr(DexoryClient, "fetch", recording_fetch)
    return numbers


async def test_numbered_pages_prefetch_in_order_exactly_once() -> None:
    simulator = Simulator(SimulatorConfig(locations=1_050, seed=5, latency_ms=5, jitter_ms=40))
    run = await run_extract(settings_for(simulator, concurrency=4), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert len(run.pages) == 11
    assert [page.pages_after for page in run.pages] == list(range(10, -1, -1))  # links.last: 11 pages
    assert 2 <= simulator.max_in_flight <= 4  # it did fetch ahead, and never more than `concurrency`
    assert sorted(requested_pages(simulator)) == list(range(1, 12))  # each page requested once
    assert run.requests.requests == 11 and run.requests.retries == 0


@pytest.mark.parametrize("concurrency", [2, 3, 4])
async def test_the_window_holds_exactly_concurrency_pages_while_the_consumer_is_stuck(
    concurrency: int, asked_for: list[int]
) -> None:
    """`concurrency` is the most pages held at once: the one being handed on, and those fetched ahead of it."""
    simulator = Simulator(SimulatorConfig(locations=2_000, latency_ms=5, jitter_ms=10))
    settings = settings_for(simulator, concurrency=concurrency)
    stuck, release = asyncio.Event(), asyncio.Event()
    run = Run()
    while_stuck: list[int] = []

    async def stuck_on_page_two(item: Item) -> None:
        run.items.append(item)
        if isinstance(item, Page) and item.sequence == 2:
            while_stuck.extend(asked_for)  # every fetch ahead of page 2 was started before page 2 was handed on
            stuck.set()
            await release.wait()

    extraction = asyncio.create_task(extract(settings, first_pages(settings), stuck_on_page_two, in_memory(simulator)))
    await stuck.wait()
    release.set()
    await extraction
    # page 1 (handed on), page 2 (being handed on), and concurrency - 1 pages fetched ahead of it
    assert sorted(while_stuck) == list(range(1, concurrency + 2))
    assert simulator.max_in_flight <= concurrency
    assert_exactly_ground_truth(simulator, run)
    assert sorted(requested_pages(simulator)) == list(range(1, 21))


async def test_concurrency_one_is_serial() -> None:
    simulator = Simulator(SimulatorConfig(locations=500, latency_ms=5))
    run = await run_extract(settings_for(simulator, concurrency=1), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert simulator.max_in_flight == 1


async def test_cursor_links_are_followed_serially() -> None:
    simulator = Simulator(SimulatorConfig(locations=730, pagination=CURSOR, latency_ms=5))
    run = await run_extract(settings_for(simulator, concurrency=4), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert simulator.max_in_flight == 1
    assert all("cursor" in page.url.query for page in run.pages[1:])
    assert all(page.pages_after is None for page in run.pages)  # no links.last with cursors
    assert len(simulator.requests) == len(run.pages)  # nothing guessed, nothing wasted


async def test_without_last_link_pages_past_the_end_are_discarded(asked_for: list[int]) -> None:
    config = SimulatorConfig(locations=950, include_last=False, latency_ms=5, jitter_ms=20)
    simulator = Simulator(config)
    run = await run_extract(settings_for(simulator, concurrency=4), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert len(run.pages) == 10
    assert max(asked_for) > 10  # the window looked past the end (those requests may be cancelled before sent)...
    assert max(page.sequence for page in run.pages) == 10  # ...but nothing past it was handed on


async def test_link_mismatch_falls_back_to_following_links(caplog: pytest.LogCaptureFixture) -> None:
    faults = FaultPlan.parse(["4:next_cursor"])  # from page 4 on, links.next is an opaque cursor
    config = SimulatorConfig(locations=1_000, latency_ms=5, faults=faults)
    with caplog.at_level(logging.WARNING, logger="dexory_async"):
        simulator = Simulator(config)
        run = await run_extract(settings_for(simulator, concurrency=4), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert any("following the links one by one" in message for message in caplog.messages)
    assert all("cursor" in page.url.query for page in run.pages[4:])


async def test_transient_failures_are_retried_and_counted() -> None:
    faults = FaultPlan.parse(["2:status=503@1-2", "5:retry_after=0", "7:not_json", "8:truncated"])
    simulator = Simulator(SimulatorConfig(locations=1_000, faults=faults))
    run = await run_extract(settings_for(simulator, concurrency=3), in_memory(simulator))
    assert_exactly_ground_truth(simulator, run)
    assert run.requests.retries == 5
    assert simulator.config.faults.injected == Counter({"status": 2, "retry_after": 1, "not_json": 1, "truncated": 1})
    assert run.pages[-1].retries == 5  # each page carries the site's retries so far


@pytest.mark.parametrize("concurrency", [1, 4])
@pytest.mark.parametrize(("page", "back_to"), [(3, 2), (3, 1), (4, 3)])
async def test_link_back_to_a_visited_page_is_a_loop(concurrency: int, page: int, back_to: int) -> None:
    """Page 1 was asked for without a number, and numbered 1 by its next link (`page[number]=2`): a later link to
    `page[number]=1` is a loop too."""
    faults = FaultPlan.parse([f"{page}:next_loop={back_to}"])
    simulator = Simulator(SimulatorConfig(locations=1_000, faults=faults))
    run = await run_extract(settings_for(simulator, concurrency=concurrency), in_memory(simulator))
    assert [flat.sequence for flat in run.pages] == list(range(1, page + 1))  # every page once, up to the bad link
    assert run.pages[-1].next_url is None  # the refused link never left the paginator
    end = run.end
    assert isinstance(end, LinkRefused) and "pagination loop" in end.reason
    assert end.page_url == run.pages[-1].url  # the page a later sync reads again


@pytest.mark.parametrize("concurrency", [1, 4])
async def test_a_first_page_linking_to_page_one_is_read_as_numbered_from_zero(concurrency: int) -> None:
    """An unnumbered first page whose links.next is `page[number]=1` may be page 0 of an API numbering from 0, so
    page 1 is fetched; when that page links to itself, the loop is refused there: no page is handed on twice more."""
    faults = FaultPlan.parse(["1:next_loop=1"])  # every time the simulator serves its first page
    simulator = Simulator(SimulatorConfig(locations=1_000, faults=faults))
    run = await run_extract(settings_for(simulator, concurrency=concurrency), in_memory(simulator))
    assert [flat.sequence for flat in run.pages] == [1, 2]
    assert [page_number(flat.url) for flat in run.pages] == [None, 1]
    end = run.end
    assert isinstance(end, LinkRefused) and "pagination loop" in end.reason
    assert end.page_url == run.pages[-1].url


async def test_max_pages_stops_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    simulator = Simulator(SimulatorConfig(locations=1_000))
    with caplog.at_level(logging.WARNING, logger="dexory_async"):
        run = await run_extract(settings_for(simulator, concurrency=4, max_pages=3), in_memory(simulator))
    assert len(run.pages) == 3
    end = run.end
    assert isinstance(end, StoppedAtMaxPages) and page_number(end.next_url) == 4
    assert end.next_url == run.pages[-1].next_url
    assert any("max_pages (3) reached" in message for message in caplog.messages)
    assert max(requested_pages(simulator)) <= 3  # no request beyond the budget

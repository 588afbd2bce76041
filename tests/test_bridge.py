"""The thread boundary: pages and how each site ended cross in order, failures cross both ways, nothing is left
running. The simulator answers in memory."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from dexory_async.bridge import QUEUE_PAGES, ExtractorThread
from dexory_async.config import Settings, parse_settings
from dexory_async.delivered import DeliveredKeys
from dexory_async.errors import KeyRejected
from dexory_async.extractor import Emit
from dexory_async.flatten import FlatRows, flatten_locations
from dexory_async.messages import Failed, SiteEnded, SiteStart, StartedOver
from dexory_async.page import Finished, Page
from dexory_async.transport import MockTransport, Response, Transport
from dexory_simulator import Simulator, SimulatorConfig, SiteSpec
from dexory_simulator.data import locations as expected_locations
from tests.conftest import extractor_threads, in_memory, settings_for, wait_until
from tests.extraction import first_pages


def test_pages_cross_in_order_and_the_thread_ends() -> None:
    simulator = Simulator(SimulatorConfig(locations=1_234, latency_ms=5, jitter_ms=20))
    settings = settings_for(simulator, concurrency=4)
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        items = list(extractor)
    *pages, ended = items
    assert all(isinstance(page, Page) for page in pages)
    names = [row["name"] for page in pages if isinstance(page, Page) for row in page.rows.locations]
    assert names == [item["name"] for item in expected_locations(1, 0, 1_234)]
    assert isinstance(ended, SiteEnded) and ended.end == Finished() and ended.requests.requests == 13
    assert not extractor_threads()


def test_a_site_failure_crosses_as_how_the_site_ended() -> None:
    simulator = Simulator(SimulatorConfig(locations=100))
    settings = settings_for(simulator, site_api_key="wrong")
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        [ended] = list(extractor)
    assert isinstance(ended, SiteEnded) and isinstance(ended.end, Failed)
    assert isinstance(ended.end.error, KeyRejected) and "API key was rejected" in str(ended.end.error)
    assert not extractor_threads()


def test_a_bug_in_one_site_ends_that_site_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    """An unexpected exception (a bug, a library surprise) fails the site it happened in, not the sync."""
    flatten = flatten_locations

    def flatten_then_break(site: str, started: datetime, data: list[Any], keys: DeliveredKeys) -> FlatRows:
        if site == "broken":
            raise ZeroDivisionError("a bug in flattening")
        return flatten(site, started, data, keys)

    monkeypatch.setattr("dexory_async.extractor.flatten_locations", flatten_then_break)
    config = SimulatorConfig(locations=500, extra_sites=(SiteSpec("broken", "broken-key", 500, 2),))
    simulator = Simulator(config)
    settings = settings_for(simulator, sites=[site.name for site in config.sites])
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        items = list(extractor)
    ended = {item.site: item.end for item in items if isinstance(item, SiteEnded)}
    assert isinstance(ended[config.site], Finished)
    broken = ended["broken"]
    assert isinstance(broken, Failed) and "unexpected ZeroDivisionError: a bug in flattening" in str(broken.error)
    assert sum(isinstance(item, Page) and item.site == config.site for item in items) == 5
    assert not extractor_threads()


def test_an_extractor_failure_is_raised_in_the_calling_thread(monkeypatch: pytest.MonkeyPatch) -> None:
    """A failure of the extraction as a whole crosses the thread as itself, after the items before it."""

    async def extract_then_fail(
        settings: Settings, starts: Mapping[str, SiteStart], emit: Emit, transport: Transport
    ) -> None:
        await emit(StartedOver("demo-site", "first"))
        raise ZeroDivisionError("the extraction broke")

    monkeypatch.setattr("dexory_async.bridge.extract", extract_then_fail)
    settings = parse_settings({"site_name": "demo-site", "site_api_key": "k", "base_url": "http://127.0.0.1:9"})
    taken: list[object] = []
    with (
        pytest.raises(ZeroDivisionError, match="the extraction broke"),
        ExtractorThread(
            settings, first_pages(settings), transport=lambda: MockTransport(lambda request: Response(500))
        ) as extractor,
    ):
        taken.extend(extractor)
    assert taken == [StartedOver("demo-site", "first")]
    assert not extractor_threads()


def test_a_failing_consumer_cancels_the_extractor(caplog: pytest.LogCaptureFixture) -> None:
    concurrency = 4
    simulator = Simulator(SimulatorConfig(locations=20_000, latency_ms=20))
    settings = settings_for(simulator, concurrency=concurrency, request_timeout_seconds=3600)
    with (
        caplog.at_level(logging.ERROR, logger="dexory_async"),
        pytest.raises(RuntimeError, match="warehouse is down"),
        ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor,
    ):
        for item in extractor:
            if isinstance(item, Page) and item.sequence == 2:
                raise RuntimeError("warehouse is down")
    assert wait_until(lambda: simulator.in_flight == 0)  # what was in flight was hung up on
    requested = len(simulator.requests)
    assert not extractor_threads()  # joined within the bridge's timeout, far below 200 pages' worth of requests
    assert "did not stop" not in caplog.text
    assert requested <= 2 + QUEUE_PAGES + concurrency  # it stopped where the consumer left it


def test_a_slow_consumer_bounds_how_far_the_extractor_runs_ahead() -> None:
    """At any moment, the extractor has asked for at most the pages taken, those queued, and `concurrency` more
    (one waiting for room in the queue, the others fetched ahead of it)."""
    concurrency = 4
    simulator = Simulator(SimulatorConfig(locations=5_000))
    settings = settings_for(simulator, concurrency=concurrency)
    bound: list[tuple[int, int]] = []
    ahead = 1 + QUEUE_PAGES + concurrency
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        for item in extractor:
            if not isinstance(item, Page):
                continue
            if item.sequence == 1:  # hold on to page 1 until the extractor has run as far ahead as it may
                assert wait_until(lambda: len(simulator.requests) >= ahead and simulator.in_flight == 0)
            bound.append((len(simulator.requests), item.sequence + QUEUE_PAGES + concurrency))
    assert bound[0] == (ahead, ahead)  # it ran exactly that far ahead of page 1
    assert all(requested <= most for requested, most in bound)
    assert len(bound) == 50


def test_resume_from_a_checkpoint_taken_while_later_pages_were_in_flight() -> None:
    config = SimulatorConfig(locations=2_000, seed=9, latency_ms=20, jitter_ms=30)
    simulator = Simulator(config)
    settings = settings_for(simulator, concurrency=4)
    site = settings.site_names[0]
    first_run: list[str] = []
    with ExtractorThread(settings, first_pages(settings), transport=lambda: in_memory(simulator)) as extractor:
        for item in extractor:
            assert isinstance(item, Page)
            first_run += [row["name"] for row in item.rows.locations]
            if item.sequence == 3:
                cursor = item.next_url  # what a checkpoint after page 3 saves
                assert wait_until(lambda: any((record.page or 0) > 3 for record in simulator.requests))
                break  # with later pages requested, some still in flight
    assert cursor is not None
    with ExtractorThread(
        settings,
        {site: SiteStart(cursor, resumed=True, round_started_at=datetime.now(UTC))},
        transport=lambda: in_memory(simulator),
    ) as extractor:
        second = list(extractor)
    second_run = [row["name"] for item in second if isinstance(item, Page) for row in item.rows.locations]
    assert first_run + second_run == [item["name"] for item in expected_locations(9, 0, 2_000)]
    assert [item.sequence for item in second if isinstance(item, Page)] == list(range(1, 18))  # 17 pages this run
    assert not extractor_threads()

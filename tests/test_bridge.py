"""The thread boundary: pages cross in order, failures cross both ways, nothing is left running."""

from __future__ import annotations

import time

import pytest
from yarl import URL

from dexory_async.bridge import QUEUE_PAGES, ExtractorThread
from dexory_async.errors import ApiKeyRejected
from dexory_async.links import first_page_url
from dexory_async.simulator import SimulatorConfig, serve_in_thread
from dexory_async.simulator.data import locations as expected_locations
from tests.conftest import extractor_threads, settings_for


def test_pages_cross_in_order_and_the_thread_ends() -> None:
    with serve_in_thread(SimulatorConfig(locations=1_234, latency_ms=5, jitter_ms=20)) as simulator:
        settings = settings_for(simulator, concurrency=4)
        with ExtractorThread(settings, first_page_url(settings)) as extractor:
            pages = list(extractor)
    names = [row["name"] for page in pages for row in page.locations]
    assert names == [item["name"] for item in expected_locations(1, 0, 1_234)]
    assert extractor.summary is not None and extractor.summary.requests.requests == 13
    assert not extractor_threads()


def test_extractor_failure_is_raised_in_the_calling_thread() -> None:
    with serve_in_thread(SimulatorConfig(locations=100)) as simulator:
        settings = settings_for(simulator, site_api_key="wrong")
        with (
            pytest.raises(ApiKeyRejected, match="API key was rejected"),
            ExtractorThread(settings, first_page_url(settings)) as extractor,
        ):
            list(extractor)
    assert not extractor_threads()


def test_a_failing_consumer_cancels_the_extractor_promptly() -> None:
    with serve_in_thread(SimulatorConfig(locations=20_000, latency_ms=50)) as simulator:
        settings = settings_for(simulator, concurrency=4)
        started = time.monotonic()
        with (
            pytest.raises(RuntimeError, match="warehouse is down"),
            ExtractorThread(settings, first_page_url(settings)) as extractor,
        ):
            for page in extractor:
                if page.sequence == 2:
                    raise RuntimeError("warehouse is down")
        assert time.monotonic() - started < 5  # 200 pages at 50 ms would take far longer
    assert not extractor_threads()


def test_a_slow_consumer_bounds_how_far_the_extractor_runs_ahead() -> None:
    concurrency = 4
    with serve_in_thread(SimulatorConfig(locations=5_000)) as simulator:
        settings = settings_for(simulator, concurrency=concurrency)
        with ExtractorThread(settings, first_page_url(settings)) as extractor:
            for page in extractor:
                if page.sequence == 1:
                    time.sleep(0.5)  # let the extractor run as far ahead as it can
                    ahead = len(simulator.requests)
                    break
    # taken + queued + one flattened page waiting for room + a full prefetch window
    assert ahead <= 1 + QUEUE_PAGES + 1 + concurrency


def test_resume_from_a_checkpoint_taken_while_later_pages_were_in_flight() -> None:
    config = SimulatorConfig(locations=2_000, seed=9, latency_ms=20, jitter_ms=30)
    with serve_in_thread(config) as simulator:
        settings = settings_for(simulator, concurrency=4)
        first_run: list[str] = []
        with ExtractorThread(settings, first_page_url(settings)) as extractor:
            for page in extractor:
                first_run += [row["name"] for row in page.locations]
                if page.sequence == 3:
                    cursor = page.next_url  # what a checkpoint after page 3 saves
                    break
        assert simulator.in_flight > 0 or len(simulator.requests) > 3  # later pages were already requested
        assert cursor is not None
        with ExtractorThread(settings, URL(cursor)) as extractor:
            second_run = [row["name"] for page in extractor for row in page.locations]
    assert first_run + second_run == [item["name"] for item in expected_locations(9, 0, 2_000)]

"""Failures of a whole sync and the resume after them: a connection run in process (`tests.connection`), every line
`update()` runs against the simulator in memory; and bad input through the real `fivetran debug` on a staged project,
as the user sees it.

A sync whose warehouse fails mid-page saves its progress and the next one resumes at the page after the last one
fully upserted (a real SIGKILL mid-sync is in tests/test_multisite.py); a site that runs out of retries, or meets a
link to another origin, fails the sync with a message that names the cause and keeps its progress; bad input fails
fast. The API key's value appears in no output, checkpoint or written row, nor, through `fivetran debug`, in any
file or crash report.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from yarl import URL

from dexory_async.links import page_number
from dexory_async.tables import LOCATIONS
from dexory_simulator import FaultPlan, GroundTruth, Simulator, SimulatorConfig, serve_in_thread
from tests.conftest import (
    TEST_KEY,
    WRONG_KEY,
    assert_no_key,
    configuration_for,
    query_without_key,
    requests_since,
)
from tests.connection import Connection
from tests.debug_process import entry_of
from tests.reliability import record, rows, truth_rows
from tools.fivetran_cli import run_debug, write_configuration

# ---------------------------------------------------------------------------------------------------- in process


def assert_ground_truth(connection: Connection) -> GroundTruth:
    """Every row of every site in the warehouse: the counts of each site are the simulator's."""
    simulator = connection.simulator
    landed = connection.landed()
    assert landed == simulator.ground_truth()
    assert {site: connection.landed(site) for site in simulator.site_truths()} == simulator.site_truths()
    return landed


# -------------------------------------------------------------------------------------------- failure and resume


def test_a_sync_stopped_mid_page_resumes_from_its_last_checkpoint_without_skipping_a_page(
    request: pytest.FixtureRequest,
) -> None:
    page_size = 50
    simulator = Simulator(SimulatorConfig(locations=500, seed=21, api_key=TEST_KEY))
    pages_in_total = -(-simulator.config.locations // page_size)
    # About 185 rows a page: a checkpoint every other page, by the row bound (the 60 s interval never comes); the
    # warehouse fails on row 1,000, in the middle of page 6 or so, with pages fetched ahead.
    configuration = configuration_for(simulator, page_size=page_size, concurrency=2, checkpoint_max_rows=250)
    connection = Connection(simulator, configuration)
    connection.sink.fail_at_row = 1_000
    stopped = connection.sync()
    assert isinstance(stopped.error, RuntimeError) and "the warehouse is down" in str(stopped.error)
    assert "sync failed; progress saved" in stopped.output
    by_the_row_bound = [state for state in stopped.checkpoints[1:-1] if "cursor" in entry_of(state)]
    assert len(by_the_row_bound) >= 2  # checkpoints mid-sync before the failure, then the one saving progress
    entry = entry_of(connection.state)
    cursor = URL(entry["cursor"])
    resume_page = page_number(cursor)
    assert resume_page is not None and 1 < resume_page < pages_in_total  # stopped mid-sync, not after the end
    assert entry["pages"] == resume_page - 1  # the cursor is the page after the last one counted
    assert entry["locations"] == (resume_page - 1) * page_size
    written_before = len(connection.sink.rows_of(LOCATIONS))
    assert written_before > entry["locations"]  # part of the cursor's page was written: it is read again in full
    requested_before = {r.page for r in simulator.requests}

    connection.sink.fail_at_row = None  # the warehouse is back
    resumed_at = time.monotonic()  # every request of the earlier sync arrived before this
    resumed = connection.sync()
    resumed_requests = requests_since(simulator, resumed_at)

    assert resumed.succeeded, resumed.output[-3000:]
    assert "resuming the interrupted sync" in resumed.output
    assert resumed_requests[0].page == resume_page  # the checkpointed page came first, not page 1
    assert query_without_key(resumed_requests[0].query) == query_without_key(cursor)
    # nothing before the checkpoint again, and every page from it to the end exactly once
    assert sorted(r.page or 0 for r in resumed_requests) == list(range(resume_page, pages_in_total + 1))
    assert set(range(1, resume_page)) <= requested_before  # the pages before it came from the stopped sync
    landed = assert_ground_truth(connection)
    truth = simulator.ground_truth()
    # every location written once, but for the part of the cursor's page written before the failure
    assert len(connection.sink.rows_of(LOCATIONS)) == truth.locations + written_before - entry["locations"]
    assert set(connection.state) == {"last_sync", "rounds"}
    connection.assert_no_key({TEST_KEY}, stopped, resumed)

    # Killed instead, right after the last checkpoint by the row bound: what it committed is all there is.
    last = max(number for number, state in enumerate(stopped.checkpoints[:-1]) if "cursor" in entry_of(state))
    saved = stopped.checkpoints[last]  # the stopped sync's checkpoints are the sink's first ones
    killed = Connection(simulator, configuration, connection.sink.committed_at(last), saved)
    killed_at = time.monotonic()
    after_kill = killed.sync()
    after_kill_requests = requests_since(simulator, killed_at)
    assert after_kill.succeeded and "resuming the interrupted sync" in after_kill.output
    saved_page = page_number(URL(entry_of(saved)["cursor"]))
    assert saved_page is not None and saved_page < resume_page  # an earlier checkpoint than the one on failure
    assert sorted(r.page or 0 for r in after_kill_requests) == list(range(saved_page, pages_in_total + 1))
    assert killed.landed() == truth
    record(
        request.node.nodeid,
        "the warehouse fails on row 1,000, mid-page, after 2 checkpoints by the row bound (checkpoint_max_rows 250)",
        f"saves progress; the next sync logs 'resuming the interrupted sync' and starts at page {resume_page} of "
        f"{pages_in_total}, the one that failed mid-way; lands everything once",
        faults="warehouse failure x1",
        retries=0,
        expected=truth_rows(simulator),
        landed=rows(landed.locations, landed.objects),
    )


# ----------------------------------------------------------------------------------------------- exhausted retries


def test_exhausted_retries_fail_the_sync_and_the_next_one_resumes(request: pytest.FixtureRequest) -> None:
    faults = FaultPlan.parse(["8:status=502@*"])
    simulator = Simulator(SimulatorConfig(locations=1_000, seed=22, api_key=TEST_KEY, faults=faults))
    connection = Connection(simulator, configuration_for(simulator, max_retries=1, checkpoint_max_rows=1_000))
    failed = connection.sync()
    kept = connection.landed()
    injected = dict(faults.injected)
    requests_of_failed_sync = len(simulator.requests)

    faults.faults.clear()  # the server recovers
    resumed_at = time.monotonic()  # every request of the earlier sync arrived before this
    resumed = connection.sync()
    resumed_requests = requests_since(simulator, resumed_at)

    assert not failed.succeeded
    assert "1 of 1 sites failed (0 synced): site 'demo-site': giving up on" in str(failed.error)
    assert "after 2 attempts; last error: HTTP 502 from the server" in str(failed.error)
    assert injected == {"status": 2}  # page 8 twice: no retry beyond max_retries
    assert requests_of_failed_sync <= 8 + 1 + 3  # pages 1-8, the retry, what was fetched ahead
    after_failure = failed.checkpoints[-1]
    entry = entry_of(after_failure)
    assert page_number(URL(entry["cursor"])) == 8  # progress saved up to the failing page
    assert "last_sync" in after_failure  # the round ended: only the failed site resumes
    assert (kept.locations, entry["locations"], entry["pages"]) == (700, 700, 7)

    assert resumed.succeeded, resumed.output[-3000:]
    assert "resuming the interrupted sync" in resumed.output
    assert resumed_requests[0].page == 8
    landed = assert_ground_truth(connection)
    connection.assert_no_key({TEST_KEY}, failed, resumed)
    record(
        request.node.nodeid,
        "page 8 answering 502 every time (max_retries 1)",
        "the sync fails with 'giving up … last error: HTTP 502'; state keeps the site's cursor (page 8); the next "
        "sync resumes there and completes",
        faults=injected,
        retries=1,
        expected=truth_rows(simulator),
        landed=f"{rows(kept.locations, kept.objects)} after the failure; "
        f"{rows(landed.locations, landed.objects)} after the resume",
    )


# ---------------------------------------------------------------------------------------------------- off-origin


def test_a_link_to_another_origin_fails_the_sync_and_keeps_progress(request: pytest.FixtureRequest) -> None:
    foreign = Simulator(SimulatorConfig(locations=100, api_key=TEST_KEY), port=8081)  # another origin, reachable
    faults = FaultPlan.parse([f"5:next_origin={foreign.base_url}"])
    simulator = Simulator(SimulatorConfig(locations=1_000, seed=23, api_key=TEST_KEY, faults=faults))
    connection = Connection(simulator, configuration_for(simulator, checkpoint_max_rows=700), other_hosts=(foreign,))
    result = connection.sync()

    assert not result.succeeded
    assert f"refusing to follow links.next to host {foreign.host}:{foreign.port}" in result.output
    assert foreign.requests == []  # not one request reached the other host, so certainly not the key
    entry = entry_of(connection.state)
    assert page_number(URL(entry["cursor"])) == 5  # the page whose link was refused is re-read next time
    kept = connection.landed()
    assert kept.locations == 500  # pages 1-5 landed...
    assert entry["pages"] == 4  # ...and page 5, read again next time, is not counted twice
    connection.assert_no_key({TEST_KEY}, result)
    record(
        request.node.nodeid,
        "page 5's links.next points to another host",
        "the sync fails with 'refusing to follow links.next to host …'; pages 1-5 kept and checkpointed; the other "
        "host receives no request",
        faults=f"next_origin x1; foreign host requests: {len(foreign.requests)}",
        retries=0,
        expected="pages 1-5 (500 locations), then the error",
        landed=rows(kept.locations, kept.objects),
    )


# ---------------------------------------------------------------------------------------------------- bad input


BAD_INPUT = {
    "wrong-key": ({"site_api_key": WRONG_KEY}, "the API key was rejected for site 'demo-site' (HTTP 401)", 1),
    "unknown-site": ({"site_name": "no-such-site"}, "site 'no-such-site' not found (HTTP 404)", 1),
    "invalid-configuration": (
        {"concurrency": "0", "page_size": "lots"},
        "invalid configuration: page_size must be an integer from 1 to 10000, got 'lots'; "
        "concurrency must be an integer from 1 to 32, got '0'",
        0,
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUT))
def test_bad_input_fails_fast_with_a_clear_message(
    project: Path, home: Path, case: str, request: pytest.FixtureRequest
) -> None:
    overrides, message, requests = BAD_INPUT[case]
    with serve_in_thread(SimulatorConfig(locations=300, api_key=TEST_KEY)) as simulator:
        # A retry would wait 2 s, then 4, 8: none may happen.
        write_configuration(project, configuration_for(simulator, base_retry_delay=2, **overrides))
        result = run_debug(project, home, timeout=60, log_path=project.parent / "debug.log")
    assert result.returncode == 1, result.stdout[-3000:]
    assert message in result.stdout
    assert len(simulator.requests) == requests  # at most the one request that was refused: no retry
    assert "; retry " not in result.stdout
    assert "SYNC FAILED" in result.stdout
    assert list((project / "crash-reports").glob("*.log"))  # there was a crash report to check for the key
    secret = overrides.get("site_api_key", TEST_KEY)
    assert_no_key(project, {secret}, result.stdout)
    record(
        request.node.nodeid,
        f"`fivetran debug` with {case.replace('-', ' ')}",
        f"exit 1, no retry: '{message[:60]}…'",
        faults="none",
        retries=0,
        expected="nothing",
        landed="nothing",
    )

"""Checkpoints and failures of a whole sync: `Sync`'s checkpoint cadence on a fake clock, then the real `fivetran
debug` on a staged project, killed, failing and resuming, over sockets.

A checkpoint is taken once `checkpoint_max_rows` rows were written since the last one, or once
`checkpoint_interval_seconds` passed, never in the middle of a page, and it always resumes each site at the page
after its last fully upserted one. A sync killed with SIGKILL resumes from its last checkpoint and ends with exactly
the ground truth; a site that runs out of retries, or meets a link to another origin, fails the sync with a message
that names the cause and keeps its progress; bad input fails fast. In every run the API key's value appears in no
output, state file or crash report.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import pytest
from yarl import URL

from dexory_async.links import page_number
from dexory_simulator import FaultPlan, Simulator, SimulatorConfig, serve_in_thread
from tests.conftest import PAGE_SIZE, TEST_KEY, WRONG_KEY, assert_no_key, configuration_for, requests_since, wait_until
from tests.debug_process import StreamedDebug, site_state, state_of
from tests.reliability import record, rows, truth_rows
from tests.warehouse import Landed, landed, landed_per_site
from tools.fivetran_cli import run_debug, write_configuration

# ---------------------------------------------------------------------------------------------------- fivetran debug


def query_without_key(url: URL | dict[str, str]) -> dict[str, str]:
    query = url if isinstance(url, dict) else dict(url.query)
    return {k: v for k, v in query.items() if k != "api_key"}


def assert_ground_truth(database: Path, simulator: Simulator) -> Landed:
    """Every row of every site exactly once: the counts of each site are the simulator's, and no key repeats."""
    truth = simulator.ground_truth()
    rows_landed = landed(database)
    assert (rows_landed.locations, rows_landed.objects) == (truth.locations, truth.objects)
    assert rows_landed.distinct_location_keys == rows_landed.locations  # the primary key is unique
    assert rows_landed.orphan_objects == 0 and rows_landed.null_keys == 0
    per_site = landed_per_site(database)
    assert {site: (counts.locations, counts.objects) for site, counts in per_site.items()} == {
        site: (site_truth.locations, site_truth.objects) for site, site_truth in simulator.site_truths().items()
    }
    return rows_landed


# -------------------------------------------------------------------------------------------------- kill and resume


def test_a_killed_sync_resumes_from_its_last_checkpoint_without_skipping_a_page(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    config = SimulatorConfig(locations=2_500, seed=21, api_key=TEST_KEY, latency_ms=60)
    pages_in_total = -(-config.locations // PAGE_SIZE)
    with serve_in_thread(config) as simulator:
        # About 370 rows a page: a checkpoint every other page, by the row bound (the 60 s interval never comes).
        write_configuration(project, configuration_for(simulator, concurrency=2, checkpoint_max_rows=500))
        first = StreamedDebug(project, home)
        try:
            checkpointed = wait_until(
                lambda: (
                    first.process.poll() is not None
                    or (first.count("checkpoint recorded") >= 2 and "cursor" in site_state(project))
                ),
                timeout=60,
            )
            assert checkpointed and first.process.poll() is None, f"no checkpoint to kill at:\n{first.output[-3000:]}"
        finally:
            first.kill()
        assert first.process.returncode == -signal.SIGKILL
        killed_after = first.count("checkpoint recorded")
        checkpoint = site_state(project)  # the last checkpoint before the kill (state.json is replaced atomically)
        cursor = URL(checkpoint["cursor"])
        resume_page = page_number(cursor)
        assert resume_page is not None and 1 < resume_page < pages_in_total  # killed mid-sync, not after the end
        assert checkpoint["pages"] == resume_page - 1  # the cursor is the page after the last one counted
        requested_before_kill = {r.page for r in simulator.requests}

        resumed_at = time.monotonic()  # every request of the earlier run arrived before this
        second = run_debug(project, home, timeout=120, log_path=project.parent / "debug-resumed.log")
        second_requests = requests_since(simulator, resumed_at)

    (project.parent / "debug-killed.log").write_text(first.output)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming the interrupted sync" in second.stdout and "SYNC SUCCEEDED" in second.stdout
    assert second_requests[0].page == resume_page  # the checkpointed page came first, not page 1
    assert query_without_key(second_requests[0].query) == query_without_key(cursor)
    # nothing before the checkpoint again, and every page from it to the end exactly once
    assert sorted(r.page or 0 for r in second_requests) == list(range(resume_page, pages_in_total + 1))
    assert set(range(1, resume_page)) <= requested_before_kill  # the pages before it came from the killed run
    rows_landed = assert_ground_truth(project / "files" / "warehouse.db", simulator)
    assert set(state_of(project)) == {"last_sync", "rounds"}
    assert_no_key(project, {TEST_KEY}, first.output, second.stdout)
    record(
        request.node.nodeid,
        f"`fivetran debug` SIGKILLed after {killed_after} checkpoints (checkpoint_max_rows 500)",
        f"the next run logs 'resuming the interrupted sync' and starts at the checkpointed page {resume_page} "
        f"of {pages_in_total}; lands everything once",
        faults="SIGKILL x1",
        retries=0,
        expected=truth_rows(simulator),
        landed=rows(rows_landed.locations, rows_landed.objects),
    )


# ----------------------------------------------------------------------------------------------- exhausted retries


def test_exhausted_retries_fail_the_sync_and_the_next_one_resumes(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    faults = FaultPlan.parse(["8:status=502@*"])
    config = SimulatorConfig(locations=2_000, seed=22, api_key=TEST_KEY, faults=faults)
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, max_retries=1, checkpoint_max_rows=1_000))
        failed = run_debug(project, home, timeout=120, log_path=project.parent / "debug-failed.log")
        after_failure = state_of(project)
        database = project / "files" / "warehouse.db"
        kept = landed(database)
        injected = dict(faults.injected)
        requests_of_failed_run = len(simulator.requests)

        faults.faults.clear()  # the server recovers
        resumed_at = time.monotonic()  # every request of the earlier run arrived before this
        second = run_debug(project, home, timeout=120, log_path=project.parent / "debug-resumed.log")
        second_requests = requests_since(simulator, resumed_at)

    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "SYNC FAILED" in failed.stdout
    assert "1 of 1 sites failed (0 synced): site 'demo-site': giving up on" in failed.stdout
    assert "after 2 attempts; last error: HTTP 502 from the server" in failed.stdout
    assert injected == {"status": 2}  # page 8 twice: no retry beyond max_retries
    assert requests_of_failed_run <= 8 + 1 + 3  # pages 1-8, the retry, what was fetched ahead
    entry = after_failure["sites"]["demo-site"]
    assert page_number(URL(entry["cursor"])) == 8  # progress saved up to the failing page
    assert "last_sync" in after_failure  # the round ended: only the failed site resumes
    assert (kept.locations, entry["locations"], entry["pages"]) == (700, 700, 7)

    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming the interrupted sync" in second.stdout
    assert second_requests[0].page == 8
    rows_landed = assert_ground_truth(database, simulator)
    assert_no_key(project, {TEST_KEY}, failed.stdout, second.stdout)
    assert list((project / "crash-reports").glob("*.log"))  # there was a crash report to check
    record(
        request.node.nodeid,
        "`fivetran debug` with page 8 answering 502 every time (max_retries 1)",
        "exit 1, 'giving up … last error: HTTP 502'; state keeps the site's cursor (page 8); the next run resumes "
        "there and completes",
        faults=injected,
        retries=1,
        expected=truth_rows(simulator),
        landed=f"{rows(kept.locations, kept.objects)} after the failure; "
        f"{rows(rows_landed.locations, rows_landed.objects)} after the resume",
    )


# ---------------------------------------------------------------------------------------------------- off-origin


def test_a_link_to_another_origin_fails_the_sync_and_keeps_progress(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    with serve_in_thread(SimulatorConfig(locations=100, api_key=TEST_KEY)) as foreign:
        faults = FaultPlan.parse([f"5:next_origin={foreign.base_url}"])
        config = SimulatorConfig(locations=2_000, seed=23, api_key=TEST_KEY, faults=faults)
        with serve_in_thread(config) as simulator:
            write_configuration(project, configuration_for(simulator, checkpoint_max_rows=700))
            result = run_debug(project, home, timeout=120, log_path=project.parent / "debug.log")
        foreign_requests = list(foreign.requests)

    assert result.returncode == 1, result.stdout[-3000:]
    assert f"refusing to follow links.next to host {foreign.host}:{foreign.port}" in result.stdout
    assert foreign_requests == []  # not one request reached the other host, so certainly not the key
    entry = site_state(project)
    assert page_number(URL(entry["cursor"])) == 5  # the page whose link was refused is re-read next time
    database = project / "files" / "warehouse.db"
    kept = landed(database)
    assert kept.locations == 500  # pages 1-5 landed...
    assert entry["pages"] == 4  # ...and page 5, read again next time, is not counted twice
    assert_no_key(project, {TEST_KEY}, result.stdout)
    record(
        request.node.nodeid,
        "`fivetran debug` where page 5's links.next points to another host",
        "exit 1, 'refusing to follow links.next to host …'; pages 1-5 kept and checkpointed; the other host "
        "receives no request",
        faults=f"next_origin x1; foreign host requests: {len(foreign_requests)}",
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

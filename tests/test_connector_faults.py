"""Issue 4 through the real SDK: `fivetran debug` on a staged project, killed, failing and resuming, over sockets.

A sync killed with SIGKILL resumes from its last checkpoint and ends with exactly the ground truth; a sync that
runs out of retries, or meets a link to another origin, fails with a message that names the cause and keeps its
progress; bad input fails fast. In every run the API key's value appears in no output, state file or crash report.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from yarl import URL

from dexory_async.links import page_number
from dexory_async.simulator import FaultPlan, RequestRecord, Simulator, SimulatorConfig, serve_in_thread
from tests.conftest import TEST_KEY, WRONG_KEY, configuration_for
from tests.reliability import record, rows, truth_rows
from tests.warehouse import Landed, landed
from tools.fivetran_cli import cli_env, debug_command, run_debug, stage_project, write_configuration

PAGE_SIZE = 100


# ---------------------------------------------------------------------------------------------------- helpers


class StreamedDebug:
    """`fivetran debug` in its own process group, its output read line by line as it comes."""

    def __init__(self, project: Path, home: Path) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            debug_command(project),
            cwd=project,
            env=cli_env(home),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self._reader = threading.Thread(target=self._read, name="debug-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI and anything it started), then collect what it printed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def state_of(project: Path) -> dict[str, Any]:
    path = project / "files" / "state.json"
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet
        return {}


def requests_since(simulator: Simulator, moment: float) -> list[RequestRecord]:
    return sorted((r for r in simulator.requests if r.at >= moment), key=lambda r: r.at)


def query_without_key(url: URL | dict[str, str]) -> dict[str, str]:
    query = url if isinstance(url, dict) else dict(url.query)
    return {k: v for k, v in query.items() if k != "api_key"}


def assert_ground_truth(database: Path, simulator: Simulator) -> Landed:
    truth = simulator.ground_truth()
    rows_landed = landed(database)
    assert (rows_landed.locations, rows_landed.objects) == (truth.locations, truth.objects)
    assert rows_landed.distinct_location_keys == rows_landed.locations  # the primary key is unique
    assert rows_landed.orphan_objects == 0 and rows_landed.null_keys == 0
    return rows_landed


def assert_no_key(project: Path, *outputs: str, secret: str = TEST_KEY) -> None:
    """The key is in configuration.json, where the user put it, and nowhere else: not in any output, the state,
    a crash report, or any other file under the project (the warehouse included)."""
    for output in outputs:
        assert secret not in output, "the API key leaked into the debug output"
    state = project / "files" / "state.json"
    if state.exists():
        assert secret not in state.read_text()
    crash_reports = list((project / "crash-reports").glob("*.log"))
    for report in crash_reports:
        assert secret not in report.read_text(), f"the API key leaked into {report.name}"
    for path in project.rglob("*"):
        if path.is_file() and path.name != "configuration.json":
            assert secret.encode() not in path.read_bytes(), f"the API key leaked into {path.relative_to(project)}"


def landed_rows(database: Path) -> str:
    rows_landed = landed(database)
    return rows(rows_landed.locations, rows_landed.objects)


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Path]:
    yield stage_project(tmp_path / "project")


# -------------------------------------------------------------------------------------------------- (a) kill and resume


def test_a_killed_sync_resumes_from_its_last_checkpoint(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    config = SimulatorConfig(locations=6_000, seed=21, api_key=TEST_KEY, latency_ms=60)
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, concurrency=2, checkpoint_every_pages=3))
        first = StreamedDebug(project, home)
        try:
            deadline = time.monotonic() + 60
            while not (first.count("checkpoint recorded") >= 2 and "cursor" in state_of(project)):
                assert first.process.poll() is None, f"debug ended before it was killed:\n{first.output[-3000:]}"
                assert time.monotonic() < deadline, first.output[-3000:]
                time.sleep(0.02)
        finally:
            first.kill()
        assert first.process.returncode == -signal.SIGKILL
        checkpointed = state_of(project)  # the last checkpoint before the kill (state.json is replaced atomically)
        cursor = URL(checkpointed["cursor"])
        resume_page = page_number(cursor)
        assert resume_page is not None and resume_page > 1
        assert checkpointed["pages"] == resume_page - 1
        pages_in_total = -(-config.locations // PAGE_SIZE)
        assert resume_page < pages_in_total  # it was killed mid-sync, not after the end

        resumed_at = time.monotonic()
        second = run_debug(project, home, timeout=120, log_path=project.parent / "debug-resumed.log")
        second_requests = requests_since(simulator, resumed_at)

    (project.parent / "debug-killed.log").write_text(first.output)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming the interrupted sync" in second.stdout and "SYNC SUCCEEDED" in second.stdout
    assert second_requests[0].page == resume_page  # the checkpointed page came first, not page 1
    assert query_without_key(second_requests[0].query) == query_without_key(cursor)
    assert min(r.page or 0 for r in second_requests) == resume_page  # nothing before the checkpoint again
    rows_landed = assert_ground_truth(project / "files" / "warehouse.db", simulator)
    assert set(state_of(project)) == {"last_sync"}
    assert_no_key(project, first.output, second.stdout)
    record(
        request.node.nodeid,
        f"`fivetran debug` SIGKILLed after {first.count('checkpoint recorded')} checkpoints",
        f"the next run logs 'resuming the interrupted sync' and starts at the checkpointed page {resume_page} "
        f"of {pages_in_total}; lands everything once",
        faults="SIGKILL x1",
        retries=0,
        expected=truth_rows(simulator),
        landed=rows(rows_landed.locations, rows_landed.objects),
    )


# ------------------------------------------------------------------------------------------------ (b) exhausted retries


def test_exhausted_retries_fail_the_sync_and_the_next_one_resumes(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    faults = FaultPlan.parse(["8:status=502@*"])
    config = SimulatorConfig(locations=2_000, seed=22, api_key=TEST_KEY, faults=faults)
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, max_retries=1, checkpoint_every_pages=3))
        started = time.monotonic()
        failed = run_debug(project, home, timeout=120, log_path=project.parent / "debug-failed.log")
        failed_in = time.monotonic() - started
        after_failure = state_of(project)
        database = project / "files" / "warehouse.db"
        kept = landed(database)
        injected = dict(faults.injected)

        faults.faults.clear()  # the server recovers
        resumed_at = time.monotonic()
        second = run_debug(project, home, timeout=120, log_path=project.parent / "debug-resumed.log")
        second_requests = requests_since(simulator, resumed_at)

    assert failed.returncode == 1, failed.stdout[-3000:]
    assert "SYNC FAILED" in failed.stdout
    assert "giving up on" in failed.stdout and "after 2 attempts; last error: HTTP 502 from the server" in failed.stdout
    assert failed_in < 30
    assert page_number(URL(after_failure["cursor"])) == 8  # progress saved up to the failing page
    assert (kept.locations, after_failure["locations"]) == (700, 700)
    assert injected == {"status": 2}

    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming the interrupted sync" in second.stdout
    assert second_requests[0].page == 8
    rows_landed = assert_ground_truth(database, simulator)
    assert_no_key(project, failed.stdout, second.stdout)
    assert list((project / "crash-reports").glob("*.log"))  # there was a crash report to check
    record(
        request.node.nodeid,
        "`fivetran debug` with page 8 answering 502 every time (max_retries 1)",
        "exit 1, 'giving up … last error: HTTP 502'; state keeps the cursor (page 8); the next run resumes there "
        "and completes",
        faults=injected,
        retries=1,
        expected=truth_rows(simulator),
        landed=f"{rows(kept.locations, kept.objects)} after the failure; "
        f"{rows(rows_landed.locations, rows_landed.objects)} after the resume",
    )


# ---------------------------------------------------------------------------------------------------- (c) off-origin


def test_a_link_to_another_origin_fails_the_sync_and_keeps_progress(
    project: Path, home: Path, request: pytest.FixtureRequest
) -> None:
    with serve_in_thread(SimulatorConfig(locations=100, api_key=TEST_KEY)) as foreign:
        faults = FaultPlan.parse([f"5:next_origin={foreign.base_url}"])
        config = SimulatorConfig(locations=2_000, seed=23, api_key=TEST_KEY, faults=faults)
        with serve_in_thread(config) as simulator:
            write_configuration(project, configuration_for(simulator, checkpoint_every_pages=2))
            result = run_debug(project, home, timeout=120, log_path=project.parent / "debug.log")
        foreign_requests = list(foreign.requests)

    assert result.returncode == 1, result.stdout[-3000:]
    assert f"refusing to follow links.next to host {foreign.host}:{foreign.port}" in result.stdout
    assert foreign_requests == []  # not one request reached the other host, so certainly not the key
    state = state_of(project)
    assert page_number(URL(state["cursor"])) == 5  # the page whose link was refused is re-read next time
    database = project / "files" / "warehouse.db"
    kept = landed(database)
    assert kept.locations == 500  # pages 1-5 landed...
    assert state["pages"] == 4  # ...and page 5, read again next time, is not counted twice
    assert_no_key(project, result.stdout)
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


# ---------------------------------------------------------------------------------------------------- (e) bad input


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
        write_configuration(project, configuration_for(simulator, base_retry_delay=2, **overrides))
        started = time.monotonic()
        result = run_debug(project, home, timeout=60, log_path=project.parent / "debug.log")
        elapsed = time.monotonic() - started
    assert result.returncode == 1, result.stdout[-3000:]
    assert message in result.stdout
    assert len(simulator.requests) == requests  # at most the one request that was refused: no retry
    assert elapsed < 10
    secret = overrides.get("site_api_key", TEST_KEY)
    assert_no_key(project, result.stdout, secret=secret)
    record(
        request.node.nodeid,
        f"`fivetran debug` with {case.replace('-', ' ')}",
        f"exit 1 in {elapsed:.1f} s (CLI start-up included), no retry: '{message[:60]}…'",
        faults="none",
        retries=0,
        expected="nothing",
        landed="nothing",
    )

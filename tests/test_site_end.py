"""The end of a site through the real `fivetran debug` into DuckDB, against an API without links.last.

Page 3 of 10 answers `links.next: null`: the connector asks for page 4 itself, finds locations there, and fails the
site naming page 3, whatever the concurrency (it used to end green with 300 of 1,000 locations at concurrency 1).
A site whose last page is followed by a 404 finishes green with every row.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from yarl import URL

from dexory_async.links import page_number
from dexory_simulator import PAST_END_404, FaultPlan, GroundTruth, SimulatorConfig, ground_truth, serve_in_thread
from tests.conftest import PAGE_SIZE, TEST_KEY, configuration_for
from tests.debug_process import site_state
from tests.reliability import record, rows
from tests.warehouse import landed
from tools.fivetran_cli import run_debug, stage_project, write_configuration


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return stage_project(tmp_path / "project")


def landed_truth(project: Path) -> GroundTruth:
    tables = landed(project / "files" / "warehouse.db")
    return GroundTruth(tables.locations, tables.objects)


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_page_without_a_next_link_before_more_locations_fails_the_sync_naming_it(
    project: Path, home: Path, concurrency: int
) -> None:
    faults = FaultPlan.parse(["3:next_null"])
    config = SimulatorConfig(locations=10 * PAGE_SIZE, seed=51, api_key=TEST_KEY, include_last=False, faults=faults)
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, concurrency=concurrency))
        result = run_debug(project, home, timeout=300, log_path=project.parent / "debug.log")
        requested = {record.page for record in simulator.requests}

    assert result.returncode != 0
    assert "SYNC FAILED" in result.stdout
    assert f"page 3 ({simulator.base_url}/customer-api/v1/locations?" in result.stdout
    assert "the page after it, holds 100 other locations: the site does not end here" in result.stdout
    assert 4 in requested
    assert landed_truth(project) == ground_truth(51, 3 * PAGE_SIZE)  # pages 1-3, handed on before the end was judged
    entry = site_state(project)
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1  # page 3 judged again after page 2
    assert TEST_KEY not in result.stdout
    record(
        "test_a_page_without_a_next_link_before_more_locations_fails_the_sync_naming_it",
        f"page 3 of 10 says links.next null, no links.last (concurrency {concurrency})",
        "asks for page 4 itself; it holds locations, so the site fails naming page 3 and resumes from page 2",
        faults={"next_null": 1},
        retries=0,
        expected=rows(10 * PAGE_SIZE, ground_truth(51, 10 * PAGE_SIZE).objects),
        landed=rows(landed_truth(project).locations, landed_truth(project).objects),
    )


def test_a_last_page_followed_by_a_404_finishes_the_site_with_every_row(project: Path, home: Path) -> None:
    config = SimulatorConfig(
        locations=5 * PAGE_SIZE + 40, seed=52, api_key=TEST_KEY, include_last=False, past_end=PAST_END_404
    )
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, concurrency=4))
        result = run_debug(project, home, timeout=300, log_path=project.parent / "debug.log")
        truth = simulator.ground_truth()

    assert result.returncode == 0, result.stdout[-3000:]
    assert landed_truth(project) == truth

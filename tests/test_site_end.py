"""The end of a site, judged against an API without links.last: whole syncs in process (tests/connection.py).

Page 3 of 10 answers `links.next: null`: the connector asks for page 4 itself, finds locations there, and fails the
site naming page 3, whatever the concurrency (it used to end green with 300 of 1,000 locations at concurrency 1).
A site whose last page is followed by a 404 finishes green with every row.
"""

from __future__ import annotations

import pytest
from yarl import URL

from dexory_async.links import page_number
from dexory_simulator import PAST_END_404, FaultPlan, Simulator, SimulatorConfig, ground_truth
from tests.conftest import TEST_KEY, configuration_for
from tests.connection import Connection
from tests.reliability import record, rows

PAGE_SIZE = 20  # 10 pages of 20 locations: the pages matter, not how many rows they hold


@pytest.mark.parametrize("concurrency", [1, 4])
def test_a_page_without_a_next_link_before_more_locations_fails_the_sync_naming_it(concurrency: int) -> None:
    faults = FaultPlan.parse(["3:next_null"])
    simulator = Simulator(
        SimulatorConfig(locations=10 * PAGE_SIZE, seed=51, api_key=TEST_KEY, include_last=False, faults=faults)
    )
    connection = Connection(simulator, configuration_for(simulator, concurrency=concurrency, page_size=PAGE_SIZE))
    synced = connection.sync()
    requested = {record.page for record in simulator.requests}

    assert not synced.succeeded
    assert f"page 3 ({simulator.base_url}/customer-api/v1/locations?" in str(synced.error)
    assert f"the page after it, holds {PAGE_SIZE} other locations: the site does not end here" in str(synced.error)
    assert 4 in requested
    landed = connection.landed()
    assert landed == ground_truth(51, 3 * PAGE_SIZE)  # pages 1-3, handed on before the end was judged
    entry = connection.state["sites"][simulator.config.site]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1  # page 3 judged again after page 2
    assert TEST_KEY not in synced.output
    record(
        "test_a_page_without_a_next_link_before_more_locations_fails_the_sync_naming_it",
        f"page 3 of 10 says links.next null, no links.last (concurrency {concurrency})",
        "asks for page 4 itself; it holds locations, so the site fails naming page 3 and resumes from page 2",
        faults={"next_null": 1},
        retries=0,
        expected=rows(10 * PAGE_SIZE, ground_truth(51, 10 * PAGE_SIZE).objects),
        landed=rows(landed.locations, landed.objects),
    )


def test_a_last_page_followed_by_a_404_finishes_the_site_with_every_row() -> None:
    simulator = Simulator(
        SimulatorConfig(
            locations=5 * PAGE_SIZE + 8, seed=52, api_key=TEST_KEY, include_last=False, past_end=PAST_END_404
        )
    )
    connection = Connection(simulator, configuration_for(simulator, concurrency=4, page_size=PAGE_SIZE))
    synced = connection.sync()

    assert synced.succeeded, synced.output[-3000:]
    assert connection.landed() == simulator.ground_truth()

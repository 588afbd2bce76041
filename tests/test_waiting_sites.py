"""Sites that wait do not hold the shared budget: over real sockets, healthy sites beside hanging ones.

The paginator-level test (fake clock) measures the ratio to the healthy sites' time alone; this one proves the same
through the real client and connection pool, by order rather than by time: every healthy site finishes before any
hanging site's request even times out.
"""

from __future__ import annotations

import pytest

from dexory_async.errors import RetriesExhausted
from dexory_async.messages import Failed, SiteEnded
from dexory_async.page import Finished
from dexory_async.transport import AiohttpTransport
from dexory_simulator import serve_in_thread
from dexory_simulator.scenarios import beside_sick_sites
from tests.conftest import settings_for
from tests.extraction import run_extract

TIMEOUT = 6.0


@pytest.mark.parametrize("shared_key", [False, True], ids=["a key per site", "one key for every site"])
async def test_healthy_sites_finish_before_hanging_sites_as_many_as_the_slots_even_time_out(shared_key: bool) -> None:
    scenario = beside_sick_sites(4, 4, locations=1_000, sickness="hanging", shared_key=shared_key, latency_ms=5)
    with serve_in_thread(scenario.config) as simulator:
        names = [*scenario.sick, *scenario.healthy]
        settings = settings_for(simulator, sites=names, concurrency=4, max_retries=0, request_timeout_seconds=TIMEOUT)
        transport = AiohttpTransport()
        try:
            run = await run_extract(settings, transport)
        finally:
            await transport.aclose()

    ended = [item.site for item in run.items if isinstance(item, SiteEnded)]
    assert sorted(ended[:4]) == sorted(scenario.healthy), ended
    for name in scenario.healthy:
        assert run.ended[name].end == Finished()
        assert sum(len(page.rows.locations) for page in run.pages_of(name)) == 1_000
    for name in scenario.sick:
        end = run.ended[name].end
        assert isinstance(end, Failed) and isinstance(end.error, RetriesExhausted), end

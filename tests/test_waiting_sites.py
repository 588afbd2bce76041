"""Sites that wait do not hold the shared budget: healthy sites beside as many hanging sites as there are slots.

The paginator-level test (tests/test_pagination.py, on a fake clock) measures the healthy sites' time against their
time alone. These run the whole extractor (client, request timeout, the key's throttle, the budget) and judge by
order rather than by time: every healthy site finishes before any hanging site's request even times out. In memory
on a fake clock, with a key per site and one key for every site; and once over real sockets, where the hanging
requests hold connections of aiohttp's pool.
"""

from __future__ import annotations

import pytest

from dexory_async.errors import RetriesExhausted
from dexory_async.messages import Failed, SiteEnded
from dexory_async.page import Finished
from dexory_async.transport import AiohttpTransport, Transport
from dexory_simulator import Simulator, serve_in_thread
from dexory_simulator.scenarios import SickSites, beside_sick_sites
from tests.conftest import FakeClock, in_memory, settings_for
from tests.extraction import run_extract


def scenario(*, locations: int, shared_key: bool) -> SickSites:
    return beside_sick_sites(4, 4, locations=locations, sickness="hanging", shared_key=shared_key, latency_ms=5)


async def assert_healthy_sites_finish_first(
    sick: SickSites, simulator: Simulator, transport: Transport, timeout: float, **options: int
) -> None:
    """Every healthy site of `sick` finished with all its locations before any hanging site ended, and each hanging
    site failed on its request timeout."""
    names = [*sick.sick, *sick.healthy]
    settings = settings_for(
        simulator, sites=names, concurrency=4, max_retries=0, request_timeout_seconds=timeout, **options
    )
    run = await run_extract(settings, transport)

    ended = [item.site for item in run.items if isinstance(item, SiteEnded)]
    assert sorted(ended[:4]) == sorted(sick.healthy), ended
    for name in sick.healthy:
        assert run.ended[name].end == Finished()
        assert sum(len(page.rows.locations) for page in run.pages_of(name)) == simulator.ground_truth(name).locations
    for name in sick.sick:
        end = run.ended[name].end
        assert isinstance(end, Failed) and isinstance(end.error, RetriesExhausted), end


@pytest.mark.parametrize("shared_key", [False, True], ids=["a key per site", "one key for every site"])
async def test_healthy_sites_finish_before_hanging_sites_as_many_as_the_slots_even_time_out(
    clock: FakeClock, shared_key: bool
) -> None:
    sick = scenario(locations=100, shared_key=shared_key)
    simulator = Simulator(sick.config)
    await clock.run(assert_healthy_sites_finish_first(sick, simulator, in_memory(simulator), 6.0, page_size=20))


async def test_over_real_sockets_hanging_requests_keep_no_connection_from_the_healthy_sites() -> None:
    """Four requests that never get an answer hold four of the pool's connections until they time out; the healthy
    sites (2 pages each) open their own. The timeout is real here: 3 s, where the healthy sites need the budget's
    patience (a second) before the hanging requests step out, then a few milliseconds a page."""
    sick = scenario(locations=40, shared_key=True)
    with serve_in_thread(sick.config) as simulator:
        transport = AiohttpTransport()
        try:
            await assert_healthy_sites_finish_first(sick, simulator, transport, 3.0, page_size=20)
        finally:
            await transport.aclose()

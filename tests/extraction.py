"""Running the asyncio extractor in a test (in memory, usually), checking what it handed on against the ground truth."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from dexory_async.config import Settings
from dexory_async.errors import DexoryError
from dexory_async.extractor import extract
from dexory_async.links import first_page_url
from dexory_async.messages import Failed, Item, RequestCounters, SiteEnded, SiteStart, StartedOver
from dexory_async.page import End, Finished, Page
from dexory_async.transport import Transport
from dexory_simulator import Simulator, malformed
from dexory_simulator import data as simulated
from dexory_simulator.faults import MALFORMED
from tests.conftest import PAGE_SIZE
from tests.reliability import rows


def first_pages(settings: Settings) -> dict[str, SiteStart]:
    """Every configured site from its first page, as a sync without state starts."""
    started = datetime.now(UTC)
    return {site.name: SiteStart(first_page_url(settings, site), False, started) for site in settings.sites}


@dataclass
class Run:
    """What one extraction handed on, in the order it did."""

    items: list[Item] = field(default_factory=list)

    @property
    def pages(self) -> list[Page]:
        return [item for item in self.items if isinstance(item, Page)]

    @property
    def ended(self) -> dict[str, SiteEnded]:
        return {item.site: item for item in self.items if isinstance(item, SiteEnded)}

    @property
    def started_over(self) -> list[StartedOver]:
        return [item for item in self.items if isinstance(item, StartedOver)]

    def pages_of(self, site: str) -> list[Page]:
        return [page for page in self.pages if page.site == site]

    def _only(self) -> SiteEnded:
        [ended] = self.ended.values()  # the single-site helpers below are for single-site runs
        return ended

    @property
    def end(self) -> End | Failed:
        return self._only().end

    @property
    def error(self) -> DexoryError | None:
        """The single site's error, when it failed."""
        end = self.end
        return end.error if isinstance(end, Failed) else None

    @property
    def requests(self) -> RequestCounters:
        return self._only().requests

    @property
    def names(self) -> list[str]:
        return [row["name"] for page in self.pages for row in page.rows.locations]

    @property
    def objects(self) -> int:
        return sum(len(page.rows.objects) for page in self.pages)

    @property
    def landed(self) -> str:
        return rows(len(self.names), self.objects)


async def run_extract(settings: Settings, transport: Transport, starts: Mapping[str, SiteStart] | None = None) -> Run:
    """One extraction over `transport` (every configured site from its first page by default); whatever it hands on
    is collected."""
    run = Run()

    async def collect(item: Item) -> None:
        run.items.append(item)

    await extract(settings, first_pages(settings) if starts is None else starts, collect, transport)
    return run


def expected_names(simulator: Simulator, site: str | None = None, page_size: int = PAGE_SIZE) -> list[str]:
    """Every location name of `site` (default: the simulator's first) in the API's order, with the valid records a
    `malformed` fault adds to its page."""
    [spec] = [spec for spec in simulator.config.sites if spec.name == (site or simulator.config.site)]
    faults = simulator.config.faults.on_site(spec.name, MALFORMED)
    malformed_pages = {fault.page for fault in faults}
    names: list[str] = []
    shared = simulator.config.shared_locations
    for number in range(1, -(-spec.locations // page_size) + 1):
        start = (number - 1) * page_size
        stop = min(start + page_size, spec.locations)
        names += [item["name"] for item in simulated.locations(spec.seed, start, stop, shared)]
        if number in malformed_pages:
            names += [added.record["name"] for added in malformed.records(spec.name, number) if added.lands.locations]
    return names


def assert_exactly_ground_truth(
    simulator: Simulator, run: Run, site: str | None = None, page_size: int = PAGE_SIZE
) -> None:
    """`site` (default: the simulator's first) finished, and its pages held every location once, in the API's order,
    with every object, numbered 1, 2, 3, ... and every row carrying the site."""
    site = site or simulator.config.site
    ended = run.ended.get(site)
    assert ended is not None and ended.end == Finished(), ended
    pages = run.pages_of(site)
    assert [row["name"] for page in pages for row in page.rows.locations] == expected_names(simulator, site, page_size)
    truth = simulator.ground_truth(site)
    assert sum(len(page.rows.locations) for page in pages) == truth.locations
    assert sum(len(page.rows.objects) for page in pages) == truth.objects
    assert [page.sequence for page in pages] == list(range(1, len(pages) + 1))
    assert {row["site"] for page in pages for row in (*page.rows.locations, *page.rows.objects)} == {site}
    assert pages[-1].next_url is None and all(page.next_url is not None for page in pages[:-1])

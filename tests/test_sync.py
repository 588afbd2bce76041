"""The sync on the calling thread, without the network: pages fed to `connector.Sync` (op.upsert and op.checkpoint
recorded, a fake clock), and the per-site ledger behind its checkpoints."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fivetran_connector_sdk import Logging, Operations
from yarl import URL

import connector
from dexory_async.client import RequestCounters
from dexory_async.config import parse_settings
from dexory_async.errors import ApiKeyRejected
from dexory_async.extractor import Failed, Item, SiteEnded, StartedOver
from dexory_async.flatten import FlatRows
from dexory_async.ledger import SyncLedger
from dexory_async.links import page_number
from dexory_async.page import EndNotBelieved, Finished, LinkRefused, Page, StoppedAtMaxPages
from dexory_async.tables import LOCATIONS, OBJECTS

# ------------------------------------------------------------------------------------- checkpoint cadence (fake clock)

BASE_URL = "https://api.example.com/customer-api/v1/locations"


def page_url(site: str, number: int) -> URL:
    return URL(BASE_URL).with_query({"site": site, "page[size]": "100", "page[number]": str(number)})


def make_page(site: str, number: int, locations: int, objects: int, *, last: bool = False) -> Page:
    rows_ = FlatRows(
        locations=[{"site": site, "name": f"{site}-{number}-{i}"} for i in range(locations)],
        objects=[{"site": site, "name": f"{site}-{number}-0", "object_index": i} for i in range(objects)],
    )
    return Page(
        site,
        page_url(site, number),
        [],
        {},
        0,
        sequence=number,
        next_url=None if last else page_url(site, number + 1),
        rows=rows_,
    )


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Warehouse:
    """op.upsert and op.checkpoint, recorded; each checkpoint with the rows upserted before it."""

    upserted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    checkpoints: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (rows upserted so far, state)
    clock: FakeClock | None = None
    seconds_per_row: float = 0.0  # how far the clock moves while a row is written
    fail_at_row: int | None = None

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        if self.fail_at_row is not None and len(self.upserted) + 1 == self.fail_at_row:
            raise RuntimeError("the warehouse is down")
        self.upserted.append((table, data))
        if self.clock is not None:
            self.clock.now += self.seconds_per_row

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.checkpoints.append((len(self.upserted), json.loads(json.dumps(state))))


@pytest.fixture
def warehouse(monkeypatch: pytest.MonkeyPatch) -> Warehouse:
    recorder = Warehouse()
    monkeypatch.setattr(Logging, "LOG_LEVEL", Logging.Level.WARNING)  # set by the SDK in a real run
    monkeypatch.setattr(Operations, "upsert", recorder.upsert)  # what connector.py calls as op.upsert
    monkeypatch.setattr(Operations, "checkpoint", recorder.checkpoint)
    return recorder


def cadence_sync(clock: FakeClock, *, sites: str = "north", **settings: Any) -> connector.Sync:
    keys = ",".join(f"key-{name}" for name in sites.split(","))
    configuration = {"site_name": sites, "site_api_key": keys, "base_url": "https://api.example.com"}
    configuration.update({key: str(value) for key, value in settings.items()})
    return connector.Sync(parse_settings(configuration), {}, clock=clock)


@dataclass
class Feed:
    """Items for Sync.consume; a page counts as fully handled once consume asks for the next item."""

    items: list[tuple[float, Item]]  # (seconds the clock moves before the item, the item)
    clock: FakeClock
    handled: list[Item] = field(default_factory=list)
    rows_handled: list[int] = field(default_factory=lambda: [0])  # after each handled item: rows of handled pages

    def __iter__(self) -> Iterator[Item]:
        for advance, item in self.items:
            self.clock.now += advance
            yield item
            self.handled.append(item)
            self.rows_handled.append(self.rows_handled[-1] + _rows(item))


def _rows(item: Item) -> int:
    return len(item.rows.locations) + len(item.rows.objects) if isinstance(item, Page) else 0


def assert_checkpoints_cover_whole_pages(warehouse: Warehouse, feed: Feed) -> None:
    """Every checkpoint came right after a page's last row (never mid-page) and resumes each site at the page after
    its last page upserted in full, with that page's counts."""
    for upserted, state in warehouse.checkpoints:
        assert upserted in feed.rows_handled, f"checkpoint after {upserted} rows: in the middle of a page"
        handled = feed.handled[: feed.rows_handled.index(upserted)]
        pages = [item for item in handled if isinstance(item, Page)]
        for site, entry in state["sites"].items():
            of_site = [page for page in pages if page.site == site]
            if not of_site:
                assert "cursor" not in entry and entry["pages"] == 0  # from its first page
                continue
            if any(isinstance(item, SiteEnded) and item.site == site for item in handled):
                assert entry["finished"] is True and "cursor" not in entry
            else:
                assert entry["cursor"] == str(of_site[-1].next_url)
            assert entry["pages"] == len(of_site)
            assert entry["locations"] == sum(len(page.rows.locations) for page in of_site)
            assert entry["objects"] == sum(len(page.rows.objects) for page in of_site)


def test_a_checkpoint_follows_every_checkpoint_max_rows_rows(warehouse: Warehouse) -> None:
    clock = FakeClock()  # never moves: only the row bound can call for a checkpoint
    sync = cadence_sync(clock, checkpoint_max_rows=1_000)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 13)], clock)  # 300 rows a page
    sync.consume(feed)
    assert [state["sites"]["north"]["pages"] for _, state in warehouse.checkpoints] == [4, 8, 12]  # 1,200 rows each
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_a_checkpoint_follows_every_checkpoint_interval_seconds(warehouse: Warehouse) -> None:
    clock = FakeClock()
    sync = cadence_sync(clock, checkpoint_interval_seconds=60)  # the default row bound is far away
    feed = Feed([(25, make_page("north", n, 10, 5)) for n in range(1, 11)], clock)  # 25 s a page
    sync.consume(feed)
    # 75 s after the start (page 3), then 75 s after that checkpoint (page 6), and again (page 9)
    assert [state["sites"]["north"]["pages"] for _, state in warehouse.checkpoints] == [3, 6, 9]
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_a_checkpoint_due_in_the_middle_of_a_page_waits_for_its_last_row(warehouse: Warehouse) -> None:
    clock = FakeClock()
    warehouse.clock, warehouse.seconds_per_row = clock, 1.0  # a slow warehouse: a 300-row page takes 300 s
    sync = cadence_sync(clock, checkpoint_interval_seconds=60, checkpoint_max_rows=250)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 5)], clock)
    sync.consume(feed)
    assert [upserted for upserted, _ in warehouse.checkpoints] == [300, 600, 900, 1_200]
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_checkpoints_of_several_sites_resume_each_behind_its_last_whole_page(warehouse: Warehouse) -> None:
    clock = FakeClock()
    sync = cadence_sync(clock, sites="north,south,west", checkpoint_interval_seconds=60, checkpoint_max_rows=700)
    north_end = SiteEnded("north", Finished(), RequestCounters(3, 0, 0), 4)
    items: list[tuple[float, Item]] = [
        (5, make_page("north", 1, 100, 150)),  # 250 rows
        (5, make_page("south", 1, 100, 300)),  # 650
        (5, make_page("north", 2, 50, 50)),  # 750: the row bound
        (20, make_page("south", 2, 100, 100)),
        (20, make_page("north", 3, 10, 10, last=True)),
        (1, north_end),
        (30, make_page("south", 3, 10, 0)),  # 71 s after the last checkpoint: the interval
        (1, make_page("south", 4, 700, 0)),  # the row bound, in one page
        (1, make_page("south", 5, 1, 0)),
    ]
    feed = Feed(items, clock)
    sync.consume(feed)
    assert [upserted for upserted, _ in warehouse.checkpoints] == [750, 980, 1_680]
    assert_checkpoints_cover_whole_pages(warehouse, feed)
    first, second, third = (state["sites"] for _, state in warehouse.checkpoints)
    assert "cursor" not in first["west"] and first["north"]["cursor"] == str(page_url("north", 3))
    assert second["north"] == {"finished": True, "pages": 3, "locations": 160, "objects": 210}
    assert third["south"]["cursor"] == str(page_url("south", 5))


def test_a_failure_in_the_middle_of_a_page_saves_the_page_before_it(warehouse: Warehouse) -> None:
    clock = FakeClock()
    warehouse.fail_at_row = 2 * 300 + 7  # the 7th row of page 3
    sync = cadence_sync(clock, checkpoint_max_rows=100_000)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 6)], clock)
    with pytest.raises(RuntimeError, match="the warehouse is down"):
        sync.consume(feed)
    [(upserted, state)] = warehouse.checkpoints
    assert upserted == 606  # pages 1 and 2, and 6 rows of page 3...
    assert state["sites"]["north"] == {  # ...which is read again in full: the checkpoint covers pages 1 and 2 only
        "cursor": str(page_url("north", 3)),
        "pages": 2,
        "locations": 200,
        "objects": 400,
    }


def test_the_rows_of_a_page_are_upserted_in_order_before_the_next_page(warehouse: Warehouse) -> None:
    sync = cadence_sync(FakeClock(), checkpoint_max_rows=1)  # a checkpoint after every page
    pages: Iterable[Item] = [make_page("north", n, 3, 2) for n in (1, 2)]
    sync.consume(pages)
    assert [(table, row.get("object_index", row["name"])) for table, row in warehouse.upserted] == [
        (LOCATIONS, "north-1-0"),
        (LOCATIONS, "north-1-1"),
        (LOCATIONS, "north-1-2"),
        (OBJECTS, 0),
        (OBJECTS, 1),
        (LOCATIONS, "north-2-0"),
        (LOCATIONS, "north-2-1"),
        (LOCATIONS, "north-2-2"),
        (OBJECTS, 0),
        (OBJECTS, 1),
    ]
    assert [upserted for upserted, _ in warehouse.checkpoints] == [5, 10]


# ------------------------------------------------------------------------------------------------------- the ledger


def ledger(state: dict[str, Any] | None = None, *, sites: str = "north", **settings: Any) -> SyncLedger:
    keys = ",".join(f"key-{name}" for name in sites.split(","))
    configuration = {"site_name": sites, "site_api_key": keys, "base_url": "https://api.example.com"}
    configuration.update({key: str(value) for key, value in settings.items()})
    return SyncLedger(parse_settings(configuration), state or {})


def ended(site: str, end: Any) -> SiteEnded:
    return SiteEnded(site, end, RequestCounters(requests=1), lowest_concurrency=4)


def test_a_site_whose_last_page_has_no_next_link_is_read_again_until_its_end_arrives() -> None:
    """Between the last page and the site's end, a checkpoint must neither finish the site nor start it over."""
    books = ledger()
    books.record(make_page("north", 1, 3, 0))
    books.record(make_page("north", 2, 3, 0, last=True))

    entry = books.checkpoint_state()["sites"]["north"]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1  # page 2 read again, counted again

    books.record(ended("north", Finished()))
    assert books.checkpoint_state()["sites"]["north"] == {"finished": True, "pages": 2, "locations": 6, "objects": 0}


def test_a_refused_link_keeps_the_site_at_its_page_and_fails_it() -> None:
    books = ledger()
    books.record(make_page("north", 1, 2, 0))
    books.record(make_page("north", 2, 2, 0, last=True))  # its next link was refused: handed on without one
    books.record(ended("north", LinkRefused(page_url("north", 2), "pagination loop")))

    assert books.failures() == {"north": "pagination loop"}
    state = books.closing_state()
    assert page_number(URL(state["sites"]["north"]["cursor"])) == 2
    assert "last_sync" in state  # the round is over: only the failed site resumes


def test_an_unbelieved_end_reads_again_from_the_page_before_it() -> None:
    """Page 3 had no next link, but the page after it held locations: the next sync starts at page 2, and the counts
    leave out both pages it reads again; the site fails."""
    books = ledger()
    books.record(make_page("north", 1, 2, 0))
    books.record(make_page("north", 2, 3, 0))
    books.record(make_page("north", 3, 4, 0, last=True))
    books.record(ended("north", EndNotBelieved(page_url("north", 2), "page 4 holds locations", rereads=2)))

    entry = books.closing_state()["sites"]["north"]
    assert page_number(URL(entry["cursor"])) == 2
    assert (entry["pages"], entry["locations"]) == (1, 2)
    assert books.failures() == {"north": "page 4 holds locations"}


def test_a_site_stopped_at_max_pages_keeps_the_round_going_and_finished_sites_wait() -> None:
    books = ledger(sites="north,south")
    books.record(make_page("north", 1, 1, 0))
    books.record(ended("north", StoppedAtMaxPages(page_url("north", 2))))
    books.record(make_page("south", 1, 1, 0, last=True))
    books.record(ended("south", Finished()))

    state = books.closing_state()
    assert "last_sync" not in state
    assert page_number(URL(state["sites"]["north"]["cursor"])) == 2
    assert state["sites"]["south"]["finished"] is True
    assert SyncLedger(books.settings, state).starts().keys() == {"north"}  # south is not fetched again


def test_when_every_site_ends_the_round_is_over_and_only_failed_sites_resume() -> None:
    books = ledger(sites="north,south")
    books.record(make_page("north", 1, 1, 0))
    books.record(ended("north", Failed(ApiKeyRejected("the API key was rejected for site 'north'"))))
    books.record(make_page("south", 1, 1, 0, last=True))
    books.record(ended("south", Finished()))

    state = books.closing_state()
    assert state.keys() == {"last_sync", "sites"} and state["sites"].keys() == {"north"}
    assert page_number(URL(state["sites"]["north"]["cursor"])) == 2
    assert SyncLedger(books.settings, state).starts().keys() == {"north", "south"}  # south read in full again


def test_starting_over_keeps_the_saved_cursor_until_a_page_of_the_new_start_lands() -> None:
    """The API refused the saved page: gone for good, or down for a while. Until the site's first page lands again,
    a checkpoint keeps the cursor, so an outage does not cost the next sync the pages it had already synced."""
    saved = {"sites": {"north": {"cursor": str(page_url("north", 6)), "pages": 5, "locations": 500, "objects": 0}}}
    books = ledger(saved)
    books.record(StartedOver("north", "the API refused page 6 (HTTP 404)"))
    assert page_number(URL(books.checkpoint_state()["sites"]["north"]["cursor"])) == 6

    books.record(make_page("north", 1, 2, 0))
    entry = books.checkpoint_state()["sites"]["north"]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1

"""The sync on the calling thread, without the network: pages fed to `connector.Sync` (its sink recording, a fake
clock), and the per-site ledger behind its checkpoints and its rounds."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from yarl import URL

import connector
from dexory_async.config import Settings, parse_settings
from dexory_async.delivered import location_key
from dexory_async.errors import KeyRejected
from dexory_async.flatten import FlatRows
from dexory_async.ledger import SyncLedger
from dexory_async.links import first_page_url, page_number
from dexory_async.messages import Failed, Item, RequestCounters, SiteEnded, StartedOver
from dexory_async.page import EndNotBelieved, Finished, LinkRefused, Page, StoppedAtMaxPages
from dexory_async.tables import LOCATIONS, OBJECTS, SITE_ROUNDS
from dexory_simulator import Simulator, SimulatorConfig
from tests.conftest import FakeClock, configuration_for, extractor_threads
from tests.connection import Connection
from tests.sinks import RecordingSink

# ------------------------------------------------------------------------------------- checkpoint cadence (fake clock)

BASE_URL = "https://api.example.com/customer-api/v1/locations"
SCANNED = {"location_type": "rack", "aisle": "A", "scan_date": datetime(2026, 11, 30, tzinfo=UTC)}


def page_url(site: str, number: int) -> URL:
    return URL(BASE_URL).with_query({"site": site, "page[size]": "100", "page[number]": str(number)})


def make_page(site: str, number: int, locations: int, objects: int, *, last: bool = False) -> Page:
    rows_ = FlatRows(
        locations=[{"site": site, "name": f"{site}-{number}-{i}", **SCANNED} for i in range(locations)],
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


def cadence_sync(
    clock: FakeClock, sink: RecordingSink | None = None, *, sites: str = "north", **settings: Any
) -> connector.Sync:
    return connector.Sync(configured(sites, **settings), {}, sink or RecordingSink(), clock=clock)


def configured(sites: str = "north", **settings: Any) -> Settings:
    keys = ",".join(f"key-{name}" for name in sites.split(","))
    configuration = {"site_name": sites, "site_api_key": keys, "base_url": "https://api.example.com"}
    configuration.update({key: str(value) for key, value in settings.items()})
    return parse_settings(configuration)


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


def assert_checkpoints_cover_whole_pages(warehouse: RecordingSink, feed: Feed) -> None:
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
                assert entry["finished"].startswith(BASE_URL) and "cursor" not in entry
            else:
                assert entry["cursor"] == str(of_site[-1].next_url)
            assert entry["pages"] == len(of_site)
            assert entry["locations"] == sum(len(page.rows.locations) for page in of_site)
            assert entry["objects"] == sum(len(page.rows.objects) for page in of_site)


def test_a_checkpoint_follows_every_checkpoint_max_rows_rows() -> None:
    clock, warehouse = (
        FakeClock(),
        RecordingSink(),
    )  # the clock never moves: only the row bound calls for a checkpoint
    sync = cadence_sync(clock, warehouse, checkpoint_max_rows=1_000)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 13)], clock)  # 300 rows a page
    sync.consume(feed)
    assert [state["sites"]["north"]["pages"] for _, state in warehouse.checkpoints] == [4, 8, 12]  # 1,200 rows each
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_a_checkpoint_follows_every_checkpoint_interval_seconds() -> None:
    clock, warehouse = FakeClock(), RecordingSink()
    sync = cadence_sync(clock, warehouse, checkpoint_interval_seconds=60)  # the default row bound is far away
    feed = Feed([(25, make_page("north", n, 10, 5)) for n in range(1, 11)], clock)  # 25 s a page
    sync.consume(feed)
    # 75 s after the start (page 3), then 75 s after that checkpoint (page 6), and again (page 9)
    assert [state["sites"]["north"]["pages"] for _, state in warehouse.checkpoints] == [3, 6, 9]
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_a_checkpoint_due_in_the_middle_of_a_page_waits_for_its_last_row() -> None:
    clock = FakeClock()
    warehouse = RecordingSink(on_row=lambda: clock.advance(1.0))  # a slow warehouse: a 300-row page takes 300 s
    sync = cadence_sync(clock, warehouse, checkpoint_interval_seconds=60, checkpoint_max_rows=250)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 5)], clock)
    sync.consume(feed)
    assert [upserted for upserted, _ in warehouse.checkpoints] == [300, 600, 900, 1_200]
    assert_checkpoints_cover_whole_pages(warehouse, feed)


def test_checkpoints_of_several_sites_resume_each_behind_its_last_whole_page() -> None:
    clock, warehouse = FakeClock(), RecordingSink()
    sync = cadence_sync(
        clock, warehouse, sites="north,south,west", checkpoint_interval_seconds=60, checkpoint_max_rows=700
    )
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
    north = sync.settings.sites[0]
    assert second["north"]["finished"] == str(first_page_url(sync.settings, north))  # where the mark holds
    assert (second["north"]["pages"], second["north"]["locations"], second["north"]["objects"]) == (3, 160, 210)
    assert third["south"]["cursor"] == str(page_url("south", 5))


def test_a_failure_in_the_middle_of_a_page_saves_the_page_before_it() -> None:
    clock, warehouse = FakeClock(), RecordingSink(fail_at_row=2 * 300 + 7)  # the 7th row of page 3
    sync = cadence_sync(clock, warehouse, checkpoint_max_rows=100_000)
    feed = Feed([(0, make_page("north", n, 100, 200)) for n in range(1, 6)], clock)
    with pytest.raises(RuntimeError, match="the warehouse is down"):
        sync.consume(feed)
    [(upserted, state)] = warehouse.checkpoints
    assert upserted == 606  # pages 1 and 2, and 6 rows of page 3...
    entry = state["sites"]["north"]  # ...which is read again in full: the checkpoint covers pages 1 and 2 only
    assert entry["cursor"] == str(page_url("north", 3))
    assert (entry["pages"], entry["locations"], entry["objects"]) == (2, 200, 400)


def test_the_rows_of_a_page_are_upserted_in_order_before_the_next_page() -> None:
    warehouse = RecordingSink()
    sync = cadence_sync(FakeClock(), warehouse, checkpoint_max_rows=1)  # a checkpoint after every page
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
    return SyncLedger(configured(sites, **settings), state or {})


def ended(site: str, end: Any) -> SiteEnded:
    return SiteEnded(site, end, RequestCounters(requests=1), lowest_concurrency=4)


SITES = ("north", "south")


def test_the_closing_error_adds_what_the_failures_say_about_the_configuration() -> None:
    books = ledger(sites=",".join(SITES))
    for site in SITES:
        books.record(ended(site, Failed(KeyRejected(f"the API key was rejected for site {site!r}"))))

    error = books.closing_error()

    assert error is not None
    first, hint = str(error).splitlines()
    assert first.startswith("2 of 2 sites failed (0 synced): site 'north': the API key was rejected")
    assert hint.startswith("site_api_key pairs keys with site names by position")
    assert "key-north" not in str(error)


def test_a_key_revoked_part_way_through_a_site_is_no_sign_of_a_configuration_mistake() -> None:
    books = ledger(sites=",".join(SITES))
    books.record(make_page("north", 1, 2, 0))
    books.record(ended("north", Failed(KeyRejected("the API key was rejected for site 'north'"))))
    books.record(ended("south", Finished()))

    assert str(books.closing_error()).splitlines() == [
        "1 of 2 sites failed (1 synced): site 'north': the API key was rejected for site 'north'"
    ]


def test_a_site_whose_last_page_has_no_next_link_is_read_again_until_its_end_arrives() -> None:
    """Between the last page and the site's end, a checkpoint must neither finish the site nor start it over."""
    books = ledger()
    books.record(make_page("north", 1, 3, 0))
    books.record(make_page("north", 2, 3, 0, last=True))

    entry = books.checkpoint_state()["sites"]["north"]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1  # page 2 read again, counted again

    books.record(ended("north", Finished()))
    entry = books.checkpoint_state()["sites"]["north"]
    assert "cursor" not in entry and "finished" in entry and (entry["pages"], entry["locations"]) == (2, 6)


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
    assert "finished" in state["sites"]["south"]
    assert SyncLedger(books.settings, state).starts().keys() == {"north"}  # south is not fetched again


def test_when_every_site_ends_the_round_is_over_and_only_failed_sites_resume() -> None:
    books = ledger(sites="north,south")
    books.record(make_page("north", 1, 1, 0))
    books.record(ended("north", Failed(KeyRejected("the API key was rejected for site 'north'"))))
    books.record(make_page("south", 1, 1, 0, last=True))
    books.record(ended("south", Finished()))

    state = books.closing_state()
    assert state.keys() == {"last_sync", "rounds", "sites"} and state["sites"].keys() == {"north"}
    assert page_number(URL(state["sites"]["north"]["cursor"])) == 2
    assert SyncLedger(books.settings, state).starts().keys() == {"north", "south"}  # south read in full again


def test_starting_over_keeps_the_saved_cursor_until_a_page_of_the_new_start_lands() -> None:
    """The API refused the saved page: gone for good, or down for a while. Until the site's first page lands again,
    a checkpoint keeps the cursor, so an outage does not cost the next sync the pages it had already synced."""
    entry = {"round_started_at": "2026-12-01T09:00:00.000000Z", "cursor": str(page_url("north", 6)), "pages": 5}
    saved = {"sites": {"north": entry}}
    books = ledger(saved)
    books.record(StartedOver("north", "the API refused page 6 (HTTP 404)"))
    assert page_number(URL(books.checkpoint_state()["sites"]["north"]["cursor"])) == 6

    books.record(make_page("north", 1, 2, 0))
    entry = books.checkpoint_state()["sites"]["north"]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1


# ------------------------------------------------------------------------------------------------------- rounds

NOW = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
LATER = NOW + timedelta(minutes=7)


def rounds_sync(sink: RecordingSink, state: dict[str, Any] | None = None, *, sites: str = "north") -> connector.Sync:
    return connector.Sync(
        configured(sites), state or {}, sink, clock=FakeClock(), now=iter([NOW, LATER, LATER]).__next__
    )


def test_a_whole_sync_saves_its_rounds_before_any_row_though_its_pages_are_fetched_meanwhile() -> None:
    """`run()` starts the extractor before the opening checkpoint, so the first pages are on their way while it
    commits; no row is written before it."""
    simulator = Simulator(SimulatorConfig(locations=250, seed=3, api_key="key-north", latency_ms=5))
    connection = Connection(simulator, configuration_for(simulator))
    assert connection.sync().succeeded
    tables = [table for _, table, _ in connection.sink.writes]
    first_row = min(tables.index(LOCATIONS), tables.index(OBJECTS))
    assert set(tables[:first_row]) == {SITE_ROUNDS}
    assert connection.sink.committed[0] == first_row and connection.sink.checkpoints[0][0] == 0


class _RefusingCheckpoints(RecordingSink):
    def checkpoint(self, state: dict[str, Any]) -> None:
        raise RuntimeError("the warehouse refused the checkpoint")


def test_an_opening_checkpoint_that_fails_fails_the_sync_and_leaves_nothing_running() -> None:
    simulator = Simulator(SimulatorConfig(locations=250, seed=3, api_key="key-north", latency_ms=5))
    connection = Connection(simulator, configuration_for(simulator), _RefusingCheckpoints())
    synced = connection.sync()
    assert isinstance(synced.error, RuntimeError) and "refused the checkpoint" in str(synced.error)
    assert connection.sink.data_rows == 0
    assert not extractor_threads()


def test_a_sync_records_each_round_as_it_starts_and_saves_it_before_any_page() -> None:
    sink = RecordingSink()
    sync = rounds_sync(sink, sites="north,south")

    sync.start()

    assert sink.rows_of(SITE_ROUNDS) == [
        {**round_row("north", NOW, "running"), "finished_at": None},
        {**round_row("south", NOW, "running"), "finished_at": None},
    ]
    [(_, state)] = sink.checkpoints
    assert {entry["round_started_at"] for entry in state["sites"].values()} == {"2026-12-01T10:00:00.000000Z"}


def round_row(site: str, started: datetime, status: str, **counts: Any) -> dict[str, Any]:
    zero = dict.fromkeys(("pages", "locations", "objects", "skipped_records", "duplicate_keys", "retries"), 0)
    return {"site": site, "round_started_at": started, "status": status, "error": None, **zero, **counts}


def test_a_round_that_ends_is_recorded_complete_or_failed_with_its_counts_and_its_error_masked() -> None:
    sink = RecordingSink()
    sync = rounds_sync(sink, sites="north,south")
    rejected = KeyRejected("the API key key-south was rejected for site 'south'")

    sync.consume(
        [
            replace(make_page("north", 1, 3, 2, last=True), retries=2),
            ended("north", Finished()),
            ended("south", Failed(rejected)),
        ]
    )

    north, south = sink.rows_of(SITE_ROUNDS)
    assert north == {
        **round_row("north", NOW, "complete", pages=1, locations=3, objects=2, retries=2),
        "finished_at": LATER,
    }
    assert south["status"] == "failed" and south["finished_at"] == LATER
    assert south["error"] == "the API key *** was rejected for site 'south'"


def test_a_resumed_round_keeps_its_start_and_counts_the_whole_round() -> None:
    sink = RecordingSink()
    saved = {
        "round_started_at": "2026-11-30T22:00:00.000000Z",
        "cursor": str(page_url("north", 4)),
        "pages": 3,
        "locations": 30,
        "objects": 10,
        "skipped_records": 1,
        "duplicate_keys": 0,
        "retries": 5,
    }
    sync = rounds_sync(sink, {"sites": {"north": saved}})
    started = datetime(2026, 11, 30, 22, tzinfo=UTC)

    sync.start()
    sync.consume([replace(make_page("north", 4, 10, 0, last=True), retries=1), ended("north", Finished())])

    running, complete = sink.rows_of(SITE_ROUNDS)
    assert running == {
        **round_row("north", started, "running", pages=3, locations=30, objects=10),
        "finished_at": None,
    } | {
        "skipped_records": 1,
        "retries": 5,
    }
    assert complete["round_started_at"] == started and complete["status"] == "complete"
    assert (complete["pages"], complete["locations"], complete["retries"]) == (4, 40, 6)


def test_objects_a_later_copy_of_their_location_dropped_are_deleted_after_the_page_lands() -> None:
    sink = RecordingSink()
    sync = cadence_sync(FakeClock(), sink)
    page = make_page("north", 1, 1, 1, last=True)
    gone = {"site": "north", "name": "north-1-0", "object_index": 1}

    sync.consume([replace(page, rows=replace(page.rows, superseded=[gone]))])

    assert sink.deleted == [(OBJECTS, gone)]


def test_a_resumed_round_knows_the_keys_its_earlier_syncs_delivered_once_they_landed() -> None:
    books = ledger()
    landed = make_page("north", 1, 3, 0)
    books.record(replace(landed, rows=replace(landed.rows, widest=4)))
    state = books.checkpoint_state()  # the sync is interrupted here; page 2 never landed

    start = SyncLedger(books.settings, state).starts()["north"]

    assert start.resumed and start.earlier.widest == 4 and start.earlier.keys is not None
    assert all(location_key(row) in start.earlier.keys for row in landed.rows.locations)
    assert location_key(make_page("north", 2, 1, 0).rows.locations[0]) not in start.earlier.keys


def test_a_round_a_sync_cannot_resume_is_recorded_failed_and_a_new_one_starts() -> None:
    sink = RecordingSink()
    saved = {"round_started_at": "2026-11-30T22:00:00.000000Z", "cursor": "https://elsewhere.example/x", "pages": 3}

    rounds_sync(sink, {"sites": {"north": saved}}).start()

    abandoned, started = sink.rows_of(SITE_ROUNDS)
    assert abandoned["round_started_at"] == datetime(2026, 11, 30, 22, tzinfo=UTC) and abandoned["pages"] == 3
    assert (abandoned["status"], abandoned["finished_at"]) == ("failed", LATER)
    assert abandoned["error"].startswith("abandoned: base_url, site_name or customer changed")
    assert (started["round_started_at"], started["status"], started["pages"]) == (NOW, "running", 0)

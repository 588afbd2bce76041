"""Several sites in one sync, against the simulator.

Every site lands its own ground truth (told apart by the `site` column, even where the location keys are the same on
every site), with its own key only, within the shared concurrency budget; a site that fails does so alone; a killed,
stopped or failed sync resumes each site where it stopped; and the configuration of the sites is checked before any
request is made.

Two tests run the real `fivetran debug` into DuckDB, the simulator over a real socket: three sites, each with its own
key, landing in the SDK's warehouse (whose primary key must keep the sites' rows apart), and a sync SIGKILLed mid-way
that the next one resumes (only a real process can be killed). The syncs of the rest run in process
(`tests.connection.Connection`), the simulator answering in memory: what they assert is the connector's own logic.
The setup form's connection test (`connector.connection_test`) asks the simulator over a socket.
"""

from __future__ import annotations

import signal
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import duckdb
import pytest
from yarl import URL

import connector
from dexory_async.config import ConfigurationError, parse_settings
from dexory_async.links import page_number
from dexory_async.state import resume_plan
from dexory_async.tables import LOCATIONS, OBJECTS
from dexory_simulator import GroundTruth, RequestRecord, Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tests.conftest import (
    WRONG_KEY,
    assert_no_key,
    configuration_for,
    query_without_key,
    requests_since,
    wait_until,
)
from tests.connection import Connection
from tests.debug_process import StreamedDebug, state_of
from tools.fivetran_cli import run_debug, write_configuration

PAGE_SIZE = 20  # small pages: as many pages as 100 would give on five times the locations, at a fifth of the rows
NAMES = ("north", "south", "east")
SITE_KEYS = {  # distinctive, so that a leak is easy to grep for
    "north": "sk-north-3b1f9c2e7a6d4058",
    "south": "sk-south-8e2a4c6f1b3d5079",
    "east": "sk-east-5d7c9e1a3f2b4068",
}
SHARED_KEY = "sk-shared-6a8c0e2b4d1f3957"
SITE_KEY = ("site", "name", "location_type", "aisle", "scan_date")  # the locations table's primary key
LOCATION_KEY = SITE_KEY[1:]  # a location's key within its site
OBJECT_KEY = (*SITE_KEY, "object_index")  # the objects table's primary key

Tables = dict[str, list[dict[str, Any]]]  # the location and object rows a warehouse holds, by table


# ---------------------------------------------------------------------------------------------------- helpers


def three_sites(
    sizes: tuple[int, int, int] = (140, 90, 60), *, shared_key: bool = False, **options: Any
) -> SimulatorConfig:
    """A simulator serving north, south and east (by default 7, 5 and 3 pages), each with its own data and (unless
    `shared_key`) its own key."""
    specs = [
        SiteSpec(name, SHARED_KEY if shared_key else SITE_KEYS[name], size, seed)
        for seed, (name, size) in enumerate(zip(NAMES, sizes, strict=True), start=31)
    ]
    return SimulatorConfig.of_sites(specs, **options)


def sites_configuration(simulator: Simulator, *, shared_key: bool = False, **overrides: Any) -> dict[str, str]:
    """The configuration of every site of `simulator`: one key for all, or one per site in the order of the names."""
    sites = simulator.config.sites
    keys = sites[0].api_key if shared_key else ", ".join(site.api_key for site in sites)
    overrides = {"page_size": PAGE_SIZE, **overrides}
    return configuration_for(
        simulator, site_name=", ".join(site.name for site in sites), site_api_key=keys, **overrides
    )


def pages(locations: int) -> int:
    """The pages a site of `locations` is read in: the requests a sync from scratch makes of it."""
    return -(-locations // PAGE_SIZE)


def every_key(simulator: Simulator) -> set[str]:
    return {site.api_key for site in simulator.config.sites}


def warehouse(database: Path) -> Tables:
    """The key columns of the rows `fivetran debug` left in DuckDB, as text."""
    tables: Tables = {}
    with duckdb.connect(str(database), read_only=True) as db:
        for table, key in ((LOCATIONS, SITE_KEY), (OBJECTS, OBJECT_KEY)):
            columns = ", ".join(f"CAST({column} AS VARCHAR)" for column in key)
            tables[table] = [
                dict(zip(key, row, strict=True))
                for row in db.execute(f"SELECT {columns} FROM tester.{table}").fetchall()
            ]
    return tables


def recorded(connection: Connection) -> Tables:
    """The rows a warehouse would hold after the in-process syncs of `connection` (one per key)."""
    return {table: connection.sink.table(table) for table in (LOCATIONS, OBJECTS)}


def written(connection: Connection) -> Tables:
    """Every row the in-process syncs of `connection` upserted, each write apart: within one sync, where a key must
    be written once, a key written twice counts twice (a warehouse would hide it)."""
    return {table: connection.sink.rows_of(table) for table in (LOCATIONS, OBJECTS)}


def per_site(tables: Tables) -> dict[str, GroundTruth]:
    """Rows landed per site, in the simulator's terms."""
    located = Counter(row["site"] for row in tables[LOCATIONS])
    listed = Counter(row["site"] for row in tables[OBJECTS])
    return {site: GroundTruth(located[site], listed[site]) for site in {*located, *listed}}


def duplicates(tables: Tables) -> tuple[int, int]:
    """Locations landed more than once per primary key, and objects more than once per (location, index)."""

    def surplus(rows: list[dict[str, Any]], key: tuple[str, ...]) -> int:
        return len(rows) - len({tuple(row[column] for column in key) for row in rows})

    return surplus(tables[LOCATIONS], SITE_KEY), surplus(tables[OBJECTS], OBJECT_KEY)


def orphans(tables: Tables) -> int:
    """Objects without their location, matched on all five key columns."""
    located = {tuple(row[column] for column in SITE_KEY) for row in tables[LOCATIONS]}
    return sum(tuple(row[column] for column in SITE_KEY) not in located for row in tables[OBJECTS])


def assert_every_site_landed_exactly_once(tables: Tables, simulator: Simulator) -> None:
    assert per_site(tables) == simulator.site_truths()  # by site: each site's own ground truth, no more, no less
    assert duplicates(tables) == (0, 0)
    assert orphans(tables) == 0  # objects -> locations on (site, name, location_type, aisle, scan_date)


def assert_three_sites_landed_their_own_rows(
    tables: Tables, simulator: Simulator, records: list[RequestRecord], concurrency: int
) -> None:
    """Each site's ground truth landed once, the locations every site shares once per site; every page of every
    site fetched once, with that site's key, concurrently within the budget shared by all sites."""
    assert_every_site_landed_exactly_once(tables, simulator)
    sites_of: defaultdict[tuple[Any, ...], set[str]] = defaultdict(set)
    rows_of: Counter[tuple[Any, ...]] = Counter()
    for row in tables[LOCATIONS]:
        key = tuple(row[column] for column in LOCATION_KEY)
        sites_of[key].add(row["site"])
        rows_of[key] += 1
    in_every_site = [key for key, sites in sites_of.items() if len(sites) == len(NAMES)]
    shared = simulator.shared_keys()
    assert shared > 0
    assert len(in_every_site) == shared
    assert sum(rows_of[key] for key in in_every_site) == shared * len(NAMES)  # a row per site, not merged into one

    assert records and all(record.key_matches_site for record in records)  # never another site's key
    truths = simulator.site_truths()
    assert Counter(record.site for record in records) == {
        name: pages(truth.locations) for name, truth in truths.items()
    }  # every page of every site, once
    assert 1 < simulator.max_in_flight <= concurrency  # concurrent, within the budget shared by all sites


def of_site(records: list[RequestRecord], site: str) -> list[RequestRecord]:
    return [record for record in records if record.site == site]


def unnumbered(records: list[RequestRecord]) -> list[RequestRecord]:
    """Requests for a site's first page as the connector asks for it when it starts a site over."""
    return [record for record in records if "page[number]" not in record.query]


# ------------------------------------------------------------------------------------------- three sites, one sync


def test_three_sites_land_their_own_rows_with_their_own_keys(project: Path, home: Path) -> None:
    """Through `fivetran debug`, whose DuckDB warehouse must keep apart the rows of locations every site shares (its
    primary key holds the site), and whose files and outputs must hold none of the three keys."""
    concurrency = 4
    with serve_in_thread(three_sites(shared_locations=40, latency_ms=30)) as simulator:
        write_configuration(project, sites_configuration(simulator, concurrency=concurrency))
        result = run_debug(project, home, timeout=300, log_path=project.parent / "debug.log")
        records = list(simulator.requests)

    assert result.returncode == 0, result.stdout[-3000:]
    assert_three_sites_landed_their_own_rows(
        warehouse(project / "files" / "warehouse.db"), simulator, records, concurrency
    )
    assert state_of(project).keys() == {"last_sync", "rounds"}
    assert_no_key(project, every_key(simulator), result.stdout)


def test_one_key_for_all_three_sites_lands_each_its_own_rows() -> None:
    concurrency = 4
    simulator = Simulator(three_sites(shared_key=True, shared_locations=40, latency_ms=5))
    connection = Connection(simulator, sites_configuration(simulator, shared_key=True, concurrency=concurrency))
    synced = connection.sync()
    assert synced.succeeded, synced.output[-3000:]
    assert_three_sites_landed_their_own_rows(written(connection), simulator, list(simulator.requests), concurrency)
    assert connection.state.keys() == {"last_sync", "rounds"}
    connection.assert_no_key(every_key(simulator), synced)


def test_every_checkpoint_resumes_each_site_where_it_stood() -> None:
    """Whatever checkpoint a crash leaves behind, a site that had landed pages either resumes from a cursor or is
    finished: it never starts over from its first page."""
    sizes = (80, 60, 40)
    simulator = Simulator(three_sites(sizes))
    configuration = sites_configuration(simulator, checkpoint_max_rows=1)
    synced = Connection(simulator, configuration).sync()
    assert synced.succeeded, synced.output[-3000:]
    settings = parse_settings(configuration)
    intermediate = synced.checkpoints[:-1]  # the last one closes the round
    assert len(intermediate) >= sum(pages(size) for size in sizes)  # one per page at least
    starting_over = []
    for number, state in enumerate(intermediate, start=1):
        for site, plan in resume_plan(settings, state).items():
            landed_pages = state["sites"][site].get("pages", 0)
            if landed_pages and plan.start is not None and not plan.start.resumed:
                starting_over.append(f"checkpoint {number}: site {site!r} with {landed_pages} pages landed")
    assert not starting_over, starting_over


# --------------------------------------------------------------------------------------- one site's key is revoked


def test_a_revoked_key_fails_its_site_alone_and_the_next_sync_completes_it() -> None:
    """The SDK's own SYNC FAILED line is left to the end-to-end tests of failing syncs; here the sync raises."""
    simulator = Simulator(three_sites(revoke_key_after={"south": 2}))
    connection = Connection(simulator, sites_configuration(simulator))
    failed = connection.sync()
    truths = simulator.site_truths()
    after_failure = per_site(recorded(connection))
    state = connection.state

    simulator.revoke_key_after("south", None)  # the key is restored
    resumed_at = time.monotonic()
    second = connection.sync()
    rerun = requests_since(simulator, resumed_at)

    print(f"failed run: {failed.error}, landed {after_failure}, state {state}")
    print(f"resumed run: requests per site {Counter(record.site for record in rerun)}")
    assert failed.error is not None, failed.output[-3000:]
    assert "1 of 3 sites failed (2 synced)" in str(failed.error)
    assert "site 'south': the API key was rejected for site 'south' (HTTP 401)" in str(failed.error)
    assert after_failure["north"] == truths["north"] and after_failure["east"] == truths["east"]
    assert after_failure.get("south", GroundTruth(0, 0)).locations < truths["south"].locations

    south = state["sites"]["south"]  # where south resumes; the other two completed the round
    assert state["sites"].keys() == {"south"}
    cursor = URL(south["cursor"])
    assert page_number(cursor) == south["pages"] + 1
    assert south["locations"] == after_failure.get("south", GroundTruth(0, 0)).locations  # what landed, no more

    assert second.succeeded, second.output[-3000:]
    south_rerun = of_site(rerun, "south")
    assert south_rerun[0].page == page_number(cursor) and not unnumbered(south_rerun)  # resumed, not started over
    assert all(record.status == 200 for record in rerun)
    assert_every_site_landed_exactly_once(recorded(connection), simulator)  # across both runs, once per key
    assert connection.state.keys() == {"last_sync", "rounds"}
    connection.assert_no_key(every_key(simulator), failed, second)


# ------------------------------------------------------------------------------------------------- killed mid-sync


def every_site_past_page_2(project: Path) -> bool:
    """The saved state has every site resuming from its third page or later."""
    sites = state_of(project).get("sites", {})
    return len(sites) == len(NAMES) and all(
        "cursor" in entry and (page_number(URL(entry["cursor"])) or 0) > 2 for entry in sites.values()
    )


def test_a_sync_killed_mid_way_resumes_every_site_where_it_stopped(tmp_path: Path, project: Path, home: Path) -> None:
    sizes = (120, 100, 80)  # 6, 5 and 4 pages
    with serve_in_thread(three_sites(sizes, latency_ms=10)) as simulator:
        # A checkpoint about every two pages, for the kill to find every site past its second page; the resumed sync
        # saves only at its end (each checkpoint costs `fivetran debug` a few tenths of a second).
        write_configuration(project, sites_configuration(simulator, concurrency=4, checkpoint_max_rows=150))
        killed = StreamedDebug(project, home)
        try:
            assert wait_until(lambda: every_site_past_page_2(project) or killed.process.poll() is not None, 120)
            assert killed.process.poll() is None, f"debug ended before it was killed:\n{killed.output[-3000:]}"
        finally:
            killed.kill()
        assert killed.process.returncode == -signal.SIGKILL
        checkpointed = state_of(project)["sites"]
        write_configuration(project, sites_configuration(simulator, concurrency=4))
        resumed_at = time.monotonic()
        second = run_debug(project, home, timeout=300, log_path=tmp_path / "debug-resumed.log")
        rerun = requests_since(simulator, resumed_at)

    (tmp_path / "debug-killed.log").write_text(killed.output)
    assert second.returncode == 0, second.stdout[-3000:]
    assert "resuming the interrupted sync" in second.stdout and "SYNC SUCCEEDED" in second.stdout
    assert_every_site_landed_exactly_once(warehouse(project / "files" / "warehouse.db"), simulator)
    from_scratch = sum(pages(size) for size in sizes)  # every page of every site, once
    print(f"killed with state {checkpointed}; requests: resumed run {len(rerun)}, from scratch {from_scratch}")
    assert len(rerun) < from_scratch
    left = {
        site: pages(size) - (page_number(URL(checkpointed[site]["cursor"])) or 0) + 1
        for site, size in zip(NAMES, sizes, strict=True)
        if "cursor" in checkpointed.get(site, {})
    }
    assert Counter(record.site for record in rerun) == left  # each site's pages from its cursor on, once
    for site, entry in checkpointed.items():
        if "cursor" not in entry:
            continue
        site_requests = of_site(rerun, site)
        cursor = URL(entry["cursor"])
        cursor_page = page_number(cursor)
        assert not unnumbered(site_requests), f"site {site!r} started over after its checkpoint"
        assert cursor_page is not None and site_requests[0].page == cursor_page
        assert min(record.page or 0 for record in site_requests) == cursor_page
        assert entry["pages"] == cursor_page - 1  # the cursor follows the pages it counts
        assert query_without_key(site_requests[0].query) == query_without_key(cursor)  # at the saved cursor itself
    assert any("cursor" in entry for entry in checkpointed.values())
    assert_no_key(project, every_key(simulator), killed.output, second.stdout)


# -------------------------------------------------------------------------------------------- max_pages per site


def test_max_pages_counts_per_site_and_finished_sites_wait_for_the_round() -> None:
    simulator = Simulator(three_sites((50, 100, 30)))  # 3, 5 and 2 pages
    connection = Connection(simulator, sites_configuration(simulator, max_pages=2))
    runs: list[Counter[str | None]] = []
    states = []
    for _ in range(3):
        started = time.monotonic()
        synced = connection.sync()
        assert synced.succeeded, synced.output[-3000:]
        runs.append(Counter(record.site for record in requests_since(simulator, started)))
        states.append(connection.state)
    assert_every_site_landed_exactly_once(recorded(connection), simulator)

    print(f"requests per site per run: {runs}")
    assert runs[0] == {"north": 2, "south": 2, "east": 2}  # max_pages is per site
    assert "finished" in states[0]["sites"]["east"]  # east ended within its two pages
    assert runs[1] == {"north": 1, "south": 2}  # east finished: not fetched again in this round
    assert "finished" in states[1]["sites"]["north"]
    assert runs[2] == {"south": 1}
    assert states[2].keys() == {"last_sync", "rounds"}  # the round is over: the next sync reads every site again


# ------------------------------------------------------------------------------------------ configuration errors


MISCONFIGURED = {
    "key-count": (
        {"site_name": "north, south, east", "site_api_key": f"{SITE_KEYS['north']}, {SITE_KEYS['south']}"},
        "site_api_key has 2 keys for 3 sites",
    ),
    "duplicate-site": (
        {"site_name": "north, south, north", "site_api_key": SHARED_KEY},
        "site_name names 'north' more than once",
    ),
    "empty-entry": ({"site_name": "north, , east", "site_api_key": SHARED_KEY}, "site_name has an empty entry"),
}


@pytest.mark.parametrize("case", list(MISCONFIGURED))
def test_a_misconfigured_site_list_fails_before_any_request(case: str) -> None:
    overrides, message = MISCONFIGURED[case]
    simulator = Simulator(three_sites())
    connection = Connection(simulator, configuration_for(simulator, **overrides))
    synced = connection.sync()
    assert synced.error is not None
    assert message in str(synced.error), synced.output[-3000:]
    print(synced.error)
    assert simulator.requests == []
    connection.assert_no_key({*SITE_KEYS.values(), SHARED_KEY}, synced)


def test_clear_text_to_another_host_is_refused_and_https_suggested() -> None:
    configuration = {
        "site_name": "north, south",
        "site_api_key": SHARED_KEY,
        "base_url": "http://dexory.example.invalid",  # never contacted: refused before any request
    }
    with pytest.raises(ConfigurationError) as raised:
        parse_settings(configuration)
    assert "http://" in str(raised.value) and "use https://" in str(raised.value)
    test = connector.connection_test(configuration)  # what the setup form shows
    assert test.failure is not None and "use https://" in test.failure
    assert SHARED_KEY not in str(raised.value) + test.failure


# ------------------------------------------------------------------------------------------------ legacy state


def test_state_from_before_sync_rounds_reads_its_site_in_full() -> None:
    """Rows saved before rounds carry none: resuming would leave them out of the round's snapshot."""
    simulator = Simulator(three_sites())
    resumed_site = simulator.config.sites[0]
    legacy = {
        "cursor": f"{simulator.base_url}/customer-api/v1/locations?site={resumed_site.name}"
        f"&page%5Bsize%5D={PAGE_SIZE}&page%5Bnumber%5D=3",
        "pages": 2,
    }
    connection = Connection(simulator, sites_configuration(simulator), state=legacy)
    started = time.monotonic()
    synced = connection.sync()
    assert synced.succeeded, synced.output[-3000:]
    assert f"site {resumed_site.name!r}: saved progress predates sync rounds; reading the site in full" in synced.output
    assert of_site(requests_since(simulator, started), resumed_site.name)[0].page == 1
    landed = per_site(written(connection))
    truths = simulator.site_truths()
    assert all(landed[name] == truths[name] for name in NAMES)
    assert connection.state.keys() == {"last_sync", "rounds"}


# ---------------------------------------------------------------------------------------------- connection test


def test_connection_test_reports_each_failing_site_on_its_own_line() -> None:
    with serve_in_thread(three_sites()) as simulator:
        keys = f"{SITE_KEYS['north']}, {WRONG_KEY}, {SITE_KEYS['east']}"
        failing = connector.connection_test(
            configuration_for(simulator, site_name="north, south, nowhere", site_api_key=keys)
        )
        passing = connector.connection_test(sites_configuration(simulator))
        records = list(simulator.requests)

    assert failing.failure is not None
    print(failing.failure)
    *lines, hint = failing.failure.splitlines()
    assert len(lines) == 2, lines
    assert hint.startswith("site_api_key pairs keys with site names by position")
    (south,) = [line for line in lines if "'south'" in line]
    (nowhere,) = [line for line in lines if "'nowhere'" in line]
    assert "the API key was rejected" in south and "HTTP 401" in south
    assert "site 'nowhere' not found (HTTP 404)" in nowhere
    assert not any(key in failing.failure for key in (*SITE_KEYS.values(), WRONG_KEY))
    assert passing.success, passing.failure
    known = [record for record in records if record.site in ("north", "east")]
    assert known and all(record.key_matches_site for record in known)


def test_connection_test_says_an_unknown_site_is_not_found() -> None:
    with serve_in_thread(three_sites()) as simulator:
        keys = ", ".join(SITE_KEYS.values())
        result = connector.connection_test(
            configuration_for(simulator, site_name="north, nowhere, east", site_api_key=keys)
        )
    assert result.failure is not None
    assert result.failure.splitlines() == [
        "site 'nowhere': site 'nowhere' not found (HTTP 404): check site_name (and customer, base_url)"
    ]

"""After the API changes between syncs, the warehouse tells the truth: each site's current snapshot is exactly what
the API serves now, every scan ever served stays as history, and an unchanged re-sync adds nothing. The real
`fivetran debug` writes a real DuckDB file, read with the documented current-snapshot query; the simulator says what it
serves, in its own words. Its sites are as small as still shows every kind of change (changes.py: one of each kind in
every 50 locations), on pages of 10, and the tests of changing data sync on from one first sync, copied. Whether a
finished site is synced again when its endpoint changed is the connector's own logic: that runs in process
(tests/connection.py)."""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import pytest

from dexory_simulator import FaultPlan, Simulator, SimulatorConfig, SiteSpec, lookalikes, serve_in_thread
from dexory_simulator.changes import AWKWARD_QUANTITIES, Snapshot
from dexory_simulator.lookalikes import BELOW_A_MICROSECOND, NUL_APART, NUMBER_AND_TEXT
from tests.conftest import configuration_for, wait_until
from tests.connection import Connection
from tests.debug_process import StreamedDebug, debug_succeeds, site_state
from tests.warehouse import Current, all_scans, column_pairs, current_snapshot, landed, rounds, table_rows
from tools.fivetran_cli import run_debug, stage_project, write_configuration

SITES = (SiteSpec("north", "key-north-7c1e", 30, seed=21), SiteSpec("south", "key-south-2b9d", 50, seed=22))
NAMES = [spec.name for spec in SITES]
PAGE_SIZE = 10  # south at version 2: the first copy of its key served twice on page 3, the later one on page 5


def serving(simulator: Simulator) -> dict[str, Snapshot]:
    return {spec.name: simulator.snapshot(spec.name) for spec in SITES}


def assert_current_is(database: Path, truth: dict[str, Snapshot]) -> None:
    current = current_snapshot(database)
    for site, snapshot in truth.items():
        assert current[site].scans == snapshot.scans, site
        assert current[site].objects == snapshot.objects, site
        assert current[site].quantity == pytest.approx(snapshot.quantity, rel=1e-12, abs=1e-9), site


def served_twice(simulator: Simulator, site: str) -> int:
    """How many location keys `site` serves twice now."""
    return len(simulator.catalogue(site)) - simulator.snapshot(site).locations


@pytest.fixture(scope="module")
def synced_once(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Path:
    """A project after one sync of the sites' base data. Its rounds are complete, so the state names no endpoint:
    the next sync may be against any simulator serving the same data. Each test syncs on from a copy."""
    project = stage_project(tmp_path_factory.mktemp("synced-once") / "project")
    with serve_in_thread(SimulatorConfig.of_sites(SITES)) as simulator:
        write_configuration(project, configuration_for(simulator, sites=NAMES, page_size=PAGE_SIZE))
        debug_succeeds(project, home)
    return project


def copy_of(project: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(project, tmp_path / "project"))


def test_after_the_api_changes_each_current_snapshot_is_exact_and_history_is_kept(
    synced_once: Path, tmp_path: Path, home: Path
) -> None:
    project = copy_of(synced_once, tmp_path)
    database = project / "files" / "warehouse.db"
    with serve_in_thread(SimulatorConfig.of_sites(SITES)) as simulator:
        write_configuration(project, configuration_for(simulator, sites=NAMES, page_size=PAGE_SIZE))
        first = serving(simulator)
        assert_current_is(database, first)

        simulator.set_data_version(2)
        log = debug_succeeds(project, home)
        second = serving(simulator)
        twice = {site: served_twice(simulator, site) for site in NAMES}
        assert_current_is(database, second)
        after_change = table_rows(database)

        debug_succeeds(project, home)
        assert_current_is(database, second)
        assert table_rows(database) == after_change  # an unchanged re-sync adds no row to either table

    assert first["north"].scans != second["north"].scans and first["north"].quantity != second["north"].quantity
    odd = column_pairs(
        database, "SELECT sku, quantity FROM tester.expected_inventory_objects WHERE sku LIKE 'SKU-ODD-%'"
    )
    assert {quantity for _, quantity in odd} == set(AWKWARD_QUANTITIES)  # each exactly: no 32-bit float on the way
    for site in first:  # every scan ever served, exactly once
        scans = all_scans(database)[site]
        assert sorted(scans) == sorted(first[site].scans | second[site].scans)
    assert [status for _, status, _ in rounds(database)] == ["complete"] * 6
    assert all(twice.values())  # the changed data serves a key twice on every site
    assert log.count("a location key delivered again in this sync") == sum(twice.values())
    for count, sites in Counter(twice.values()).items():  # each site's summary
        assert log.count(f"duplicate location keys: {count} (each later copy is current)") == sites


def test_a_failed_round_and_a_killed_one_leave_the_previous_snapshot_whole(
    synced_once: Path, tmp_path: Path, home: Path
) -> None:
    project = copy_of(synced_once, tmp_path)
    database = project / "files" / "warehouse.db"
    with serve_in_thread(SimulatorConfig.of_sites(SITES)) as simulator:
        one_page_at_a_time = configuration_for(simulator, sites=NAMES, concurrency=1, page_size=PAGE_SIZE)
        write_configuration(project, one_page_at_a_time)
        first = serving(simulator)

        simulator.set_data_version(2)  # south fails after two pages of the changed data
        simulator.revoke_key_after("south", 2)
        result = run_debug(project, home, timeout=300)
        assert result.returncode != 0 and "'south'" in result.stdout
        assert_still_whole(database, first["south"], "south")
        statuses = {(site, status) for site, status, _ in rounds(database)}
        assert ("south", "failed") in statuses and ("north", "complete") in statuses

        simulator.revoke_key_after("south", None)  # the key works again; this sync is killed mid-round,
        simulator.config.faults = FaultPlan.parse(["south/5:stall@*"])  # waiting on south's last page
        saved_after_every_page = {**one_page_at_a_time, "checkpoint_max_rows": "1", "request_timeout_seconds": "600"}
        write_configuration(project, saved_after_every_page)
        debug = StreamedDebug(project, home)
        assert wait_until(lambda: site_state(project, "south").get("pages", 0) >= 4, timeout=120), debug.output
        debug.kill()
        assert "cursor" in site_state(project, "south")  # killed in the middle of the round
        assert_still_whole(database, first["south"], "south")

        simulator.config.faults = FaultPlan()
        write_configuration(project, one_page_at_a_time)
        debug_succeeds(
            project, home
        )  # resumes the same round and completes it: a location served twice across the kill
        assert_current_is(database, serving(simulator))  # is current in its later copy alone
        assert served_twice(simulator, "south")

    south_rounds = [status for site, status, _ in rounds(database) if site == "south"]
    assert south_rounds == ["complete", "complete"]  # the failed round was resumed, not a third one started


def assert_still_whole(database: Path, before: Snapshot, site: str) -> None:
    """Every location of the previous snapshot is still current (re-delivered ones may carry newer values)."""
    current: Current = current_snapshot(database)[site]
    assert before.scans <= current.scans


def test_keys_a_warehouse_would_merge_stay_apart_or_are_counted(tmp_path: Path, home: Path) -> None:
    project = stage_project(tmp_path / "project")
    config = SimulatorConfig(locations=4, seed=3, faults=FaultPlan.parse(["2:lookalike_keys"]))
    with serve_in_thread(config) as simulator:  # page 2 of 2 adds the lookalikes
        write_configuration(project, configuration_for(simulator, page_size=2))
        log = debug_succeeds(project, home)
        truth = simulator.ground_truth()

    database = project / "files" / "warehouse.db"
    skus = dict(
        column_pairs(database, "SELECT name, sku FROM tester.expected_inventory_objects WHERE aisle LIKE 'LOOK%'")
    )
    pairs = Counter(pair for pair, _ in lookalikes.records(config.site, 2))
    assert pairs == {NUL_APART: 2, NUMBER_AND_TEXT: 2, BELOW_A_MICROSECOND: 2}
    assert skus == {"N\ufffdUL": "nul-inside", "NUL": "nul-free", "123": "as-text", "FINE": "second"}  # later copies
    assert landed(database).locations == truth.locations + 4  # two names one NUL apart, one of each other pair
    assert "duplicate location keys: 2 (each later copy is current)" in log
    assert log.count("a location key delivered again in this sync") == 2


def test_a_site_finished_earlier_in_the_round_is_synced_again_when_its_endpoint_changed() -> None:
    simulator = Simulator(SimulatorConfig.of_sites(SITES))
    connection = Connection(simulator, configuration_for(simulator, sites=NAMES, page_size=PAGE_SIZE, max_pages=4))
    assert connection.sync().succeeded  # south stops at max_pages; north (3 pages) finishes: the round goes on
    assert "finished" in connection.state["sites"]["north"]

    connection.configuration = configuration_for(
        simulator, sites=NAMES, page_size=PAGE_SIZE, max_pages=4, customer="acme"
    )
    before = len(simulator.requests)
    synced = connection.sync()
    north_requests = [r for r in simulator.requests[before:] if r.site == "north"]

    assert synced.succeeded
    assert north_requests and all(r.query.get("customer") == "acme" for r in north_requests)
    assert "site 'north' finished earlier at another base_url, site or customer: syncing it again" in synced.output

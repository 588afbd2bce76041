"""The dbt models, built by one `dbt build` over three schemas of one DuckDB file, unioned (a dbt run is the slow
part, so every test reads the same build):

- two schemas written here to the connector's contract, round by round: every model against values computed here from
  the scans each round served, after changing data, a failed and a running round, and across two schemas;
- one the real `fivetran debug` wrote, end to end: it synced two sites of the simulator, their data changed, a second
  sync; the current models must equal what the API serves now, read page by page with a plain HTTP client.

One more build, of that schema alone as `make models` and `make demo` read it, must give each site the same stock.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dexory_simulator import Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tests.api_reader import LocationKey, current_lists, every_location
from tests.conftest import configuration_for
from tests.contract_warehouse import Round, Scan, write_rounds
from tests.debug_process import debug_succeeds
from tools.fivetran_cli import stage_project, write_configuration
from tools.models import MODELS_SCHEMA, SOURCE_SCHEMA, current_stock, dbt_build

START = datetime(2026, 11, 20, 6, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 16, 9, 30, 15, 250_000, tzinfo=UTC)
TUESDAY = datetime(2026, 11, 17, 23, 59, 59, tzinfo=UTC)


def at(hours: int) -> datetime:
    return START + timedelta(hours=hours)


def scan(name: str, when: datetime, *quantities: float | None, **fields: Any) -> Scan:
    return Scan(name, when, quantities, **fields)


FLEET_A = (
    Round(
        "north",
        at(0),
        [
            scan("A-1", MONDAY, 10, 20, 30, status_type="warning", status="quantity_mismatch", occupancy=0.5),
            scan("A-2", MONDAY, 5, 5, 5, 5, 5, occupancy=0.25),
            scan("A-3", MONDAY, 7),  # gone from the API in the next round
            scan("A-4", MONDAY, location_type="floor"),  # rescanned in the next round
        ],
    ),
    Round(
        "north",
        at(6),
        [
            scan("A-1", MONDAY, 15, 30, 40, status_type="correct", status="ok", occupancy=0.75),  # same scan, changed
            scan("A-2", MONDAY, 1, 2, occupancy=0.25),  # the list shrank from 5 to 2
            scan("A-4", TUESDAY, 1.5, location_type="floor", status_type="error", status="missing_item"),
            scan("A-5", TUESDAY, 100, 12),
            scan("A-5", TUESDAY, 100),  # the same key twice in one round: this later copy is current
            scan("A-6", TUESDAY, None, 2.5, status_type="mystery", status=None),  # a quantity-less object
            scan("A-7", TUESDAY, 16_777_217, 1_234_567.89, occupancy=0.1),  # beyond a 32-bit float
        ],
    ),
    Round("north", at(12), [scan("A-1", MONDAY, 15, 30, 40, status_type="correct", occupancy=0.75)], "failed"),
    Round("south", at(1), [scan("A-1", MONDAY, 3), scan("S-9", TUESDAY, 9, 9)]),
    Round("south", at(7), [scan("A-1", MONDAY, 3)], "running"),  # still under way: the last snapshot stays whole
    Round("east", at(2), [scan("E-1", TUESDAY, 4)], "running"),  # never complete: no current data yet
)
FLEET_B = (  # another connection; a site of the same name stays apart
    Round("north", at(3), [scan("A-1", MONDAY, 1000), scan("B-2", TUESDAY, occupancy=1.0)]),
    Round("west", at(4), [scan("W-1", TUESDAY, 0.5, 0.25, status_type="info", status="obstructed")]),
)
SCHEMAS = {"fleet_a": FLEET_A, "fleet_b": FLEET_B}


Identity = tuple[str, str, LocationKey]  # schema, site, location key


def last_complete(rounds: Iterable[Round]) -> dict[str, Round]:
    latest: dict[str, Round] = {}
    for sync_round in rounds:
        if sync_round.outcome == "complete":
            latest[sync_round.site] = sync_round
    return latest


def served_now() -> dict[Identity, Scan]:
    """What the API served in each site's last complete round: the truth the current models must equal."""
    return {
        (schema, site, item.key): item
        for schema, rounds in SCHEMAS.items()
        for site, sync_round in last_complete(rounds).items()
        for item in sync_round.scans
    }


def served_ever() -> dict[Identity, Scan]:
    """Every scan ever served, as last served: the history."""
    return {
        (schema, sync_round.site, item.key): item
        for schema, rounds in SCHEMAS.items()
        for sync_round in rounds
        for item in sync_round.scans
    }


# The sites `fivetran debug` syncs: over 30 locations each, so that the changed data has every kind of change (one of
# each in every 50 locations, changes.py), a key served twice included; on pages of 20.
SYNCED = (SiteSpec("north-dc", "sk-north-1a2b3c", 60, seed=21), SiteSpec("south-dc", "sk-south-4d5e6f", 40, seed=22))
Served = dict[str, dict[LocationKey, list[dict[str, Any]]]]  # site: location key: its expected objects


@dataclass(frozen=True)
class Built:
    database: Path
    started: datetime  # just before the build: the models' clock-based columns are read between this and a test's now
    before: Served  # what the API served at the first sync
    after: Served  # what it serves now
    served_twice: dict[str, int]  # per site, location keys it serves twice now


def read_api(simulator: Simulator) -> dict[str, list[dict[str, Any]]]:
    return {site.name: every_location(simulator.base_url, site.name, site.api_key) for site in SYNCED}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Built:
    """`fivetran debug` syncs version 1, the data changes, it syncs again; the schemas written here go into the same
    file; then one `dbt build` (the models, then their dbt tests) over the three, unioned. A directory of its own
    (per pytest-xdist worker too) holds the warehouse and dbt's target."""
    work = tmp_path_factory.mktemp("models")
    project = stage_project(work / "project")
    with serve_in_thread(SimulatorConfig.of_sites(SYNCED)) as simulator:
        write_configuration(project, configuration_for(simulator, sites=[site.name for site in SYNCED], page_size=20))
        debug_succeeds(project, home)
        before = read_api(simulator)
        simulator.set_data_version(2)
        debug_succeeds(project, home)
        after = read_api(simulator)
    database = project / "files" / "warehouse.db"
    for schema, rounds in SCHEMAS.items():
        write_rounds(str(database), schema, rounds)
    started = datetime.now(UTC)
    result = dbt_build(database, [*SCHEMAS, SOURCE_SCHEMA], work=work, quiet=True)
    assert result.returncode == 0, result.stdout[-4000:]
    return Built(
        database,
        started,
        before={site: current_lists(items) for site, items in before.items()},
        after={site: current_lists(items) for site, items in after.items()},
        served_twice={site: len(items) - len(current_lists(items)) for site, items in after.items()},
    )


def rows(built: Built, model: str) -> list[dict[str, Any]]:
    """The rows of `model` but those of the synced schema: the written schemas' (and any a model made up)."""
    with duckdb.connect(str(built.database), read_only=True) as db:
        relation = db.sql(f"SELECT * FROM {MODELS_SCHEMA}.{model} WHERE source_relation <> '{SOURCE_SCHEMA}'")
        return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def utc(value: datetime) -> datetime:
    """A model's timestamp (UTC, without zone) as the aware datetime it stands for."""
    return value.replace(tzinfo=UTC)


def location_id(row: dict[str, Any]) -> Identity:
    key = (row["name"], row["location_type"], row["aisle"], utc(row["scan_date"]))
    return row["source_relation"], row["site"], key


def test_current_locations_are_what_each_site_last_served_in_full(built: Built) -> None:
    truth = served_now()
    days = {built.started.date(), datetime.now(UTC).date()}
    landed = {location_id(row): row for row in rows(built, "dexory__locations_current")}
    assert landed.keys() == truth.keys()
    for identity, row in landed.items():
        item = truth[identity]
        assert (row["status"], row["status_type"], row["occupancy"]) == (item.status, item.status_type, item.occupancy)
        assert row["days_since_scan"] in {(day - item.scan_date.date()).days for day in days}
    assert {site for schema, site, _ in landed if schema == "fleet_a"} == {"north", "south"}  # east: never complete


def test_expected_stock_counts_and_sums_each_current_list(built: Built) -> None:
    truth = {
        identity: (len(item.quantities), sum(q for q in item.quantities if q is not None))
        for identity, item in served_now().items()
    }
    landed = {
        location_id(row): (row["expected_objects"], row["expected_quantity"])
        for row in rows(built, "dexory__expected_stock_current")
    }
    assert landed == truth
    assert landed["fleet_a", "north", ("A-1", "rack", "A01", MONDAY)] == (3, 85)  # changed under the same scan
    assert landed["fleet_a", "north", ("A-2", "rack", "A01", MONDAY)] == (2, 3)  # shrank from 5 to 2
    assert landed["fleet_a", "north", ("A-5", "rack", "A01", TUESDAY)] == (1, 100)  # the later copy only
    assert landed["fleet_b", "north", ("A-1", "rack", "A01", MONDAY)] == (1, 1000)  # same site, other connection
    assert landed["fleet_a", "north", ("A-7", "rack", "A01", TUESDAY)] == (2, 16_777_217 + 1_234_567.89)  # exact


def test_expected_objects_are_the_current_lists_position_by_position(built: Built) -> None:
    truth = {
        (*identity, index): quantity
        for identity, item in served_now().items()
        for index, quantity in enumerate(item.quantities)
    }
    landed = {
        (*location_id(row), row["object_index"]): row["quantity"]
        for row in rows(built, "dexory__expected_objects_current")
    }
    assert landed == truth


def test_site_status_tells_each_sites_last_complete_and_latest_round(built: Built) -> None:
    now = datetime.now(UTC)
    landed = {(row["source_relation"], row["site"]): row for row in rows(built, "dexory__site_status")}
    latest = {(schema, item.site): item for schema, rounds in SCHEMAS.items() for item in rounds}
    assert landed.keys() == latest.keys()
    for (schema, site), row in landed.items():
        assert (utc(row["latest_round_started_at"]), row["latest_round_status"]) == (
            latest[schema, site].started,
            latest[schema, site].outcome,
        )
        assert (row["latest_round_error"] is not None) == (latest[schema, site].outcome == "failed")
        done = last_complete(SCHEMAS[schema]).get(site)
        if done is None:
            assert row["last_complete_round_started_at"] is None and row["minutes_since_last_complete"] is None
            continue
        finished = done.started + timedelta(minutes=5)
        assert utc(row["last_complete_round_started_at"]) == done.started
        assert utc(row["last_complete_round_finished_at"]) == finished
        assert row["last_complete_round_locations"] == len(done.scans)
        assert row["last_complete_round_objects"] == sum(len(item.quantities) for item in done.scans)
        assert row["last_complete_round_duplicate_keys"] == len(done.scans) - len({item.key for item in done.scans})
        minutes = [int((moment - finished).total_seconds() // 60) for moment in (built.started, now)]
        assert minutes[0] <= row["minutes_since_last_complete"] <= minutes[1]
    assert landed["fleet_a", "north"]["latest_round_status"] == "failed"
    assert landed["fleet_a", "east"]["last_complete_round_started_at"] is None


def test_daily_scan_summary_counts_every_scan_ever_served(built: Built) -> None:
    days: dict[tuple[str, str, date], list[Scan]] = defaultdict(list)
    for (schema, site, _), item in served_ever().items():
        days[schema, site, item.scan_date.date()].append(item)
    landed = {
        (row["source_relation"], row["site"], row["scan_day"]): row for row in rows(built, "dexory__scan_summary_daily")
    }
    assert landed.keys() == days.keys()
    for day, scans in days.items():
        row = landed[day]
        types = Counter(item.status_type for item in scans)
        known = {name: types[name] for name in ("correct", "warning", "error", "info")}
        assert row["locations_scanned"] == len(scans)
        assert {name: row[f"{name}_locations"] for name in known} == known
        assert row["other_status_type_locations"] == len(scans) - sum(known.values())
        occupancies = [item.occupancy for item in scans if item.occupancy is not None]
        assert row["average_occupancy"] == (sum(occupancies) / len(occupancies) if occupancies else None)


def test_daily_status_counts_every_scan_ever_served(built: Built) -> None:
    truth = Counter(
        (schema, site, item.scan_date.date(), item.status_type, item.status)
        for (schema, site, _), item in served_ever().items()
    )
    landed = {
        (row["source_relation"], row["site"], row["scan_day"], row["status_type"], row["status"]): row[
            "locations_scanned"
        ]
        for row in rows(built, "dexory__scan_status_daily")
    }
    assert landed == dict(truth)


def test_a_union_is_the_sum_of_its_schemas(built: Built) -> None:
    """Each schema's rows are its own: per schema, as many current rows and as much stock as it alone served."""
    landed: Counter[str] = Counter()
    quantity: Counter[str] = Counter()
    for row in rows(built, "dexory__expected_stock_current"):
        landed[row["source_relation"]] += 1
        quantity[row["source_relation"]] += row["expected_quantity"]
    truth = served_now()
    for schema in SCHEMAS:
        mine = [item for (owner, _, _), item in truth.items() if owner == schema]
        assert landed[schema] == len(mine)
        assert quantity[schema] == sum(q for item in mine for q in item.quantities if q is not None)


# What the real `fivetran debug` synced: its schema of the build, its sites, against what the API served.


def synced_rows(built: Built, model: str, columns: str) -> list[tuple[Any, ...]]:
    """`columns` of the rows of `model` that come from the synced schema."""
    with duckdb.connect(str(built.database), read_only=True) as db:
        sql = f"SELECT {columns} FROM {MODELS_SCHEMA}.{model} WHERE source_relation = '{SOURCE_SCHEMA}'"
        return db.execute(sql).fetchall()


def quantity(objects: list[dict[str, Any]]) -> float:
    return math.fsum(item["quantity"] for item in objects if item.get("quantity") is not None)


def test_the_change_changed_what_the_api_serves(built: Built) -> None:
    before, after = built.before, built.after
    assert all(before[site.name] != after[site.name] for site in SYNCED)


def test_current_stock_is_what_the_api_serves_now(built: Built) -> None:
    landed: dict[str, dict[LocationKey, tuple[int, float]]] = {site.name: {} for site in SYNCED}
    for site, name, location_type, aisle, scan_date, objects, total in synced_rows(
        built,
        "dexory__expected_stock_current",
        "site, name, location_type, aisle, scan_date, expected_objects, expected_quantity",
    ):
        landed[site][name, location_type, aisle, scan_date.replace(tzinfo=UTC)] = (objects, total)
    for site in SYNCED:
        truth = {key: (len(objects), quantity(objects)) for key, objects in built.after[site.name].items()}
        assert landed[site.name].keys() == truth.keys()
        for key, (objects, total) in truth.items():
            assert landed[site.name][key][0] == objects
            assert landed[site.name][key][1] == pytest.approx(total, rel=1e-12, abs=1e-9)


def test_current_objects_are_the_apis_lists_position_by_position(built: Built) -> None:
    landed = {
        (site, name, location_type, aisle, scan_date.replace(tzinfo=UTC), index): quantity
        for site, name, location_type, aisle, scan_date, index, quantity in synced_rows(
            built,
            "dexory__expected_objects_current",
            "site, name, location_type, aisle, scan_date, object_index, quantity",
        )
    }
    truth = {
        (site, *key, index): item.get("quantity")
        for site, lists in built.after.items()
        for key, objects in lists.items()
        for index, item in enumerate(objects)
    }
    assert landed == truth


def test_current_locations_and_site_status_agree_with_the_api(built: Built) -> None:
    counts = Counter(site for (site,) in synced_rows(built, "dexory__locations_current", "site"))
    assert counts == {site.name: len(built.after[site.name]) for site in SYNCED}
    status = {
        site: (latest, twice)
        for site, latest, twice in synced_rows(
            built, "dexory__site_status", "site, latest_round_status, last_complete_round_duplicate_keys"
        )
    }
    assert status == {site: ("complete", twice) for site, twice in built.served_twice.items()}
    assert all(built.served_twice.values())  # the changed data serves some keys twice


def test_the_scan_history_holds_every_scan_ever_served(built: Built) -> None:
    before, after = built.before, built.after
    days = synced_rows(built, "dexory__scan_summary_daily", "site, scan_day, locations_scanned")
    landed: Counter[str] = Counter()
    for site, _, scanned in days:
        landed[site] += scanned
    assert landed == {site.name: len(before[site.name].keys() | after[site.name].keys()) for site in SYNCED}
    per_day = Counter(
        (site.name, key[3].date()) for site in SYNCED for key in before[site.name].keys() | after[site.name].keys()
    )
    assert {(site, day): scanned for site, day, scanned in days} == dict(per_day)


def test_the_synced_schema_alone_reads_as_in_the_union(built: Built, tmp_path: Path) -> None:
    """`make models` and `make demo` read one schema (`dexory_schema`), not a union: built on that schema alone, a
    copy of the warehouse gives each site the stock the union gave it."""
    alone = Path(shutil.copy(built.database, tmp_path / "alone.db"))
    result = dbt_build(alone, [SOURCE_SCHEMA], work=tmp_path, quiet=True)
    assert result.returncode == 0, result.stdout[-4000:]
    in_union = [stock for stock in current_stock(built.database) if stock.source_relation == SOURCE_SCHEMA]
    by_itself = current_stock(alone)
    assert in_union and [replace(stock, quantity=0.0) for stock in by_itself] == [
        replace(stock, quantity=0.0) for stock in in_union
    ]
    # The quantities reach 2^53, where a sum of doubles depends on the order the warehouse adds them in.
    assert [stock.quantity for stock in by_itself] == pytest.approx([stock.quantity for stock in in_union], rel=1e-12)

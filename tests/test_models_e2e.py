"""End to end: the real `fivetran debug` syncs two sites of the simulator, their data changes, a second sync, then
`dbt build`; the current models must equal what the API serves now, read page by page with a plain HTTP client."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dexory_simulator import Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tests.api_reader import LocationKey, current_lists, every_location
from tests.conftest import configuration_for
from tools.fivetran_cli import run_debug, stage_project, write_configuration
from tools.models import MODELS_SCHEMA, SOURCE_SCHEMA, dbt_build

SITES = (SiteSpec("north-dc", "sk-north-1a2b3c", 400, seed=21), SiteSpec("south-dc", "sk-south-4d5e6f", 250, seed=22))
Served = dict[str, dict[LocationKey, list[dict[str, Any]]]]  # site: location key: its expected objects


@dataclass(frozen=True)
class Synced:
    database: Path
    before: Served  # what the API served at the first sync
    after: Served  # what it serves now
    served_twice: dict[str, int]  # per site, location keys it serves twice now


def read_api(simulator: Simulator) -> dict[str, list[dict[str, Any]]]:
    return {site.name: every_location(simulator.base_url, site.name, site.api_key) for site in SITES}


def sync(project: Path, home: Path) -> None:
    result = run_debug(project, home, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]


@pytest.fixture(scope="module")
def synced(tmp_path_factory: pytest.TempPathFactory, home: Path) -> Synced:
    """Sync version 1, change the data, sync again, build the models: the warehouse and what the API served before
    and after the change."""
    work = tmp_path_factory.mktemp("models-e2e")
    project = stage_project(work / "project")
    with serve_in_thread(SimulatorConfig.of_sites(SITES)) as simulator:
        write_configuration(project, configuration_for(simulator, sites=[site.name for site in SITES]))
        sync(project, home)
        before = read_api(simulator)
        simulator.set_data_version(2)
        sync(project, home)
        after = read_api(simulator)
    database = project / "files" / "warehouse.db"
    result = dbt_build(database, [SOURCE_SCHEMA], work=work, quiet=True)
    assert result.returncode == 0, result.stdout[-4000:]
    return Synced(
        database,
        before={site: current_lists(items) for site, items in before.items()},
        after={site: current_lists(items) for site, items in after.items()},
        served_twice={site: len(items) - len(current_lists(items)) for site, items in after.items()},
    )


def query(database: Path, sql: str) -> list[tuple[Any, ...]]:
    with duckdb.connect(str(database), read_only=True) as db:
        return db.execute(sql).fetchall()


def quantity(objects: list[dict[str, Any]]) -> float:
    return math.fsum(item["quantity"] for item in objects if item.get("quantity") is not None)


def test_the_change_changed_what_the_api_serves(synced: Synced) -> None:
    before, after = synced.before, synced.after
    assert all(before[site.name] != after[site.name] for site in SITES)


def test_current_stock_is_what_the_api_serves_now(synced: Synced) -> None:
    database, after = synced.database, synced.after
    landed: dict[str, dict[LocationKey, tuple[int, float]]] = {site.name: {} for site in SITES}
    for site, name, location_type, aisle, scan_date, objects, total in query(
        database,
        f"""SELECT site, name, location_type, aisle, scan_date, expected_objects, expected_quantity
            FROM {MODELS_SCHEMA}.dexory__expected_stock_current""",
    ):
        landed[site][name, location_type, aisle, scan_date.replace(tzinfo=UTC)] = (objects, total)
    for site in SITES:
        truth = {key: (len(objects), quantity(objects)) for key, objects in after[site.name].items()}
        assert landed[site.name].keys() == truth.keys()
        for key, (objects, total) in truth.items():
            assert landed[site.name][key][0] == objects
            assert landed[site.name][key][1] == pytest.approx(total, rel=1e-12, abs=1e-9)


def test_current_objects_are_the_apis_lists_position_by_position(synced: Synced) -> None:
    database, after = synced.database, synced.after
    landed = {
        (site, name, location_type, aisle, scan_date.replace(tzinfo=UTC), index): quantity
        for site, name, location_type, aisle, scan_date, index, quantity in query(
            database,
            f"""SELECT site, name, location_type, aisle, scan_date, object_index, quantity
                FROM {MODELS_SCHEMA}.dexory__expected_objects_current""",
        )
    }
    truth = {
        (site, *key, index): item.get("quantity")
        for site, lists in after.items()
        for key, objects in lists.items()
        for index, item in enumerate(objects)
    }
    assert landed == truth


def test_current_locations_and_site_status_agree_with_the_api(synced: Synced) -> None:
    database, after = synced.database, synced.after
    counts = dict(query(database, f"SELECT site, count(*) FROM {MODELS_SCHEMA}.dexory__locations_current GROUP BY 1"))
    assert counts == {site.name: len(after[site.name]) for site in SITES}
    status = {
        site: (latest, twice)
        for site, latest, twice in query(
            database,
            f"""SELECT site, latest_round_status, last_complete_round_duplicate_keys
                FROM {MODELS_SCHEMA}.dexory__site_status""",
        )
    }
    assert status == {site: ("complete", twice) for site, twice in synced.served_twice.items()}
    assert all(synced.served_twice.values())  # the changed data serves some keys twice


def test_the_scan_history_holds_every_scan_ever_served(synced: Synced) -> None:
    database, before, after = synced.database, synced.before, synced.after
    landed = dict(
        query(
            database, f"SELECT site, sum(locations_scanned) FROM {MODELS_SCHEMA}.dexory__scan_summary_daily GROUP BY 1"
        )
    )
    assert landed == {site.name: len(before[site.name].keys() | after[site.name].keys()) for site in SITES}
    per_day = Counter(
        (site.name, key[3].date()) for site in SITES for key in before[site.name].keys() | after[site.name].keys()
    )
    landed_days = {
        (site, day): scanned
        for site, day, scanned in query(
            database, f"SELECT site, scan_day, locations_scanned FROM {MODELS_SCHEMA}.dexory__scan_summary_daily"
        )
    }
    assert landed_days == dict(per_day)

"""The real `fivetran debug` on a staged copy of the project, writing a real DuckDB file, against the simulator; and
a connection run in process where what matters is the connector's logic, not the CLI."""

from __future__ import annotations

import json
from pathlib import Path

from yarl import URL

from dexory_async.links import page_number
from dexory_async.tables import LOCATIONS
from dexory_simulator import Simulator, SimulatorConfig, serve_in_thread
from dexory_simulator.data import location
from tests.conftest import TEST_KEY, checkpoints, configuration_for
from tests.connection import Connection
from tests.debug_process import entry_of
from tests.warehouse import SiteRows, column, landed, landed_per_site
from tools.fivetran_cli import dependency_complaints, run_debug, stage_project, write_configuration


def test_full_sync_lands_the_ground_truth(tmp_path: Path, home: Path) -> None:
    config = SimulatorConfig(locations=300, seed=11, api_key=TEST_KEY, latency_ms=5)
    project = stage_project(tmp_path / "project")
    with serve_in_thread(config) as simulator:
        # page_size 30: about 110 rows a page, so a checkpoint every 5 pages or so (each costs the SDK a flush)
        write_configuration(project, configuration_for(simulator, page_size=30, checkpoint_max_rows=500))
        result = run_debug(project, home, timeout=300, log_path=tmp_path / "debug.log")
        truth = simulator.ground_truth()
    assert result.returncode == 0, result.stdout[-3000:]

    database = project / "files" / "warehouse.db"
    rows = landed(database)
    assert (rows.locations, rows.objects) == (truth.locations, truth.objects)
    assert rows.distinct_location_keys == rows.locations  # the primary key is unique
    assert rows.orphan_objects == 0 and rows.null_keys == 0
    assert landed_per_site(database) == {"demo-site": SiteRows(truth.locations, truth.objects)}

    state = json.loads((project / "files" / "state.json").read_text())
    assert set(state) == {"last_sync", "rounds"} and state["last_sync"].endswith("Z")

    log = result.stdout
    assert "SYNC SUCCEEDED" in log
    saved = checkpoints(log)  # the opening one, those by the row bound mid-sync, and the closing one
    mid_sync = [state for state in saved[1:-1] if "cursor" in entry_of(state, config.site)]
    assert mid_sync and saved[-1] == state
    assert not dependency_complaints(log)  # pipreqs resolved every import locally: no retries, no SEVERE lines
    assert TEST_KEY not in log and TEST_KEY not in json.dumps(state)


def test_values_survive_the_trip(tmp_path: Path, home: Path) -> None:
    """Leading zeros, non-ASCII text, nested JSON and timestamps land as the API sent them."""
    config = SimulatorConfig(locations=50, seed=4)
    project = stage_project(tmp_path / "project")
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator))
        result = run_debug(project, home, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    database = project / "files" / "warehouse.db"

    source = location(4, 0)
    where = f"name = '{source['name']}'"
    assert column(database, "locations", "site", where) == [config.site]
    assert column(database, "locations", "message", where) == [source["message"]]
    assert column(database, "locations", "CAST(scan_date AS VARCHAR)", where)[0].startswith(
        source["scan_date"][:19].replace("T", " ")
    )
    assert json.loads(column(database, "locations", "zoning", where)[0]) == source["zoning"]
    codes = column(database, "expected_inventory_objects", "product_code", "product_code IS NOT NULL")
    assert codes and all(len(code) == 13 for code in codes)  # kept as text: leading zeros survive


def test_max_pages_stops_a_sync_and_the_next_ones_continue() -> None:
    simulator = Simulator(SimulatorConfig(locations=700, seed=6, api_key=TEST_KEY))
    connection = Connection(simulator, configuration_for(simulator, max_pages=3))
    runs = [connection.sync() for _ in range(3)]
    assert all(run.succeeded for run in runs), runs[-1].output[-3000:]
    states = [run.checkpoints[-1] for run in runs]
    entries = [entry_of(state, simulator.config.site) for state in states]
    assert [entry.get("pages") for entry in entries] == [3, 6, None]  # 7 pages: 3, then 3 more, then the last
    assert [page_number(URL(entry["cursor"])) for entry in entries[:2]] == [4, 7]
    assert set(states[2]) == {"last_sync", "rounds"}
    assert ["max_pages (3) reached" in run.output for run in runs] == [True, True, False]
    assert all("resuming the interrupted sync" in run.output for run in runs[1:])
    assert connection.landed() == simulator.ground_truth()
    assert len(connection.sink.rows_of(LOCATIONS)) == simulator.ground_truth().locations  # no page read twice

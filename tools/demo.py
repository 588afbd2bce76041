"""`make demo`: the connector's promises, shown through the real `fivetran debug` against the Dexory API simulator.

Four syncs of two sites into one DuckDB file. In the first, one site's key stops working part-way (a simulator
switch): that site fails alone while the other lands completely. The second resumes the failed site. The third finds
nothing changed at the API and adds no row. Before the fourth the API's data changes (stock, lists, rescans, gone
locations): each site's current snapshot follows it exactly while every scan stays as history. After each sync every
site's current snapshot is shown next to what the simulator serves, with a verdict; at the end, the current stock
per site from the dbt models. Each sync's full log is kept next to the warehouse; the connector's own lines are
shown.
"""

from __future__ import annotations

import argparse
import math
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb

from dexory_simulator import Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tools.fivetran_cli import ROOT, cli_env, debug_command, stage_project, write_configuration
from tools.models import show_current_stock

DEMO_DIR = ROOT / "build" / "demo"
WAREHOUSE = DEMO_DIR / "files" / "warehouse.db"
FAILING_SITE = "lyon-dc"
KEY_ACCEPTED_FOR = 2  # requests of the failing site's key before the simulator starts answering 401
CHANGED_DATA = 2  # the simulator's data version after the API changed
_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \S+\s+\S*\s*(\S+)\s")  # time, level, icon, origin
_SDK_LINES_SHOWN = ("SYNC SUCCEEDED", "SYNC FAILED")
_ERROR, _TRACEBACK = "Error: ", "Traceback (most recent call last)"
_LAST_COMPLETE = """
    WITH last_complete AS (
        SELECT site, max(round_started_at) AS started FROM tester.site_rounds WHERE status = 'complete' GROUP BY site)
    SELECT {columns} FROM tester.{table} t JOIN last_complete r ON t.site = r.site AND t.round_started_at >= r.started
    WHERE NOT coalesce(t._fivetran_deleted, false) GROUP BY t.site"""


@dataclass(frozen=True)
class Current:
    """A site's current snapshot: in the warehouse (the README's query) or as the simulator serves it."""

    locations: int
    objects: int
    quantity: float

    def __str__(self) -> str:
        return f"{self.locations:>9,} {self.objects:>8,} {self.quantity:>14,.6g}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=1_000, help="in all, split between the two sites")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    project = stage_project(DEMO_DIR)
    lyon = SiteSpec(FAILING_SITE, "lyon-demo-key", args.locations // 2, seed=43)
    config = SimulatorConfig(
        locations=args.locations - lyon.locations,
        seed=42,
        site="paris-dc",
        api_key="paris-demo-key",
        extra_sites=(lyon,),
        shared_locations=50,  # the same location names on both sites: two rows, told apart by `site`
        latency_ms=args.latency_ms,
    )
    with serve_in_thread(config) as simulator:
        sites = ", ".join(f"{site.name} ({site.locations:,} locations)" for site in config.sites)
        print(f"simulator: {sites} at {simulator.base_url} ({args.latency_ms:g} ms per page)")
        write_configuration(
            project,
            {
                "site_name": ", ".join(site.name for site in config.sites),
                "site_api_key": ", ".join(site.api_key for site in config.sites),
                "base_url": simulator.base_url,
                "page_size": "200",
            },
        )
        simulator.revoke_key_after(FAILING_SITE, KEY_ACCEPTED_FOR)
        sync(project, 1, f"{FAILING_SITE}'s key is refused after {KEY_ACCEPTED_FOR} requests: it fails alone")
        show_snapshots(simulator)

        simulator.revoke_key_after(FAILING_SITE, None)
        resumed_from = len(simulator.requests)
        sync(project, 2, f"the key works again: {FAILING_SITE} resumes where it stopped")
        show_resume(simulator, resumed_from)
        show_snapshots(simulator)

        before = table_rows()
        sync(project, 3, "nothing changed at the API")
        show_snapshots(simulator)
        print(f"\n  rows in the tables: {before:,} before this sync, {table_rows():,} after (updated in place)")

        simulator.set_data_version(CHANGED_DATA)
        sync(project, 4, "the API changed: stock moved, lists shrank and grew, rescans, locations gone")
        show_snapshots(simulator)
        print(f"\n  location rows in all (every scan ever served, history included): {history():,}")
    show_join()
    show_current_stock(WAREHOUSE)
    print(
        f'\nopen it yourself: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{WAREHOUSE}', read_only=True).sql('FROM tester.site_rounds'))\"\n"
        f"each sync's full log: {DEMO_DIR}/sync-N.log; the current-snapshot SQL is in the README (Data handling)"
    )


def sync(project: Path, number: int, title: str) -> None:
    """One `fivetran debug` run; its connector lines (and the SDK's verdict) are shown, all of it kept in a file."""
    print(f"\n=== sync {number}: {title}\n", flush=True)
    result = subprocess.run(
        debug_command(project),
        cwd=project,
        env=cli_env(ROOT / "build" / "fivetran-home"),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    (DEMO_DIR / f"sync-{number}.log").write_text(result.stdout)
    print("\n".join(shown_lines(result.stdout)))
    print(f"\n`fivetran debug` exit code {result.returncode}")


def shown_lines(output: str) -> list[str]:
    """The connector's log lines with their continuation lines, the SDK's verdict on the sync, and the error a
    failed sync ends with (without the traceback that follows it)."""
    shown, showing = [], False
    for line in output.splitlines():
        start, text = _LOG_LINE.match(line), line.strip()
        if start is not None and any(verdict in text for verdict in _SDK_LINES_SHOWN):
            shown.append(line)  # the verdict alone, not the table of operations under it
            showing = False
            continue
        if start is not None:
            showing = start.group(1) == "connector"
        elif text.startswith((_ERROR, _TRACEBACK)):
            showing = text.startswith(_ERROR)
        if showing:
            shown.append(line)
    return shown


def show_snapshots(simulator: Simulator) -> None:
    """Each site's current snapshot in the warehouse next to what the API serves now, and its latest round."""
    warehouse, latest = current_snapshots(), latest_rounds()
    columns = f"{'locations':>9} {'objects':>8} {'SUM(quantity)':>14}"
    print(f"\n  {'site':<10} {'latest':<9} {'current snapshot, warehouse':<34} {'served by the API now':<34}")
    print(f"  {'':<10} {'round':<9} {columns}   {columns}   verdict")
    for site in sorted(site.name for site in simulator.config.sites):
        served = simulator.snapshot(site)
        api = Current(served.locations, served.objects, served.quantity)
        landed = warehouse.get(site, Current(0, 0, 0.0))
        status = latest.get(site, "none")
        exact = (landed.locations, landed.objects) == (api.locations, api.objects) and math.isclose(
            landed.quantity, api.quantity, rel_tol=1e-12
        )
        verdict = "exact" if exact else "no complete round yet" if status != "complete" else "MISMATCH"
        print(f"  {site:<10} {status:<9} {landed}   {api}   {verdict}")


def current_snapshots() -> dict[str, Current]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        locations = db.execute(_LAST_COMPLETE.format(columns="t.site, count(*)", table="locations")).fetchall()
        objects = db.execute(
            _LAST_COMPLETE.format(columns="t.site, count(*), sum(quantity)", table="expected_inventory_objects")
        ).fetchall()
    totals = {site: (count, float(quantity or 0)) for site, count, quantity in objects}
    return {site: Current(count, *totals.get(site, (0, 0.0))) for site, count in locations}


def latest_rounds() -> dict[str, str]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        rows = db.execute("""
            SELECT site, arg_max(status, round_started_at) FROM tester.site_rounds GROUP BY site""").fetchall()
    return {site: status for site, status in rows}


def show_resume(simulator: Simulator, since: int) -> None:
    asked = sorted({record.page or 0 for record in simulator.requests[since:] if record.site == FAILING_SITE})
    print(f"\n  {FAILING_SITE} requested in this sync: pages {', '.join(map(str, asked))} (not page 1 again)")


def table_rows() -> int:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        counts = db.execute("""
            SELECT (SELECT count(*) FROM tester.locations) + (SELECT count(*) FROM tester.expected_inventory_objects)
        """).fetchone()
    return int(counts[0]) if counts else 0


def history() -> int:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        count = db.execute("SELECT count(*) FROM tester.locations").fetchone()
    return int(count[0]) if count else 0


def show_join() -> None:
    print("\nthe same location on both sites, with its expected objects (joined on the five key columns):\n")
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        db.sql("""
            SELECT l.site, l.name, l.aisle, l.status, l.scan_date, o.object_index, o.sku, o.quantity
            FROM tester.locations l
            JOIN tester.expected_inventory_objects o USING (site, name, location_type, aisle, scan_date)
            WHERE l.name = (SELECT min(name) FROM tester.locations)
            ORDER BY l.site, o.object_index LIMIT 8""").show(max_width=120)


if __name__ == "__main__":
    main()

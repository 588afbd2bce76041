"""`make demo`: a whole sync of two sites against the simulator, through the real `fivetran debug`, then a look at
DuckDB: both sites in the same tables, side by side."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import duckdb

from dexory_simulator import SimulatorConfig, SiteSpec, serve_in_thread
from tools.fivetran_cli import ROOT, cli_env, debug_command, stage_project, write_configuration
from tools.models import show_current_stock

DEMO_DIR = ROOT / "build" / "demo"


def show_warehouse(database: Path) -> None:
    with duckdb.connect(str(database), read_only=True) as db:
        print("\nrows landed in", database)
        counts = db.execute("""
            SELECT site, (SELECT count(*) FROM tester.locations l WHERE l.site = s.site),
                   (SELECT count(*) FROM tester.expected_inventory_objects o WHERE o.site = s.site)
            FROM (SELECT DISTINCT site FROM tester.locations) s ORDER BY site""").fetchall()
        print(f"  {'site':<12} {'locations':>10} {'expected_inventory_objects':>28}")
        for site, locations, objects in counts:
            print(f"  {site:<12} {locations:>10,} {objects:>28,}")
        print("\nthe same location on both sites, with its expected objects (joined on the five key columns):")
        rows = db.execute("""
            SELECT l.site, l.name, l.location_type, l.status, CAST(l.scan_date AS VARCHAR) AS scan_date,
                   o.object_index, o.sku, o.description, o.quantity
            FROM tester.locations l
            JOIN tester.expected_inventory_objects o
              USING (site, name, location_type, aisle, scan_date)
            WHERE l.name = (SELECT min(name) FROM tester.locations)
            ORDER BY l.name, l.site, o.object_index LIMIT 8""").fetchall()
        for row in rows:
            print("  " + " | ".join("" if value is None else str(value) for value in row))
    print(
        f'\nopen it yourself: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{database}', read_only=True).sql('FROM tester.locations LIMIT 5'))\""
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    project = stage_project(DEMO_DIR)
    lyon = SiteSpec("lyon-dc", "lyon-demo-key", args.locations // 2, seed=43)
    config = SimulatorConfig(
        locations=args.locations - lyon.locations,
        seed=42,
        site="paris-dc",
        api_key="paris-demo-key",
        extra_sites=(lyon,),
        shared_locations=100,  # the same location names on both sites: two rows, told apart by `site`
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
                "page_size": "500",
                "checkpoint_max_rows": "5000",
            },
        )
        command = debug_command(project)
        print("running:", " ".join(command[1:]), "\n", flush=True)
        subprocess.run(command, cwd=project, env=cli_env(ROOT / "build" / "fivetran-home"), check=True)
        truth = simulator.ground_truth()
    show_warehouse(project / "files" / "warehouse.db")
    print(f"simulator ground truth: {truth.locations:,} locations, {truth.objects:,} expected objects in all")
    show_current_stock(project / "files" / "warehouse.db")


if __name__ == "__main__":
    main()

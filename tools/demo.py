"""`make demo`: a whole sync against the simulator, through the real `fivetran debug`, then a look at DuckDB."""

from __future__ import annotations

import argparse
import subprocess
from pathlib import Path

import duckdb

from dexory_async.simulator import SimulatorConfig, serve_in_thread
from tools.fivetran_cli import ROOT, cli_env, debug_command, stage_project, write_configuration

DEMO_DIR = ROOT / "build" / "demo"


def show_warehouse(database: Path) -> None:
    with duckdb.connect(str(database), read_only=True) as db:
        print("\nrows landed in", database)
        for table in ("locations", "expected_inventory_objects"):
            count = db.execute(f"SELECT count(*) FROM tester.{table}").fetchone()[0]
            print(f"  tester.{table:<28} {count:>8,}")
        print("\na few locations with their expected objects (joined on the location's key):")
        rows = db.execute("""
            SELECT l.name, l.location_type, l.status, CAST(l.scan_date AS VARCHAR) AS scan_date,
                   o.object_index, o.sku, o.description, o.quantity
            FROM tester.locations l
            JOIN tester.expected_inventory_objects o
              USING (name, location_type, aisle, scan_date)
            ORDER BY l.name, o.object_index LIMIT 8""").fetchall()
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
    config = SimulatorConfig(locations=args.locations, seed=42, latency_ms=args.latency_ms)
    with serve_in_thread(config) as simulator:
        print(f"simulator: {args.locations:,} locations at {simulator.base_url} ({args.latency_ms:g} ms per page)")
        write_configuration(
            project,
            {
                "site_name": config.site,
                "site_api_key": config.api_key,
                "base_url": simulator.base_url,
                "page_size": "500",
                "checkpoint_every_pages": "4",
            },
        )
        command = debug_command(project)
        print("running:", " ".join(command[1:]), "\n", flush=True)
        subprocess.run(command, cwd=project, env=cli_env(ROOT / "build" / "fivetran-home"), check=True)
        truth = simulator.ground_truth()
    show_warehouse(project / "files" / "warehouse.db")
    print(f"simulator ground truth: {truth.locations:,} locations, {truth.objects:,} expected objects")


if __name__ == "__main__":
    main()

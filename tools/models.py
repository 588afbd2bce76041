"""`make models`: build and test the dbt package in dbt/ against a DuckDB warehouse the connector wrote (the demo's
by default), writing the models into that same file, then a short summary per site.

dbt lives in its own environment (.venv-dbt, `make models-env`): its pins are not the connector's. It runs as a
process; what it built is read back here with duckdb.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb

from tools.fivetran_cli import ROOT

DBT_PROJECT = ROOT / "dbt"
DBT = ROOT / ".venv-dbt" / "bin" / "dbt"
DEMO_WAREHOUSE = ROOT / "build" / "demo" / "files" / "warehouse.db"
MODELS_SCHEMA = "dexory"  # where dbt/profiles.yml writes the models
SOURCE_SCHEMA = "tester"  # where `fivetran debug` writes the connector's tables


@dataclass(frozen=True)
class SiteStock:
    """One site's line of the summary, from dexory__site_status and dexory__expected_stock_current."""

    source_relation: str
    site: str
    last_complete: datetime | None
    latest_round: str
    locations: int
    objects: int
    quantity: float


def dbt_build(
    warehouse: Path, schemas: Sequence[str] = (SOURCE_SCHEMA,), *, work: Path = ROOT / "build" / "dbt", quiet: bool
) -> subprocess.CompletedProcess[str]:
    """`dbt build` (every model, then its tests) over the connector's tables in `schemas` of `warehouse`: one schema
    is read as `dexory_schema`, several are unioned. With `quiet`, the output is captured instead of shown."""
    if not DBT.exists():
        raise SystemExit(f"{DBT.relative_to(ROOT)} is missing: run `make models-env` (or `make models`) first")
    if not warehouse.exists():
        raise SystemExit(f"no warehouse at {warehouse}: run `make demo`, or set DEXORY_WAREHOUSE to a DuckDB file")
    variables = {"dexory_schema": schemas[0]} if len(schemas) == 1 else {"dexory_union_schemas": list(schemas)}
    command = [
        str(DBT),
        "build",
        *(["--quiet"] if quiet else []),
        "--project-dir",
        str(DBT_PROJECT),
        "--profiles-dir",
        str(DBT_PROJECT),
        "--target-path",
        str(work / "target"),
        "--log-path",
        str(work / "logs"),
        "--vars",
        json.dumps(variables),
    ]
    env = {
        **os.environ,
        "DEXORY_WAREHOUSE": str(warehouse.resolve()),
        "DO_NOT_TRACK": "1",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
    return subprocess.run(command, env=env, text=True, capture_output=quiet, check=False)


def current_stock(warehouse: Path) -> list[SiteStock]:
    """Per site: its latest complete round and current expected stock, as the models say."""
    with duckdb.connect(str(warehouse), read_only=True) as db:
        rows = db.execute(f"""
            SELECT s.source_relation, s.site, s.last_complete_round_finished_at, s.latest_round_status,
                   count(k.name), coalesce(sum(k.expected_objects), 0), coalesce(sum(k.expected_quantity), 0)
            FROM {MODELS_SCHEMA}.dexory__site_status s
            LEFT JOIN {MODELS_SCHEMA}.dexory__expected_stock_current k USING (source_relation, site)
            GROUP BY ALL ORDER BY ALL""").fetchall()
    return [SiteStock(str(r[0]), str(r[1]), r[2], str(r[3]), int(r[4]), int(r[5]), float(r[6])) for r in rows]


def print_stock(stock: Sequence[SiteStock]) -> None:
    print(f"  {'schema':<10} {'site':<12} {'last complete (UTC)':<20} {'latest round':<13}", end="")
    print(f" {'locations':>10} {'expected objects':>17} {'expected quantity':>18}")
    for line in stock:
        finished = "never" if line.last_complete is None else f"{line.last_complete:%Y-%m-%d %H:%M:%S}"
        print(f"  {line.source_relation:<10} {line.site:<12} {finished:<20} {line.latest_round:<13}", end="")
        print(f" {line.locations:>10,} {line.objects:>17,} {line.quantity:>18,.10g}")


def show_current_stock(warehouse: Path) -> None:
    """The end of `make demo`: build the models over what the demo synced, and show the current stock per site."""
    result = dbt_build(warehouse, quiet=True)
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed:\n{result.stdout}{result.stderr}")
    print(f"\ncurrent stock per site, from the dbt models (schema {MODELS_SCHEMA} of the same file):")
    print_stock(current_stock(warehouse))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "--schema",
        action="append",
        help=f"the connector's schema (default {SOURCE_SCHEMA}); repeat it to union several connections' schemas",
    )
    args = parser.parse_args()
    warehouse = Path(os.environ.get("DEXORY_WAREHOUSE") or DEMO_WAREHOUSE)
    result = dbt_build(warehouse, args.schema or [SOURCE_SCHEMA], quiet=False)
    if result.returncode != 0:
        raise SystemExit(f"dbt build failed (exit {result.returncode}): see its output above")
    print(f"\nmodels built and tested in schema {MODELS_SCHEMA} of {warehouse}:")
    print_stock(current_stock(warehouse))


if __name__ == "__main__":
    main()

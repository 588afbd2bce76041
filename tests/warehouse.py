"""Reading what a sync landed in the SDK's local DuckDB warehouse, for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

KEY = "site, name, location_type, aisle, scan_date"  # the primary key of `locations`; objects join on it


@dataclass(frozen=True)
class Landed:
    locations: int
    objects: int
    distinct_location_keys: int
    orphan_objects: int
    null_keys: int


@dataclass(frozen=True)
class SiteRows:
    locations: int
    objects: int


def landed(database: Path) -> Landed:
    with duckdb.connect(str(database), read_only=True) as db:

        def scalar(sql: str) -> int:
            row = db.execute(sql).fetchone()
            assert row is not None  # an aggregate always returns a row
            return int(row[0])

        return Landed(
            locations=scalar("SELECT count(*) FROM tester.locations"),
            objects=scalar("SELECT count(*) FROM tester.expected_inventory_objects"),
            distinct_location_keys=scalar(f"SELECT count(*) FROM (SELECT DISTINCT {KEY} FROM tester.locations)"),
            orphan_objects=scalar(f"""
                SELECT count(*) FROM tester.expected_inventory_objects o
                ANTI JOIN tester.locations l USING ({KEY})"""),
            null_keys=scalar(
                "SELECT count(*) FROM tester.locations WHERE site IS NULL OR name IS NULL OR location_type IS NULL "
                "OR aisle IS NULL OR scan_date IS NULL"
            ),
        )


def landed_per_site(database: Path) -> dict[str, SiteRows]:
    """Rows of each table per `site`; a site with objects but no locations would show up with 0 locations."""
    with duckdb.connect(str(database), read_only=True) as db:
        locations = dict(db.execute("SELECT site, count(*) FROM tester.locations GROUP BY site").fetchall())
        objects = dict(
            db.execute("SELECT site, count(*) FROM tester.expected_inventory_objects GROUP BY site").fetchall()
        )
    return {
        str(site): SiteRows(int(locations.get(site, 0)), int(objects.get(site, 0)))
        for site in sorted({*locations, *objects})
    }


def column(database: Path, table: str, name: str, where: str = "true") -> list[Any]:
    with duckdb.connect(str(database), read_only=True) as db:
        return [row[0] for row in db.execute(f"SELECT {name} FROM tester.{table} WHERE {where}").fetchall()]

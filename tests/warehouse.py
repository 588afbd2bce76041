"""Reading what a sync landed in the SDK's local DuckDB warehouse, for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import duckdb

KEY = "name, location_type, aisle, scan_date"


@dataclass(frozen=True)
class Landed:
    locations: int
    objects: int
    distinct_location_keys: int
    orphan_objects: int
    null_keys: int


def landed(database: Path) -> Landed:
    with duckdb.connect(str(database), read_only=True) as db:

        def scalar(sql: str) -> int:
            return db.execute(sql).fetchone()[0]  # type: ignore[index]

        return Landed(
            locations=scalar("SELECT count(*) FROM tester.locations"),
            objects=scalar("SELECT count(*) FROM tester.expected_inventory_objects"),
            distinct_location_keys=scalar(f"SELECT count(*) FROM (SELECT DISTINCT {KEY} FROM tester.locations)"),
            orphan_objects=scalar(f"""
                SELECT count(*) FROM tester.expected_inventory_objects o
                ANTI JOIN tester.locations l USING ({KEY})"""),
            null_keys=scalar(
                "SELECT count(*) FROM tester.locations WHERE name IS NULL OR location_type IS NULL "
                "OR aisle IS NULL OR scan_date IS NULL"
            ),
        )


def column(database: Path, table: str, name: str, where: str = "true") -> list[object]:
    with duckdb.connect(str(database), read_only=True) as db:
        return [row[0] for row in db.execute(f"SELECT {name} FROM tester.{table} WHERE {where}").fetchall()]

"""Reading what a sync landed in the SDK's local DuckDB warehouse, for assertions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

KEY = "site, name, location_type, aisle, scan_date"  # the primary key of `locations`; objects join on it
OBJECTS = "expected_inventory_objects"


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


# The documented current-snapshot query: a site's rows delivered since the start of its latest complete round.
CURRENT = """
    WITH last_complete AS (
        SELECT site, max(round_started_at) AS started FROM tester.site_rounds WHERE status = 'complete' GROUP BY site
    )
    SELECT {columns} FROM tester.{table} t JOIN last_complete r ON t.site = r.site AND t.round_started_at >= r.started
    WHERE NOT coalesce(t._fivetran_deleted, false)"""
SCAN_TEXT = "strftime(scan_date AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%g') || 'Z'"  # as the simulator writes it


@dataclass(frozen=True)
class Current:
    """One site's current snapshot as an analyst's query sees it."""

    scans: frozenset[tuple[Any, ...]]  # (name, location_type, aisle, scan_date as ISO text)
    objects: int
    quantity: float


def current_snapshot(database: Path) -> dict[str, Current]:
    key = f"name, location_type, aisle, {SCAN_TEXT}"
    with duckdb.connect(str(database), read_only=True) as db:
        scans: dict[str, set[tuple[Any, ...]]] = {}
        for site, *scan in db.execute(CURRENT.format(columns=f"t.site, {key}", table="locations")).fetchall():
            scans.setdefault(str(site), set()).add(tuple(scan))
        totals = {
            str(site): (int(count), float(quantity or 0))
            for site, count, quantity in db.execute(
                f"SELECT site, count(*), sum(quantity) FROM ({CURRENT.format(columns='t.*', table=OBJECTS)}) "
                "GROUP BY site"
            ).fetchall()
        }
    return {site: Current(frozenset(keys), *totals.get(site, (0, 0.0))) for site, keys in sorted(scans.items())}


def all_scans(database: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every location row of each site, history included (a list: a scan landed twice would show twice)."""
    with duckdb.connect(str(database), read_only=True) as db:
        rows = db.execute(f"SELECT site, name, location_type, aisle, {SCAN_TEXT} FROM tester.locations").fetchall()
    scans: dict[str, list[tuple[Any, ...]]] = {}
    for site, *scan in rows:
        scans.setdefault(str(site), []).append(tuple(scan))
    return scans


def rounds(database: Path) -> list[tuple[str, str, str]]:
    """`site_rounds` as (site, status, round_started_at), oldest first."""
    with duckdb.connect(str(database), read_only=True) as db:
        rows = db.execute(
            "SELECT site, status, CAST(round_started_at AS VARCHAR) FROM tester.site_rounds ORDER BY 3, 1"
        ).fetchall()
    return [(str(site), str(status), str(started)) for site, status, started in rows]


def table_rows(database: Path) -> tuple[int, int]:
    """All rows of `locations` and `expected_inventory_objects`, deleted ones included."""
    with duckdb.connect(str(database), read_only=True) as db:

        def count(table: str) -> int:
            row = db.execute(f"SELECT count(*) FROM tester.{table}").fetchone()
            assert row is not None  # an aggregate always returns a row
            return int(row[0])

        return count("locations"), count(OBJECTS)


def column_pairs(database: Path, sql: str) -> list[tuple[Any, Any]]:
    with duckdb.connect(str(database), read_only=True) as db:
        return [(first, second) for first, second in db.execute(sql).fetchall()]

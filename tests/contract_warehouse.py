"""A warehouse written straight into DuckDB to the connector's table contract, round by round: what the connector
lands when the API serves the scans a test names. The dbt models' tests build on it without a sync."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

import duckdb

from tests.api_reader import LocationKey

Outcome = Literal["complete", "failed", "running"]

_TABLES = """
CREATE TABLE {schema}.locations (
    site VARCHAR, name VARCHAR, location_type VARCHAR, aisle VARCHAR, scan_date TIMESTAMPTZ,
    status VARCHAR, status_type VARCHAR, message VARCHAR, image_url VARCHAR, occupancy DOUBLE, zoning VARCHAR,
    round_started_at TIMESTAMPTZ, _fivetran_deleted BOOLEAN, _fivetran_synced TIMESTAMPTZ,
    PRIMARY KEY (site, name, location_type, aisle, scan_date));
CREATE TABLE {schema}.expected_inventory_objects (
    site VARCHAR, name VARCHAR, location_type VARCHAR, aisle VARCHAR, scan_date TIMESTAMPTZ, object_index INTEGER,
    marker VARCHAR, sku VARCHAR, description VARCHAR, quantity DOUBLE, expected_weight_g DOUBLE,
    product_code VARCHAR, client VARCHAR, batch VARCHAR, lot VARCHAR, expiry_date VARCHAR,
    round_started_at TIMESTAMPTZ, _fivetran_deleted BOOLEAN, _fivetran_synced TIMESTAMPTZ,
    PRIMARY KEY (site, name, location_type, aisle, scan_date, object_index));
CREATE TABLE {schema}.site_rounds (
    site VARCHAR, round_started_at TIMESTAMPTZ, status VARCHAR, finished_at TIMESTAMPTZ, pages BIGINT,
    locations BIGINT, objects BIGINT, skipped_records BIGINT, duplicate_keys BIGINT, retries BIGINT, error VARCHAR,
    _fivetran_deleted BOOLEAN, _fivetran_synced TIMESTAMPTZ,
    PRIMARY KEY (site, round_started_at));
"""


@dataclass(frozen=True)
class Scan:
    """One location as the API serves it, with the quantities of its expected objects in list order."""

    name: str
    scan_date: datetime
    quantities: tuple[float | None, ...] = ()
    status_type: str | None = "correct"
    status: str | None = "ok"
    occupancy: float | None = None
    location_type: str = "rack"
    aisle: str = "A01"

    @property
    def key(self) -> LocationKey:
        return (self.name, self.location_type, self.aisle, self.scan_date)


@dataclass(frozen=True)
class Round:
    """One site's round: the scans it delivered in order (a key may come twice), and how it ended."""

    site: str
    started: datetime
    scans: Sequence[Scan]
    outcome: Outcome = "complete"


def write_rounds(database: str, schema: str, rounds: Sequence[Round]) -> None:
    """Create the connector's tables in `schema` and land `rounds` in order, as the connector would."""
    with duckdb.connect(database) as db:
        db.execute(f"CREATE SCHEMA {schema}")
        db.execute(_TABLES.format(schema=schema))
        for sync_round in rounds:
            _land(db, schema, sync_round)


def _land(db: duckdb.DuckDBPyConnection, schema: str, sync_round: Round) -> None:
    site, started = sync_round.site, sync_round.started
    _upsert_round(db, schema, sync_round, "running", finished=None)
    for scan in sync_round.scans:
        key = (site, *scan.key)
        db.execute(
            f"INSERT OR REPLACE INTO {schema}.locations VALUES (?, ?, ?, ?, ?, ?, ?, NULL, NULL, ?, '{{}}', ?, false, "
            "now())",
            [*key, scan.status, scan.status_type, scan.occupancy, started],
        )
        for index, quantity in enumerate(scan.quantities):
            db.execute(
                f"INSERT OR REPLACE INTO {schema}.expected_inventory_objects VALUES (?, ?, ?, ?, ?, ?, NULL, ?, NULL, "
                "?, NULL, NULL, NULL, NULL, NULL, NULL, ?, false, now())",
                [*key, index, f"SKU-{index}", quantity, started],
            )
        # the same key delivered earlier in this round: the later copy is current, with exactly its own objects
        db.execute(
            f"""UPDATE {schema}.expected_inventory_objects SET _fivetran_deleted = true
            WHERE site = ? AND name = ? AND location_type = ? AND aisle = ? AND scan_date = ? AND object_index >= ?
              AND round_started_at = ?""",
            [*key, len(scan.quantities), started],
        )
    if sync_round.outcome != "running":
        _upsert_round(db, schema, sync_round, sync_round.outcome, finished=started + timedelta(minutes=5))


def _upsert_round(
    db: duckdb.DuckDBPyConnection, schema: str, sync_round: Round, status: str, finished: datetime | None
) -> None:
    scans = sync_round.scans
    db.execute(
        f"INSERT OR REPLACE INTO {schema}.site_rounds VALUES (?, ?, ?, ?, 1, ?, ?, 0, ?, 0, ?, false, now())",
        [
            sync_round.site,
            sync_round.started,
            status,
            finished,
            len(scans),
            sum(len(scan.quantities) for scan in scans),
            len(scans) - len({scan.key for scan in scans}),
            "HTTP 503 from the API (key ***)" if status == "failed" else None,
        ],
    )

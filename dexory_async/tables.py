"""The destination tables: names, keys, and the column types the connector knows (the rest are inferred)."""

from __future__ import annotations

from typing import Any

from .flatten import KEY_FIELDS, OBJECT_INDEX

LOCATIONS = "locations"
OBJECTS = "expected_inventory_objects"

_KEY_COLUMNS = {"name": "STRING", "location_type": "STRING", "aisle": "STRING", "scan_date": "UTC_DATETIME"}


def table_definitions() -> list[dict[str, Any]]:
    """What `schema()` returns. The child table has no primary key: Fivetran keys it by `_fivetran_id`, a hash of
    all its columns, so two identical objects of a location stay two rows (their `object_index` differs)."""
    return [
        {"table": LOCATIONS, "primary_key": list(KEY_FIELDS), "columns": dict(_KEY_COLUMNS)},
        {"table": OBJECTS, "columns": {**_KEY_COLUMNS, OBJECT_INDEX: "INT"}},
    ]

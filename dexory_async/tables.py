"""The destination tables: names, keys, and the column types the connector knows.

Known text fields are declared STRING because Fivetran infers a type from a string's shape: an undeclared
`product_code` of "5012345678900" would become a number. Known fractional fields are declared DOUBLE because an
undeclared float lands as a 32-bit FLOAT. Unknown fields pass through with inferred types.
"""

from __future__ import annotations

from typing import Any

LOCATIONS = "locations"
OBJECTS = "expected_inventory_objects"
SITE = "site"
LOCATION_KEY = ("name", "location_type", "aisle", "scan_date")  # a location's key within its site, as the API sends it
KEY_FIELDS = (SITE, *LOCATION_KEY)
OBJECT_INDEX = "object_index"

_KEY_COLUMNS = {
    SITE: "STRING",
    "name": "STRING",
    "location_type": "STRING",
    "aisle": "STRING",
    "scan_date": "UTC_DATETIME",
}
LOCATION_NUMBERS = frozenset({"occupancy"})
OBJECT_NUMBERS = frozenset({"expected_weight_g"})
_LOCATION_TEXT = ("status", "status_type", "message", "image_url")
_OBJECT_TEXT = ("marker", "sku", "description", "product_code", "client", "batch", "lot")


def table_definitions() -> list[dict[str, Any]]:
    """What `schema()` returns. The child table has no primary key: Fivetran keys it by `_fivetran_id`, a hash of
    all its columns, so two identical objects of a location stay two rows (their `object_index` differs)."""
    locations = {**_KEY_COLUMNS, **dict.fromkeys(_LOCATION_TEXT, "STRING"), **dict.fromkeys(LOCATION_NUMBERS, "DOUBLE")}
    objects = {
        **_KEY_COLUMNS,
        OBJECT_INDEX: "INT",
        **dict.fromkeys(_OBJECT_TEXT, "STRING"),
        **dict.fromkeys(OBJECT_NUMBERS, "DOUBLE"),
    }
    return [
        {"table": LOCATIONS, "primary_key": list(KEY_FIELDS), "columns": locations},
        {"table": OBJECTS, "columns": objects},
    ]

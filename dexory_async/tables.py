"""The destination tables: names, keys, and the column types the connector knows.

Known text fields are declared STRING because Fivetran infers a type from a string's shape: an undeclared
`product_code` of "5012345678900" would become a number. Known numeric fields are declared DOUBLE because an
undeclared fraction lands as a 32-bit FLOAT (16777217 as 16777216, 0.1 as 0.10000000149); a DOUBLE holds every
integer up to 2^53 exactly. Unknown fields pass through with inferred types.

Every row carries `round_started_at`: when the sync round of its site that last delivered it started. A site's
current snapshot is its rows delivered since the start of its latest complete round (`site_rounds`).
"""

from __future__ import annotations

from typing import Any

LOCATIONS = "locations"
OBJECTS = "expected_inventory_objects"
SITE_ROUNDS = "site_rounds"
SITE = "site"
ROUND_STARTED_AT = "round_started_at"
LOCATION_KEY = ("name", "location_type", "aisle", "scan_date")  # a location's key within its site, as the API sends it
KEY_FIELDS = (SITE, *LOCATION_KEY)
OBJECT_INDEX = "object_index"
OBJECT_KEY = (*KEY_FIELDS, OBJECT_INDEX)  # an object is its location's and its position in the location's list

_KEY_COLUMNS = {
    SITE: "STRING",
    "name": "STRING",
    "location_type": "STRING",
    "aisle": "STRING",
    "scan_date": "UTC_DATETIME",
}
LOCATION_NUMBERS = frozenset({"occupancy"})
OBJECT_NUMBERS = frozenset({"quantity", "expected_weight_g"})
_LOCATION_TEXT = ("status", "status_type", "message", "image_url")
_OBJECT_TEXT = ("marker", "sku", "description", "product_code", "client", "batch", "lot")
_ROUND_COLUMNS = {
    "status": "STRING",
    "finished_at": "UTC_DATETIME",
    "pages": "LONG",
    "locations": "LONG",
    "objects": "LONG",
    "skipped_records": "LONG",
    "duplicate_keys": "LONG",
    "retries": "LONG",
    "error": "STRING",
}


def table_definitions() -> list[dict[str, Any]]:
    """What `schema()` returns."""
    locations = {
        **_KEY_COLUMNS,
        ROUND_STARTED_AT: "UTC_DATETIME",
        **dict.fromkeys(_LOCATION_TEXT, "STRING"),
        **dict.fromkeys(LOCATION_NUMBERS, "DOUBLE"),
    }
    objects = {
        **_KEY_COLUMNS,
        OBJECT_INDEX: "INT",
        ROUND_STARTED_AT: "UTC_DATETIME",
        **dict.fromkeys(_OBJECT_TEXT, "STRING"),
        **dict.fromkeys(OBJECT_NUMBERS, "DOUBLE"),
    }
    rounds = {SITE: "STRING", ROUND_STARTED_AT: "UTC_DATETIME", **_ROUND_COLUMNS}
    return [
        {"table": LOCATIONS, "primary_key": list(KEY_FIELDS), "columns": locations},
        {"table": OBJECTS, "primary_key": list(OBJECT_KEY), "columns": objects},
        {"table": SITE_ROUNDS, "primary_key": [SITE, ROUND_STARTED_AT], "columns": rounds},
    ]

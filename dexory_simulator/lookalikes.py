"""What a `lookalike_keys` fault adds to a page: locations whose keys differ only in ways a warehouse may not keep.

In the API's own words: a pair of names one NUL apart (two locations), one name sent as a number and as text (one
location sent twice), and one scan sent twice with times apart by less than a microsecond (one scan sent twice).
Each record lists one object whose `sku` says which record it came from.
"""

from __future__ import annotations

from typing import Any

NUL_APART = "two locations whose names differ by a NUL"
NUMBER_AND_TEXT = "one location whose name is sent as a number, then as text"
BELOW_A_MICROSECOND = "one location whose scan_date is sent twice, less than a microsecond apart"


def records(site: str, page: int) -> list[tuple[str, dict[str, Any]]]:
    """The records added to `page` of `site`, each with the pair it belongs to."""
    aisle = f"LOOKALIKE-{site}-{page}"
    base = {"location_type": "rack", "aisle": aisle, "scan_date": "2026-11-02T10:00:00Z"}

    def record(pair: str, sku: str, **fields: Any) -> tuple[str, dict[str, Any]]:
        return pair, {**base, **fields, "expected_inventory_objects": [{"sku": sku, "quantity": 1}]}

    return [
        record(NUL_APART, "nul-inside", name="N\u0000UL"),
        record(NUL_APART, "nul-free", name="NUL"),
        record(NUMBER_AND_TEXT, "as-number", name=123),
        record(NUMBER_AND_TEXT, "as-text", name="123"),
        record(BELOW_A_MICROSECOND, "first", name="FINE", scan_date="2026-11-02T10:00:00.0000001Z"),
        record(BELOW_A_MICROSECOND, "second", name="FINE", scan_date="2026-11-02T10:00:00.0000009Z"),
    ]

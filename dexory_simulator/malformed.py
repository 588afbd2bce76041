"""What a `malformed` fault adds to a page: broken records beside valid ones, each with what is wrong with it.

The defects are the simulator's own account of its records, in plain words; a test maps them to whatever the client
under test calls them, so the simulator never has to know the client's names.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from .data import NOTHING, GroundTruth

NOT_AN_OBJECT = "items that are not objects"
NO_AISLE = "locations without an aisle"
UNREADABLE_SCAN_DATE = "locations with an unreadable scan_date"
OBJECTS_NOT_A_LIST = "locations whose expected_inventory_objects is not a list"
OBJECT_NOT_AN_OBJECT = "inventory objects that are not objects"


@dataclass(frozen=True)
class Malformed:
    record: Any
    defects: dict[str, int]  # what is wrong with the record, counted
    lands: GroundTruth  # what of it a correct sync still lands


@dataclass(frozen=True)
class MalformedTruth:
    """What the malformed records of some pages hold in all."""

    defects: dict[str, int]
    lands: GroundTruth


def records(site: str, page: int) -> list[Malformed]:
    """The records added to `page` of `site`; their names say where they came from, so no two pages share a key."""
    prefix = f"MALFORMED-{site}-{page}"
    base = {"location_type": "rack", "aisle": "ZZ", "scan_date": "2026-11-02T10:00:00Z"}
    return [
        Malformed("not a location", {NOT_AN_OBJECT: 1}, NOTHING),
        Malformed(
            {"name": f"{prefix}-no-aisle", "location_type": "rack", "scan_date": "2026-11-02T10:00:00Z"},
            {NO_AISLE: 1},
            NOTHING,
        ),
        Malformed({**base, "name": f"{prefix}-bad-date", "scan_date": "yesterday"}, {UNREADABLE_SCAN_DATE: 1}, NOTHING),
        Malformed(
            {**base, "name": f"{prefix}-objects-not-list", "expected_inventory_objects": "n/a"},
            {OBJECTS_NOT_A_LIST: 1},
            GroundTruth(locations=1, objects=0),
        ),
        Malformed(
            {**base, "name": f"{prefix}-bad-objects", "expected_inventory_objects": [17, {"sku": "OK-1"}, "x"]},
            {OBJECT_NOT_AN_OBJECT: 2},
            GroundTruth(locations=1, objects=1),
        ),
    ]


def truth(pages: int) -> MalformedTruth:
    """What `pages` malformed pages hold: every page gets the same records, only their names differ."""
    defects: Counter[str] = Counter()
    lands = NOTHING
    for item in records("", 0):
        defects.update(item.defects)
        lands += item.lands
    return MalformedTruth({defect: count * pages for defect, count in defects.items()}, lands * pages)

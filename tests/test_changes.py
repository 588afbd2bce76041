"""The simulator's changing data: what a site serves at each version, and what is current in it."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

from dexory_simulator.changes import (
    AWKWARD_QUANTITIES,
    EVERY,
    GONE,
    RESCANNED,
    TWICE,
    Catalogue,
    Snapshot,
    change,
)
from dexory_simulator.data import KEY_FIELDS, ground_truth

COUNT = 400  # eight of each change


def key(item: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(item[field] for field in KEY_FIELDS)


def test_version_one_is_the_base_data() -> None:
    catalogue = Catalogue(seed=5, count=COUNT)

    snapshot = Snapshot.of(catalogue)

    assert len(catalogue) == COUNT == snapshot.locations
    assert snapshot.objects == ground_truth(5, COUNT).objects


def test_a_later_version_serves_every_location_but_the_gone_once_and_the_twice_served_again_at_the_end() -> None:
    base, changed = Catalogue(seed=5, count=COUNT), Catalogue(seed=5, count=COUNT, version=2)

    items = list(changed)

    assert len(items) == len(changed) == COUNT - COUNT // EVERY + COUNT // EVERY
    served = Counter(key(item) for item in items)
    twice = [key(item) for index, item in enumerate(base) if change(index, 2) == TWICE]
    assert sorted(served[twice_key] for twice_key in twice) == [2] * len(twice)
    assert [key(item) for item in items[-len(twice) :]] == twice
    gone = {key(item) for index, item in enumerate(base) if change(index, 2) == GONE}
    assert gone and gone.isdisjoint(served)


def test_rescanned_locations_are_new_scans_and_each_version_differs() -> None:
    scans = [{item["name"]: item["scan_date"] for item in Catalogue(5, COUNT, version=v)} for v in (1, 2, 3)]
    names = [item["name"] for item in Catalogue(5, COUNT)]
    rescanned = {names[index] for index in range(COUNT) if change(index, 2) == RESCANNED}

    assert rescanned == {name for name in scans[1] if scans[1][name] != scans[0][name]}
    assert all(scans[0][name] < scans[1][name] < scans[2][name] for name in rescanned)


def test_the_snapshot_is_the_later_copy_of_a_twice_served_location_and_sums_quantities_exactly() -> None:
    changed = Catalogue(seed=5, count=COUNT, version=2)

    snapshot = Snapshot.of(changed)

    current: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
    for item in changed:
        current[key(item)] = item["expected_inventory_objects"]
    late = [objects for objects in current.values() if objects and objects[0].get("sku") == "SKU-LATE"]
    assert len(late) == COUNT // EVERY and all(len(objects) == 1 for objects in late)
    assert snapshot.locations == COUNT - COUNT // EVERY
    assert snapshot.objects == sum(len(objects) for objects in current.values())
    quantities = [thing["quantity"] for objects in current.values() for thing in objects if "quantity" in thing]
    assert snapshot.quantity == math.fsum(quantities)
    assert set(AWKWARD_QUANTITIES) <= set(quantities)

"""How a site's data changes between versions, as a real site's does between two syncs: stock moves under the same
scan, lists shrink and grow, locations are rescanned or leave, a location is served twice, quantities take values a
32-bit float cannot hold.

Version 1 is the base data. From version 2 on, every location whose index falls on one of the `CHANGES` offsets
(modulo `EVERY`) changes that way; what a change adds grows with the version, so version 3 differs from 2 as well.
`Catalogue` is what a site serves at a version, in order; `Snapshot` is what is current in it (a location served
twice is current in its later copy).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from .data import KEY_FIELDS, location, locations

GONE = "gone"  # no longer served
RESCANNED = "rescanned"  # served with a newer scan_date: its earlier scans are history
RESTOCKED = "restocked"  # the same scan: the first object's quantity rises, the second goes, a new one comes
SHRUNK = "shrunk"  # the same scan: only its first object is left
GROWN = "grown"  # the same scan: two objects more
AWKWARD = "awkward"  # the same scan: quantities only a 64-bit float holds exactly
TWICE = "twice"  # served twice in one pass: first with four objects, at the end with one

EVERY = 50
CHANGES = {7: GONE, 11: RESCANNED, 13: RESTOCKED, 17: SHRUNK, 19: GROWN, 23: AWKWARD, 29: TWICE}
AWKWARD_QUANTITIES = (16_777_217, 0.1, 1_234_567.89, 2**53)


def change(index: int, version: int) -> str | None:
    return None if version < 2 else CHANGES.get(index % EVERY)


@dataclass(frozen=True)
class Catalogue:
    """The locations a site serves at `version`, in the order it serves them."""

    seed: int
    count: int  # locations of the base data
    shared: int = 0
    version: int = 1

    def __len__(self) -> int:
        if self.version < 2:
            return self.count
        return self.count - _on_offset(self.count, GONE) + _on_offset(self.count, TWICE)

    def items(self, start: int, stop: int) -> list[dict[str, Any]]:
        stop = min(stop, len(self))
        if self.version < 2:
            return list(locations(self.seed, start, stop, self.shared))
        return [self._changed(index, later) for index, later in _order(self.count, self.version)[start:stop]]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.items(0, len(self)))

    def _changed(self, index: int, later_copy: bool) -> dict[str, Any]:
        item = location(self.seed, index, self.shared)
        objects: list[dict[str, Any]] = item["expected_inventory_objects"]
        step = self.version - 1
        kind = change(index, self.version)
        if kind == RESCANNED:
            scanned = datetime.fromisoformat(item["scan_date"].replace("Z", "+00:00")) + timedelta(days=step)
            item["scan_date"] = scanned.strftime("%Y-%m-%dT%H:%M:%S.") + f"{scanned.microsecond // 1000:03d}Z"
        elif kind == RESTOCKED:
            head = [{**objects[0], "quantity": objects[0].get("quantity", 0) + 5 * step}] if objects else []
            objects[:] = [*head, *objects[2:], {"sku": f"SKU-NEW-{step}", "quantity": 40}]
        elif kind == SHRUNK:
            del objects[1:]
        elif kind == GROWN:
            objects.extend({"sku": f"SKU-GROWN-{n}", "quantity": step + n} for n in range(2))
        elif kind == AWKWARD:
            objects[:] = [{"sku": f"SKU-ODD-{n}", "quantity": value} for n, value in enumerate(AWKWARD_QUANTITIES)]
        elif kind == TWICE:
            objects[:] = [{"sku": "SKU-LATE", "quantity": 100}] if later_copy else [{"quantity": 3}] * 4
        return item


@lru_cache(maxsize=8)
def _order(count: int, version: int) -> list[tuple[int, bool]]:
    """Which location each position serves (its index, and whether it is the later copy of one served twice)."""
    served = [(index, False) for index in range(count) if change(index, version) != GONE]
    return served + [(index, True) for index in range(count) if change(index, version) == TWICE]


def _on_offset(count: int, kind: str) -> int:
    offsets = [offset for offset, each in CHANGES.items() if each == kind]
    return sum(len(range(offset, count, EVERY)) for offset in offsets)


@dataclass(frozen=True)
class Snapshot:
    """What a site serves as current at one version, in the simulator's words: one entry per location key (the
    last copy served), its expected objects and the sum of their quantities."""

    scans: frozenset[tuple[Any, ...]]  # every (name, location_type, aisle, scan_date) served
    objects: int
    quantity: float  # the exact sum, by math.fsum

    @classmethod
    def of(cls, catalogue: Catalogue) -> Snapshot:
        current: dict[tuple[Any, ...], list[dict[str, Any]]] = {}
        for item in catalogue:
            current[tuple(item[field] for field in KEY_FIELDS)] = item["expected_inventory_objects"]
        listed = [thing for objects in current.values() for thing in objects]
        quantities = [thing["quantity"] for thing in listed if thing.get("quantity") is not None]
        return cls(frozenset(current), len(listed), math.fsum(quantities))

    @property
    def locations(self) -> int:
        return len(self.scans)

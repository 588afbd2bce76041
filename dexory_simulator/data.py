"""Deterministic, realistic Dexory locations: the same seed and index always give the same location.

Location `i` is generated on its own from `(seed, i)`, so a page can be produced without producing the ones before
it, and tests can compute the ground truth of any site size. Locations below `shared` take their key fields from
one seed common to every site, so several sites can serve locations whose keys are identical.
"""

from __future__ import annotations

import functools
import random
import string
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

LOCATIONS_PER_AISLE = 8_000
KEY_FIELDS = ("name", "location_type", "aisle", "scan_date")
SHARED_SEED = -1  # the seed of the key fields of shared locations, unlike any site's own seed
_EPOCH = datetime(2026, 11, 1, tzinfo=UTC)
_LOCATION_TYPES = ("rack", "pallet_rack", "floor", "pick_face", "shelf", "bulk")
_STATUSES = (
    ("correct", "ok", None),
    ("correct", "empty", None),
    ("warning", "quantity_mismatch", "Gezählte Menge weicht ab: erwartet {n}"),
    ("error", "missing_item", "Artikel fehlt — überprüfen"),
    ("warning", "unexpected_item", "予期しない在庫を検出しました"),
    ("info", "obstructed", "Scan obstructed; Ñandú pallet in the way"),
)
_CLIENTS = ("ACME Logistics", "Nordwind GmbH", "Café Olé S.A.", "東京物流", None)
_DESCRIPTIONS = (
    "Carton of 12 water bottles",
    "Pallet — mixed SKUs",
    "Éclairs surgelés x24",
    "Ersatzteile Größe M",
    "Ketchup 500 ml",
    "ボールベアリング",
    "Drill bits (set of 8)",
)


@dataclass(frozen=True)
class GroundTruth:
    """Rows a correct sync lands: one per location, one per listed object."""

    locations: int
    objects: int

    def __add__(self, other: GroundTruth) -> GroundTruth:
        return GroundTruth(self.locations + other.locations, self.objects + other.objects)

    def __mul__(self, times: int) -> GroundTruth:
        return GroundTruth(self.locations * times, self.objects * times)


NOTHING = GroundTruth(0, 0)


def aisle_name(index: int) -> str:
    block = index // LOCATIONS_PER_AISLE
    return f"{string.ascii_uppercase[block % 26]}{block // 26 + 1:02d}"


def location(seed: int, index: int, shared: int = 0) -> dict[str, Any]:
    """Location `index` of the site with `seed`; below `shared`, its key fields are the same on every site."""
    item = _generate(seed, index)
    if index < shared:
        keys = _generate(SHARED_SEED, index)
        item.update({field: keys[field] for field in KEY_FIELDS})
    return item


def _generate(seed: int, index: int) -> dict[str, Any]:
    rng = random.Random(seed * 1_000_003 + index)
    aisle = aisle_name(index)
    within = index % LOCATIONS_PER_AISLE
    status_type, status, message = _STATUSES[rng.randrange(len(_STATUSES))]
    scanned = _EPOCH + timedelta(seconds=rng.randrange(26 * 24 * 3600), milliseconds=rng.randrange(1000))
    objects = [_inventory_object(rng, index, n) for n in range(rng.choice((0, 1, 1, 2, 2, 3, 4, 5, 6)))]
    if len(objects) >= 2 and rng.random() < 0.05:
        objects[1] = dict(objects[0])  # the same object listed twice: two rows, never merged
    item: dict[str, Any] = {
        "name": f"{aisle}-{within // 8:04d}-{within % 8:02d}",
        "location_type": _LOCATION_TYPES[rng.randrange(len(_LOCATION_TYPES))],
        "aisle": aisle,
        "scan_date": scanned.strftime("%Y-%m-%dT%H:%M:%S.") + f"{scanned.microsecond // 1000:03d}Z",
        "occupancy": None if status == "empty" else round(rng.random(), 3),
        "status": status,
        "status_type": status_type,
        "message": None if message is None else message.format(n=rng.randrange(1, 50)),
        "image_url": f"https://images.example.invalid/scans/{seed}/{index}.jpg",
        "zoning": {
            "zone": f"Z{rng.randrange(1, 9)}",
            "temperature": rng.choice(("ambient", "chilled", "frozen")),
            "hazmat": rng.random() < 0.02,
        },
        "scanned_markers": [f"MK{rng.randrange(10**6):06d}" for _ in range(rng.randrange(0, 3))],
        "expected_inventory_objects": objects,
    }
    if rng.random() < 0.1:
        item["robot"] = {"id": f"dexory-{rng.randrange(1, 12):02d}", "firmware": "4.2.1"}  # a field unknown to us
    return item


def _inventory_object(rng: random.Random, index: int, n: int) -> dict[str, Any]:
    """Every field is optional: each is present with its own probability, and some are explicitly null."""
    candidates: dict[str, Any] = {
        "marker": f"MK{rng.randrange(10**6):06d}",
        "sku": f"SKU-{rng.randrange(10**5):05d}",
        "description": rng.choice(_DESCRIPTIONS),
        "quantity": rng.randrange(0, 500),
        "expected_weight_g": round(rng.uniform(10, 90_000), 1),
        "product_code": f"{rng.randrange(10**12):013d}",
        "client": rng.choice(_CLIENTS),
        "batch": f"B{rng.randrange(10**4):04d}",
        "lot": f"L-{index % 97}-{n}",
        "expiry_date": (_EPOCH + timedelta(days=rng.randrange(-30, 700))).date().isoformat(),
        "dimensions_mm": {"l": rng.randrange(100, 1300), "w": rng.randrange(100, 1000), "h": rng.randrange(50, 2000)},
    }
    return {key: value for key, value in candidates.items() if rng.random() < 0.8}


def locations(seed: int, start: int, stop: int, shared: int = 0) -> Iterator[dict[str, Any]]:
    return (location(seed, index, shared) for index in range(start, stop))


@functools.cache  # counted once per site shape: tests ask for it again and again
def ground_truth(seed: int, count: int) -> GroundTruth:
    """Rows a correct sync of a site of `count` locations lands (the same with shared keys, which only change keys)."""
    objects = sum(len(item["expected_inventory_objects"]) for item in locations(seed, 0, count))
    return GroundTruth(count, objects)

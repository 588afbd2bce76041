"""Scenarios the tests and the bench share, each a simulator configuration plus the names that matter in it.

`beside_sick_sites`: healthy sites served beside sick ones, listed first so that their first requests go out first.
A sick site is either `hanging` (the server accepts every request for its first page and never answers) or in a
`storm` (its first page answers 429 with `Retry-After: 5` to its first 12 requests: a 60 s rate-limit storm).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from .config import SimulatorConfig, SiteSpec
from .faults import FaultPlan

Sickness = Literal["hanging", "storm"]
STORM_RETRY_AFTER = 5
STORM_ANSWERS = 12  # 60 s of 429s at Retry-After 5

_FAULTS: dict[str, str] = {
    "hanging": "stall@*",
    "storm": f"retry_after={STORM_RETRY_AFTER}@1-{STORM_ANSWERS}",
}


@dataclass(frozen=True)
class SickSites:
    config: SimulatorConfig
    healthy: tuple[str, ...]
    sick: tuple[str, ...]


def beside_sick_sites(
    healthy: int, sick: int, *, locations: int, sickness: Sickness = "hanging", shared_key: bool = False, **options: Any
) -> SickSites:
    """`sick` sick sites, then `healthy` healthy ones, each with `locations` locations, and a key of its own unless
    `shared_key` (one key for every site, as many connections are configured)."""
    sick_names = tuple(f"sick-{n}" for n in range(1, sick + 1))
    healthy_names = tuple(f"healthy-{n}" for n in range(1, healthy + 1))
    specs = [
        SiteSpec(name, "key-shared" if shared_key else f"key-{name}", locations, seed)
        for seed, name in enumerate((*sick_names, *healthy_names), start=71)
    ]
    faults = FaultPlan.parse([f"{name}/1:{_FAULTS[sickness]}" for name in sick_names])
    return SickSites(SimulatorConfig.of_sites(specs, faults=faults, **options), healthy_names, sick_names)

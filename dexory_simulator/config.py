"""What a simulator serves: its sites, the shape of the API's pages and links, and the faults to inject.

The first site is given by `site`, `api_key`, `locations` and `seed`, so a single-site simulator is one line;
`extra_sites` adds more, each with its own name, key and deterministic data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from .faults import FaultPlan

Pagination = Literal["numbered", "cursor"]
LinkStyle = Literal["string", "object"]
PastEnd = Literal["empty", "404", "400"]

NUMBERED: Final = "numbered"  # page[number] and page[size], with links.last unless include_last is off
CURSOR: Final = "cursor"  # opaque cursors in links.next
LINK_STRING: Final = "string"  # every link a URL string
LINK_OBJECT: Final = "object"  # every link a JSON:API link object {"href": URL, "meta": {"page": n}}
PAST_END_EMPTY: Final = "empty"  # a numbered page past the end: 200 with no data
PAST_END_404: Final = "404"  # ... a JSON:API 404 error
PAST_END_400: Final = "400"  # ... 400 with detail "page out of range"


@dataclass(frozen=True)
class SiteSpec:
    """One site: the name sent as `site`, the key it accepts, and its data (the same seed serves the same data)."""

    name: str
    api_key: str
    locations: int
    seed: int

    @property
    def argument(self) -> str:
        """As `python -m dexory_simulator --site` takes it, for a simulator in another process."""
        return f"{self.name}:{self.api_key}:{self.locations}:{self.seed}"


@dataclass
class SimulatorConfig:
    locations: int = 5_000
    seed: int = 1
    site: str = "demo-site"
    api_key: str = "demo-key"
    extra_sites: tuple[SiteSpec, ...] = ()
    shared_locations: int = 0  # the first N locations of every site have the same key fields on every site
    revoke_key_after: dict[str, int] = field(default_factory=dict)  # site: requests its key is accepted for, then 401
    pagination: Pagination = NUMBERED
    include_last: bool = True  # numbered pages: links.last present
    first_page_number: Literal[0, 1] = 1  # the page[number] of the first page
    link_style: LinkStyle = LINK_STRING
    past_end: PastEnd = PAST_END_EMPTY
    latency_ms: float = 0.0  # added to every request
    jitter_ms: float = 0.0  # plus a random 0..jitter_ms per request, so pages arrive out of order
    rate_limit: float | None = None  # requests per second over all sites; above it, 429 with Retry-After
    faults: FaultPlan = field(default_factory=FaultPlan)
    data_version: int = 1  # which version of every site's data is served (see changes.py)

    def __post_init__(self) -> None:
        names = [site.name for site in self.sites]
        if len(set(names)) != len(names):
            raise ValueError(f"site names must differ, got {names}")
        unknown = (set(self.revoke_key_after) | self.faults.sites()) - set(names)
        if unknown:
            raise ValueError(f"revoke_key_after or faults name unknown sites: {sorted(unknown)}")

    @classmethod
    def of_sites(cls, specs: Sequence[SiteSpec], **options: Any) -> SimulatorConfig:
        """A simulator serving `specs`, the first as the primary site."""
        first, *more = specs
        return cls(
            locations=first.locations,
            seed=first.seed,
            site=first.name,
            api_key=first.api_key,
            extra_sites=tuple(more),
            **options,
        )

    @property
    def sites(self) -> tuple[SiteSpec, ...]:
        return (SiteSpec(self.site, self.api_key, self.locations, self.seed), *self.extra_sites)

"""The emit-only ceiling of `make bench`: what `fivetran debug` costs when the rows cost nothing to get.

`tools.bench` stages this module as the `connector.py` of a project whose real connector (the repository's
`connector.py`, unchanged) is importable as `connector`, and writes beside it a `bench_ceiling.json` naming the sites,
their sizes and seeds, and the page size (a `Plan`). At import, outside the timed part (`calling update()` to
`SYNC SUCCEEDED`), every page's rows are flattened from the simulator's own data, exactly as the extractor would
flatten what the simulator serves. `update()` then hands `Page` records built from them, in the order the extractor
would (the sites taking turns, each site's pages in order and then its `SiteEnded`), to the real connector's
`Sync.consume()` and `Sync.finish()`: the same upserts, checkpoint cadence, state, progress lines and summary as a
real sync, with the same garbage-collector settings and log handling (`connector.sync_context`), minus the network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from fivetran_connector_sdk import Connector
from yarl import URL

from connector import OperationsSink, Sync, schema, sync_context
from dexory_async.config import ConfigurationError, Settings, parse_settings
from dexory_async.delivered import DeliveredKeys
from dexory_async.flatten import FlatRows, flatten_locations
from dexory_async.links import with_page_number
from dexory_async.messages import Item, RequestCounters, SiteEnded, SiteStart
from dexory_async.page import Finished, Page
from dexory_simulator.data import locations

PLAN_FILE = "bench_ceiling.json"

ROUND = datetime.now(UTC)  # the sync round every row of this run carries


@dataclass(frozen=True)
class SitePlan:
    """A site as the simulator serves it: `locations` generated from `seed`."""

    name: str
    locations: int
    seed: int


@dataclass(frozen=True)
class Plan:
    page_size: int
    sites: tuple[SitePlan, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        return cls(int(raw["page_size"]), tuple(SitePlan(**site) for site in raw["sites"]))


def flatten_site(site: SitePlan, page_size: int) -> list[FlatRows]:
    """The rows of each page of `site`, as the extractor flattens the pages the simulator serves."""
    return [
        flatten_locations(
            site.name, ROUND, list(locations(site.seed, start, min(start + page_size, site.locations))), keys
        )
        for keys in [DeliveredKeys()]
        for start in range(0, site.locations, page_size)
    ]


def precompute(plan: Plan) -> dict[str, list[FlatRows]]:
    return {site.name: flatten_site(site, plan.page_size) for site in plan.sites}


def pages_from_memory(rows: Mapping[str, list[FlatRows]], starts: Mapping[str, SiteStart]) -> Iterator[Item]:
    """What the extractor would hand on for `rows`: the sites' pages taking turns, each site's `SiteEnded` after its
    last page. Page n of a site is its first page's URL with page[number]=n, as the API's links make it."""
    runs = [_site_items(name, rows[name], starts[name].url) for name in starts]
    for turn in zip_longest(*runs):
        yield from (item for item in turn if item is not None)


def _site_items(site: str, pages: list[FlatRows], first: URL) -> Iterator[Item]:
    for number, page_rows in enumerate(pages, start=1):
        url = first if number == 1 else with_page_number(first, number)
        last = number == len(pages)
        yield Page(
            site=site,
            url=url,
            data=[],
            links={},
            size_bytes=0,
            sequence=number,
            next_url=None if last else with_page_number(first, number + 1),
            pages_after=len(pages) - number,
            rows=page_rows,
        )
    yield SiteEnded(site, Finished(), RequestCounters(requests=len(pages)), lowest_concurrency=1)


def _precomputed_beside_this_file() -> dict[str, list[FlatRows]] | None:
    """The staged project's rows; None where no plan lies beside this file (imported from the repository)."""
    path = Path(__file__).with_name(PLAN_FILE)
    return precompute(Plan.from_json(path.read_text())) if path.exists() else None


PAGE_ROWS = _precomputed_beside_this_file()  # at import: outside the timed part


def sync_from_memory(
    settings: Settings, state: dict[str, Any], rows: Mapping[str, list[FlatRows]], write_logs: Callable[[], None]
) -> None:
    """What `Sync.run()` does, with the pages coming from memory instead of the extractor thread."""
    if set(rows) != set(settings.site_names):
        raise ConfigurationError(f"site_name {settings.site_names} is not the plan's sites {sorted(rows)}")
    sync = Sync(settings, state, OperationsSink(), write_logs=write_logs)
    sync.consume(pages_from_memory(rows, sync.ledger.starts()))
    sync.finish()


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    if PAGE_ROWS is None:
        raise RuntimeError(f"no {PLAN_FILE} beside {__file__}: stage this module with `tools.bench`")
    with sync_context(configuration, OperationsSink()) as write_logs:
        sync_from_memory(parse_settings(configuration), state, PAGE_ROWS, write_logs)


connector = Connector(update=update, schema=schema)

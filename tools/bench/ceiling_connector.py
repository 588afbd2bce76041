"""The emit-only ceiling of `make bench`: what `fivetran debug` costs when the rows cost nothing to get.

`tools.bench` stages this module as the `connector.py` of a project holding the runtime library and the simulator,
and writes beside it a `bench_ceiling.json`: the page size and the simulator's own records of the sites (`SiteSpec`).
At import, outside the timed part (`calling update()` to `SYNC SUCCEEDED`), every page's rows are flattened from the
simulator's data as the extractor flattens what the simulator serves, in one sync round started then: every row
carries its `round_started_at`. `update()` then writes what a sync writes, in the order the extractor hands pages on
(the sites taking turns): each site's `site_rounds` row as its round starts and as it ends, every row (and the soft
delete of any object a later copy of its location dropped), and the library's ledger checkpointed at its cadence
(`checkpoint_interval_seconds`, `checkpoint_max_rows`): the SDK's share of a sync, with the book-keeping every sync
does, and nothing else. It is built from the library alone, never from the real `connector.py`, so the code under
measurement cannot leak into its own ceiling.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from itertools import zip_longest
from pathlib import Path
from typing import Any

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op
from yarl import URL

from dexory_async.cadence import CheckpointCadence
from dexory_async.config import Settings, parse_settings
from dexory_async.delivered import DeliveredKeys
from dexory_async.flatten import FlatRows, flatten_locations
from dexory_async.gc_policy import fewer_gc_passes
from dexory_async.ledger import SyncLedger
from dexory_async.links import with_page_number
from dexory_async.messages import Item, RequestCounters, SiteEnded, SiteStart
from dexory_async.page import Finished, Page
from dexory_async.tables import LOCATIONS, OBJECTS, SITE_ROUNDS, table_definitions
from dexory_simulator.config import SiteSpec
from dexory_simulator.data import locations

PLAN_FILE = "bench_ceiling.json"
ROUND = datetime.now(UTC)  # the sync round every row of this run carries, started at import


@dataclass(frozen=True)
class Plan:
    page_size: int
    sites: tuple[SiteSpec, ...]

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        raw = json.loads(text)
        return cls(int(raw["page_size"]), tuple(SiteSpec(**site) for site in raw["sites"]))


def flatten_site(site: SiteSpec, page_size: int) -> list[FlatRows]:
    """The rows of each page of `site`, as the extractor flattens the pages the simulator serves in a round."""
    keys = DeliveredKeys()
    return [
        flatten_locations(
            site.name, ROUND, list(locations(site.seed, start, min(start + page_size, site.locations))), keys
        )
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


def write_from_memory(settings: Settings, state: dict[str, Any], rows: Mapping[str, list[FlatRows]]) -> None:
    """What a sync writes for `rows`: the rounds as they start, every row, each round as it ends, and the ledger's
    state at the checkpoint cadence and once at the end."""
    if set(rows) != set(settings.site_names):
        raise ValueError(f"site_name {settings.site_names} is not the plan's sites {sorted(rows)}")
    ledger = SyncLedger(settings, state, lambda: ROUND)
    cadence = CheckpointCadence(settings.checkpoint_interval_seconds, settings.checkpoint_max_rows)
    upsert = op.upsert
    for row in ledger.round_rows():
        upsert(SITE_ROUNDS, row)
    op.checkpoint(ledger.checkpoint_state())
    cadence.saved()
    for item in pages_from_memory(rows, ledger.starts()):
        if isinstance(item, Page):
            for row in item.rows.locations:
                upsert(LOCATIONS, row)
            for row in item.rows.objects:
                upsert(OBJECTS, row)
            for keys in item.rows.superseded:
                op.delete(OBJECTS, keys)
            cadence.wrote(len(item.rows.locations) + len(item.rows.objects))
        ended = ledger.record(item)
        if ended is not None:
            upsert(SITE_ROUNDS, ended)
        if isinstance(item, Page) and cadence.due():
            op.checkpoint(ledger.checkpoint_state())
            cadence.saved()
    op.checkpoint(ledger.closing_state())


def update(configuration: dict[str, Any], state: dict[str, Any]) -> None:
    if PAGE_ROWS is None:
        raise RuntimeError(f"no {PLAN_FILE} beside {__file__}: stage this module with `tools.bench`")
    with fewer_gc_passes():
        write_from_memory(parse_settings(configuration), state, PAGE_ROWS)


def schema(configuration: dict[str, Any]) -> list[dict[str, Any]]:
    return table_definitions()


connector = Connector(update=update, schema=schema)

"""The asyncio side of a sync: every site's pages fetched concurrently on one loop, flattened, and handed on.

Each site is paginated in page order within a lane of the shared request budget, and ends with one `SiteEnded`
saying how. A site that fails does so alone: its error becomes its `SiteEnded`, and the other sites carry on.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import aclosing
from dataclasses import replace

from yarl import URL

from .budget import Budget
from .client import DexoryClient
from .config import Settings, Site
from .delivered import DeliveredKeys
from .errors import DexoryError, PageRejected
from .flatten import flatten_locations
from .links import first_page_url
from .messages import Failed, Item, SiteEnded, SiteStart, StartedOver
from .page import End, Page
from .pagination import Paginator
from .redaction import redact
from .throttle import Throttle
from .transport import Transport

Emit = Callable[[Item], Awaitable[None]]


async def extract(settings: Settings, starts: Mapping[str, SiteStart], emit: Emit, transport: Transport) -> None:
    """Sync the sites in `starts` concurrently over `transport`, awaiting `emit` for each page (in order within its
    site)."""
    budget = Budget(settings.concurrency)
    throttles = _throttle_per_key(settings)
    try:
        async with asyncio.TaskGroup() as group:
            for site in settings.sites:
                if site.name in starts:
                    run = _SiteRun(settings, site, transport, budget, throttles[site.api_key], emit)
                    group.create_task(run.run(starts[site.name]))
    except ExceptionGroup as group:  # not a site's failure (those end the site alone) but a bug: the first
        raise group.exceptions[0] from None


def _throttle_per_key(settings: Settings) -> dict[str, Throttle]:
    """One throttle per API key: an API rate-limits a key, whichever site its requests are for."""
    names: dict[str, list[str]] = {}
    for site in settings.sites:
        names.setdefault(site.api_key, []).append(site.name)
    return {
        key: Throttle(settings.concurrency, name=", ".join(f"site {name!r}" for name in sites))
        for key, sites in names.items()
    }


class _SiteRun:
    def __init__(
        self,
        settings: Settings,
        site: Site,
        transport: Transport,
        budget: Budget,
        throttle: Throttle,
        emit: Emit,
    ) -> None:
        self._settings = settings
        self._site = site
        self._budget = budget
        self._emit = emit
        self._throttle = throttle
        self._client = DexoryClient(settings, site, transport, self._throttle)
        self._handed_on = 0  # pages

    async def run(self, start: SiteStart) -> None:
        end = await self._sync(start)
        await self._emit(SiteEnded(self._site.name, end, self._client.counters, self._throttle.lowest_limit))

    async def _sync(self, start: SiteStart) -> End | Failed:
        """How the site's pages ended; a failure is this site's alone, whatever raised it."""
        try:
            return await self._pages(start)
        except PageRejected as error:
            if not (start.resumed and self._handed_on == 0):
                return Failed(error)
            # A saved cursor the API refuses for good (the site shrank, say) would fail every later sync: drop it.
            await self._emit(StartedOver(self._site.name, str(error)))
            return await self._sync(replace(start, url=first_page_url(self._settings, self._site), resumed=False))
        except DexoryError as error:
            return Failed(error)
        except Exception as error:  # a surprise from a library, or a bug: it ends this site, not every site
            return Failed(DexoryError(redact(f"unexpected {type(error).__name__}: {error}", self._site.api_key)))

    async def _pages(self, start: SiteStart) -> End:
        keys = DeliveredKeys(start.earlier)
        async with self._budget.lane(lambda: self._throttle.limit) as lane:
            paginator = Paginator(
                self._client.fetch,
                lane,
                start.url,
                origin=URL(self._settings.base_url),
                max_pages=self._settings.max_pages,
                prefetch=self._settings.concurrency > 1,
            )
            async with aclosing(paginator.pages()) as pages:
                async for item in pages:
                    if not isinstance(item, Page):
                        return item
                    rows = flatten_locations(self._site.name, start.round_started_at, item.data, keys)
                    await self._emit(replace(item, data=[], rows=rows, retries=self._client.counters.retries))
                    self._handed_on += 1
        raise AssertionError("the paginator ended without saying how")

"""The asyncio side of a sync: fetch pages in order, flatten each, and hand it on."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing
from dataclasses import dataclass, field

from yarl import URL

from .client import DexoryClient, RequestCounters, open_session
from .config import Settings
from .flatten import Row, Skip, flatten_locations
from .pagination import Paginator
from .throttle import Throttle


@dataclass
class FlatPage:
    """One page, flattened: what the bridge upserts, and the cursor to checkpoint once it has."""

    sequence: int
    url: str
    next_url: str | None
    total_pages: int | None
    locations: list[Row]
    objects: list[Row]
    skipped: list[Skip]
    size_bytes: int


@dataclass
class ExtractSummary:
    requests: RequestCounters = field(default_factory=RequestCounters)
    concurrency: int = 1  # as configured
    lowest_concurrency: int = 1  # what rate limiting lowered it to, at worst
    stopped_at_max_pages: str | None = None  # next page's URL when max_pages cut the sync short


async def extract(settings: Settings, start_url: URL, emit: Callable[[FlatPage], Awaitable[None]]) -> ExtractSummary:
    """Run the whole extraction, awaiting `emit` for each flattened page in page order."""
    async with open_session(settings) as session:
        throttle = Throttle(settings.concurrency)
        client = DexoryClient(settings, session, throttle)
        paginator = Paginator(client, settings, start_url)
        pages = paginator.pages()
        async with aclosing(pages):
            async for page in pages:
                rows = flatten_locations(page.locations)
                await emit(
                    FlatPage(
                        sequence=page.sequence,
                        url=str(page.url),
                        next_url=None if page.next_url is None else str(page.next_url),
                        total_pages=page.total_pages,
                        locations=rows.locations,
                        objects=rows.objects,
                        skipped=rows.skipped,
                        size_bytes=page.size_bytes,
                    )
                )
        stopped = paginator.stopped_at_max_pages
        return ExtractSummary(
            client.counters, throttle.ceiling, throttle.lowest_limit, None if stopped is None else str(stopped)
        )

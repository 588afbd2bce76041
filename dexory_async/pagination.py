"""Following `links.next`, and fetching ahead when the links are numbered pages.

Pages come out strictly in order and exactly once. From a numbered link the API gave (`page[number]=n`), the
paginator derives the following URLs itself and keeps up to `concurrency` requests in flight; every page's own
`links.next` is still checked against the derived one, and on a mismatch it falls back to following the links one
by one from the last page it verified. Opaque cursor links are always followed one by one.

A next link is checked as soon as its page arrives: one to another origin (the key must not travel there) or back
to a page already fetched is refused, and the refusal is raised once the page itself, whose rows are fine, has been
handed on. So nothing downstream, checkpoints included, ever sees a refused link.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any

from yarl import URL

from .client import DexoryClient, FetchedPage
from .config import Settings
from .errors import PaginationError
from .links import link_identity, page_number, resolve_link, same_origin, with_page_number

logger = logging.getLogger(__name__)

_Window = dict[int, "asyncio.Task[FetchedPage]"]  # page number -> its request, in flight or done


@dataclass
class Page:
    sequence: int  # 1-based position in this sync
    url: URL
    next_url: URL | None  # the accepted links.next; None on the last page, or when the link was refused
    total_pages: int | None  # from links.last, when known
    locations: list[Any]
    size_bytes: int
    refused: PaginationError | None = None  # why links.next was refused; raised after the page is handed on


class Paginator:
    def __init__(self, client: DexoryClient, settings: Settings, start_url: URL) -> None:
        self._client = client
        self._settings = settings
        self._origin = URL(settings.base_url)
        self._start_url = start_url  # built from base_url, or a cursor state.start_url checked against it
        self._visited: set[tuple[Any, ...]] = {link_identity(start_url)}
        self._emitted = 0
        self._total: int | None = None
        self._prefetch_enabled = settings.concurrency > 1
        self._resume_at: URL | None = None  # where to follow the links from after prefetching
        self.stopped_at_max_pages: URL | None = None  # the next page's URL when max_pages cut the sync short

    async def pages(self) -> AsyncIterator[Page]:
        url: URL | None = self._start_url
        while url is not None and not self._at_max_pages(url):
            if self._prefetch_enabled and page_number(url) is not None:  # a numbered link from the API itself
                run = self._prefetch(url)
                async with aclosing(run):
                    async for page in run:
                        yield page
                url = self._resume_at
            else:
                page = self._page(await self._client.fetch(url))
                yield page
                url = _follow(page)

    async def _prefetch(self, first_url: URL) -> AsyncIterator[Page]:
        """Pages from the numbered link `first_url` on, with up to `concurrency` requests in flight; sets
        `_resume_at` to where the links must be followed one by one, or None when there is nothing left."""
        first = page_number(first_url) or 1
        window: _Window = {}
        number = first
        self._resume_at = None
        try:
            self._fill(window, first_url, first, number)
            while True:
                request = window.pop(number, None)  # absent only past a links.last that proved too low
                fetched = await (request or self._client.fetch(with_page_number(first_url, number)))
                page = self._page(fetched)
                self._fill(window, first_url, first, number + 1)  # refill before the page is handed on
                yield page
                following = _follow(page)
                if following is None:
                    return
                if link_identity(following) != link_identity(with_page_number(first_url, number + 1)):
                    self._stop_prefetching(page.sequence, following)
                    return
                if self._at_max_pages(following):
                    return
                number += 1
        finally:
            await _discard(window)

    def _fill(self, window: _Window, first_url: URL, first: int, start: int) -> None:
        """Requests for pages `start` .. `start + concurrency - 1`, within max_pages and links.last."""
        last = start + self._settings.concurrency - 1
        last = min(last, start + self._settings.max_pages - self._emitted - 1)
        if self._total is not None:
            last = min(last, self._total)
        for number in range(start, last + 1):
            if number not in window:
                url = first_url if number == first else with_page_number(first_url, number)
                window[number] = asyncio.create_task(self._client.fetch(url))

    def _stop_prefetching(self, sequence: int, following: URL) -> None:
        self._resume_at = following
        self._prefetch_enabled = False
        logger.warning(
            "page %d's links.next is not the numbered page the connector expected; "
            "following the links one by one from here",
            sequence,
        )

    def _page(self, fetched: FetchedPage) -> Page:
        self._emitted += 1
        next_url = resolve_link(fetched.url, fetched.next_link)
        refused = None if next_url is None else self._refusal(next_url, fetched.url)
        total = self._total_pages(fetched)
        if total is not None:
            self._total = total
        accepted = None if refused else next_url
        return Page(self._emitted, fetched.url, accepted, total, fetched.locations, fetched.size_bytes, refused)

    def _refusal(self, url: URL, page_url: URL) -> PaginationError | None:
        """Why the link `url` on page `page_url` must not be followed, or None (and it counts as visited)."""
        if not same_origin(url, self._origin):
            return PaginationError(
                f"refusing to follow links.next to host {url.host}:{url.port}: it is not the origin of base_url "
                f"({self._origin}), and the API key must not be sent there",
                resume_url=str(page_url),
            )
        identity = link_identity(url)
        if identity in self._visited:
            return PaginationError(
                f"pagination loop: links.next points back to {url}, which this sync already fetched",
                resume_url=str(page_url),
            )
        self._visited.add(identity)
        return None

    def _total_pages(self, fetched: FetchedPage) -> int | None:
        last = resolve_link(fetched.url, fetched.last_link)
        if last is None or link_identity(last, ignore_number=True) != link_identity(fetched.url, ignore_number=True):
            return None
        return page_number(last)

    def _at_max_pages(self, url: URL) -> bool:
        if self._emitted < self._settings.max_pages:
            return False
        self.stopped_at_max_pages = url
        logger.warning(
            "max_pages (%d) reached with more pages to go: this sync is incomplete; the next sync continues from %s",
            self._settings.max_pages,
            url,
        )
        return True


def _follow(page: Page) -> URL | None:
    """The page's next link, once the page has been handed on; a refused link fails the sync here."""
    if page.refused is not None:
        raise page.refused
    return page.next_url


async def _discard(window: _Window) -> None:
    """Cancel requests that are no longer needed (past the end, or after a fallback) and collect their outcome."""
    for task in window.values():
        task.cancel()
    await asyncio.gather(*window.values(), return_exceptions=True)
    window.clear()

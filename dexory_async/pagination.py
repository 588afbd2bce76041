"""Following `links.next`, and fetching ahead when the links are numbered pages.

Pages come out strictly in order and exactly once. With numbered links (`page[number]=n+1`, everything else equal)
the paginator derives the following URLs itself and keeps up to `concurrency` requests in flight; every page's own
`links.next` is still checked against the derived one, and on a mismatch it falls back to following the links one
by one from the last page it verified. Opaque cursor links are always followed one by one.
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
from .links import PAGE_NUMBER, page_number, resolve_link, same_origin, with_page_number

logger = logging.getLogger(__name__)

_Window = dict[int, "asyncio.Task[FetchedPage]"]  # page number -> its request, in flight or done


@dataclass
class Page:
    sequence: int  # 1-based position in this sync
    url: URL
    next_url: URL | None  # where the sync goes on after this page; None on the last page
    total_pages: int | None  # from links.last, when known
    locations: list[Any]
    size_bytes: int


def _identity(url: URL, *, ignore_number: bool = False) -> tuple[Any, ...]:
    """What makes two links the same request, whatever the order of their query parameters."""
    query = sorted((k, v) for k, v in url.query.items() if not (ignore_number and k == PAGE_NUMBER))
    return url.scheme, url.host, url.port, url.path, tuple(query)


class Paginator:
    def __init__(self, client: DexoryClient, settings: Settings, start_url: URL) -> None:
        self._client = client
        self._settings = settings
        self._origin = URL(settings.base_url)
        self._start_url = start_url
        self._visited: set[tuple[Any, ...]] = set()
        self._emitted = 0
        self._total: int | None = None
        self._prefetch_enabled = settings.concurrency > 1
        self._resume: tuple[URL | None, URL | None] = (None, None)  # (last page, its next link) after prefetching
        self.stopped_at_max_pages: URL | None = None  # the next page's URL when max_pages cut the sync short

    async def pages(self) -> AsyncIterator[Page]:
        url: URL | None = self._start_url
        came_from: URL | None = None
        while url is not None:
            if self._at_max_pages(url):
                return
            self._guard(url, came_from)
            if self._prefetch_enabled and page_number(url) is not None:  # a numbered link from the API itself
                run = self._prefetch(url)
                async with aclosing(run):
                    async for page in run:
                        yield page
                came_from, url = self._resume
            else:
                page = self._page(await self._client.fetch(url))
                yield page
                came_from, url = page.url, page.next_url

    async def _prefetch(self, first_url: URL) -> AsyncIterator[Page]:
        """Pages from the numbered link `first_url` on, deriving the next ones' URLs and keeping up to `concurrency`
        requests in flight. Every page's links.next must confirm the derived URL; when one does not (the links
        changed mid-sync) the rest are dropped and `_resume` says where to follow the links from."""
        first = page_number(first_url) or 1
        window: _Window = {}
        number = first
        try:
            self._fill(window, first_url, first, number)
            while True:
                page = self._page(await window.pop(number))
                self._fill(window, first_url, first, number + 1)  # refill before the page is handed on
                yield page
                expected = with_page_number(first_url, number + 1)
                if page.next_url is None or _identity(page.next_url) != _identity(expected):
                    self._stop_prefetching(page)
                    return
                if self._at_max_pages(expected):
                    self._resume = (page.url, None)
                    return
                self._visited.add(_identity(expected))
                number += 1
        finally:
            await _discard(window)

    def _fill(self, window: _Window, first_url: URL, first: int, start: int) -> None:
        """Requests for pages `start` .. `start + concurrency - 1`, within max_pages and links.last."""
        last = start + self._settings.concurrency - 1
        last = min(last, start + self._settings.max_pages - self._emitted - 1)
        if self._total is not None:
            last = min(last, max(self._total, start))
        for number in range(start, last + 1):
            if number not in window:
                url = first_url if number == first else with_page_number(first_url, number)
                window[number] = asyncio.create_task(self._client.fetch(url))

    def _stop_prefetching(self, page: Page) -> None:
        self._resume = (page.url, page.next_url)
        if page.next_url is not None:
            self._prefetch_enabled = False
            logger.warning(
                "page %d's links.next is not the numbered page the connector expected; "
                "following the links one by one from here",
                page.sequence,
            )

    def _page(self, fetched: FetchedPage) -> Page:
        self._emitted += 1
        next_url = resolve_link(fetched.url, fetched.next_link)
        total = self._total_pages(fetched)
        if total is not None:
            self._total = total
        return Page(self._emitted, fetched.url, next_url, total, fetched.locations, fetched.size_bytes)

    def _total_pages(self, fetched: FetchedPage) -> int | None:
        last = resolve_link(fetched.url, fetched.last_link)
        if last is None or _identity(last, ignore_number=True) != _identity(fetched.url, ignore_number=True):
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

    def _guard(self, url: URL, came_from: URL | None) -> None:
        """Refuse a link the key must not travel to, or one that would loop."""
        resume = str(came_from or url)
        if not same_origin(url, self._origin):
            raise PaginationError(
                f"refusing to follow links.next to host {url.host}:{url.port}: it is not the origin of base_url "
                f"({self._origin}), and the API key must not be sent there",
                resume_url=resume,
            )
        identity = _identity(url)
        if identity in self._visited:
            raise PaginationError(
                f"pagination loop: links.next points back to {url}, which this sync already fetched", resume_url=resume
            )
        self._visited.add(identity)


async def _discard(window: _Window) -> None:
    """Cancel requests that are no longer needed (past the end, or after a fallback) and collect their outcome."""
    for task in window.values():
        task.cancel()
    await asyncio.gather(*window.values(), return_exceptions=True)
    window.clear()

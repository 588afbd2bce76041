"""Following one site's `links.next`, and fetching ahead when the links are numbered pages.

Pages come out strictly in order and exactly once, then one `End` says how the sequence ended. From a numbered link
the API gave (`page[number]=n`), the paginator derives the following URLs itself and fetches ahead as far as its
lane of the shared budget allows; every page's own `links.next` is still checked against the derived one, and on a
mismatch it drops what it fetched ahead and follows the links one by one. Opaque cursor links are always followed
one by one. Whether the API numbers pages from 0 or 1 does not matter: a page's number is read from its own URL, or
for the first page, from its next link.

A next link is checked as soon as its page arrives. One that cannot be read, leads to another origin, endpoint or
site (the key must not travel there), or back to a page already fetched is refused: the page, whose rows are fine,
is handed on without a next link and the `End` is `LinkRefused`. So nothing downstream, checkpoints included, ever
sees a refused link.

The paginator fetches through `fetch`, any coroutine function from URL to Page: the HTTP client in a sync, a
scripted fake in tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable
from dataclasses import replace

from yarl import URL

from .budget import Lane
from .errors import LinkError
from .links import link_identity, page_number, resolve_link, same_endpoint, same_origin, with_page_number
from .page import End, Finished, LinkRefused, Page, StoppedAtMaxPages

logger = logging.getLogger(__name__)

Fetch = Callable[[URL], Awaitable[Page]]
_Identity = tuple[object, ...]


class Paginator:
    def __init__(
        self,
        fetch: Fetch,
        lane: Lane,
        start: URL,
        *,
        origin: URL,
        max_pages: int,
        prefetch: bool,
        ahead_wait: float = 30.0,
    ) -> None:
        self._fetch = fetch
        self._lane = lane
        self._start = start  # the first page, or a saved cursor already checked against the configuration
        self._origin = origin
        self._max_pages = max_pages
        self._prefetch = prefetch
        self._visited = {hash(link_identity(start))}  # hashes: a site of 100,000 pages keeps 100,000 ints
        self._emitted = 0
        self._last_number: int | None = None  # the page number the latest links.last gave
        self._announced: int | None = None  # the highest page number any links.last gave
        self._ahead_wait = ahead_wait  # seconds a site's end waits for the page fetched just past it
        self._previous: URL | None = None  # the page whose accepted next link led to the one being read

    async def pages(self) -> AsyncGenerator[Page | End, None]:
        window: dict[_Identity, asyncio.Task[Page]] = {}  # pages fetched ahead, in page order, each holding a slot
        url = self._start
        try:
            while True:
                if window:  # the slot of the page just handed on: top the window up before waiting
                    await self._fetch_ahead(window, url)
                fetched = await self._head(window, url)
                try:
                    page, end = self._read(fetched)
                    if isinstance(end, Finished) and window:
                        end = await self._nothing_fetched_ahead(window, page) or end
                    if end is None and page.next_url is not None:
                        await self._fetch_ahead(window, page.next_url)
                    yield page
                finally:
                    self._lane.give()
                if end is None and page.next_url is not None and self._emitted >= self._max_pages:
                    end = self._stop_at_max_pages(page.next_url)
                if end is not None:
                    yield end
                    return
                assert page.next_url is not None  # no end: the page has a next link
                self._previous, url = page.url, page.next_url
        finally:
            await self._discard(window)

    async def _head(self, window: dict[_Identity, asyncio.Task[Page]], url: URL) -> Page:
        """The page at `url`, holding a slot: fetched ahead already, or fetched now."""
        request = window.pop(link_identity(url), None)
        if request is None:
            await self._lane.take()
            request = asyncio.ensure_future(self._fetch(url))
        try:
            return await request
        except BaseException:
            self._lane.give()
            raise

    async def _fetch_ahead(self, window: dict[_Identity, asyncio.Task[Page]], next_url: URL) -> None:
        """Requests for the pages from `next_url` on, derived from its number, as far as the lane has room.

        What was fetched ahead must start at `next_url`: otherwise the derived numbers were wrong, and the
        paginator follows the links one by one from here."""
        if window and next(iter(window)) != link_identity(next_url):
            await self._discard(window)
            self._prefetch = False
            logger.warning(
                "page %d's links.next is not the numbered page the connector expected; "
                "following the links one by one from here",
                self._emitted,
            )
        number = page_number(next_url)
        if not self._prefetch or number is None:
            return
        count = self._max_pages - self._emitted
        if self._last_number is not None:
            count = min(count, self._last_number - number + 1)
        for ahead in range(count):
            url = next_url if ahead == 0 else with_page_number(next_url, number + ahead)
            identity = link_identity(url)
            if identity in window:
                continue
            if not await self._lane.try_take():
                return
            window[identity] = asyncio.ensure_future(self._fetch(url))

    async def _discard(self, window: dict[_Identity, asyncio.Task[Page]]) -> None:
        """Cancel requests no longer needed (past the end, after a fallback, on failure) and collect their outcome."""
        tasks = list(window.values())
        window.clear()
        for task in tasks:
            task.cancel()
        try:
            await asyncio.gather(*tasks, return_exceptions=True)
        finally:  # even if this is cancelled too: the slots belong to the whole budget
            for _ in tasks:
                self._lane.give()

    def _read(self, fetched: Page) -> tuple[Page, End | None]:
        """The page with its place in the sync and its accepted next link, and how the site ends if it does here."""
        self._emitted += 1
        page = replace(fetched, sequence=self._emitted)
        where = _where(page)
        try:
            next_url = resolve_link(page.url, page.links.get("next"))
        except LinkError as error:
            return page, LinkRefused(page.url, f"{where}: links.next {error}")
        number = self._number_of(page.url, next_url)
        pages_after = self._pages_after(page, number)
        page = replace(page, pages_after=pages_after)
        if next_url is None:
            return page, self._finished(page, number)
        refusal = self._refusal(next_url, page.url, number)
        if refusal is not None:
            return page, LinkRefused(page.url, f"{where}: {refusal}")
        return replace(page, next_url=next_url), None

    def _number_of(self, url: URL, next_url: URL | None) -> int | None:
        """A page's number: in its URL, or (a first page asked for without one) one before its next link's."""
        own = page_number(url)
        if own is not None or next_url is None:
            return own
        following = page_number(next_url)
        return None if following is None else following - 1

    def _pages_after(self, page: Page, number: int | None) -> int | None:
        """How many pages follow this one by its links.last; None when it has none that reads as this endpoint's."""
        try:
            last = resolve_link(page.url, page.links.get("last"))
        except LinkError:
            return None
        if last is None or link_identity(last, ignore_number=True) != link_identity(page.url, ignore_number=True):
            return None
        last_number = page_number(last)
        if last_number is None:
            return None
        self._last_number = last_number
        self._announced = max(last_number, self._announced or last_number)
        if number is None:  # a first page asked for without a number and no numbered next: it is 0 or 1, so at least
            return max(0, last_number - 1)
        return max(0, last_number - number)

    def _finished(self, page: Page, number: int | None) -> End:
        """The end of the site, unless this page's own links.last says otherwise: rows would be lost."""
        where = _where(page)
        if page.pages_after:
            reason = f"{where} has no links.next, but its links.last announces {page.pages_after} more page(s)"
            return self._unbelieved_end(page, reason)
        if number is not None and self._announced is not None and self._announced > number:
            reason = (
                f"{where} has no links.next, but an earlier links.last announced page {self._announced}: pages may be "
                "missing (or the site shrank during the sync)"
            )
            return self._unbelieved_end(page, reason)
        return Finished()

    def _unbelieved_end(self, page: Page, reason: str) -> LinkRefused:
        """The next sync reads again from the page before this one, so that this page is judged again with what the
        one before it announced, rather than as a first page whose end no one contradicts."""
        if self._previous is None:
            return LinkRefused(page.url, reason)
        return LinkRefused(self._previous, reason + "; the next sync reads again from the page before it", rereads=2)

    async def _nothing_fetched_ahead(
        self, window: dict[_Identity, asyncio.Task[Page]], page: Page
    ) -> LinkRefused | None:
        """The page fetched just past a page without links.next, holding other locations, proves the site goes on.

        Only that page counts (an API may answer any page past the end with the last one); it is waited for at
        most `ahead_wait` seconds, and the others are dropped at once."""
        following, *rest = window.values()
        for task in rest:
            task.cancel()
        await asyncio.wait([following], timeout=self._ahead_wait)
        if not following.done() or following.cancelled() or following.exception() is not None:
            return None
        ahead = following.result()
        if not ahead.data or ahead.data == page.data:
            return None
        reason = (
            f"{_where(page)} has no links.next, but {ahead.url}, fetched ahead, holds {len(ahead.data):,} other "
            "locations: the site does not end here"
        )
        return self._unbelieved_end(page, reason)

    def _refusal(self, url: URL, page_url: URL, number: int | None) -> str | None:
        """Why the link `url` on page `page_url` must not be followed, or None (and it counts as visited)."""
        if not same_origin(url, self._origin):
            return (
                f"refusing to follow links.next to host {url.host}:{url.port}: it is not the origin of base_url "
                f"({self._origin}), and the API key must not be sent there"
            )
        if not same_endpoint(url, self._start):
            return f"refusing to follow links.next to {url}: it is not this site's locations endpoint"
        if page_number(page_url) is None and number is not None:
            self._visited.add(hash(link_identity(with_page_number(page_url, number))))  # the first page, numbered
        identity = hash(link_identity(url))
        following = page_number(url)
        if identity in self._visited or (following is not None and number is not None and following <= number):
            return f"pagination loop: links.next points back to {url}, which this sync already fetched"
        if following is not None and number is not None and following > number + 1:
            return f"links.next jumps from page {number} to page {following} ({url}): the pages between would be lost"
        self._visited.add(identity)
        return None

    def _stop_at_max_pages(self, next_url: URL) -> StoppedAtMaxPages:
        logger.warning(
            "max_pages (%d) reached with more pages to go: this sync is incomplete; the next sync continues from %s",
            self._max_pages,
            next_url,
        )
        return StoppedAtMaxPages(next_url)


def _where(page: Page) -> str:
    return f"page {page.sequence} ({page.url})"

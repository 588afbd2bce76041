"""Following one site's `links.next`, and fetching ahead when the links are numbered pages.

Pages come out strictly in order and exactly once, then one `End` says how the sequence ended. The rules
(`page_rules.py`) judge each page as it arrives; the paginator acts on their verdicts and keeps the trail they read,
and its window schedules requests within the site's lane of the shared budget. From a numbered link the API gave
(`page[number]=n`), the window derives the following URLs itself and fetches ahead as far as the lane allows; every
page's own `links.next` is still checked against the derived one, and on a mismatch the window is dropped and the
links are followed one by one. Opaque cursor links are always followed one by one. Whether the API numbers pages
from 0 or 1 does not matter: a page's number is read from its own URL, or for the first page, from its next link.

A refused link never reaches anything downstream, checkpoints included: the page, whose rows are fine, is handed on
without a next link, and the `End` says why. When a page without a next link can only be judged by the page after
it, that page's final outcome decides: its answer if it was fetched ahead and answered, otherwise it is asked for
then, through the same `fetch` and its retries, however long that takes. So the end of a site never depends on the
concurrency, the site's share of the budget, or timing.

The paginator fetches through `fetch`, any coroutine function from URL to Page: the HTTP client in a sync, a
scripted fake in tests.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Iterator
from dataclasses import replace

from yarl import URL

from .budget import Lane, Slot
from .errors import PageRejected
from .links import link_identity, page_number, with_page_number
from .page import End, Finished, LinkRefused, Page, StoppedAtMaxPages
from .page_rules import (
    AskFollowing,
    Believe,
    Doubt,
    Follow,
    Refuse,
    Trail,
    Verdict,
    judge_following,
    judge_page,
    last_number,
    number_of,
    placed,
)

logger = logging.getLogger(__name__)

Fetch = Callable[[URL], Awaitable[Page]]
_Identity = tuple[object, ...]


class Paginator:
    def __init__(self, fetch: Fetch, lane: Lane, start: URL, *, origin: URL, max_pages: int, prefetch: bool) -> None:
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
        self._previous: URL | None = None  # the page whose accepted next link led to the one being read

    async def pages(self) -> AsyncGenerator[Page | End, None]:
        window = _Window(self._fetch, self._lane)
        url = self._start
        try:
            while True:
                if window:  # the slot of the page just handed on: top the window up before waiting
                    await self._fetch_ahead(window, url)
                fetched, slot = await window.take(url)
                try:
                    trail = self._trail()
                    page = placed(fetched, self._emitted + 1)
                    verdict = judge_page(page, trail)
                    self._remember(page, verdict)
                    if isinstance(verdict, Follow):
                        page = replace(page, next_url=verdict.url)
                        await self._fetch_ahead(window, verdict.url)
                    yield page
                finally:
                    slot.give()
                if isinstance(verdict, AskFollowing):
                    verdict = judge_following(page, await window.fetch_final(verdict.url), trail)
                end = self._end(page, verdict)
                if end is not None:
                    await window.discard()
                    if isinstance(end, StoppedAtMaxPages):
                        self._warn_incomplete(end)
                    yield end
                    return
                assert page.next_url is not None  # no end: the page has an accepted next link
                self._previous, url = page.url, page.next_url
        finally:
            await window.discard()

    def _trail(self) -> Trail:
        return Trail(self._origin, self._start, self._visited, self._announced, self._previous)

    def _remember(self, page: Page, verdict: Verdict) -> None:
        """Extend the trail with what `page` established."""
        self._emitted += 1
        last = last_number(page)
        if last is not None:
            self._last_number = last
            self._announced = max(last, self._announced or last)
        if isinstance(verdict, Follow):
            number = number_of(page.url, verdict.url)
            if page_number(page.url) is None and number is not None:  # the first page, by its number
                self._visited.add(hash(link_identity(with_page_number(page.url, number))))
            self._visited.add(hash(link_identity(verdict.url)))

    def _end(self, page: Page, verdict: Verdict) -> End | None:
        """How the site ends after `page`, just handed on; None when it goes on."""
        if isinstance(verdict, Follow):
            return StoppedAtMaxPages(verdict.url) if self._emitted >= self._max_pages else None
        if isinstance(verdict, Refuse):
            return LinkRefused(page.url, verdict.reason)
        if isinstance(verdict, Doubt):
            return verdict.end
        assert isinstance(verdict, Believe), verdict  # a page after it is judged before the end is
        return Finished()

    async def _fetch_ahead(self, window: _Window, next_url: URL) -> None:
        """Requests for the pages from `next_url` on, as far as the lane has room. What was fetched ahead must start
        at `next_url`: otherwise the derived numbers were wrong, and the links are followed one by one from here."""
        if not window.starts_at(next_url):
            await window.discard()
            self._prefetch = False
            logger.warning(
                "page %d's links.next is not the numbered page the connector expected; "
                "following the links one by one from here",
                self._emitted,
            )
        if self._prefetch:
            await window.fill(self._derived(next_url))

    def _derived(self, next_url: URL) -> Iterator[URL]:
        """The URLs of the pages from `next_url` on, by its number, up to max_pages and the latest links.last."""
        number = page_number(next_url)
        if number is None:
            return
        count = self._max_pages - self._emitted
        if self._last_number is not None:
            count = min(count, self._last_number - number + 1)
        for ahead in range(count):
            yield next_url if ahead == 0 else with_page_number(next_url, number + ahead)

    def _warn_incomplete(self, end: StoppedAtMaxPages) -> None:
        logger.warning(
            "max_pages (%d) reached with more pages to go: this sync is incomplete; the next sync continues from %s",
            self._max_pages,
            end.next_url,
        )


class _Window:
    """Requests for the pages after the one being read, in page order, each holding a slot of the site's lane."""

    def __init__(self, fetch: Fetch, lane: Lane) -> None:
        self._fetch = fetch
        self._lane = lane
        self._requests: dict[_Identity, tuple[asyncio.Task[Page], Slot]] = {}

    def __bool__(self) -> bool:
        return bool(self._requests)

    def starts_at(self, url: URL) -> bool:
        return not self._requests or next(iter(self._requests)) == link_identity(url)

    async def take(self, url: URL) -> tuple[Page, Slot]:
        """Take the page at `url` out of the window, with its slot: fetched ahead already, or fetched now."""
        request = self._requests.pop(link_identity(url), None)
        task, slot = request if request is not None else await self._request(url)
        try:
            return await task, slot
        except BaseException:
            slot.give()
            raise

    async def fill(self, urls: Iterable[URL]) -> None:
        """Start the requests for `urls` not in the window yet, in order, as far as the lane has room."""
        for url in urls:
            identity = link_identity(url)
            if identity in self._requests:
                continue
            slot = await self._lane.try_take()
            if slot is None:
                return
            self._requests[identity] = (asyncio.ensure_future(self._fetch_in(slot, url)), slot)

    async def fetch_final(self, url: URL) -> Page | None:
        """Fetch the final outcome of the page at `url`, dropping every other request: the page, or None when the API
        refused it (a 404 or 400 past the end). An answer fetched ahead counts; a failure fetched ahead does not (it
        might have been a moment's), so the page is asked for again, and any other failure is raised."""
        ahead = self._requests.pop(link_identity(url), None)
        await self.discard()
        if ahead is not None:
            task, slot = ahead
            try:
                return await task
            except Exception:  # asked again below
                pass
            finally:
                slot.give()
        task, slot = await self._request(url)
        try:
            return await task
        except PageRejected:
            return None
        finally:
            slot.give()

    async def discard(self) -> None:
        """Cancel requests no longer needed (past the end, after a fallback, on failure) and collect their outcome."""
        requests = list(self._requests.values())
        self._requests.clear()
        for task, _ in requests:
            task.cancel()
        try:
            await asyncio.gather(*(task for task, _ in requests), return_exceptions=True)
        finally:  # even if this is cancelled too: the slots belong to the whole budget
            for _, slot in requests:
                slot.give()

    async def _request(self, url: URL) -> tuple[asyncio.Task[Page], Slot]:
        slot = await self._lane.take()
        return asyncio.ensure_future(self._fetch_in(slot, url)), slot

    async def _fetch_in(self, slot: Slot, url: URL) -> Page:
        return await slot.fetch(self._fetch(url))

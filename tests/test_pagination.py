"""The paginator (pagination.py) against a scripted fake of the locations endpoint.

The fake answers nothing by itself: every `fetch` waits on a future the test resolves, in whatever order it likes, so
a test sees exactly what is in flight at each step and can deliver pages out of order. No sockets, no clock: the
tests only let the event loop turn (`settle`) until the paginator waits on the fake again.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections import Counter
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import pytest
from yarl import URL

from dexory_async.budget import PATIENCE_FLOOR_SECONDS, Budget, Lane
from dexory_async.errors import PageRejected, RetriesExhausted, ServerError
from dexory_async.links import link_identity, page_number, same_origin, with_page_number
from dexory_async.page import End, EndNotBelieved, Finished, LinkRefused, Page, StoppedAtMaxPages
from dexory_async.pagination import Paginator
from tests.conftest import FakeClock, settle

ORIGIN = URL("https://api.example.test")
ENDPOINT = "https://api.example.test/customer-api/v1/locations"
START = URL(f"{ENDPOINT}?site=s&page[size]=10")


# ---------------------------------------------------------------------------------------------------- the fake API


@dataclass
class Entry:
    """One page the fake API serves: `label` is its only row, so the tests can tell pages apart."""

    label: str
    url: URL
    links: dict[str, Any]
    without_links: bool = False  # served with no `links` object at all


class Boom(Exception):
    """A failure the test makes a fetch end with."""


@dataclass(eq=False)
class Request:
    url: URL
    label: str  # the page's label, or "?" for a URL the fake has no page for
    future: asyncio.Future[Page]
    alongside: int  # requests in flight when it started, itself included
    answers_before: int  # how many requests the test had answered when it started
    finished: bool = False  # its fetch returned or raised, cancellation included

    @property
    def cancelled(self) -> bool:
        return self.future.cancelled()


class FakeApi:
    """The locations endpoint of one or more sites. `fetch` records each request and waits for the test to answer."""

    def __init__(self, *sites: list[Entry], past_the_end: Entry | None = None) -> None:
        self._pages = {link_identity(entry.url): entry for site in sites for entry in site}
        self._past_the_end = past_the_end  # what a page it does not have answers: a 404, or this page again
        self.requests: list[Request] = []
        self.answered: list[Request] = []
        self.on_start: Callable[[Request], None] = lambda request: None
        self.cleanup: asyncio.Future[None] | None = None  # when set, a cancelled fetch finishes only once it is done

    async def fetch(self, url: URL) -> Page:
        entry = self._pages.get(link_identity(url))
        future: asyncio.Future[Page] = asyncio.get_running_loop().create_future()
        request = Request(url, entry.label if entry else "?", future, len(self.in_flight) + 1, len(self.answered))
        self.requests.append(request)
        self.on_start(request)
        try:
            return await future
        except asyncio.CancelledError:
            if self.cleanup is not None:  # a client releasing its connection before it gives up
                await self.cleanup
            raise
        finally:
            request.finished = True

    def answer(self, request: Request) -> None:
        entry = self._pages.get(link_identity(request.url), self._past_the_end)
        if entry is None:
            request.future.set_exception(PageRejected(f"the API refused page {request.url} (HTTP 404)"))
        else:
            page = Page(
                site=request.url.query["site"],
                url=request.url,
                data=[entry.label],
                links={} if entry.without_links else entry.links,
                size_bytes=1,
            )
            request.future.set_result(page)
        self.answered.append(request)

    def fail(self, request: Request, error: BaseException) -> None:
        request.future.set_exception(error)
        self.answered.append(request)

    @property
    def in_flight(self) -> list[Request]:
        return [request for request in self.requests if not request.finished]

    @property
    def unanswered(self) -> list[Request]:
        return [request for request in self.requests if not request.future.done()]

    def request_for(self, label: str) -> Request:
        (request,) = [request for request in self.requests if request.label == label]
        return request


def site_pages(count: int, *, first: int = 1, last: int | None = None, start: URL = START) -> list[Entry]:
    """`count` numbered pages: the first asked for without a number (it is page `first`), the others by
    `page[number]`, each linking to the following one; every page's links.last is page `last` when given."""
    site = start.query["site"]
    urls = [start, *(with_page_number(start, first + i) for i in range(1, count))]
    entries = []
    for i, url in enumerate(urls):
        links: dict[str, Any] = {"next": str(urls[i + 1]) if i + 1 < count else None}
        if last is not None:
            links["last"] = str(with_page_number(start, last))
        entries.append(Entry(f"{site}{first + i}", url, links))
    return entries


def chain(label: str, urls: list[URL]) -> list[Entry]:
    """Pages at `urls`, each linking to the following one (opaque links: nothing to derive from them)."""
    return [
        Entry(f"{label}{i}", url, {"next": str(urls[i + 1]) if i + 1 < len(urls) else None})
        for i, url in enumerate(urls)
    ]


def cursors(*tokens: str) -> list[URL]:
    return [START.update_query(cursor=token) for token in tokens]


def labels(items: list[Page] | list[Request]) -> list[str]:
    return [item.data[0] if isinstance(item, Page) else item.label for item in items]


def restyle(entries: list[Entry], style: str) -> list[Entry]:
    """The same pages with every link written another way the API may write it."""

    def written(link: Any) -> Any:
        if not isinstance(link, str):
            return link
        url = URL(link)
        return {
            "absolute": link,
            "unencoded": link.replace("%5B", "[").replace("%5D", "]"),
            "href": {"href": link, "meta": {"note": "a JSON:API link object"}},
            "query-relative": "?" + url.raw_query_string,
            "path-relative": url.raw_path_qs,
            "scheme-relative": f"//{url.raw_host}{url.raw_path_qs}",
        }[style]

    return [Entry(e.label, e.url, {name: written(link) for name, link in e.links.items()}) for e in entries]


# ------------------------------------------------------------------------------------------- driving the paginator


Pick = Callable[[list[Request]], Request]


def oldest(waiting: list[Request]) -> Request:
    return waiting[0]


def newest(waiting: list[Request]) -> Request:
    return waiting[-1]


def shuffled(seed: int) -> Pick:
    choose = random.Random(seed).choice
    return lambda waiting: choose(waiting)


class Consumer:
    """Pulls a paginator's items one at a time, each `anext` in a task of its own that the test can watch or cancel."""

    def __init__(self, paginator: Paginator) -> None:
        self.items = paginator.pages()
        self.pages: list[Page] = []
        self.end: End | None = None
        self.step: asyncio.Task[Page | End] | None = None

    def ask(self) -> None:
        """Ask for the next item: the page handed on before it is done with."""
        self.step = asyncio.ensure_future(anext(self.items))

    def receive(self) -> Page | End:
        assert self.step is not None and self.step.done(), "the paginator is still waiting"
        item = self.step.result()
        self.step = None
        if isinstance(item, Page):
            self.pages.append(item)
        else:
            self.end = item
        return item

    def received(self) -> str:
        """The label of the page just handed on."""
        item = self.receive()
        assert isinstance(item, Page), f"expected a page, got {item}"
        return str(item.data[0])

    async def stop(self) -> None:
        """Stop consuming: cancel a pending `anext` (the generator cannot be closed while it runs), then close."""
        if self.step is not None and not self.step.done():
            self.step.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.step
        await self.items.aclose()

    @property
    def waiting(self) -> bool:
        return self.step is not None and not self.step.done()


async def run(
    api: FakeApi, *consumers: Consumer, pick: Pick = oldest, on_wait: Callable[[], None] = lambda: None
) -> None:
    """Run paginators to their ends, answering one request (chosen by `pick`) whenever all of them wait (after
    calling `on_wait`, to look at that moment)."""
    for consumer in consumers:
        if consumer.step is None and consumer.end is None:
            consumer.ask()
    while any(consumer.end is None for consumer in consumers):
        await settle()
        done = [consumer for consumer in consumers if consumer.step is not None and consumer.step.done()]
        for consumer in done:
            if isinstance(consumer.receive(), Page):
                consumer.ask()
        if not done:
            on_wait()
            assert api.unanswered, "the paginator waits, but for no request"
            api.answer(pick(api.unanswered))
    for consumer in consumers:
        with pytest.raises(StopAsyncIteration):  # exactly one End, then nothing
            await anext(consumer.items)
    assert_nothing_left(api)


def paginator(
    api: FakeApi, lane: Lane, *, start: URL = START, max_pages: int = 1000, prefetch: bool = True
) -> Paginator:
    return Paginator(api.fetch, lane, start, origin=ORIGIN, max_pages=max_pages, prefetch=prefetch)


async def free_slots(budget: Budget) -> int:
    """How many of the budget's slots no one holds (taken and given back at once: public API only)."""
    count = 0
    while not budget.slots.locked():
        await budget.slots.acquire()
        count += 1
    for _ in range(count):
        budget.slots.release()
    return count


@asynccontextmanager
async def lane_of(budget: Budget, cap: Callable[[], int] | None = None) -> AsyncIterator[Lane]:
    """A lane that must give back every slot it took by the time the site is done."""
    async with budget.lane(cap) as lane:
        yield lane
        assert lane.held == 0, "the lane kept slots"
    assert await free_slots(budget) == budget.total


async def sync(api: FakeApi, *, total: int = 4, pick: Pick = oldest, **options: Any) -> Consumer:
    """One site synced to its end with a Budget(`total`)."""
    async with lane_of(Budget(total)) as lane:
        consumer = Consumer(paginator(api, lane, **options))
        await run(api, consumer, pick=pick)
    return consumer


def on_site(requests: list[Request]) -> list[Request]:
    """The requests for pages the site has (not those past its end)."""
    return [request for request in requests if request.label != "?"]


def identities(requests: list[Request]) -> Counter[tuple[object, ...]]:
    return Counter(link_identity(request.url) for request in requests)


def test_fake_api_pages_are_numbered_as_configured() -> None:
    """The fake itself: page labels follow the numbering, links.next chains them, links.last as configured."""
    entries = site_pages(3, first=0, last=2)
    assert labels_of(entries) == ["s0", "s1", "s2"]
    assert [page_number(entry.url) for entry in entries] == [None, 1, 2]
    assert [entry.links["next"] for entry in entries] == [str(entries[1].url), str(entries[2].url), None]
    assert {entry.links["last"] for entry in entries} == {str(with_page_number(START, 2))}


# ------------------------------------------------------------------------------------------------ the prefetch window


async def test_the_window_fills_the_lane_once_the_first_numbered_link_is_known() -> None:
    """The first page is asked for alone; its next link is numbered, so the following pages are derived and fetched
    ahead, as many as the lane holds: the page being handed on keeps its slot until the consumer asks again."""
    api = FakeApi(site_pages(10))
    async with lane_of(Budget(4)) as lane:
        consumer = Consumer(paginator(api, lane))
        consumer.ask()
        await settle()
        assert labels(api.requests) == ["s1"]

        api.answer(api.request_for("s1"))
        await settle()
        assert consumer.received() == "s1"
        assert labels(api.in_flight) == ["s2", "s3", "s4"]
        assert lane.held == 4  # three requests and the page in the consumer's hands
        await consumer.stop()


async def test_the_slot_of_a_page_handed_on_is_used_at_once() -> None:
    """Once the consumer asks for page 2, page 1's slot is free and must be used: with Budget(4), 4 requests are in
    flight while the paginator waits for page 2, and again after every page handed on. (Otherwise one slot always
    idles, and with Budget(2) fetching ahead never overlaps two requests at all.)"""
    api = FakeApi(site_pages(12))
    async with lane_of(Budget(4)) as lane:
        consumer = Consumer(paginator(api, lane))
        consumer.ask()
        await settle()
        api.answer(api.request_for("s1"))
        await settle()
        consumer.receive()
        consumer.ask()
        await settle()
        assert labels(api.in_flight) == ["s2", "s3", "s4", "s5"]

        for number in range(2, 8):  # in order: each page frees a slot for the next one fetched ahead
            api.answer(api.request_for(f"s{number}"))
            await settle()
            assert consumer.received() == f"s{number}"
            consumer.ask()
            await settle()
            assert labels(api.in_flight) == [f"s{n}" for n in range(number + 1, number + 5)]
        await consumer.stop()


@pytest.mark.parametrize(("total", "cap"), [(4, None), (2, None), (8, 3), (1, None)])
@pytest.mark.parametrize("pick", [oldest, newest, shuffled(7)], ids=["in-order", "reversed", "shuffled"])
async def test_in_flight_never_above_the_budget_nor_the_lane_room(total: int, cap: int | None, pick: Pick) -> None:
    """Whatever order pages arrive in, no request starts beyond the budget's total or the lane's cap."""
    api = FakeApi(site_pages(15))
    budget = Budget(total)
    limit = min(total, cap or total)
    async with lane_of(budget, None if cap is None else lambda: cap) as lane:

        def check(request: Request) -> None:
            assert request.alongside <= limit
            assert lane.held <= limit

        api.on_start = check
        consumer = Consumer(paginator(api, lane))
        await run(api, consumer, pick=pick)
    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 16)]
    assert max(request.alongside for request in api.requests) <= limit


async def test_a_lowered_cap_stops_fetching_ahead_until_the_lane_is_back_under_it() -> None:
    """A site rate limited mid-sync (its cap lowered from 4 to 1) starts no request while it holds as many pages as
    the new cap, and carries on one page at a time."""
    api = FakeApi(site_pages(10))
    cap = [4]
    async with lane_of(Budget(4), lambda: cap[0]) as lane:
        started: list[tuple[int, int]] = []  # (lane.held, cap) at each request's start
        api.on_start = lambda request: started.append((lane.held, cap[0]))

        def lower_after_page_three(waiting: list[Request]) -> Request:
            if any(request.label == "s3" for request in api.answered):
                cap[0] = 1
            return waiting[0]

        consumer = Consumer(paginator(api, lane))
        await run(api, consumer, pick=lower_after_page_three)
    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 11)]
    assert all(held <= max(1, limit) for held, limit in started)
    after = [request for request in api.requests if request.answers_before > 3]
    assert after and all(request.alongside == 1 for request in after)


@pytest.mark.parametrize(
    "pick", [oldest, newest, shuffled(1), shuffled(2), shuffled(3)], ids=["in-order", "reversed", "s1", "s2", "s3"]
)
async def test_pages_come_out_in_order_whatever_order_they_arrive_in(pick: Pick) -> None:
    """Pages fetched ahead may land in any order; they are handed on in page order, each exactly once, numbered by
    their place in the sync, each with the next page's URL as its accepted next link."""
    api = FakeApi(site_pages(12, last=12))
    consumer = await sync(api, pick=pick)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 13)]
    assert [page.sequence for page in consumer.pages] == list(range(1, 13))
    assert [page.next_url for page in consumer.pages] == [page.url for page in consumer.pages[1:]] + [None]
    assert consumer.end == Finished()
    assert max(identities(api.requests).values()) == 1  # nothing asked for twice
    if pick is not oldest:
        assert labels(api.answered) != sorted(labels(api.answered), key=lambda label: int(label[1:]))


# ------------------------------------------------------------------------------------------------------- links.last


async def test_links_last_bounds_the_window() -> None:
    """With a truthful links.last, nothing past the last page is ever requested."""
    api = FakeApi(site_pages(6, last=6))
    consumer = await sync(api, total=8)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 7)]
    assert sorted(labels(api.requests)) == sorted(labels(consumer.pages))
    assert [page.pages_after for page in consumer.pages] == [5, 4, 3, 2, 1, 0]
    assert consumer.end == Finished()


@pytest.mark.parametrize("pick", [oldest, newest], ids=["in-order", "reversed"])
async def test_pages_past_a_links_last_too_low_are_fetched_one_by_one(pick: Pick) -> None:
    """links.last says page 3 but the site has 6: the pages past it still come, each asked for alone once the page
    before it has landed, and all of them are handed on."""
    api = FakeApi(site_pages(6, last=3))
    consumer = await sync(api, pick=pick)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 7)]
    assert consumer.end == Finished()
    assert labels(api.requests) == [f"s{n}" for n in range(1, 7)]  # nothing past page 6, nothing twice
    assert api.request_for("s3").alongside > 1  # pages 2 and 3 were fetched ahead, together
    for label in ("s4", "s5", "s6"):
        assert api.request_for(label).alongside == 1


async def test_a_final_page_whose_links_last_announces_more_is_refused() -> None:
    """Every page says the site has 8 pages, but page 6 has no next link: stopping there would silently lose rows,
    so the end names page 6. Pages 7 and 8, fetched ahead on the announcement's word, are never handed on."""
    api = FakeApi(site_pages(6, last=8))
    consumer = await sync(api)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 7)]
    final = consumer.pages[-1]
    assert isinstance(consumer.end, EndNotBelieved)
    assert (consumer.end.page_url, consumer.end.rereads) == (consumer.pages[-2].url, 2)  # judged after page 5
    assert "page 6" in consumer.end.reason and str(final.url) in consumer.end.reason
    assert "2 more" in consumer.end.reason
    beyond = [request for request in api.requests if request.label == "?"]
    assert beyond and all(request.cancelled for request in beyond)


async def test_ending_before_what_an_earlier_links_last_announced_is_refused() -> None:
    """Page 1 announced 8 pages, the later ones 6, and page 6 ends the site: pages may be missing (or the site
    shrank); every page is handed on, and the end refuses to call the site finished, naming the last announced."""
    entries = site_pages(6, last=6)
    entries[0].links["last"] = str(with_page_number(START, 8))
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 7)]
    assert isinstance(consumer.end, EndNotBelieved) and "announced page 8" in consumer.end.reason
    assert (consumer.end.page_url, consumer.end.rereads) == (consumer.pages[-2].url, 2)  # judged again after page 5


async def test_a_page_fetched_ahead_with_locations_proves_the_site_goes_on() -> None:
    """Page 3 says it is the last (no links.next), but page 4, fetched ahead from the numbered links, holds locations:
    the site does not end at page 3."""
    entries = site_pages(6)
    entries[2].links.pop("next")
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3"]
    assert isinstance(consumer.end, EndNotBelieved) and "the page after it" in consumer.end.reason


async def test_an_empty_next_link_on_the_last_page_ends_the_site() -> None:
    """Some APIs write "" where JSON:API writes null: on the last page it means the end."""
    entries = site_pages(4)
    entries[3].links["next"] = ""
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3", "s4"]
    assert consumer.end == Finished()


async def test_a_next_link_that_skips_pages_is_refused() -> None:
    """Page 4 links to page 6: page 5's rows would be lost without a word."""
    entries = site_pages(8)
    entries[3].links["next"] = str(with_page_number(START, 6))
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3", "s4"]
    assert isinstance(consumer.end, LinkRefused) and "jumps from page 4 to page 6" in consumer.end.reason


async def test_a_later_page_without_links_is_not_believed_to_be_the_last() -> None:
    """Page 3 comes without `links` (a broken answer), while page 4, fetched ahead, holds locations: the site goes
    on, and the next sync reads again from page 2, so that page 3 is judged again after page 2's links."""
    entries = site_pages(5)
    entries[2].without_links = True
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3"]
    assert isinstance(consumer.end, EndNotBelieved) and "the page after it" in consumer.end.reason
    assert consumer.end.page_url == consumer.pages[1].url and consumer.end.rereads == 2


async def test_a_page_fetched_ahead_that_repeats_the_last_page_is_no_proof() -> None:
    """Some APIs answer any page past the end with the last page again: that says nothing about the end."""
    entries = site_pages(4)
    api = FakeApi(entries, past_the_end=entries[-1])
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3", "s4"]
    assert consumer.end == Finished()


async def test_a_single_page_whose_links_last_announces_more_is_refused() -> None:
    """A first page (asked for without a number) with no next link but a links.last of page 5 has at least 3 pages
    after it, whether the API numbers from 0 or 1: ending there would lose them without a word."""
    entries = site_pages(1)
    entries[0].links["last"] = str(with_page_number(START, 5))
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1"]
    assert isinstance(consumer.end, EndNotBelieved)
    assert consumer.end.page_url == START


async def test_without_links_last_pages_fetched_past_the_end_are_checked_and_never_handed_on() -> None:
    """Without links.last the paginator fetches ahead past the end; when the last page lands, those requests are
    awaited (one holding locations would prove the site goes on), and nothing past the end is handed on."""
    api = FakeApi(site_pages(5))
    consumer = await sync(api)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 6)]
    assert consumer.end == Finished()
    beyond = [request for request in api.requests if request.label == "?"]
    assert beyond, "nothing was fetched ahead past the end"
    assert all(request.finished for request in beyond)
    assert all(page_number(request.url) in (6, 7, 8) for request in beyond)


async def test_without_links_last_a_404_past_the_end_does_not_fail_the_site() -> None:
    """Pages past the end answered first (with the error the client raises for a 404) are dropped, not raised."""
    api = FakeApi(site_pages(5))

    def past_the_end_first(waiting: list[Request]) -> Request:
        return next((request for request in waiting if request.label == "?"), waiting[0])

    consumer = await sync(api, pick=past_the_end_first)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 6)]
    assert consumer.end == Finished()
    assert any(request.label == "?" and request in api.answered for request in api.requests)


# --------------------------------------------------------------- the end of a site, whatever the concurrency and timing

LATENCY = 0.1  # fake seconds every answer takes
QUIET = 3  # the page that answers links.next: null, with no links.last


@dataclass(frozen=True)
class Ahead:
    """How the request for the page after the quiet one answers when it was sent before the quiet page arrived (it
    was fetched ahead): after `seconds` of the client's retries, the page, or `error` for good."""

    seconds: float = 0.0
    error: Exception | None = None


AHEAD = {
    "answered": None,
    "429, Retry-After 35 s": Ahead(35.0),
    "503 twice": Ahead(2.0 + 4.0),
    "404": Ahead(error=PageRejected("the API refused page 4 (HTTP 404)")),
}


class QuietSite:
    """A site of numbered pages (no links.last anywhere) whose page QUIET has no next link. The site really has
    `pages` pages: past them, a request is refused (404), or answered by an empty page."""

    def __init__(self, site: str, pages: int, ahead: Ahead | None, *, past_the_end: str = "404") -> None:
        self.start = START.update_query(site=site)
        self._pages = pages
        self._ahead = ahead
        self._past_the_end = past_the_end
        self.answered: list[int] = []
        self.requests: list[int] = []

    async def fetch(self, url: URL) -> Page:
        number = page_number(url) or 1
        self.requests.append(number)
        await asyncio.sleep(LATENCY)
        if number == QUIET + 1 and QUIET not in self.answered and self._ahead is not None:
            await asyncio.sleep(self._ahead.seconds)
            if self._ahead.error is not None:
                raise self._ahead.error
        if number > self._pages and self._past_the_end == "404":
            raise PageRejected(f"the API refused page {url} (HTTP 404)")
        self.answered.append(number)
        data = [f"{self.start.query['site']}{number}"] if number <= self._pages else []
        goes_on = number < self._pages and number != QUIET
        links = {"next": str(with_page_number(self.start, number + 1)) if goes_on else None}
        return Page(site=url.query["site"], url=url, data=data, links=links, size_bytes=1)


SHARES = {"concurrency 4": (4, 1), "concurrency 1": (1, 1), "four sites share 4": (4, 4)}  # budget, sites


async def sync_quiet_sites(
    clock: FakeClock, share: str, ahead: Ahead | None, *, pages: int, past_the_end: str = "404"
) -> list[tuple[QuietSite, list[Page], End]]:
    """Every site synced to its end in fake time, each with its pages and its end."""
    total, count = SHARES[share]
    budget = Budget(total)
    sites = [QuietSite(f"q{n}", pages, ahead, past_the_end=past_the_end) for n in range(count)]

    async def one(site: QuietSite) -> tuple[QuietSite, list[Page], End]:
        async with budget.lane() as lane:
            items = [item async for item in paginator_for(site, lane, prefetch=total > 1).pages()]
            assert lane.held == 0
        *handed_on, end = items
        assert all(isinstance(page, Page) for page in handed_on) and not isinstance(end, Page)
        return site, [page for page in handed_on if isinstance(page, Page)], end

    synced = await clock.run(asyncio.gather(*(one(site) for site in sites)))
    assert await free_slots(budget) == total
    return list(synced)


def paginator_for(site: QuietSite, lane: Lane, *, prefetch: bool) -> Paginator:
    return Paginator(site.fetch, lane, site.start, origin=ORIGIN, max_pages=1000, prefetch=prefetch)


@pytest.mark.parametrize("ahead", AHEAD.values(), ids=AHEAD.keys())
@pytest.mark.parametrize("share", SHARES)
async def test_a_page_without_a_next_link_before_pages_with_locations_fails_the_site(
    clock: FakeClock, share: str, ahead: Ahead | None
) -> None:
    """Page 3 of 10 has no next link and nothing proves it is the last; page 4 holds locations. Whatever the
    concurrency, the site's share of the budget, or how the page fetched ahead answered (after a long Retry-After,
    after retries, or refused for a moment), the site does not end green at page 3: its end names page 3 and the page
    after it, and the next sync reads again from page 2."""
    for site, pages, end in await sync_quiet_sites(clock, share, ahead, pages=10):
        assert [page.data for page in pages] == [[f"{site.start.query['site']}{n}"] for n in (1, 2, 3)]
        assert isinstance(end, EndNotBelieved)
        assert f"page 3 ({pages[2].url})" in end.reason
        assert f"{with_page_number(site.start, 4)}, the page after it, holds 1 other locations" in end.reason
        assert (end.page_url, end.rereads) == (pages[1].url, 2)
        assert QUIET + 1 in site.answered  # its final outcome decided


@pytest.mark.parametrize("past_the_end", ["404", "empty"])
@pytest.mark.parametrize("ahead", AHEAD.values(), ids=AHEAD.keys())
@pytest.mark.parametrize("share", SHARES)
async def test_a_page_without_a_next_link_that_is_the_last_finishes_the_site(
    clock: FakeClock, share: str, ahead: Ahead | None, past_the_end: str
) -> None:
    """The same, but the site has 3 pages: the page after the last is refused (404) or empty, and the site finishes,
    whatever the concurrency, the share or the timing. Nothing past the end is handed on."""
    for site, pages, end in await sync_quiet_sites(clock, share, ahead, pages=QUIET, past_the_end=past_the_end):
        assert [page.data for page in pages] == [[f"{site.start.query['site']}{n}"] for n in (1, 2, 3)]
        assert end == Finished()
        assert QUIET + 1 in site.requests  # asked about, never handed on


async def test_a_page_after_the_quiet_one_that_cannot_be_fetched_fails_the_site_with_its_error(
    clock: FakeClock,
) -> None:
    """The page after a page without a next link fails for good (retries exhausted): the end cannot be told, so the
    site fails with that error, after page 3 was handed on."""

    class Down(QuietSite):
        async def fetch(self, url: URL) -> Page:
            if page_number(url) == QUIET + 1:
                raise RetriesExhausted(f"giving up on {url}", last_error=ServerError("HTTP 503"))
            return await super().fetch(url)

    site = Down("q", 10, None)
    handed_on: list[Page | End] = []

    async def consume() -> None:
        async with lane_of(Budget(4)) as lane:
            async for item in paginator_for(site, lane, prefetch=True).pages():
                handed_on.append(item)

    with pytest.raises(RetriesExhausted, match=r"giving up on .*page%5Bnumber%5D=4"):
        await clock.run(consume())
    assert [item.data for item in handed_on if isinstance(item, Page)] == [["q1"], ["q2"], ["q3"]]
    assert all(isinstance(item, Page) for item in handed_on)


# ------------------------------------------------------------------------------------------------ following links


def mismatched_at_page_three(kind: str) -> tuple[list[Entry], list[str]]:
    """A numbered site whose page 3 links somewhere else than the derived page 4, and the pages of its chain."""
    entries = site_pages(7)
    if kind == "switches to cursors":
        rest = chain("k", cursors("x4", "x5", "x6"))
    else:  # "adds a parameter": a numbered link, but not the one the paginator derives
        rest = chain("t", [with_page_number(START, n).update_query(sort="id") for n in (4, 5, 6)])
    entries[2].links["next"] = str(rest[0].url)
    return entries + rest, ["s1", "s2", "s3", *labels_of(rest)]


def labels_of(entries: list[Entry]) -> list[str]:
    return [entry.label for entry in entries]


@pytest.mark.parametrize("kind", ["switches to cursors", "adds a parameter"])
async def test_a_next_link_that_is_not_the_derived_one_drops_the_window(kind: str) -> None:
    """Page 3 does not link to the page[number]=4 the paginator derived: what it fetched ahead is cancelled, never
    handed on, and from there it follows the API's links one request at a time, every page exactly once."""
    entries, expected = mismatched_at_page_three(kind)
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == expected
    assert consumer.end == Finished()
    page_three = api.answered.index(api.request_for("s3")) + 1
    ahead = [request for request in api.requests if request.answers_before < page_three and request not in api.answered]
    assert ahead and all(request.cancelled for request in ahead)
    after = [request for request in api.requests if request.answers_before >= page_three]
    past_the_end = ["?"] if kind == "adds a parameter" else []  # numbered: the page after the last is asked about
    assert labels(after) == expected[3:] + past_the_end
    assert all(request.alongside == 1 for request in after)


async def test_cursor_links_are_followed_one_at_a_time() -> None:
    """Opaque links cannot be derived: each page is asked for once the previous one has landed, whatever the budget."""
    api = FakeApi(chain("c", [START, *cursors("AAA", "b7Zq", "zz-9", "last")]))
    consumer = await sync(api, total=8)

    assert labels(consumer.pages) == ["c0", "c1", "c2", "c3", "c4"]
    assert labels(api.requests) == labels(consumer.pages)
    assert all(request.alongside == 1 for request in api.requests)
    assert consumer.end == Finished()


async def test_without_prefetch_numbered_links_are_followed_one_at_a_time() -> None:
    """prefetch=False (a budget of 1 in a sync): numbered links are not derived from either."""
    api = FakeApi(site_pages(6))
    consumer = await sync(api, prefetch=False)

    assert labels(consumer.pages) == labels(on_site(api.requests)) == [f"s{n}" for n in range(1, 7)]
    assert labels(api.requests) == [*labels(consumer.pages), "?"]  # the page after the last, asked about
    assert all(request.alongside == 1 for request in api.requests)


async def test_a_saved_numbered_link_resumes_there() -> None:
    """A sync resumed from page[number]=4 asks for nothing before it, and still fetches ahead from it."""
    api = FakeApi(site_pages(8))
    consumer = await sync(api, start=with_page_number(START, 4))

    assert labels(consumer.pages) == [f"s{n}" for n in range(4, 9)]
    assert all(label in ("?", *labels(consumer.pages)) for label in labels(api.requests))
    assert max(request.alongside for request in api.requests) > 1


@pytest.mark.parametrize(
    "style", ["unencoded", "href", "query-relative", "path-relative", "scheme-relative"], ids=lambda style: style
)
async def test_links_written_otherwise_are_followed_exactly_like_absolute_strings(style: str) -> None:
    """JSON:API link objects, relative links and unencoded brackets lead to the same requests and pages."""
    baseline = FakeApi(site_pages(7, last=7))
    other = FakeApi(restyle(site_pages(7, last=7), style))
    expected = await sync(baseline)
    actual = await sync(other)

    assert labels(actual.pages) == labels(expected.pages) == [f"s{n}" for n in range(1, 8)]
    assert [link_identity(r.url) for r in other.requests] == [link_identity(r.url) for r in baseline.requests]
    assert [page.next_url for page in actual.pages] == [page.next_url for page in expected.pages]
    assert [page.pages_after for page in actual.pages] == [page.pages_after for page in expected.pages]
    assert actual.end == expected.end == Finished()


@pytest.mark.parametrize("first", [0, 1], ids=["zero-based", "one-based"])
@pytest.mark.parametrize("with_last", [True, False], ids=["with-last", "without-last"])
@pytest.mark.parametrize("pick", [oldest, newest], ids=["in-order", "reversed"])
async def test_zero_and_one_based_numbering_sync_every_page_once(first: int, with_last: bool, pick: Pick) -> None:
    """The first page, asked for without a number, is page 0 or page 1 depending on the API: either way the pages
    derived from its next link are the right ones, each asked for once, and the first is never asked for again."""
    count = 7
    api = FakeApi(site_pages(count, first=first, last=first + count - 1 if with_last else None))
    consumer = await sync(api, pick=pick)

    expected = [f"s{first + i}" for i in range(count)]
    assert labels(consumer.pages) == expected
    assert consumer.end == Finished()
    assert max(identities(on_site(api.requests)).values()) == 1  # a refusal past the end is asked again
    assert page_number(api.requests[0].url) is None
    assert all(page_number(request.url) != first for request in api.requests)  # the first page, by its number
    if with_last:
        assert sorted(labels(api.requests)) == sorted(expected)
    assert max(request.alongside for request in api.requests) > 1


# ---------------------------------------------------------------------------------------------- refused next links


def with_next(entries: list[Entry], page: int, link: object) -> list[Entry]:
    """The site with page `page` (1-based position) linking to `link` instead."""
    entries[page - 1].links["next"] = link
    return entries


def assert_refused_at(consumer: Consumer, api: FakeApi, position: int) -> LinkRefused:
    """The site's pages up to `position` were handed on, and the end refuses the link of that page, naming it."""
    assert [page.sequence for page in consumer.pages] == list(range(1, position + 1))
    assert consumer.pages[-1].next_url is None  # nothing downstream sees a refused link
    assert isinstance(consumer.end, LinkRefused)
    refused = consumer.pages[-1].url
    assert consumer.end.page_url == refused
    assert f"page {position}" in consumer.end.reason and str(refused) in consumer.end.reason
    return consumer.end


LOOPS = {
    "to page 2": str(with_page_number(START, 2)),
    "to the first page as sent": str(START),
    "to the first page by number": str(with_page_number(START, 1)),
    "to page 2, parameters reordered": f"{ENDPOINT}?page[number]=2&page[size]=10&site=s",
    "to page 3 itself": str(with_page_number(START, 3)),
}


@pytest.mark.parametrize("link", LOOPS.values(), ids=LOOPS.keys())
async def test_a_loop_is_refused(link: str) -> None:
    """Page 3 links back to a page already fetched: following it would never end. Nothing is asked for twice."""
    api = FakeApi(with_next(site_pages(6), 3, link))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2", "s3"]
    end = assert_refused_at(consumer, api, 3)
    assert "loop" in end.reason
    assert max(identities(api.requests).values()) == 1
    assert all(page_number(request.url) != 1 for request in api.requests)


async def test_a_loop_to_the_first_page_of_a_zero_based_api_is_refused() -> None:
    """The unnumbered first page of a zero-based API is page[number]=0: a link there is a loop too."""
    api = FakeApi(with_next(site_pages(5, first=0), 3, str(with_page_number(START, 0))))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s0", "s1", "s2"]
    assert "loop" in assert_refused_at(consumer, api, 3).reason
    assert all(page_number(request.url) != 0 for request in api.requests)


async def test_a_cursor_loop_is_refused() -> None:
    """Opaque links are remembered as well: a cursor seen before is a loop."""
    entries = chain("c", [START, *cursors("a", "b")])
    api = FakeApi(with_next(entries, 3, str(cursors("a")[0])))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["c0", "c1", "c2"]
    assert "loop" in assert_refused_at(consumer, api, 3).reason
    assert labels(api.requests) == ["c0", "c1", "c2"]


FOREIGN = {
    "another host": "https://evil.test/customer-api/v1/locations?site=s&page[size]=10&page[number]=3",
    "another scheme": f"{ENDPOINT.replace('https:', 'http:')}?site=s&page[size]=10&page[number]=3",
    "another port": "https://api.example.test:8443/customer-api/v1/locations?site=s&page[size]=10&page[number]=3",
    "scheme-relative": "//evil.test/customer-api/v1/locations?site=s&page[size]=10&page[number]=3",
    "link object": {"href": "https://evil.test/customer-api/v1/locations?site=s&page[number]=3"},
    "userinfo trick": "https://api.example.test@evil.test/customer-api/v1/locations?site=s&page[number]=3",
}


@pytest.mark.parametrize("link", FOREIGN.values(), ids=FOREIGN.keys())
async def test_a_link_to_another_origin_is_refused_and_never_requested(link: object) -> None:
    """The API key must not travel to another origin: page 2's link there ends the site, and no request leaves
    base_url's origin, fetched ahead or not."""
    api = FakeApi(with_next(site_pages(6), 2, link))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2"]
    end = assert_refused_at(consumer, api, 2)
    assert "origin" in end.reason
    assert all(same_origin(request.url, ORIGIN) for request in api.requests)


OTHER_SITES = {
    "another site": f"{ENDPOINT}?site=t&page[size]=10&page[number]=3",
    "no site": f"{ENDPOINT}?page[size]=10&page[number]=3",
    "a customer": f"{ENDPOINT}?site=s&customer=c&page[size]=10&page[number]=3",
    "another endpoint": "https://api.example.test/customer-api/v1/inventory?site=s&page[size]=10&page[number]=3",
    "relative, another site": "?site=t&page[size]=10&page[number]=3",
}


NOT_LINKS = {
    "object without href": {"meta": 1},
    "number": 17,
    "href null": {"href": None},
    "href not a string": {"href": 5},
    "list": [str(with_page_number(START, 3))],
    "boolean": True,
}


REFUSED_LINKS = {**OTHER_SITES, **NOT_LINKS}


@pytest.mark.parametrize("link", REFUSED_LINKS.values(), ids=REFUSED_LINKS.keys())
async def test_a_next_link_to_another_site_or_not_understood_is_refused(link: object) -> None:
    """Following a link to another site or endpoint would write its rows as this site's; reading a link that is not
    understood as 'no next page' would end the site early and call it finished. Either is refused, naming the page,
    and nothing past it is requested."""
    api = FakeApi(with_next(site_pages(6), 2, link))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2"]
    assert_refused_at(consumer, api, 2)
    assert all(request.url.path == START.path and request.url.query.get("site") == "s" for request in api.requests)
    assert all("customer" not in request.url.query for request in api.requests)


MALFORMED = [
    "http://h:99999/x",
    "https://api.example.test:99999/customer-api/v1/locations?site=s&page[number]=3",
    "https://api.example.test:abc/customer-api/v1/locations",
    "http://[::1/x",
    "http:///customer-api/v1/locations",
]


@pytest.mark.parametrize("link", MALFORMED)
async def test_a_malformed_next_link_is_refused_naming_the_page_and_the_link(link: str) -> None:
    """A URL that does not parse (port out of range, bad IPv6, no host) is refused, never raised as a crash."""
    api = FakeApi(with_next(site_pages(6), 2, link))
    consumer = await sync(api)

    assert labels(consumer.pages) == ["s1", "s2"]
    assert link in assert_refused_at(consumer, api, 2).reason


async def test_a_malformed_links_last_is_ignored() -> None:
    """links.last only bounds fetching ahead: one that cannot be read is no reason to stop."""
    entries = site_pages(5)
    for entry in entries:
        entry.links["last"] = "http://h:99999/x"
    api = FakeApi(entries)
    consumer = await sync(api)

    assert labels(consumer.pages) == [f"s{n}" for n in range(1, 6)]
    assert consumer.end == Finished()


# ---------------------------------------------------------------------------------------------------------- max_pages


@pytest.mark.parametrize("max_pages", [1, 2, 4, 6, 9])
@pytest.mark.parametrize("prefetch", [True, False], ids=["prefetch", "serial"])
async def test_max_pages_stops_there_and_requests_nothing_beyond(max_pages: int, prefetch: bool) -> None:
    """Exactly max_pages pages, then where the next sync continues; no request past max_pages is ever made. A site
    that ends first simply finishes."""
    count = 6
    api = FakeApi(site_pages(count))
    consumer = await sync(api, max_pages=max_pages, prefetch=prefetch)

    handed_on = min(max_pages, count)
    assert labels(consumer.pages) == [f"s{n}" for n in range(1, handed_on + 1)]
    if max_pages < count:
        assert consumer.end == StoppedAtMaxPages(with_page_number(START, max_pages + 1))
        assert all((page_number(request.url) or 1) <= max_pages for request in api.requests)
    else:
        assert consumer.end == Finished()


# ---------------------------------------------------------------------------------------- failures and cancellation


async def start_window(api: FakeApi, lane: Lane, *, handed_on: int) -> Consumer:
    """A consumer that has been handed `handed_on` pages (answered in order) and is waiting for the next one."""
    consumer = Consumer(paginator(api, lane))
    consumer.ask()
    for number in range(1, handed_on + 1):
        await settle()
        api.answer(api.request_for(f"s{number}"))
        await settle()
        assert consumer.received() == f"s{number}"
        consumer.ask()
    await settle()
    return consumer


def assert_nothing_left(api: FakeApi) -> None:
    """Every request ended: answered, or cancelled and awaited; no task but the test's own is left."""
    assert api.in_flight == []
    assert all(request in api.answered or (request.cancelled and request.finished) for request in api.requests)
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_a_failed_fetch_propagates_and_cancels_every_other_request() -> None:
    """Page 2 fails while pages 3 and 4 are fetched ahead: the failure reaches the consumer, and by then the other
    requests are cancelled and finished, no task is left pending, and the lane holds nothing."""
    api = FakeApi(site_pages(10))
    async with lane_of(Budget(4)) as lane:
        consumer = await start_window(api, lane, handed_on=1)
        others = [request for request in api.in_flight if request.label != "s2"]
        assert others

        api.fail(api.request_for("s2"), Boom("page 2"))
        await settle()
        assert consumer.step is not None and consumer.step.done()
        with pytest.raises(Boom, match="page 2"):
            consumer.receive()
        assert_nothing_left(api)
        assert all(request.cancelled for request in others)
        with pytest.raises(StopAsyncIteration):
            await anext(consumer.items)


async def test_a_failure_fetched_ahead_is_raised_in_its_turn() -> None:
    """Page 4 fails while pages 2 and 3 are still on their way: they are handed on first, then the failure."""
    api = FakeApi(site_pages(10))
    async with lane_of(Budget(4)) as lane:
        consumer = await start_window(api, lane, handed_on=1)
        api.fail(api.request_for("s4"), Boom("page 4"))
        await settle()
        assert consumer.waiting

        for label in ("s2", "s3"):
            api.answer(api.request_for(label))
            await settle()
            assert consumer.received() == label
            consumer.ask()
            await settle()
        with pytest.raises(Boom, match="page 4"):
            consumer.receive()
        assert_nothing_left(api)


async def test_a_failed_first_page_propagates() -> None:
    """Nothing was derived yet: the failure is raised and nothing else was ever asked for."""
    api = FakeApi(site_pages(3))
    async with lane_of(Budget(4)) as lane:
        consumer = Consumer(paginator(api, lane))
        consumer.ask()
        await settle()
        api.fail(api.request_for("s1"), Boom("first page"))
        await settle()
        with pytest.raises(Boom):
            consumer.receive()
        assert labels(api.requests) == ["s1"]


async def test_closing_the_generator_mid_window_cancels_every_request_and_gives_back_the_slots() -> None:
    """The consumer stops while holding page 2 (`aclose`, as `aclosing` does on a break): every request fetched
    ahead is cancelled and awaited before aclose returns, and the lane holds nothing any more."""
    api = FakeApi(site_pages(10))
    budget = Budget(4)
    async with lane_of(budget) as lane:
        consumer = await start_window(api, lane, handed_on=1)
        api.answer(api.request_for("s2"))
        await settle()
        assert consumer.received() == "s2"
        ahead = api.in_flight
        assert ahead and lane.held == len(ahead) + 1  # and page 2, in the consumer's hands

        await consumer.items.aclose()
        assert_nothing_left(api)
        assert all(request.cancelled for request in ahead)
        assert lane.held == 0
        assert await free_slots(budget) == budget.total


async def test_cancelling_the_consumer_mid_window_cancels_every_request_and_gives_back_the_slots() -> None:
    """The task consuming the site is cancelled while it waits for a page: that request and every one fetched ahead
    are cancelled and awaited, and every slot is given back."""
    api = FakeApi(site_pages(10))
    budget = Budget(4)
    async with lane_of(budget) as lane:
        consumer = await start_window(api, lane, handed_on=2)
        in_flight = api.in_flight
        assert len(in_flight) > 1

        assert consumer.step is not None
        consumer.step.cancel()
        with pytest.raises(asyncio.CancelledError):
            await consumer.step
        assert_nothing_left(api)
        assert all(request.cancelled for request in in_flight)
        assert lane.held == 0
        assert await free_slots(budget) == budget.total
        with pytest.raises(StopAsyncIteration):
            await anext(consumer.items)


async def test_a_cancellation_while_the_window_is_discarded_still_gives_back_every_slot() -> None:
    """Page 2 fails; while the paginator waits for the requests it cancelled to finish (a client releasing its
    connections), the consuming task is cancelled too (the sync is torn down). However it ends, the lane must give
    back the slots of those requests: a lane that keeps them starves every other site of the budget."""
    api = FakeApi(site_pages(10))
    api.cleanup = asyncio.get_running_loop().create_future()
    budget = Budget(4)
    async with budget.lane() as lane:
        consumer = await start_window(api, lane, handed_on=1)
        api.fail(api.request_for("s2"), Boom("page 2"))
        await settle()
        assert consumer.step is not None and consumer.waiting  # discarding pages 3 and 4: they are cleaning up

        consumer.step.cancel()
        await settle()
        if not api.cleanup.done():
            api.cleanup.set_result(None)
        await settle()
        assert consumer.step.done()
        assert api.in_flight == []
        assert lane.held == 0
    assert await free_slots(budget) == budget.total


# --------------------------------------------------------------------------------------------- lanes of one budget


def two_sites(count: int) -> tuple[FakeApi, URL, URL]:
    a, b = START.update_query(site="a"), START.update_query(site="b")
    return FakeApi(site_pages(count, start=a), site_pages(count, start=b)), a, b


def in_flight_by_site(api: FakeApi) -> Counter[str]:
    return Counter(request.url.query["site"] for request in api.in_flight)


@pytest.mark.parametrize("pick", [oldest, newest, shuffled(5)], ids=["in-order", "reversed", "shuffled"])
async def test_two_lanes_never_exceed_the_budget_together_and_both_progress(pick: Pick) -> None:
    """Two sites on one Budget(4): never more than 4 requests in flight between them, neither lane above its fair
    share of 2, and while both sites are going, neither is ever left without a request in flight."""
    api, a, b = two_sites(8)
    budget = Budget(4)
    async with lane_of(budget) as lane_a, lane_of(budget) as lane_b:

        def check(request: Request) -> None:
            assert request.alongside <= budget.total
            assert lane_a.held <= 2 and lane_b.held <= 2

        site_a, site_b = Consumer(paginator(api, lane_a, start=a)), Consumer(paginator(api, lane_b, start=b))
        both_going: list[Counter[str]] = []  # requests in flight by site, whenever both sites wait for a page

        def look() -> None:
            if site_a.end is None and site_b.end is None:
                both_going.append(in_flight_by_site(api))

        api.on_start = check
        await run(api, site_a, site_b, pick=pick, on_wait=look)

    assert labels(site_a.pages) == [f"a{n}" for n in range(1, 9)]
    assert labels(site_b.pages) == [f"b{n}" for n in range(1, 9)]
    assert both_going and all(counts["a"] >= 1 and counts["b"] >= 1 for counts in both_going)


async def test_two_busy_lanes_each_keep_two_requests_in_flight() -> None:
    """Once both sites have handed on their first page and wait for the next, the budget is split evenly: 2 requests
    in flight each."""
    api, a, b = two_sites(8)
    budget = Budget(4)
    async with lane_of(budget) as lane_a, lane_of(budget) as lane_b:
        site_a, site_b = Consumer(paginator(api, lane_a, start=a)), Consumer(paginator(api, lane_b, start=b))
        for consumer in (site_a, site_b):
            consumer.ask()
        await settle()
        for consumer, label in ((site_a, "a1"), (site_b, "b1")):
            api.answer(api.request_for(label))
            await settle()
            assert consumer.received() == label
        for consumer in (site_a, site_b):
            consumer.ask()
        await settle()
        assert in_flight_by_site(api) == {"a": 2, "b": 2}
        for consumer in (site_a, site_b):
            await consumer.stop()


async def holding_the_whole_budget(api: FakeApi, lane: Lane, start: URL) -> Consumer:
    """A site alone on a budget of 4, with its first page in hand and three fetched ahead."""
    site = Consumer(paginator(api, lane, start=start))
    site.ask()
    await settle()
    api.answer(api.request_for("a1"))
    await settle()
    assert site.received() == "a1"
    assert lane.held == 4
    return site


async def test_a_lane_opened_later_is_not_starved() -> None:
    """Site a alone fills the whole budget; site b then asks for its first page: it gets the first slot site a gives
    back, and from then on site a keeps to its share of 2. Both sync to their end."""
    api, a, b = two_sites(10)
    budget = Budget(4)
    async with lane_of(budget) as lane_a:
        site_a = await holding_the_whole_budget(api, lane_a, a)
        async with lane_of(budget) as lane_b:

            def check(request: Request) -> None:
                if request.url.query["site"] == "a":
                    assert lane_a.held <= 2, "site a fetched ahead beyond its share"

            api.on_start = check
            site_b = Consumer(paginator(api, lane_b, start=b))
            site_b.ask()
            await settle()
            assert "b1" not in labels(api.requests)  # no slot free yet

            site_a.ask()  # hands a1 on, giving its slot back
            await settle()
            assert labels(api.requests)[-1] == "b1"
            assert (lane_a.held, lane_b.held) == (3, 1)

            await run(api, site_a, site_b)
        assert labels(site_a.pages) == [f"a{n}" for n in range(1, 11)]
        assert labels(site_b.pages) == [f"b{n}" for n in range(1, 11)]


async def test_a_lane_cancelled_while_waiting_for_a_slot_takes_none() -> None:
    """Site b waits for a slot site a holds, and is cancelled meanwhile: it leaves holding nothing, requested nothing,
    and site a syncs on with the whole budget."""
    api, a, b = two_sites(6)
    budget = Budget(4)
    async with lane_of(budget) as lane_a:
        site_a = await holding_the_whole_budget(api, lane_a, a)
        async with budget.lane() as lane_b:
            site_b = Consumer(paginator(api, lane_b, start=b))
            site_b.ask()
            await settle()
            await site_b.stop()
            assert lane_b.held == 0
        assert lane_a.held == budget.total and await free_slots(budget) == 0  # no slot lost, none taken
        assert all(request.url.query["site"] == "a" for request in api.requests)
        await run(api, site_a)
        assert labels(site_a.pages) == [f"a{n}" for n in range(1, 7)]


def test_the_budgets_patience_follows_how_long_pages_take_lately() -> None:
    """On a slow API every request would count as waiting if patience were fixed: it is a few times the recent pages'
    median, so one stalled request among many quick ones does not move it, and a run of slow pages does."""
    budget = Budget(4)
    quick = budget.patience()
    for _ in range(40):
        budget.record_page_time(0.05)
    budget.record_page_time(600.0)
    assert budget.patience() == quick
    for _ in range(60):
        budget.record_page_time(3.0)
    assert budget.patience() > 3.0 * 2


async def test_a_request_outstanding_past_the_budgets_patience_lets_another_site_fetch(clock: FakeClock) -> None:
    """Budget(1): site a's request is outstanding and site b waits for the only slot. Once a's request has waited past
    the budget's patience, b's request starts; a's page, when it arrives, waits its turn for a place before it is
    handed on, so the budget still bounds the pages held."""
    api, a, b = two_sites(3)
    budget = Budget(1)
    async with budget.lane() as lane_a, budget.lane() as lane_b:
        site_a = Consumer(paginator(api, lane_a, start=a, prefetch=False))
        site_b = Consumer(paginator(api, lane_b, start=b, prefetch=False))
        site_a.ask()
        await settle()
        site_b.ask()
        await settle()
        assert labels(api.requests) == ["a1"]

        clock.now += PATIENCE_FLOOR_SECONDS
        await settle()
        assert labels(api.requests) == ["a1", "b1"]

        api.answer(api.request_for("a1"))
        await settle()
        assert site_a.waiting  # its page is in, but b holds the only place
        api.answer(api.request_for("b1"))
        await settle()
        assert site_b.received() == "b1"
        site_b.ask()  # b hands b1 on: its place goes to a, which was first in line
        await settle()
        assert site_a.received() == "a1"
        assert labels(api.requests) == ["a1", "b1"]  # b waits for a place for b2
        for site in (site_a, site_b):
            await site.stop()
    assert await free_slots(budget) == 1


# ------------------------------------------------------------------------------------- sites that wait beside others

HEALTHY_PAGES = 200  # 20 s alone, as a site of 200,000 locations at 1,000 a page


class Served:
    """A site of numbered pages with a links.last; every request takes LATENCY, except the first page's, which takes
    `first_wait` (a server that never answers, or a rate-limit storm ridden out by the client's retries)."""

    def __init__(self, site: str, pages: int, first_wait: float = 0.0) -> None:
        self.start = START.update_query(site=site)
        self._pages = pages
        self._first_wait = first_wait
        self.done_at: float | None = None

    async def fetch(self, url: URL) -> Page:
        number = page_number(url) or 1
        await asyncio.sleep(LATENCY + (self._first_wait if number == 1 else 0.0))
        links = {
            "next": str(with_page_number(self.start, number + 1)) if number < self._pages else None,
            "last": str(with_page_number(self.start, self._pages)),
        }
        return Page(site=url.query["site"], url=url, data=[number], links=links, size_bytes=1)


async def healthy_finish(clock: FakeClock, healthy: int, sick: list[float], *, total: int) -> float:
    """Fake seconds until `healthy` sites are synced on one Budget(`total`), beside sick sites (each waiting that long
    for its first page) that asked for their first page before them."""
    budget = Budget(total)
    start = clock.now
    sites = [Served(f"sick{n}", 3, wait) for n, wait in enumerate(sick)]
    sites += [Served(f"well{n}", HEALTHY_PAGES) for n in range(healthy)]

    async def one(site: Served) -> None:
        async with budget.lane() as lane:
            paginator = Paginator(site.fetch, lane, site.start, origin=ORIGIN, max_pages=1000, prefetch=total > 1)
            async for _ in paginator.pages():
                pass
        site.done_at = clock.now

    syncs = [asyncio.ensure_future(one(site)) for site in sites]
    await clock.run(asyncio.gather(*syncs[len(sick) :]))
    for sync in syncs[: len(sick)]:
        sync.cancel()
    await asyncio.gather(*syncs, return_exceptions=True)
    assert await free_slots(budget) == total
    return max(site.done_at or 0.0 for site in sites[len(sick) :]) - start


SICK = {"a server that never answers": 3600.0, "a 60 s rate-limit storm": 60.0}


@pytest.mark.parametrize("wait", SICK.values(), ids=SICK.keys())
async def test_healthy_sites_beside_as_many_waiting_sites_as_slots_finish_nearly_as_fast_as_alone(
    clock: FakeClock, wait: float
) -> None:
    """4 sites whose first page waits (a request outstanding for long, retries sleeping out a storm) and 4 healthy
    sites on a budget of 4: the waiting requests hand their places to the healthy sites, which finish within 1.25
    times their time alone."""
    alone = await healthy_finish(clock, 4, [], total=4)
    beside = await healthy_finish(clock, 4, [wait] * 4, total=4)

    assert alone == pytest.approx(HEALTHY_PAGES * LATENCY, rel=0.2)
    assert beside <= 1.25 * alone

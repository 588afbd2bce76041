"""The rules of pagination as pure functions: whether a page's next link is followed, and whether a page without
one is the end of its site. Each returns a verdict that says why; `pagination.py` acts on it and keeps the trail.

A next link that cannot be read, leads to another origin, endpoint or site (the key must not travel there), back to
a page already fetched, or past pages it would skip, is refused. A page without a next link is the end only when
nothing contradicts it: no links.last (its own or an earlier one) may announce more pages, and unless a links.last
says this very page is the last, the page after it (the next `page[number]`) must hold nothing new. An opaque cursor
cannot be derived, so with cursor links (or a lone first page without a number) the API's word is the only one.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import dataclass, replace

from yarl import URL

from .errors import LinkError
from .links import link_identity, page_number, resolve_link, same_endpoint, same_origin, with_page_number
from .page import EndNotBelieved, Page


@dataclass(frozen=True, slots=True)
class Trail:
    """What the site's earlier pages established. The rules only read it; the paginator extends it."""

    origin: URL  # base_url's: the only one the key travels to
    start: URL  # the site's first page (or saved cursor): links must stay on its endpoint, site and customer
    visited: Set[int]  # hashes of the link identities fetched or accepted so far
    announced: int | None = None  # the highest page number any links.last gave
    previous: URL | None = None  # the page whose accepted next link led to the one being judged


@dataclass(frozen=True, slots=True)
class Follow:
    """The next link is accepted: the page after this one is `url`."""

    url: URL


@dataclass(frozen=True, slots=True)
class Refuse:
    """The next link must not be followed."""

    reason: str


@dataclass(frozen=True, slots=True)
class Believe:
    """No next link, and nothing says the site goes on: this page is the last."""

    why: str


@dataclass(frozen=True, slots=True)
class Doubt:
    """No next link, but the API said elsewhere that the site goes on: rows would be lost."""

    end: EndNotBelieved


@dataclass(frozen=True, slots=True)
class AskFollowing:
    """No next link, and nothing proves this page is the last: the final outcome of the page at `url` decides."""

    url: URL


Verdict = Follow | Refuse | Believe | Doubt | AskFollowing


def judge_page(page: Page, trail: Trail) -> Verdict:
    """What to do after `page` (placed in the sync, with `pages_after` read from its links.last)."""
    try:
        next_url = resolve_link(page.url, page.links.get("next"))
    except LinkError as error:
        return Refuse(f"{where(page)}: links.next {error}")
    number = number_of(page.url, next_url)
    if next_url is None:
        return judge_end(page, number, trail)
    refusal = refusal_of(next_url, number, trail)
    return Follow(next_url) if refusal is None else Refuse(f"{where(page)}: {refusal}")


def placed(page: Page, sequence: int) -> Page:
    """The page with its place among the site's pages in this sync, and how many pages its links.last announces
    after it."""
    try:
        next_url = resolve_link(page.url, page.links.get("next"))
    except LinkError:
        next_url = None
    return replace(page, sequence=sequence, pages_after=pages_after(number_of(page.url, next_url), last_number(page)))


def number_of(url: URL, next_url: URL | None) -> int | None:
    """A page's number: in its URL, or (a first page asked for without one) one before its next link's."""
    own = page_number(url)
    if own is not None or next_url is None:
        return own
    following = page_number(next_url)
    return None if following is None else following - 1


def last_number(page: Page) -> int | None:
    """The page number of the page's links.last; None when it has none that reads as this endpoint's."""
    try:
        last = resolve_link(page.url, page.links.get("last"))
    except LinkError:
        return None
    if last is None or link_identity(last, ignore_number=True) != link_identity(page.url, ignore_number=True):
        return None
    return page_number(last)


def pages_after(number: int | None, last: int | None) -> int | None:
    """How many pages follow page `number` by links.last page `last`; a first page asked for without a number is 0
    or 1, so at least `last - 1` follow it."""
    if last is None:
        return None
    return max(0, last - 1) if number is None else max(0, last - number)


def refusal_of(url: URL, number: int | None, trail: Trail) -> str | None:
    """Why the next link `url` of page `number` must not be followed, or None."""
    if not same_origin(url, trail.origin):
        return (
            f"refusing to follow links.next to host {url.host}:{url.port}: it is not the origin of base_url "
            f"({trail.origin}), and the API key must not be sent there"
        )
    if not same_endpoint(url, trail.start):
        return f"refusing to follow links.next to {url}: it is not this site's locations endpoint"
    following = page_number(url)
    if hash(link_identity(url)) in trail.visited or (
        following is not None and number is not None and following <= number
    ):
        return f"pagination loop: links.next points back to {url}, which this sync already fetched"
    if following is not None and number is not None and following > number + 1:
        return f"links.next jumps from page {number} to page {following} ({url}): the pages between would be lost"
    return None


def judge_end(page: Page, number: int | None, trail: Trail) -> Believe | Doubt | AskFollowing:
    """A page without a next link: the end, unless a links.last announces more; asked about when nothing proves it."""
    if page.pages_after:
        return Doubt(not_believed(page, trail, f"its links.last announces {page.pages_after} more page(s)"))
    if number is not None and trail.announced is not None and trail.announced > number:
        reason = (
            f"an earlier links.last announced page {trail.announced}: pages may be missing (or the site shrank "
            "during the sync)"
        )
        return Doubt(not_believed(page, trail, reason))
    if page.pages_after == 0 or (number is not None and trail.announced == number):
        return Believe("links.last says it is the last page")
    if number is None:
        return Believe("no page number to ask the following page by: the API's links are its only word")
    return AskFollowing(with_page_number(page.url, number + 1))


def judge_following(page: Page, following: Page | None, trail: Trail) -> Believe | Doubt:
    """A page without a next link, by the final outcome of the page after it: None when the API refused that page
    (a 404 or 400 past the end). Only locations other than this page's prove the site goes on: some APIs answer
    any page past the end with the last one."""
    if following is None:
        return Believe("the API has no page after it")
    if not following.data or following.data == page.data:
        return Believe("the page after it holds no other locations")
    reason = f"{following.url}, the page after it, holds {len(following.data):,} other locations"
    return Doubt(not_believed(page, trail, reason))


def not_believed(page: Page, trail: Trail, why: str) -> EndNotBelieved:
    """The next sync reads again from the page before this one, so that this page is judged again with what the one
    before it announced, rather than as a first page whose end no one contradicts."""
    reason = f"{where(page)} has no links.next, but {why}: the site does not end here"
    if trail.previous is None:
        return EndNotBelieved(page.url, reason)
    return EndNotBelieved(trail.previous, reason + "; the next sync reads again from the page before it", rereads=2)


def where(page: Page) -> str:
    return f"page {page.sequence} ({page.url})"

"""The one record of a page, from the HTTP client to `op.upsert`, and how a site's sequence of pages ends.

The client fills in what the API sent; the paginator adds the page's place in the sync and the accepted next link;
the extractor adds the flattened rows and drops the raw locations. Each step returns a new `Page`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yarl import URL

from .flatten import FlatRows


@dataclass(frozen=True, slots=True)
class Page:
    site: str
    url: URL  # as requested, without the key
    data: list[Any]  # the locations as the API sent them; emptied once flattened
    links: dict[str, Any]  # the page's `links`, as sent (empty when it has none)
    size_bytes: int
    retries: int = 0  # the site's retries so far, when this page arrived
    sequence: int = 0  # 1-based position among this sync's pages of the site
    next_url: URL | None = None  # the accepted links.next: None on the last page
    pages_after: int | None = None  # how many pages links.last announces after this one, when it does
    rows: FlatRows = field(default_factory=FlatRows)


@dataclass(frozen=True, slots=True)
class Finished:
    """The last page had no links.next, and nothing the API said contradicts that it is the last."""


@dataclass(frozen=True, slots=True)
class StoppedAtMaxPages:
    next_url: URL  # where the next sync continues


@dataclass(frozen=True, slots=True)
class LinkRefused:
    """A page's next link could not be followed; its rows were handed on. A later sync reads `page_url` again."""

    page_url: URL
    reason: str


@dataclass(frozen=True, slots=True)
class EndNotBelieved:
    """A page without a next link is not the site's last: a links.last, or the page after it, says the site goes on.
    Its rows were handed on. A later sync reads again from `page_url`: that page, or the one before it (`rereads`
    2), so that the end is judged again in context."""

    page_url: URL
    reason: str
    rereads: int = 1


End = Finished | StoppedAtMaxPages | LinkRefused | EndNotBelieved

"""Which page a request asks for, and the JSON:API links of a page, as numbered pages or opaque cursors.

Inside the simulator a page is known by its 1-based position; `first_page_number` only changes what the API
writes (`page[number]` in requests and links, `meta.page` of link objects), so faults and records keep one meaning.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from .config import CURSOR, LINK_OBJECT, LinkStyle, SimulatorConfig

LOCATIONS_PATH = "/customer-api/v1/locations"
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 100


@dataclass(frozen=True)
class PageRequest:
    page: int  # 1-based position
    offset: int
    size: int
    cursor: bool


@dataclass(frozen=True)
class Link:
    href: str
    number: int  # the page[number] of the page it points to


def page_request(query: Mapping[str, str], config: SimulatorConfig) -> PageRequest | None:
    """The page `query` asks for, or None if its page[number], page[size] or cursor is not one the API accepts."""
    try:
        if "cursor" in query:
            offset, size = _decode_cursor(query["cursor"])
            cursor = True
        else:
            size = int(query.get("page[size]", DEFAULT_PAGE_SIZE))
            number = int(query.get("page[number]", config.first_page_number))
            offset = (number - config.first_page_number) * size
            cursor = config.pagination == CURSOR
    except (ValueError, binascii.Error):
        return None
    if not 1 <= size <= MAX_PAGE_SIZE or offset < 0:
        return None
    return PageRequest(offset // size + 1, offset, size, cursor)


def last_page(locations: int, size: int) -> int:
    return max(1, math.ceil(locations / size))


class Links:
    """The links of one site's pages as the API writes them: on `origin`, with the site, never with the key."""

    def __init__(self, origin: str, site: str, customer: str | None, config: SimulatorConfig) -> None:
        self.origin = origin
        self.site = site
        self.customer = customer
        self.config = config

    def of(self, target: PageRequest, locations: int) -> dict[str, Link | None]:
        size = target.size
        has_next = target.offset + size < locations
        if target.cursor:
            return {
                "first": self.cursor(0, size),
                "prev": self.cursor(target.offset - size, size) if target.offset else None,
                "next": self.cursor(target.offset + size, size) if has_next else None,
            }
        links = {
            "first": self.numbered(1, size),
            "prev": self.numbered(target.page - 1, size) if target.page > 1 else None,
            "next": self.numbered(target.page + 1, size) if has_next else None,
        }
        if self.config.include_last:
            links["last"] = self.numbered(last_page(locations, size), size)
        return links

    def numbered(self, page: int, size: int, origin: str | None = None) -> Link:
        number = self.number(page)
        return self._link({"page[number]": str(number), "page[size]": str(size)}, number, origin)

    def cursor(self, offset: int, size: int) -> Link:
        return self._link({"cursor": _encode_cursor(offset, size)}, self.number(offset // size + 1), None)

    def number(self, page: int) -> int:
        return page - 1 + self.config.first_page_number

    def _link(self, paging: dict[str, str], number: int, origin: str | None) -> Link:
        query = {"site": self.site}
        if self.customer is not None:
            query["customer"] = self.customer
        target = URL.build(path=LOCATIONS_PATH, query={**query, **paging})
        return Link(f"{(origin or self.origin).rstrip('/')}{target}", number)


def render(links: Mapping[str, Link | None], style: LinkStyle) -> dict[str, Any]:
    """`links` as JSON: URL strings, or link objects with the page number in `meta`."""
    if style == LINK_OBJECT:
        return {
            name: None if link is None else {"href": link.href, "meta": {"page": link.number}}
            for name, link in links.items()
        }
    return {name: None if link is None else link.href for name, link in links.items()}


def _encode_cursor(offset: int, size: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{offset}:{size}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    version, offset, size = text.split(":")
    if version != "v1":
        raise ValueError(cursor)
    return int(offset), int(size)

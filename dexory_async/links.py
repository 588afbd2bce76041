"""URLs of the locations endpoint: the first page, the key, origins and numbered pages.

URLs travel through the extractor *without* the API key; the client adds it only at request time, so a URL in a log
line, an exception or a checkpoint never carries it.
"""

from __future__ import annotations

from typing import Any

from yarl import URL

from .config import Settings

LOCATIONS_PATH = "customer-api/v1/locations"
KEY_PARAM = "api_key"
PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"


def first_page_url(settings: Settings) -> URL:
    query = {"site": settings.site_name, PAGE_SIZE: str(settings.page_size)}
    if settings.customer:
        query["customer"] = settings.customer
    return URL(settings.base_url).joinpath(*LOCATIONS_PATH.split("/")).with_query(query)


def with_key(url: URL, key: str) -> URL:
    """The URL to request: `api_key` added when the link does not carry it already."""
    return url if KEY_PARAM in url.query else url.update_query({KEY_PARAM: key})


def without_key(url: URL) -> URL:
    return url.without_query_params(KEY_PARAM) if KEY_PARAM in url.query else url


def same_origin(url: URL, origin: URL) -> bool:
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def resolve_link(page_url: URL, link: object) -> URL | None:
    """`links.next` as an absolute URL without the key, or None when there is no next page."""
    if not isinstance(link, str) or not link:
        return None
    url = URL(link)
    if not url.scheme:  # relative, or scheme-relative (`//host/path`)
        url = page_url.join(url)
    return without_key(url)


def link_identity(url: URL, *, ignore_number: bool = False) -> tuple[Any, ...]:
    """What makes two links the same request, whatever the order of their query parameters. A first page asked for
    by size alone is page 1, so a link back to `page[number]=1` is recognised as the page the sync started with."""
    query = [(key, value) for key, value in url.query.items() if not (ignore_number and key == PAGE_NUMBER)]
    if not ignore_number and PAGE_NUMBER not in url.query and PAGE_SIZE in url.query:
        query.append((PAGE_NUMBER, "1"))
    return url.scheme, url.host, url.port, url.path, tuple(sorted(query))


def page_number(url: URL) -> int | None:
    raw = url.query.get(PAGE_NUMBER)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        return None


def with_page_number(url: URL, number: int) -> URL:
    return url.update_query({PAGE_NUMBER: str(number)})

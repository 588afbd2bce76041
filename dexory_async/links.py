"""URLs of the locations endpoint: the first page, the key, origins, numbered pages and the API's links.

URLs travel through the extractor *without* the API key; the client adds it only at request time, so a URL in a log
line, an exception or a checkpoint never carries it.
"""

from __future__ import annotations

from typing import Any

from yarl import URL

from .config import API_PATH, Settings, Site
from .errors import LinkError
from .redaction import redact

LOCATIONS_PATH = f"{API_PATH}/locations"
KEY_PARAM = "api_key"
PAGE_NUMBER = "page[number]"
PAGE_SIZE = "page[size]"
SITE_PARAM = "site"
CUSTOMER_PARAM = "customer"


def first_page_url(settings: Settings, site: Site) -> URL:
    query = {SITE_PARAM: site.name, PAGE_SIZE: str(settings.page_size)}
    if settings.customer:
        query[CUSTOMER_PARAM] = settings.customer
    return URL(settings.base_url).joinpath(*LOCATIONS_PATH.split("/")).with_query(query)


def with_key(url: URL, key: str) -> URL:
    """The URL to request: this site's key, whatever key a link may have carried."""
    return url.update_query({KEY_PARAM: key})


def without_key(url: URL) -> URL:
    """`url` without any `api_key` parameter, whatever its letter case."""
    keys = {name for name in url.query if name.lower() == KEY_PARAM}
    return url.without_query_params(*keys) if keys else url


def same_origin(url: URL, origin: URL) -> bool:
    return (url.scheme, url.host, url.port) == (origin.scheme, origin.host, origin.port)


def same_endpoint(url: URL, other: URL) -> bool:
    """The same origin, path, site and customer: a link that keeps a site's key with that site's pages. Every value
    of a repeated parameter counts, so `site=a&site=b` is not site a."""
    same_site = all(url.query.getall(name, []) == other.query.getall(name, []) for name in (SITE_PARAM, CUSTOMER_PARAM))
    return same_origin(url, other) and url.path == other.path and same_site


def resolve_link(page_url: URL, link: object) -> URL | None:
    """A link of the page at `page_url` as an absolute URL without the key; None when the API says there is none.

    A link is a string or a JSON:API link object (`{"href": ..., "meta": ...}`); absent, null or an empty string
    (as some APIs write null) means no link. Anything else, or a URL that cannot be parsed, raises LinkError:
    guessing would end a sync early.
    """
    href = link.get("href") if isinstance(link, dict) else link
    if link is None or href == "":
        return None
    if not isinstance(href, str):
        raise LinkError(f"not a URL nor a link object with an href: {_shown(link)}")
    try:
        url = URL(href)
        if not url.scheme:  # relative, or scheme-relative (`//host/path`)
            url = page_url.join(url)
    except (ValueError, TypeError) as error:
        raise LinkError(f"{_shown(href)} is not a valid URL ({error})") from None
    if not url.host:
        raise LinkError(f"{_shown(href)} has no host")
    return without_key(url)


def _shown(value: object, limit: int = 200) -> str:
    """A link as a message may quote it: any key it carries masked, then cut."""
    text = redact(repr(value), secret="")
    return text if len(text) <= limit else text[:limit] + "…"


def link_identity(url: URL, *, ignore_number: bool = False) -> tuple[Any, ...]:
    """What makes two links the same request, whatever the order of their query parameters."""
    query = [(key, value) for key, value in url.query.items() if not (ignore_number and key == PAGE_NUMBER)]
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

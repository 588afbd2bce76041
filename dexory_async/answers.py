"""Reading an HTTP answer: a 200 as a page, anything else as the error it stands for.

Transient answers are retried by the client; the rest fail the site at once, each saying what to check.
"""

from __future__ import annotations

import codecs
import json
import logging
from typing import Any, TypedDict

import orjson
from yarl import URL

from .errors import (
    KeyRejected,
    NotAPage,
    PageRejected,
    RateLimited,
    Redirected,
    RequestError,
    RequestRefused,
    ServerError,
    SiteNotFound,
)
from .links import without_key
from .page import Page
from .retry import parse_retry_after
from .transport import Response

logger = logging.getLogger(__name__)


class _Where(TypedDict):
    url: URL
    status: int
    site: str


def error_for_status(response: Response, site: str, url: URL, shown: str, *, first_page: bool) -> RequestError:
    """The error an answer other than 200 stands for; `shown` is the start of its body, already masked.

    Only a 404 on a site's first page means the site is unknown; on a later page it means that page is gone."""
    status = response.status
    where = _Where(url=url, status=status, site=site)
    retry_after = parse_retry_after(response.header("Retry-After"))
    if status == 429:
        return RateLimited("HTTP 429 Too Many Requests", retry_after=retry_after, **where)
    if status >= 500 or status == 408:
        return ServerError(f"HTTP {status} from the server{_quoted(shown)}", retry_after=retry_after, **where)
    if status in (401, 403):
        return KeyRejected(f"the API key was rejected for site {site!r} (HTTP {status}): check site_api_key", **where)
    if status == 404 and first_page:
        message = f"site {site!r} not found (HTTP 404): check site_name (and customer, base_url)"
        return SiteNotFound(message, **where)
    if 300 <= status < 400:
        return Redirected(_redirect_message(response, url), **where)
    if first_page:
        return RequestRefused(f"HTTP {status} from the API for the first page of site {site!r}: {shown}", **where)
    return PageRejected(f"the API refused page {url} of site {site!r} (HTTP {status}): {shown}", **where)


def _quoted(shown: str) -> str:
    return f": {shown}" if shown.strip() else ""


def _redirect_message(response: Response, url: URL) -> str:
    """Where a redirect leads, by host only: its query could carry the key back."""
    try:
        target = url.join(URL(response.header("Location") or ""))
    except (ValueError, TypeError):
        target = None
    host = f"host {target.host}" if target is not None and target.host else "an unreadable location"
    return (
        f"{url} redirects (HTTP {response.status}) to {host}; redirects are not followed, so the key is sent "
        "nowhere but base_url: set base_url to where the API now lives"
    )


def parse_page(site: str, url: URL, body: bytes) -> Page:
    """A 200 answer as a page; a body that is not JSON or has no `data` list is transient (a proxy's error page)."""
    body = body.removeprefix(codecs.BOM_UTF8)  # JSON forbids it, some servers send it anyway
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = _with_unpaired_surrogates_replaced(site, url, body)
    if not isinstance(document, dict) or not isinstance(document.get("data"), list):
        raise NotAPage("response has no `data` list", url=without_key(url), status=200, site=site)
    links = document.get("links")
    return Page(site, url, document["data"], links if isinstance(links, dict) else {}, len(body))


def _with_unpaired_surrogates_replaced(site: str, url: URL, body: bytes) -> Any:
    """JSON that orjson refuses only because a string escapes half a UTF-16 pair (`"\\ud800"`): the standard library
    reads it, and the half, which no warehouse can store, is replaced by U+FFFD. Anything else is not JSON."""
    try:
        document = json.loads(body, parse_int=_as_orjson_reads_it, parse_constant=_not_json)
    except (ValueError, RecursionError):
        message = f"response body is not valid JSON ({len(body)} bytes)"
        raise NotAPage(message, url=without_key(url), status=200, site=site) from None
    logger.warning("site %r: %s has strings that are not valid Unicode; kept with U+FFFD in their place", site, url)
    return _valid_unicode(document)


def _as_orjson_reads_it(text: str) -> int | float:
    """An integer beyond 64 bits becomes a float, as orjson (and the SDK, for an inferred column) makes it."""
    number = int(text)
    return number if -(2**63) <= number < 2**64 else float(text)


def _not_json(text: str) -> Any:
    raise ValueError(f"{text} is not JSON")


def _valid_unicode(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_valid_unicode(item) for item in value]
    if isinstance(value, dict):
        return {_valid_unicode(key): _valid_unicode(item) for key, item in value.items()}
    return value

"""The failures a sync can end with, one class per kind, each worded for the person who has to act on it.

    DexoryError
    ├── ConfigurationError          a setting is missing or malformed: nothing was requested
    ├── RequestError                one request of one site (.site, .url without the key, .status when answered)
    │   ├── TransientError          worth retrying (.retry_after: the server's requested wait, if it gave one)
    │   │   ├── RateLimited         429
    │   │   ├── ServerError         5xx, 408: with a short masked excerpt of the server's body
    │   │   ├── TimedOut            no answer within request_timeout_seconds
    │   │   ├── ConnectionFailed    refused, reset, DNS: the network, not the API
    │   │   └── NotAPage            a 200 whose body is not a page (a proxy's error page, a truncated body)
    │   └── RequestRefused          permanent: retrying cannot help
    │       ├── KeyRejected         401, 403
    │       ├── SiteNotFound        404 on a site's first page
    │       ├── PageRejected        another 4xx, on a page other than the first (a saved cursor gone, say)
    │       ├── Redirected          3xx: redirects are not followed, so the key stays with base_url's host
    │       ├── ResponseTooLarge    a body past its bound, gzip bombs included
    │       └── TLSFailed           a certificate or TLS handshake failure
    ├── RetriesExhausted            the last retry failed too (.last_error: the TransientError)
    ├── LinkError                   a link in a page's `links` that cannot be read as a URL
    ├── SitesFailed                 one or more sites failed; the others were synced
    └── Interrupted                 SIGINT or SIGTERM: progress was saved

The aiohttp transport is the only place that turns a library's exception into one of these.
"""

from __future__ import annotations

from yarl import URL


class DexoryError(Exception):
    """Base of every error the connector raises on purpose."""


class ConfigurationError(DexoryError, ValueError):
    """One or more configuration values are missing or malformed; the message lists every one."""


class RequestError(DexoryError):
    """One request's failure. The transport knows the URL and the status; the client adds the site."""

    def __init__(self, message: str, *, url: URL | None = None, status: int | None = None, site: str = "") -> None:
        super().__init__(message)
        self.url = url  # never with the key
        self.status = status
        self.site = site


class TransientError(RequestError):
    def __init__(
        self,
        message: str,
        *,
        url: URL | None = None,
        status: int | None = None,
        site: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, url=url, status=status, site=site)
        self.retry_after = retry_after


class RateLimited(TransientError):
    """429: the API asks the key's requests to slow down."""


class ServerError(TransientError):
    """5xx or 408."""


class TimedOut(TransientError):
    """The server did not answer within the request timeout."""


class ConnectionFailed(TransientError):
    """The connection could not be made or was lost."""


class NotAPage(TransientError):
    """A 200 whose body is not a page: not JSON, or without a `data` list."""


class RequestRefused(RequestError):
    """A permanent failure: any other non-retryable answer."""


class KeyRejected(RequestRefused):
    """401/403: permanent until someone changes the key."""


class SiteNotFound(RequestRefused):
    """404 on a site's first page: the site name (or customer, base_url) is wrong."""


class PageRejected(RequestRefused):
    """A permanent 4xx for a page other than a site's first."""


class Redirected(RequestRefused):
    """A 3xx, not followed: the key must not travel to another host."""


class ResponseTooLarge(RequestRefused):
    """A body larger than the bound for its page size, counted as it inflates."""


class TLSFailed(RequestRefused):
    """The TLS handshake failed (an untrusted or expired certificate, say): retrying cannot fix it."""


class RetriesExhausted(DexoryError):
    """The last of `max_retries` retries failed; the message carries the last cause, `last_error` the error."""

    def __init__(self, message: str, *, last_error: TransientError) -> None:
        super().__init__(message)
        self.last_error = last_error


class LinkError(DexoryError):
    """A link in a page's `links` that is present but cannot be understood as a URL."""


class SitesFailed(DexoryError):
    """One or more sites failed; the others were synced. The message names each failed site and its cause."""


class Interrupted(DexoryError):
    """The sync was stopped by a signal; what it had synced is saved, and the next sync resumes from there."""

"""The failures a sync can end with, each worded for the person who has to act on it."""

from __future__ import annotations


class DexoryError(Exception):
    """Base of every error the extractor raises on purpose."""


class ApiKeyRejected(DexoryError):
    """401/403: permanent until someone changes the key."""


class SiteNotFound(DexoryError):
    """404 on a site's first page: the site name is wrong."""


class RequestFailed(DexoryError):
    """Any other non-retryable answer (4xx, redirect)."""


class PageRejected(RequestFailed):
    """A permanent 4xx for a page other than a site's first: a saved cursor the API no longer serves, say."""


class TransientError(DexoryError):
    """A failure worth retrying; `retry_after` is the server's requested wait, in seconds, if it gave one."""

    def __init__(
        self, message: str, *, retry_after: float | None = None, rate_limited: bool = False, timed_out: bool = False
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.rate_limited = rate_limited
        self.timed_out = timed_out


class RetriesExhausted(DexoryError):
    """The last of `max_retries` retries failed; the message carries the last cause, `last_error` the error."""

    def __init__(self, message: str, *, last_error: TransientError) -> None:
        super().__init__(message)
        self.last_error = last_error


class LinkError(DexoryError):
    """A link in a page's `links` that is present but cannot be understood as a URL."""


class SitesFailed(DexoryError):
    """One or more sites failed; the others were synced. The message names each failed site and its cause."""

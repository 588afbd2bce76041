"""The failures a sync can end with, each worded for the person who has to act on it."""

from __future__ import annotations


class DexoryError(Exception):
    """Base of every error the extractor raises on purpose."""


class ApiKeyRejected(DexoryError):
    """401/403: permanent until someone changes the key."""


class SiteNotFound(DexoryError):
    """404 on the locations endpoint: the site name is wrong."""


class RequestFailed(DexoryError):
    """Any other non-retryable answer (4xx, redirect)."""


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


class PaginationError(DexoryError):
    """A `links.next` the connector refuses to follow (other origin, or a page already visited).

    `resume_url` is the page whose link was refused: a later sync re-reads it rather than trusting the link.
    """

    def __init__(self, message: str, *, resume_url: str) -> None:
        super().__init__(message)
        self.resume_url = resume_url

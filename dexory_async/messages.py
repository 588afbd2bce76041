"""What crosses the thread boundary, from the extractor's loop to the calling thread, and where each site starts.

Plain records, free of any I/O library, so the calling thread's bookkeeping (the ledger) imports nothing of the
network.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from yarl import URL

from .delivered import Earlier
from .errors import DexoryError
from .page import End, Page


@dataclass(frozen=True, slots=True)
class SiteStart:
    """Where a site's fetching begins in this sync, and the sync round its rows belong to."""

    url: URL
    resumed: bool  # `url` is a saved cursor, not the first page
    round_started_at: datetime
    earlier: Earlier = field(default_factory=Earlier)  # what the round's earlier syncs delivered


@dataclass(frozen=True, slots=True)
class Failed:
    error: DexoryError


@dataclass(slots=True)
class RequestCounters:
    """A site's requests so far, counted by its client as they happen."""

    requests: int = 0
    retries: int = 0
    bytes_received: int = 0


@dataclass(frozen=True, slots=True)
class SiteEnded:
    site: str
    end: End | Failed
    requests: RequestCounters
    lowest_concurrency: int  # what rate limiting lowered the site's share to, at worst


@dataclass(frozen=True, slots=True)
class StartedOver:
    """The saved cursor of `site` was refused by the API for good; the site is synced from its first page."""

    site: str
    reason: str


Item = Page | SiteEnded | StartedOver

"""Counting a sync as it goes: per-site and total progress lines, skipped records, and the final summary."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .messages import RequestCounters
from .page import Page

logger = logging.getLogger(__name__)

SKIPS_LOGGED_PER_KIND = 5
DUPLICATES_LOGGED = 5
STATE_COUNTS = ("pages", "locations", "objects", "skipped_records", "duplicate_keys")  # per page, over the round
RETRIES = "retries"  # over the round: this sync's, plus what earlier syncs of the round counted


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


@dataclass
class SiteProgress:
    """One site's running totals; the STATE_COUNTS and the retries carry over from a checkpoint on a resume, so they
    cover the site's whole round."""

    site: str
    pages: int = 0
    locations: int = 0
    objects: int = 0
    skipped_records: int = 0
    duplicate_keys: int = 0
    retries_before: int = 0  # in earlier syncs of the round
    skipped: Counter[str] = field(default_factory=Counter)
    pages_this_run: int = 0
    rows_this_run: int = 0
    total_pages: int | None = None
    retries: int = 0
    requests: RequestCounters | None = None  # once the site has ended
    throttled_to: int | None = None  # the lowest concurrency rate limiting brought the site to, if it did
    _recent: tuple[tuple[int, ...], ...] = ()  # the STATE_COUNTS of the last two pages added

    @classmethod
    def resumed_from(cls, site: str, counts: Mapping[str, Any]) -> SiteProgress:
        carried = {key: counts[key] for key in STATE_COUNTS if type(counts.get(key)) is int}
        retries = counts.get(RETRIES)
        return cls(site, **carried, retries_before=retries if type(retries) is int else 0)

    @property
    def round_retries(self) -> int:
        return self.retries_before + self.retries

    def state_counts(self, *, rereads: int = 0) -> dict[str, int]:
        """The counts a checkpoint keeps, less the last `rereads` pages (0 to 2), which the next sync reads again."""
        counts = {key: getattr(self, key) for key in STATE_COUNTS}
        for page in self._recent[len(self._recent) - rereads :] if rereads else ():
            for key, value in zip(STATE_COUNTS, page, strict=True):
                counts[key] -= value
        return {**counts, RETRIES: self.round_retries}

    def add(self, page: Page) -> None:
        rows = page.rows
        locations, objects = len(rows.locations), len(rows.objects)
        self._recent = (*self._recent[-1:], (1, locations, objects, len(rows.skipped), len(rows.duplicates)))
        self.pages += 1
        self.pages_this_run += 1
        self.locations += locations
        self.objects += objects
        self.skipped_records += len(rows.skipped)
        self.rows_this_run += locations + objects
        self.retries = page.retries
        for duplicate in rows.duplicates:
            self.duplicate_keys += 1
            if self.duplicate_keys <= DUPLICATES_LOGGED:
                logger.warning(
                    "site %r page %d: a location key delivered again in this sync; the later copy is current: %s",
                    self.site,
                    self.pages,
                    duplicate,
                )
        if page.pages_after is not None:
            self.total_pages = self.pages + page.pages_after
        for skip in page.rows.skipped:
            self.skipped[skip.kind] += 1
            if self.skipped[skip.kind] <= SKIPS_LOGGED_PER_KIND:
                logger.warning(
                    "site %r page %d: skipped a record (%s): %s", self.site, self.pages, skip.kind, skip.detail
                )
                if self.skipped[skip.kind] == SKIPS_LOGGED_PER_KIND:
                    logger.warning("site %r: further %s skips are counted, not logged", self.site, skip.kind)

    def start_over(self) -> None:
        """The site is read again from its first page: what a saved cursor had counted no longer holds."""
        self.pages = self.locations = self.objects = self.skipped_records = self.duplicate_keys = 0
        self.total_pages = None
        self._recent = ()

    def line(self, elapsed: float) -> str:
        done = f"site {self.site!r}: page {self.pages:,}"
        if self.total_pages:
            share = 100 * self.pages / self.total_pages
            remaining = (self.total_pages - self.pages) * elapsed / max(self.pages_this_run, 1)
            done += f" of {self.total_pages:,} ({share:.1f}%, ETA {_duration(remaining)})"
        return f"{done}: {self.locations:,} locations, {self.objects:,} objects, {self.retries:,} retries"


@dataclass
class SyncProgress:
    sites: dict[str, SiteProgress]
    started: float = field(default_factory=time.monotonic)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def rows_this_run(self) -> int:
        return sum(site.rows_this_run for site in self.sites.values())

    def total_line(self) -> str:
        sites = self.sites.values()
        pages, locations, objects = (
            sum(getattr(site, key) for site in sites) for key in ("pages", "locations", "objects")
        )
        rate = self.rows_this_run / self.elapsed
        return f"all sites: {pages:,} pages, {locations:,} locations, {objects:,} objects, {rate:,.0f} rows/s"

    def summary(self, outcomes: Mapping[str, str]) -> str:
        """The closing report: each site's pages, rows, requests and how it ended, then the totals."""
        lines = ["sync summary"]
        for name, site in self.sites.items():
            pages = f"{site.pages:,}" + (f" of {site.total_pages:,}" if site.total_pages else "")
            lines.append(f"  site {name!r}: {outcomes.get(name, 'not synced')}")
            lines.append(f"    pages:    {pages}")
            lines.append(f"    rows:     locations {site.locations:,}, expected_inventory_objects {site.objects:,}")
            skipped = ", ".join(f"{kind} {count:,}" for kind, count in sorted(site.skipped.items())) or "none"
            lines.append(f"    skipped:  {skipped}")
            if site.duplicate_keys:
                lines.append(f"    duplicate location keys: {site.duplicate_keys:,} (each later copy is current)")
            if site.requests is not None:
                requests = site.requests
                lines.append(
                    f"    requests: {requests.requests:,} ({requests.retries:,} retries, "
                    f"{requests.bytes_received / 1e6:,.1f} MB)"
                )
            if site.throttled_to is not None:
                lines.append(f"    throttled: rate limiting lowered concurrency to {site.throttled_to} at worst")
        lines.append(f"  {self.total_line()}")
        lines.append(f"  elapsed:  {_duration(self.elapsed)} ({self.rows_this_run / self.elapsed:,.0f} rows/s)")
        return "\n".join(lines)

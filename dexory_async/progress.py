"""Counting a sync as it goes: per-site and total progress lines, skipped records, and the final summary.

Lines are written for whoever is on call: each running site reports every few pages and at least every half
minute (a stalled site too), says when its pace drops sharply, and says when it ends, with its duration. A resumed
site's pages, rows, skipped records and retries count its whole round (they carry over in state); everything else
counts this sync, and the lines say which is which.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .messages import RequestCounters
from .page import Page

logger = logging.getLogger(__name__)

SKIPS_LOGGED_PER_KIND = 5
DUPLICATES_LOGGED = 5
STATE_COUNTS = ("pages", "locations", "objects", "skipped_records", "duplicate_keys")  # per page, over the round
RETRIES = "retries"  # over the round: this sync's, plus what earlier syncs of the round counted
REPORT_EVERY_PAGES = 10
REPORT_EVERY_SECONDS = 30.0
SLOWDOWN = 3.0  # a site's pace over a report interval below 1/SLOWDOWN of its pace before it is a drop
SLOWDOWN_MIN_PAGES = 3  # fewer pages so far make no pace to compare with


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
    locations_this_run: int = 0
    objects_this_run: int = 0
    total_pages: int | None = None
    retries: int = 0
    requests: RequestCounters | None = None  # once the site has ended
    throttled_to: int | None = None  # the lowest concurrency rate limiting brought the site to, if it did
    started_at: float | None = None  # monotonic seconds; the sync's start, for every site it fetches
    ended_at: float | None = None
    _recent: tuple[tuple[int, ...], ...] = ()  # the STATE_COUNTS of the last two pages added
    _reported: tuple[float, int] | None = None  # when the last progress line was written, and pages_this_run then
    _slowed: bool = False  # a drop in pace was reported and the site has not recovered since

    @classmethod
    def resumed_from(cls, site: str, counts: Mapping[str, Any]) -> SiteProgress:
        carried = {key: counts[key] for key in STATE_COUNTS if type(counts.get(key)) is int}
        retries = counts.get(RETRIES)
        return cls(site, **carried, retries_before=retries if type(retries) is int else 0)

    @property
    def round_retries(self) -> int:
        return self.retries_before + self.retries

    @property
    def rows_this_run(self) -> int:
        return self.locations_this_run + self.objects_this_run

    @property
    def resumed(self) -> bool:
        """Pages from earlier syncs of this round are in the counts."""
        return self.pages > self.pages_this_run

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
        self.locations_this_run += locations
        self.objects_this_run += objects
        self.skipped_records += len(rows.skipped)
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
        """Where the site stands, `elapsed` seconds into this sync."""
        if not self.pages_this_run:
            return f"site {self.site!r}: waiting for its first page of this sync, {_duration(elapsed)} in"
        done = f"site {self.site!r}: page {self.pages:,}"
        if self.total_pages:
            share = 100 * self.pages / self.total_pages
            remaining = (self.total_pages - self.pages) * elapsed / max(self.pages_this_run, 1)
            done += f" of {self.total_pages:,} ({share:.1f}%, ETA {_duration(remaining)})"
        return f"{done}: {self.locations:,} locations, {self.objects:,} objects, {self.retries:,} retries"

    def report_due(self, now: float) -> bool:
        """The first page of this sync, every few pages, and at least every half minute while the site runs."""
        if self._reported is None:
            return self.pages_this_run > 0 or now - (self.started_at or now) >= REPORT_EVERY_SECONDS
        when, pages = self._reported
        return self.pages_this_run - pages >= REPORT_EVERY_PAGES or now - when >= REPORT_EVERY_SECONDS

    def note_pace(self, now: float) -> str | None:
        """Take note of the pace since the last report; a warning when it fell sharply below the site's pace before
        it in this sync, once per drop: the site must recover to half its pace before another drop is reported."""
        if self._reported is None or self.started_at is None:
            return None
        when, pages = self._reported
        interval, before = now - when, when - self.started_at
        if interval <= 0 or before <= 0 or pages < SLOWDOWN_MIN_PAGES:
            return None
        recent, overall = 60 * (self.pages_this_run - pages) / interval, 60 * pages / before
        if recent >= overall / 2:
            self._slowed = False
        if self._slowed or recent >= overall / SLOWDOWN or interval < REPORT_EVERY_SECONDS:
            return None
        self._slowed = True
        return (
            f"site {self.site!r} slowed down: {recent:,.1f} pages/min over the last {_duration(interval)}, against "
            f"{overall:,.1f} pages/min before in this sync ({self.retries:,} retries so far); the API is slow to "
            "answer, rate limiting, or stalled"
        )

    def reported(self, now: float) -> None:
        self._reported = (now, self.pages_this_run)

    def ended_line(self, outcome: str) -> str:
        """How the site ended: its duration and what it delivered in this sync (and in its round, if resumed)."""
        took = _duration((self.ended_at or 0.0) - (self.started_at or 0.0))
        line = (
            f"site {self.site!r} {outcome} in {took}: {self.pages_this_run:,} pages, "
            f"{self.locations_this_run:,} locations, {self.objects_this_run:,} objects"
        )
        if self.resumed:
            line += (
                f" in this sync; {self.pages:,} pages, {self.locations:,} locations, {self.objects:,} objects in its "
                "round, resumed from earlier syncs"
            )
        return line


@dataclass
class SyncProgress:
    sites: dict[str, SiteProgress]
    started: float = field(default_factory=lambda: time.monotonic())  # looked up when called: a test's clock

    def __post_init__(self) -> None:
        for site in self.sites.values():
            site.started_at = self.started if site.started_at is None else site.started_at

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    @property
    def rows_this_run(self) -> int:
        return sum(site.rows_this_run for site in self.sites.values())

    def page_added(self, name: str) -> None:
        """Report a site after a page of it was upserted, when a report is due."""
        site = self.sites[name]
        if site.report_due(time.monotonic()):
            self._report(site)
            if len(self.sites) > 1:
                logger.info(self.total_line())

    def tick(self, running: Iterable[str]) -> None:
        """Report each running site that has been quiet for too long: a stalled site shows as one."""
        now = time.monotonic()
        for site in (self.sites[name] for name in running):
            if site.report_due(now):
                self._report(site)

    def _report(self, site: SiteProgress) -> None:
        now = time.monotonic()
        logger.info(site.line(now - self.started))
        warning = site.note_pace(now)
        if warning is not None:
            logger.warning(warning)
        site.reported(now)

    def site_ended(self, name: str) -> None:
        self.sites[name].ended_at = time.monotonic()

    def total_line(self) -> str:
        sites = self.sites.values()
        pages, locations, objects = (
            sum(getattr(site, key) for site in sites) for key in ("pages", "locations", "objects")
        )
        rate = self.rows_this_run / self.elapsed
        round_ = " in this round" if any(site.resumed for site in sites) else ""
        return (
            f"all sites: {pages:,} pages, {locations:,} locations, {objects:,} objects{round_}; "
            f"{self.rows_this_run:,} rows in this sync, {rate:,.0f} rows/s"
        )

    def summary(self, outcomes: Mapping[str, str]) -> str:
        """The closing report: each site's pages, rows, requests, duration and how it ended, then the totals."""
        lines = ["sync summary"]
        if any(site.resumed for site in self.sites.values()):
            lines.append(
                "  (a resumed site's pages, rows, skipped records and retries count its whole round, earlier syncs "
                "included; requests and durations count this sync)"
            )
        for name, site in self.sites.items():
            lines.append(f"  site {name!r}: {outcomes.get(name, 'not synced')}")
            lines.extend(f"    {line}" for line in _site_summary(site))
        lines.append(f"  {self.total_line()}")
        lines.append(f"  elapsed:  {_duration(self.elapsed)} ({self.rows_this_run / self.elapsed:,.0f} rows/s)")
        return "\n".join(lines)


def _site_summary(site: SiteProgress) -> list[str]:
    this_sync = " in this sync" if site.resumed else ""
    pages = f"{site.pages:,}" + (f" of {site.total_pages:,}" if site.total_pages else "")
    rows = f"locations {site.locations:,}, expected_inventory_objects {site.objects:,}"
    if site.resumed:
        pages += f" in this round, {site.pages_this_run:,} in this sync"
        rows += (
            f" in this round; locations {site.locations_this_run:,}, expected_inventory_objects "
            f"{site.objects_this_run:,} in this sync"
        )
    skipped = ", ".join(f"{kind} {count:,}" for kind, count in sorted(site.skipped.items())) or "none"
    if site.resumed:
        skipped += f" in this sync; {site.skipped_records:,} in this round"
    lines = [f"pages:    {pages}", f"rows:     {rows}", f"skipped:  {skipped}"]
    if site.duplicate_keys:
        lines.append(f"duplicate location keys: {site.duplicate_keys:,} (each later copy is current)")
    if site.requests is not None:
        requests = site.requests
        retries = f"{requests.retries:,} retries" + (f", {site.round_retries:,} in this round" if site.resumed else "")
        lines.append(f"requests: {requests.requests:,}{this_sync} ({retries}, {requests.bytes_received / 1e6:,.1f} MB)")
    if site.ended_at is not None and site.started_at is not None:
        lines.append(f"duration: {_duration(site.ended_at - site.started_at)}{this_sync}")
    if site.throttled_to is not None:
        lines.append(f"throttled: rate limiting lowered concurrency to {site.throttled_to} at worst")
    return lines

"""Where each site of a sync stands: its cursor, its counts, and how it ended.

Pure bookkeeping on the calling thread, fed with what the extractor hands on after its rows are upserted:
`connector.py` turns it into checkpoints and the closing error, and a test can drive it page by page.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from .config import Settings, Site
from .delivered import Earlier, KeyFilter, location_key
from .errors import SitesFailed
from .flatten import Row
from .hints import configuration_hints
from .links import first_page_url
from .messages import Failed, Item, SiteEnded, SiteStart
from .page import End, EndNotBelieved, Finished, LinkRefused, Page, StoppedAtMaxPages
from .progress import SiteProgress, SyncProgress
from .redaction import redact_all
from .state import Abandoned, SiteResume, checkpoint_state, finished_state, resume_plan, site_entry
from .tables import ROUND_STARTED_AT, SITE

RUNNING, COMPLETE, FAILED = "running", "complete", "failed"

logger = logging.getLogger(__name__)


@dataclass
class SiteLedger:
    progress: SiteProgress
    round_started_at: datetime
    endpoint: URL  # the site's first page: where a finished mark holds
    keys: list[str]  # every configured key, masked wherever this site's cursor or error is written
    cursor: URL | None  # the next page to fetch once every row so far is upserted; None: the site's first page
    finished_earlier: bool = False  # in an earlier sync of this round: not fetched in this one
    rereads: int = 0  # pages the next sync reads again: the last one had no next link (until the end says why), or
    # the site's end was not believed
    end: End | Failed | None = None  # how the site ended in this sync; None while it runs
    ended_at: datetime | None = None
    delivered: KeyFilter = field(default_factory=KeyFilter)  # the keys the round delivered, once upserted
    widest: int = 0  # the round's longest object list

    @property
    def finished(self) -> bool:
        return self.finished_earlier or isinstance(self.end, Finished)

    @property
    def failure(self) -> str | None:
        if isinstance(self.end, LinkRefused | EndNotBelieved):
            return self.end.reason
        return str(self.end.error) if isinstance(self.end, Failed) else None

    def upserted(self, page: Page) -> None:
        # A page without a next link may be the site's last, or one whose link was refused: until the site's end
        # says which, a checkpoint makes the next sync read it again rather than start the site over.
        self.cursor = page.url if page.next_url is None else page.next_url
        self.rereads = 1 if page.next_url is None else 0
        self.progress.add(page)
        for row in page.rows.locations:
            self.delivered.add(location_key(row))
        self.widest = max(self.widest, page.rows.widest)

    def ended(self, ended: SiteEnded, concurrency: int, at: datetime) -> None:
        self.end = end = ended.end
        self.ended_at = at
        self.progress.requests = ended.requests
        if ended.lowest_concurrency < concurrency:
            self.progress.throttled_to = ended.lowest_concurrency
        if isinstance(end, Finished):
            self.rereads = 0
        elif isinstance(end, StoppedAtMaxPages):
            self.cursor = end.next_url
        elif isinstance(end, LinkRefused):  # nothing after a refused link is trusted: read its page again
            self.cursor, self.rereads = end.page_url, 1
        elif isinstance(end, EndNotBelieved):  # read again from where it says, to judge the end in context
            self.cursor, self.rereads = end.page_url, end.rereads

    def started_over(self) -> None:
        """The saved cursor stays until the first page is upserted: if the API is down rather than the page gone,
        the next sync still resumes there."""
        self.progress.start_over()

    def entry(self) -> dict[str, Any]:
        counts = self.progress.state_counts(rereads=self.rereads)
        finished_at = self.endpoint if self.finished else None
        delivered = (self.delivered, self.widest)
        return site_entry(
            self.round_started_at, self.cursor, counts, self.keys, finished_at=finished_at, delivered=delivered
        )

    def round_row(self) -> Row:
        """The site's row of `site_rounds`: its round as it stands, with the error of a failed one (keys masked)."""
        progress = self.progress
        failure = self.failure
        status = FAILED if failure is not None else COMPLETE if isinstance(self.end, Finished) else RUNNING
        return {
            SITE: progress.site,
            ROUND_STARTED_AT: self.round_started_at,
            "status": status,
            "finished_at": self.ended_at if status != RUNNING else None,
            **progress.state_counts(),  # the round's pages, locations, objects, skipped records, duplicates, retries
            "error": None if failure is None else redact_all(failure, self.keys),
        }

    def outcome(self, max_pages: int) -> str:
        end = self.end
        if self.failure is not None:
            return f"FAILED: {self.failure}"
        if isinstance(end, StoppedAtMaxPages):
            return f"stopped at max_pages ({max_pages:,}); continues next sync"
        if isinstance(end, Finished):
            return "finished"
        return "finished in an earlier sync" if self.finished_earlier else "not synced"


def _site_ledger(settings: Settings, site: Site, resume: SiteResume, keys: list[str]) -> SiteLedger:
    """A site's ledger; a resumed round goes on from the keys its earlier syncs delivered (a copy: the extractor
    reads the saved ones on its own thread)."""
    start = resume.start
    earlier = Earlier() if start is None else start.earlier
    return SiteLedger(
        SiteProgress.resumed_from(site.name, resume.counts),
        round_started_at=resume.round_started_at,
        endpoint=first_page_url(settings, site),
        keys=keys,
        cursor=start.url if start is not None and start.resumed else None,
        finished_earlier=start is None,
        delivered=copy.deepcopy(earlier.keys) if earlier.keys is not None else KeyFilter(),
        widest=earlier.widest,
    )


def _abandoned_row(site: str, abandoned: Abandoned, now: datetime) -> Row:
    return {
        SITE: site,
        ROUND_STARTED_AT: abandoned.started,
        "status": FAILED,
        "finished_at": now,
        **SiteProgress.resumed_from(site, abandoned.counts).state_counts(),
        "error": f"abandoned: {abandoned.reason}; a new round started",
    }


class SyncLedger:
    def __init__(
        self,
        settings: Settings,
        state: Mapping[str, Any],
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.settings = settings
        self._now = now
        self._keys = [site.api_key for site in settings.sites]
        plan = resume_plan(settings, state, now)
        self._starts = {name: site.start for name, site in plan.items() if site.start is not None}
        self._abandoned = {name: site.abandoned for name, site in plan.items() if site.abandoned is not None}
        self.sites = {site.name: _site_ledger(settings, site, plan[site.name], self._keys) for site in settings.sites}
        self.progress = SyncProgress({name: site.progress for name, site in self.sites.items()})

    def starts(self) -> dict[str, SiteStart]:
        """Where each site that is fetched in this sync begins."""
        return dict(self._starts)

    def round_rows(self) -> list[Row]:
        """The `site_rounds` rows of the sites fetched in this sync, as their rounds start (or resume), after those
        of rounds this sync abandons (they stay failed, not running for ever)."""
        now = self._now()
        abandoned = [_abandoned_row(name, round_, now) for name, round_ in self._abandoned.items()]
        return [*abandoned, *(self.sites[name].round_row() for name in self._starts)]

    def record(self, item: Item) -> Row | None:
        """Take note of what the extractor handed on, a page only once its rows are upserted; when a site ended,
        its `site_rounds` row to write."""
        site = self.sites[item.site]
        if isinstance(item, Page):
            site.upserted(item)
            self.progress.page_added(item.site)
        elif isinstance(item, SiteEnded):
            site.ended(item, self.settings.concurrency, self._now())
            self.progress.site_ended(item.site)
            self._log_end(item.site, site)
            return site.round_row()
        else:
            logger.warning(
                "site %r: the saved cursor was refused (%s); starting over from the first page", item.site, item.reason
            )
            site.started_over()
        return None

    def tick(self) -> None:
        """Progress of the sites still running, for when no page has arrived for a while."""
        self.progress.tick(name for name, site in self.sites.items() if site.end is None and not site.finished_earlier)

    def _log_end(self, name: str, site: SiteLedger) -> None:
        if site.failure is not None:
            logger.error("%s. Cause: %s. The other sites carry on", site.progress.ended_line("failed"), site.failure)
        elif isinstance(site.end, StoppedAtMaxPages):
            logger.warning(
                "%s: it is incomplete; the next sync continues where it stopped",
                site.progress.ended_line(f"stopped at max_pages={self.settings.max_pages}"),
            )
        else:
            logger.info(site.progress.ended_line("finished"))

    def checkpoint_state(self) -> dict[str, Any]:
        return checkpoint_state({name: site.entry() for name, site in self.sites.items()}, self._rounds())

    def closing_state(self) -> dict[str, Any]:
        """While a site stopped at max_pages, the round goes on: finished sites wait, the others resume. Otherwise
        the round is over, and only the sites that failed resume."""
        if any(isinstance(site.end, StoppedAtMaxPages) for site in self.sites.values()):
            return self.checkpoint_state()
        failed = {name: site.entry() for name, site in self.sites.items() if site.failure is not None}
        return finished_state(failed, self._rounds())

    def _rounds(self) -> dict[str, datetime]:
        return {name: site.round_started_at for name, site in self.sites.items()}

    def failures(self) -> dict[str, str]:
        return {name: site.failure for name, site in self.sites.items() if site.failure is not None}

    def closing_error(self) -> SitesFailed | None:
        """One error naming every site that failed, keys masked; None when none did."""
        failures = self.failures()
        if not failures:
            return None
        total = len(self.sites)
        causes = "; ".join(f"site {name!r}: {cause}" for name, cause in failures.items())
        message = f"{len(failures)} of {total} sites failed ({total - len(failures)} synced): {causes}"
        hints = configuration_hints(self.settings, self._refused_at_once())
        return SitesFailed(redact_all("\n".join([message, *hints]), self._keys))

    def _refused_at_once(self) -> dict[str, BaseException]:
        """The errors of the sites that failed before a page of this sync: a key revoked part-way through a site is
        no sign of a configuration mistake."""
        return {
            name: site.end.error
            for name, site in self.sites.items()
            if isinstance(site.end, Failed) and not site.progress.pages_this_run
        }

    def summary(self) -> str:
        max_pages = self.settings.max_pages
        return self.progress.summary({name: site.outcome(max_pages) for name, site in self.sites.items()})

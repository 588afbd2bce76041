"""Where each site of a sync stands: its cursor, its counts, and how it ended.

Pure bookkeeping on the calling thread, fed with what the extractor hands on after its rows are upserted:
`connector.py` turns it into checkpoints and the closing error, and a test can drive it page by page.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from yarl import URL

from .config import Settings
from .extractor import Failed, Item, SiteEnded, SiteStart
from .page import End, EndNotBelieved, Finished, LinkRefused, Page, StoppedAtMaxPages
from .progress import SiteProgress, SyncProgress
from .state import checkpoint_state, finished_state, resume_plan, site_entry

logger = logging.getLogger(__name__)

PROGRESS_EVERY_PAGES = 10


@dataclass
class SiteLedger:
    progress: SiteProgress
    cursor: URL | None  # the next page to fetch once every row so far is upserted; None: the site's first page
    finished_earlier: bool = False  # in an earlier sync of this round: not fetched in this one
    rereads: int = 0  # pages the next sync reads again: the last one had no next link (until the end says why), or
    # the site's end was not believed
    end: End | Failed | None = None  # how the site ended in this sync; None while it runs

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

    def ended(self, ended: SiteEnded, concurrency: int) -> None:
        self.end = end = ended.end
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
        return site_entry(self.cursor, counts, finished=self.finished)

    def outcome(self, max_pages: int) -> str:
        end = self.end
        if self.failure is not None:
            return f"FAILED: {self.failure}"
        if isinstance(end, StoppedAtMaxPages):
            return f"stopped at max_pages ({max_pages:,}); continues next sync"
        if isinstance(end, Finished):
            return "finished"
        return "finished in an earlier sync" if self.finished_earlier else "not synced"


class SyncLedger:
    def __init__(self, settings: Settings, state: Mapping[str, Any]) -> None:
        self.settings = settings
        plan = resume_plan(settings, state)
        self._starts = {
            name: SiteStart(site.start, site.resumed) for name, site in plan.items() if site.start is not None
        }
        self.sites = {
            name: SiteLedger(
                SiteProgress.resumed_from(name, site.counts),
                cursor=site.start if site.resumed else None,
                finished_earlier=site.start is None,
            )
            for name, site in plan.items()
        }
        self.progress = SyncProgress({name: site.progress for name, site in self.sites.items()})

    def starts(self) -> dict[str, SiteStart]:
        """Where each site that is fetched in this sync begins."""
        return dict(self._starts)

    def record(self, item: Item) -> None:
        """Take note of what the extractor handed on; a page only once its rows are upserted."""
        site = self.sites[item.site]
        if isinstance(item, Page):
            site.upserted(item)
            if site.progress.pages_this_run % PROGRESS_EVERY_PAGES == 0:
                logger.info(site.progress.line(self.progress.elapsed))
                if len(self.sites) > 1:
                    logger.info(self.progress.total_line())
        elif isinstance(item, SiteEnded):
            site.ended(item, self.settings.concurrency)
            self._log_end(item.site, site)
        else:
            logger.warning(
                "site %r: the saved cursor was refused (%s); starting over from the first page", item.site, item.reason
            )
            site.started_over()

    def _log_end(self, name: str, site: SiteLedger) -> None:
        if site.failure is not None:
            logger.error("site %r failed: %s; the other sites carry on", name, site.failure)
        elif isinstance(site.end, StoppedAtMaxPages):
            logger.warning(
                "site %r stopped after max_pages=%d: it is incomplete; the next sync continues where it stopped",
                name,
                self.settings.max_pages,
            )

    def checkpoint_state(self) -> dict[str, Any]:
        return checkpoint_state({name: site.entry() for name, site in self.sites.items()})

    def closing_state(self) -> dict[str, Any]:
        """While a site stopped at max_pages, the round goes on: finished sites wait, the others resume. Otherwise
        the round is over, and only the sites that failed resume."""
        if any(isinstance(site.end, StoppedAtMaxPages) for site in self.sites.values()):
            return self.checkpoint_state()
        return finished_state({name: site.entry() for name, site in self.sites.items() if site.failure is not None})

    def failures(self) -> dict[str, str]:
        return {name: site.failure for name, site in self.sites.items() if site.failure is not None}

    def summary(self) -> str:
        max_pages = self.settings.max_pages
        return self.progress.summary({name: site.outcome(max_pages) for name, site in self.sites.items()})

"""Counting a sync as it goes: progress lines, skipped records, the final summary, and the counts kept in state."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .extractor import ExtractSummary, FlatPage

logger = logging.getLogger(__name__)

SKIPS_LOGGED_PER_KIND = 5
_STATE_COUNTS = ("pages", "locations", "objects")


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m{seconds:02d}s" if hours else f"{minutes}m{seconds:02d}s"


@dataclass
class SyncProgress:
    """Running totals; `pages`, `locations` and `objects` carry over from a checkpoint when a sync resumes."""

    pages: int = 0
    locations: int = 0
    objects: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    pages_this_run: int = 0
    rows_this_run: int = 0
    total_pages: int | None = None
    started: float = field(default_factory=time.monotonic)
    _last_page: tuple[int, int, int] = (0, 0, 0)  # pages, locations, objects of the page added last

    @classmethod
    def resumed_from(cls, state: Mapping[str, Any]) -> SyncProgress:
        counts = {key: state[key] for key in _STATE_COUNTS if isinstance(state.get(key), int)}
        return cls(**counts)

    def state_counts(self, *, without_last_page: bool = False) -> dict[str, int]:
        """The counts a checkpoint keeps; `without_last_page` when the checkpoint makes the next sync read it again."""
        counts = {key: getattr(self, key) for key in _STATE_COUNTS}
        if without_last_page:
            for key, value in zip(_STATE_COUNTS, self._last_page, strict=True):
                counts[key] -= value
        return counts

    def add(self, page: FlatPage) -> None:
        self._last_page = (1, len(page.locations), len(page.objects))
        self.pages += 1
        self.pages_this_run += 1
        self.locations += len(page.locations)
        self.objects += len(page.objects)
        self.rows_this_run += len(page.locations) + len(page.objects)
        if page.total_pages is not None:
            self.total_pages = max(page.total_pages, self.pages)
        for skip in page.skipped:
            self.skipped[skip.kind] += 1
            if self.skipped[skip.kind] <= SKIPS_LOGGED_PER_KIND:
                logger.warning("page %d: skipped a record (%s): %s", self.pages, skip.kind, skip.detail)
                if self.skipped[skip.kind] == SKIPS_LOGGED_PER_KIND:
                    logger.warning("further %s skips are counted, not logged", skip.kind)

    @property
    def elapsed(self) -> float:
        return max(time.monotonic() - self.started, 1e-9)

    def progress_line(self) -> str:
        rate = self.rows_this_run / self.elapsed
        done = f"page {self.pages:,}"
        if self.total_pages:
            share = 100 * self.pages / self.total_pages
            remaining = (self.total_pages - self.pages) * self.elapsed / max(self.pages_this_run, 1)
            done += f" of {self.total_pages:,} ({share:.1f}%, ETA {_duration(remaining)})"
        return f"{done}: {self.locations:,} locations, {self.objects:,} objects, {rate:,.0f} rows/s"

    def summary(self, extract: ExtractSummary | None) -> str:
        skipped = ", ".join(f"{kind} {count:,}" for kind, count in sorted(self.skipped.items())) or "none"
        lines = [
            "sync summary",
            f"  pages:    {self.pages:,}" + (f" (of {self.total_pages:,})" if self.total_pages else ""),
            f"  rows:     locations {self.locations:,}, expected_inventory_objects {self.objects:,}",
            f"  skipped:  {skipped}",
        ]
        if extract is not None:
            requests = extract.requests
            lines.append(
                f"  requests: {requests.requests:,} ({requests.retries:,} retries, "
                f"{requests.bytes_received / 1e6:,.1f} MB)"
            )
            if extract.lowest_concurrency < extract.concurrency:
                lines.append(f"  throttled: rate limiting lowered concurrency to {extract.lowest_concurrency} at worst")
        lines.append(f"  elapsed:  {_duration(self.elapsed)} ({self.rows_this_run / self.elapsed:,.0f} rows/s)")
        return "\n".join(lines)

"""SiteProgress and SyncProgress: per-site counts, the skip tally, progress lines, the summary, counts kept in state."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from types import SimpleNamespace

import pytest
from yarl import URL

import dexory_async.progress as progress_module
from dexory_async.flatten import FlatRows, Skip
from dexory_async.messages import RequestCounters
from dexory_async.page import Page
from dexory_async.progress import SKIPS_LOGGED_PER_KIND, SiteProgress, SyncProgress

LOGGER = "dexory_async.progress"
START = 1_000.0
PARIS, LYON = "paris-dc", "lyon-dc"
ZERO = dict.fromkeys(("pages", "locations", "objects", "skipped_records", "duplicate_keys", "retries"), 0)


def page(
    locations: int = 0,
    objects: int = 0,
    skipped: Sequence[Skip] = (),
    pages_after: int | None = None,
    retries: int = 0,
    site: str = PARIS,
) -> Page:
    rows = FlatRows(
        locations=[{"name": f"L{i}"} for i in range(locations)],
        objects=[{"name": "L0", "object_index": i} for i in range(objects)],
        skipped=list(skipped),
    )
    return Page(site, URL(f"https://h/x?site={site}"), [], {}, 100, retries=retries, pages_after=pages_after, rows=rows)


def site_with(*pages: Page, site: str = PARIS) -> SiteProgress:
    progress = SiteProgress(site)
    for added in pages:
        progress.add(added)
    return progress


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A fake clock for the progress module: set `clock.now`; SyncProgress(started=START) is `now - START` in."""
    fake = SimpleNamespace(now=START)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# ---------------------------------------------------------------------------------------------------- counts


def test_a_new_site_starts_at_zero() -> None:
    progress = SiteProgress(PARIS)

    assert progress.state_counts() == {**ZERO, "pages": 0, "locations": 0, "objects": 0}
    assert (progress.pages_this_run, progress.rows_this_run, progress.total_pages) == (0, 0, None)
    assert not progress.skipped


def test_add_counts_pages_and_rows_per_table() -> None:
    progress = site_with(page(locations=3, objects=5), page(locations=2), page())

    assert (progress.pages, progress.locations, progress.objects) == (3, 5, 5)
    assert (progress.pages_this_run, progress.rows_this_run) == (3, 10)


def test_each_site_counts_only_its_own_pages() -> None:
    paris = site_with(page(locations=3, objects=1), page(locations=1))
    lyon = site_with(page(locations=7, objects=9, site=LYON), site=LYON)

    assert paris.state_counts() == {**ZERO, "pages": 2, "locations": 4, "objects": 1}
    assert lyon.state_counts() == {**ZERO, "pages": 1, "locations": 7, "objects": 9}


def test_retries_are_the_sites_retries_so_far_as_the_last_page_reports_them() -> None:
    progress = site_with(page(retries=2), page(retries=5))

    assert progress.retries == 5


def test_total_pages_is_pages_so_far_plus_the_pages_announced_after_this_one() -> None:
    progress = SiteProgress(PARIS)

    progress.add(page(pages_after=None))
    assert progress.total_pages is None
    progress.add(page(pages_after=8))
    assert progress.total_pages == 10
    progress.add(page(pages_after=None))
    assert progress.total_pages == 10  # an unknown total does not forget a known one
    progress.add(page(pages_after=0))  # the site shrank: this is the last page
    assert progress.total_pages == 4


def test_total_pages_of_a_resumed_site_counts_the_pages_of_earlier_syncs() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": 50, "locations": 500, "objects": 0})

    progress.add(page(pages_after=40))

    assert progress.total_pages == 91


def test_skips_are_counted_per_kind() -> None:
    progress = site_with(page(skipped=[Skip("a", "1"), Skip("b", "2"), Skip("a", "3")]), page(skipped=[Skip("a", "4")]))

    assert dict(progress.skipped) == {"a": 3, "b": 1}


def test_only_the_first_skips_of_each_kind_are_logged_per_site(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    paris, lyon = SiteProgress(PARIS), SiteProgress(LYON)
    many = SKIPS_LOGGED_PER_KIND + 3

    paris.add(page(skipped=[Skip("loud", f"detail {i}") for i in range(many)] + [Skip("quiet", "only one")]))
    paris.add(page(skipped=[Skip("loud", "on page 2"), Skip("quiet", "second")]))
    lyon.add(page(skipped=[Skip("loud", "lyon's first")], site=LYON))

    assert dict(paris.skipped) == {"loud": many + 1, "quiet": 2}
    assert warnings_logged(caplog) == [
        *(f"site 'paris-dc' page 1: skipped a record (loud): detail {i}" for i in range(SKIPS_LOGGED_PER_KIND)),
        "site 'paris-dc': further loud skips are counted, not logged",
        "site 'paris-dc' page 1: skipped a record (quiet): only one",
        "site 'paris-dc' page 2: skipped a record (quiet): second",
        "site 'lyon-dc' page 1: skipped a record (loud): lyon's first",  # each site has its own allowance
    ]


def test_no_skips_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    site_with(page(locations=5, objects=2))

    assert [r for r in caplog.records if r.name == LOGGER] == []


def test_start_over_forgets_what_a_saved_cursor_counted() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": 50, "locations": 5_000, "objects": 9_000})
    progress.add(page(locations=10, pages_after=49))

    progress.start_over()

    assert progress.state_counts() == {**ZERO, "pages": 0, "locations": 0, "objects": 0}
    assert progress.total_pages is None
    progress.add(page(locations=4, objects=1, pages_after=2))
    assert progress.state_counts() == {**ZERO, "pages": 1, "locations": 4, "objects": 1}
    assert progress.total_pages == 3


# ---------------------------------------------------------------------------------------------------- progress line


def test_progress_line_without_a_known_total() -> None:
    line = site_with(page(locations=1000, objects=2500, retries=3)).line(10.0)

    assert line == "site 'paris-dc': page 1: 1,000 locations, 2,500 objects, 3 retries"


def test_progress_line_with_a_known_total_has_share_and_eta() -> None:
    progress = site_with(*(page(locations=100, objects=50, pages_after=40 - number) for number in range(1, 11)))

    line = progress.line(20.0)  # 10 pages in 20 s: 30 pages to go take 60 s

    assert line == "site 'paris-dc': page 10 of 40 (25.0%, ETA 1m00s): 1,000 locations, 500 objects, 0 retries"


def test_progress_line_eta_in_hours() -> None:
    progress = site_with(page(locations=1, pages_after=1_000))

    assert "(0.1%, ETA 1h23m20s)" in progress.line(5.0)  # 1,000 pages to go at 5 s each


def test_progress_line_of_a_resumed_site_counts_the_eta_from_this_run() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": 50, "locations": 5_000, "objects": 9_000})
    for number in range(51, 61):
        progress.add(page(locations=100, objects=100, pages_after=100 - number))

    line = progress.line(40.0)  # 10 pages this run in 40 s; 40 pages to go take 160 s

    assert line == "site 'paris-dc': page 60 of 100 (60.0%, ETA 2m40s): 6,000 locations, 10,000 objects, 0 retries"


def test_total_line_adds_every_site_up(clock: SimpleNamespace) -> None:
    progress = SyncProgress(
        {PARIS: site_with(page(locations=1000, objects=2000)), LYON: site_with(page(locations=500), site=LYON)},
        started=START,
    )
    clock.now = START + 10.0

    assert progress.rows_this_run == 3500
    assert progress.total_line() == "all sites: 2 pages, 1,500 locations, 2,000 objects, 350 rows/s"


def test_elapsed_is_never_zero(clock: SimpleNamespace) -> None:
    progress = SyncProgress({PARIS: SiteProgress(PARIS)}, started=START)

    assert progress.elapsed > 0
    assert progress.total_line() == "all sites: 0 pages, 0 locations, 0 objects, 0 rows/s"


# ---------------------------------------------------------------------------------------------------- summary


def test_summary_lists_each_site_then_the_totals(clock: SimpleNamespace) -> None:
    paris = site_with(
        page(locations=1200, objects=3400, pages_after=2, skipped=[Skip("b_kind", "x")]),
        page(locations=800, objects=600, pages_after=1, skipped=[Skip("a_kind", "y"), Skip("b_kind", "z")]),
        page(pages_after=0),
    )
    paris.requests = RequestCounters(requests=1234, retries=5, bytes_received=2_500_000)
    lyon = site_with(page(locations=10), site=LYON)
    progress = SyncProgress({PARIS: paris, LYON: lyon, "nice-dc": SiteProgress("nice-dc")}, started=START)
    clock.now = START + 125.0

    summary = progress.summary({PARIS: "finished", LYON: "FAILED: HTTP 400 from the API"})

    assert summary.splitlines() == [
        "sync summary",
        "  site 'paris-dc': finished",
        "    pages:    3 of 3",
        "    rows:     locations 2,000, expected_inventory_objects 4,000",
        "    skipped:  a_kind 1, b_kind 2",
        "    requests: 1,234 (5 retries, 2.5 MB)",
        "  site 'lyon-dc': FAILED: HTTP 400 from the API",
        "    pages:    1",
        "    rows:     locations 10, expected_inventory_objects 0",
        "    skipped:  none",
        "  site 'nice-dc': not synced",
        "    pages:    0",
        "    rows:     locations 0, expected_inventory_objects 0",
        "    skipped:  none",
        "  all sites: 4 pages, 2,010 locations, 4,000 objects, 48 rows/s",
        "  elapsed:  2m05s (48 rows/s)",
    ]


def test_summary_of_a_long_sync_gives_hours(clock: SimpleNamespace) -> None:
    progress = SyncProgress({PARIS: site_with(page(locations=10))}, started=START)
    clock.now = START + 3_725.0

    assert progress.summary({PARIS: "finished"}).splitlines()[-1] == "  elapsed:  1h02m05s (0 rows/s)"


# ---------------------------------------------------------------------------------------------------- state


def test_resumed_from_state_carries_the_counts() -> None:
    entry = {"cursor": "https://h/x?page%5Bnumber%5D=8", "pages": 7, "locations": 7_000, "objects": 12_345}

    progress = SiteProgress.resumed_from(PARIS, entry)

    assert progress.site == PARIS
    assert progress.state_counts() == {**ZERO, "pages": 7, "locations": 7_000, "objects": 12_345}
    assert (progress.pages_this_run, progress.rows_this_run) == (0, 0)  # this run has done nothing yet


def test_resumed_counts_keep_growing() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": 7, "locations": 70, "objects": 100})

    progress.add(page(locations=10, objects=5))

    assert progress.state_counts() == {**ZERO, "pages": 8, "locations": 80, "objects": 105}
    assert progress.rows_this_run == 15


def test_resumed_from_ignores_missing_or_malformed_counts() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": "7", "locations": None, "objects": 3.5, "finished": True})

    assert progress.state_counts() == {**ZERO, "pages": 0, "locations": 0, "objects": 0}


def test_resumed_from_ignores_booleans() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": True, "locations": False, "objects": 2})

    assert progress.state_counts() == {**ZERO, "pages": 0, "locations": 0, "objects": 2}


def test_resumed_from_a_partial_entry() -> None:
    assert SiteProgress.resumed_from(PARIS, {"pages": 4}).state_counts() == {
        **ZERO,
        "pages": 4,
        "locations": 0,
        "objects": 0,
    }


def test_state_counts_has_exactly_the_persisted_keys() -> None:
    progress = site_with(page(locations=2, objects=3, skipped=[Skip("k", "d")], pages_after=9, retries=1))

    counts = progress.state_counts()

    assert counts == {**ZERO, "pages": 1, "locations": 2, "objects": 3, "skipped_records": 1, "retries": 1}
    assert SiteProgress.resumed_from(PARIS, counts).state_counts() == counts


def test_state_counts_without_the_last_page_leave_out_only_that_page() -> None:
    progress = SiteProgress.resumed_from(PARIS, {"pages": 5, "locations": 50, "objects": 60})
    progress.add(page(locations=3, objects=4))
    progress.add(page(locations=2, objects=7))

    assert progress.state_counts(rereads=1) == {**ZERO, "pages": 6, "locations": 53, "objects": 64}
    assert progress.state_counts() == {**ZERO, "pages": 7, "locations": 55, "objects": 71}

"""SyncProgress: running counts, the skip tally, progress lines, the summary, and the counts kept in state."""

from __future__ import annotations

import logging
from types import SimpleNamespace

import pytest

import dexory_async.progress as progress_module
from dexory_async.client import RequestCounters
from dexory_async.extractor import ExtractSummary, FlatPage
from dexory_async.flatten import Row, Skip
from dexory_async.progress import SKIPS_LOGGED_PER_KIND, SyncProgress

LOGGER = "dexory_async.progress"
START = 1_000.0


def page(
    locations: int = 0,
    objects: int = 0,
    skipped: list[Skip] | None = None,
    total_pages: int | None = None,
    sequence: int = 1,
) -> FlatPage:
    rows: list[Row] = [{"name": f"L{i}"} for i in range(locations)]
    object_rows: list[Row] = [{"name": "L0", "object_index": i} for i in range(objects)]
    return FlatPage(
        sequence=sequence,
        url=f"https://h/x?page%5Bnumber%5D={sequence}",
        next_url=None,
        total_pages=total_pages,
        locations=rows,
        objects=object_rows,
        skipped=skipped or [],
        size_bytes=100,
    )


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> SimpleNamespace:
    """A fake clock for the progress module: set `clock.now`; SyncProgress(started=START) is `now - START` in."""
    fake = SimpleNamespace(now=START)
    monkeypatch.setattr(progress_module, "time", SimpleNamespace(monotonic=lambda: fake.now))
    return fake


def warnings_logged(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING]


# ---------------------------------------------------------------------------------------------------- counts


def test_a_new_progress_starts_at_zero() -> None:
    progress = SyncProgress()

    assert progress.state_counts() == {"pages": 0, "locations": 0, "objects": 0}
    assert (progress.pages_this_run, progress.rows_this_run, progress.total_pages) == (0, 0, None)
    assert not progress.skipped


def test_add_counts_pages_and_rows_per_table() -> None:
    progress = SyncProgress()

    progress.add(page(locations=3, objects=5))
    progress.add(page(locations=2, objects=0, sequence=2))
    progress.add(page(locations=0, objects=0, sequence=3))

    assert (progress.pages, progress.locations, progress.objects) == (3, 5, 5)
    assert (progress.pages_this_run, progress.rows_this_run) == (3, 10)


def test_total_pages_is_taken_from_pages_and_never_below_pages_seen() -> None:
    progress = SyncProgress()

    progress.add(page(total_pages=None))
    assert progress.total_pages is None
    progress.add(page(total_pages=10))
    assert progress.total_pages == 10
    progress.add(page(total_pages=None))
    assert progress.total_pages == 10  # an unknown total does not forget a known one
    progress.add(page(total_pages=2))  # a stale links.last: 4 pages have been seen
    assert progress.total_pages == 4


def test_skips_are_counted_per_kind() -> None:
    progress = SyncProgress()

    progress.add(page(skipped=[Skip("a", "1"), Skip("b", "2"), Skip("a", "3")]))
    progress.add(page(skipped=[Skip("a", "4")]))

    assert dict(progress.skipped) == {"a": 3, "b": 1}


def test_only_the_first_skips_of_each_kind_are_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger=LOGGER)
    progress = SyncProgress()
    many = SKIPS_LOGGED_PER_KIND + 3

    progress.add(page(skipped=[Skip("loud", f"detail {i}") for i in range(many)] + [Skip("quiet", "only one")]))
    progress.add(page(skipped=[Skip("loud", "on page 2"), Skip("quiet", "second")]))

    assert dict(progress.skipped) == {"loud": many + 1, "quiet": 2}
    logged = warnings_logged(caplog)
    assert logged == [
        *(f"page 1: skipped a record (loud): detail {i}" for i in range(SKIPS_LOGGED_PER_KIND)),
        "further loud skips are counted, not logged",
        "page 1: skipped a record (quiet): only one",
        "page 2: skipped a record (quiet): second",
    ]


def test_skip_limit_is_five_per_kind() -> None:
    assert SKIPS_LOGGED_PER_KIND == 5


def test_no_skips_log_nothing(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)

    SyncProgress().add(page(locations=5, objects=2))

    assert [r for r in caplog.records if r.name == LOGGER] == []


# ---------------------------------------------------------------------------------------------------- progress line


def test_progress_line_without_a_known_total(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)
    progress.add(page(locations=1000, objects=2500))
    clock.now = START + 10.0

    line = progress.progress_line()

    assert line == "page 1: 1,000 locations, 2,500 objects, 350 rows/s"
    assert " of " not in line and "%" not in line and "ETA" not in line


def test_progress_line_with_a_known_total_has_share_and_eta(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)
    for number in range(1, 11):
        progress.add(page(locations=100, objects=50, total_pages=40, sequence=number))
    clock.now = START + 20.0  # 10 pages in 20 s: 30 pages to go take 60 s

    line = progress.progress_line()

    assert line == "page 10 of 40 (25.0%, ETA 1m00s): 1,000 locations, 500 objects, 75 rows/s"


def test_progress_line_eta_in_hours(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)
    progress.add(page(locations=1, total_pages=1_001))
    clock.now = START + 5.0  # 1,000 pages to go at 5 s each

    assert "(0.1%, ETA 1h23m20s)" in progress.progress_line()


def test_progress_line_of_a_resumed_sync_counts_from_this_run(clock: SimpleNamespace) -> None:
    progress = SyncProgress.resumed_from({"pages": 50, "locations": 5_000, "objects": 9_000})
    progress.started = START
    for number in range(51, 61):
        progress.add(page(locations=100, objects=100, total_pages=100, sequence=number))
    clock.now = START + 40.0  # 10 pages this run in 40 s; 40 pages to go take 160 s

    line = progress.progress_line()

    assert line == "page 60 of 100 (60.0%, ETA 2m40s): 6,000 locations, 10,000 objects, 50 rows/s"


def test_elapsed_is_never_zero(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)

    assert progress.elapsed > 0
    assert progress.progress_line() == "page 0: 0 locations, 0 objects, 0 rows/s"


# ---------------------------------------------------------------------------------------------------- summary


def test_summary_lists_pages_rows_skips_requests_and_elapsed(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)
    progress.add(page(locations=1200, objects=3400, total_pages=3, skipped=[Skip("b_kind", "x")]))
    progress.add(page(locations=800, objects=600, total_pages=3, skipped=[Skip("a_kind", "y"), Skip("b_kind", "z")]))
    progress.add(page(locations=0, objects=0, total_pages=3))
    clock.now = START + 125.0
    extract = ExtractSummary(requests=RequestCounters(requests=1234, retries=5, bytes_received=2_500_000))

    summary = progress.summary(extract)

    assert summary.splitlines() == [
        "sync summary",
        "  pages:    3 (of 3)",
        "  rows:     locations 2,000, expected_inventory_objects 4,000",
        "  skipped:  a_kind 1, b_kind 2",
        "  requests: 1,234 (5 retries, 2.5 MB)",
        "  elapsed:  2m05s (48 rows/s)",
    ]


def test_summary_without_total_skips_or_extract(clock: SimpleNamespace) -> None:
    progress = SyncProgress(started=START)
    progress.add(page(locations=10, objects=0))
    clock.now = START + 3_725.0

    summary = progress.summary(None)

    assert summary.splitlines() == [
        "sync summary",
        "  pages:    1",
        "  rows:     locations 10, expected_inventory_objects 0",
        "  skipped:  none",
        "  elapsed:  1h02m05s (0 rows/s)",
    ]
    assert "requests" not in summary


# ---------------------------------------------------------------------------------------------------- state


def test_resumed_from_state_carries_the_counts() -> None:
    state = {"cursor": "https://h/x?page%5Bnumber%5D=8", "pages": 7, "locations": 7_000, "objects": 12_345}

    progress = SyncProgress.resumed_from(state)

    assert progress.state_counts() == {"pages": 7, "locations": 7_000, "objects": 12_345}
    assert (progress.pages_this_run, progress.rows_this_run) == (0, 0)  # this run has done nothing yet


def test_resumed_counts_keep_growing() -> None:
    progress = SyncProgress.resumed_from({"pages": 7, "locations": 70, "objects": 100})

    progress.add(page(locations=10, objects=5))

    assert progress.state_counts() == {"pages": 8, "locations": 80, "objects": 105}
    assert progress.rows_this_run == 15


def test_resumed_from_ignores_missing_or_malformed_counts() -> None:
    progress = SyncProgress.resumed_from({"pages": "7", "locations": None, "objects": 3.5, "other": 9})

    assert progress.state_counts() == {"pages": 0, "locations": 0, "objects": 0}


def test_resumed_from_a_partial_state() -> None:
    assert SyncProgress.resumed_from({"pages": 4}).state_counts() == {"pages": 4, "locations": 0, "objects": 0}


def test_state_counts_has_exactly_the_persisted_keys() -> None:
    progress = SyncProgress()
    progress.add(page(locations=2, objects=3, skipped=[Skip("k", "d")], total_pages=9))

    counts = progress.state_counts()

    assert counts == {"pages": 1, "locations": 2, "objects": 3}
    assert SyncProgress.resumed_from(counts).state_counts() == counts

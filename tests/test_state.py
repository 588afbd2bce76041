"""Where each site starts (resume only on the same origin, site and customer, within the site's round) and what
checkpoints hold per site."""

from __future__ import annotations

import logging
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from yarl import URL

from dexory_async.config import Settings
from dexory_async.links import KEY_PARAM, page_number, with_key, with_page_number
from dexory_async.messages import SiteStart
from dexory_async.state import (
    CURSOR,
    FINISHED,
    LAST_SYNC,
    ROUND,
    ROUNDS,
    SITES,
    SiteResume,
    checkpoint_state,
    finished_state,
    format_time,
    parse_time,
    resume_plan,
    site_entry,
)
from tests.test_links import BASE, ENDPOINT, KEY, first_page, settings

LOGGER = "dexory_async.state"
THREE_SITES = {"site_name": "paris-dc,lyon-dc,nice-dc", "site_api_key": "k1,k2,k3"}
NOW = datetime(2026, 12, 1, 10, 0, 0, 123_456, tzinfo=UTC)  # when this sync starts
EARLIER = datetime(2026, 11, 30, 22, 0, tzinfo=UTC)  # when the round under way started
UNDER_WAY = format_time(EARLIER)


def three_sites(**overrides: str) -> Settings:
    return settings(**THREE_SITES, **overrides)


def plan_of(config: Settings, state: dict[str, Any]) -> dict[str, SiteResume]:
    return resume_plan(config, state, lambda: NOW)


def cursor_at(config: Settings, site: int, number: int) -> str:
    return str(with_page_number(first_page(config, site), number))


def fresh(config: Settings, site: int = 0, started: datetime = NOW) -> SiteResume:
    """A site starting a new round at its first page."""
    return SiteResume(SiteStart(first_page(config, site), resumed=False, round_started_at=started), started)


def resumed(url: str | URL, counts: dict[str, Any], started: datetime = EARLIER) -> SiteResume:
    return SiteResume(SiteStart(URL(url), resumed=True, round_started_at=started), started, counts=counts)


def state_logs(caplog: pytest.LogCaptureFixture, level: int = logging.INFO) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno >= level]


# ---------------------------------------------------------------------------------------------------- resume_plan


@pytest.mark.parametrize(
    "state",
    [{}, {SITES: {}}, {CURSOR: None}, {CURSOR: ""}, {LAST_SYNC: "2026-11-01T00:00:00Z"}, {SITES: ["paris-dc"]}],
)
def test_without_a_cursor_every_site_starts_from_its_first_page(
    state: dict[str, Any], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = three_sites()

    plan = plan_of(config, state)

    assert plan == {"paris-dc": fresh(config, 0), "lyon-dc": fresh(config, 1), "nice-dc": fresh(config, 2)}
    assert state_logs(caplog) == []


def test_each_site_resumes_from_its_own_cursor_with_its_own_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = three_sites()
    paris, nice = cursor_at(config, 0, 17), cursor_at(config, 2, 3)
    paris_entry, nice_entry = (
        {ROUND: UNDER_WAY, CURSOR: paris, "pages": 16},
        {ROUND: UNDER_WAY, CURSOR: nice, "pages": 2},
    )
    state = {SITES: {"paris-dc": paris_entry, "nice-dc": nice_entry}}

    plan = plan_of(config, state)

    assert plan["paris-dc"] == resumed(paris, paris_entry)
    assert plan["nice-dc"] == resumed(nice, nice_entry)
    assert plan["lyon-dc"] == fresh(config, 1)
    assert page_number(URL(paris)) == 17
    logs = state_logs(caplog)
    assert len(logs) == 2
    assert "'paris-dc'" in logs[0] and "resuming" in logs[0] and paris in logs[0]
    assert "'nice-dc'" in logs[1] and nice in logs[1]


def test_a_site_finished_earlier_in_the_round_is_not_fetched_again(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = three_sites()
    lyon = cursor_at(config, 1, 5)
    finished = {ROUND: UNDER_WAY, FINISHED: str(first_page(config, 0)), "pages": 40, "locations": 4_000}
    lyon_entry = {ROUND: UNDER_WAY, CURSOR: lyon, "pages": 4}

    plan = plan_of(config, {SITES: {"paris-dc": finished, "lyon-dc": lyon_entry}})

    assert plan["paris-dc"] == SiteResume(None, EARLIER, counts=finished)
    assert plan["lyon-dc"] == resumed(lyon, lyon_entry)
    assert plan["nice-dc"] == fresh(config, 2)
    assert any("'paris-dc' finished earlier" in message for message in state_logs(caplog))


def test_a_finished_mark_at_the_same_endpoint_keeps_the_site_waiting_with_its_key_never_saved() -> None:
    config = settings()
    entry = site_entry(EARLIER, None, {"pages": 3}, [KEY], finished_at=with_key(first_page(config), KEY))

    plan = plan_of(config, checkpoint_state({"warehouse-1": entry}, {"warehouse-1": EARLIER}))

    assert KEY not in str(entry)
    assert plan == {"warehouse-1": SiteResume(None, EARLIER, counts=entry)}


def test_a_site_no_longer_configured_is_left_out_of_the_plan() -> None:
    config = settings()
    gone = {ROUND: UNDER_WAY, CURSOR: f"{ENDPOINT}?site=old-dc&page%5Bnumber%5D=3"}

    assert plan_of(config, {SITES: {"old-dc": gone, "warehouse-1": "junk"}}) == {"warehouse-1": fresh(config)}


def test_a_resumed_cursor_that_carries_a_key_is_stripped_of_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cursor = f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3&api_key={KEY}"

    plan = plan_of(settings(), {SITES: {"warehouse-1": {ROUND: UNDER_WAY, CURSOR: cursor}}})

    start = plan["warehouse-1"].start
    assert start is not None and start.resumed is True
    assert KEY_PARAM not in start.url.query
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_a_cursor_with_customer_resumes() -> None:
    cursor = f"{ENDPOINT}?site=warehouse-1&customer=acme&cursor=opaque-token"

    plan = plan_of(settings(customer="acme"), {SITES: {"warehouse-1": {ROUND: UNDER_WAY, CURSOR: cursor}}})

    start = plan["warehouse-1"].start
    assert start is not None and start.resumed is True
    assert start.url.query["cursor"] == "opaque-token"


@pytest.mark.parametrize(
    ("why", "url", "overrides"),
    [
        ("other host", "https://evil.example.test/customer-api/v1/locations?site=warehouse-1", {}),
        ("other scheme", "http://api.example.test/customer-api/v1/locations?site=warehouse-1", {}),
        ("other port", "https://api.example.test:8443/customer-api/v1/locations?site=warehouse-1", {}),
        ("other path", "https://api.example.test/customer-api/v2/locations?site=warehouse-1", {}),
        ("other site", f"{ENDPOINT}?site=warehouse-2&page%5Bnumber%5D=3", {}),
        ("no site", f"{ENDPOINT}?page%5Bnumber%5D=3", {}),
        ("other customer", f"{ENDPOINT}?site=warehouse-1&customer=globex", {"customer": "acme"}),
        ("customer dropped", f"{ENDPOINT}?site=warehouse-1", {"customer": "acme"}),
        ("customer added", f"{ENDPOINT}?site=warehouse-1&customer=acme", {}),
        ("base_url prefix changed", f"{ENDPOINT}?site=warehouse-1", {"base_url": f"{BASE}/proxy"}),
        ("not a URL", "garbage", {}),
        ("not text", 1, {}),
        ("unparsable", "https://api.example.test:99999/customer-api/v1/locations?site=warehouse-1", {}),
    ],
)
@pytest.mark.parametrize(
    ("saved", "warning"),
    [(CURSOR, "ignoring the saved cursor"), (FINISHED, "finished earlier at another base_url, site or customer")],
)
def test_a_cursor_or_finished_mark_for_another_base_url_site_or_customer_is_ignored_with_a_warning(
    why: str, url: Any, overrides: dict[str, str], saved: str, warning: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = settings(**overrides)

    entry = {ROUND: UNDER_WAY, saved: url, "pages": 9}

    [(name, resume)] = plan_of(config, {SITES: {"warehouse-1": entry}}).items()

    assert (name, replace(resume, abandoned=None)) == ("warehouse-1", fresh(config)), why
    abandoned = resume.abandoned  # a round under way cannot go on: it is recorded as abandoned, a finished one is not
    if saved == CURSOR:
        assert abandoned is not None and (abandoned.started, abandoned.counts) == (EARLIER, entry)
    else:
        assert abandoned is None
    warnings = state_logs(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "'warehouse-1'" in warnings[0] and warning in warnings[0]
    assert not any("resuming" in message or "not fetched again" in message for message in state_logs(caplog))


def test_a_cursor_saved_under_one_site_for_another_is_ignored() -> None:
    config = three_sites()
    lyon = cursor_at(config, 1, 8)

    plan = plan_of(config, {SITES: {"paris-dc": {ROUND: UNDER_WAY, CURSOR: lyon, "pages": 7}}})

    assert replace(plan["paris-dc"], abandoned=None) == fresh(config, 0)
    assert plan["lyon-dc"] == fresh(config, 1)


# ---------------------------------------------------------------------------------------------------- rounds


def test_a_round_started_but_without_a_page_landed_starts_at_the_first_page_in_the_same_round() -> None:
    config = settings()
    entry = {ROUND: UNDER_WAY, "pages": 0}

    plan = plan_of(config, {SITES: {"warehouse-1": entry}})

    assert plan == {"warehouse-1": SiteResume(SiteStart(first_page(config), False, EARLIER), EARLIER, counts=entry)}


@pytest.mark.parametrize(
    "state",
    [
        {CURSOR: f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3", "pages": 2},  # the single-site version's
        {SITES: {"warehouse-1": {CURSOR: f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3", "pages": 2}}},
        {SITES: {"warehouse-1": {ROUND: "yesterday", CURSOR: f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3"}}},
    ],
)
def test_a_cursor_without_a_readable_round_starts_the_site_over(state: dict[str, Any]) -> None:
    """Rows saved before rounds carry none: resuming would leave them out of the round's snapshot."""
    config = settings()

    assert plan_of(config, state) == {"warehouse-1": fresh(config)}


@pytest.mark.parametrize(
    ("previous", "expected"),
    [
        (EARLIER, NOW),
        (NOW, NOW + timedelta(microseconds=1)),
        (NOW + timedelta(hours=1), NOW + timedelta(hours=1, microseconds=1)),  # the clock went back
    ],
)
def test_a_new_round_always_starts_after_the_sites_previous_one(previous: datetime, expected: datetime) -> None:
    config = settings()

    plan = plan_of(config, finished_state({}, {"warehouse-1": previous}))

    assert plan == {"warehouse-1": fresh(config, started=expected)}


def test_round_times_keep_their_microseconds_through_state() -> None:
    assert parse_time(format_time(NOW)) == NOW
    assert parse_time(format_time(NOW.astimezone(timezone(timedelta(hours=2))))) == NOW
    assert parse_time("2026-12-01T10:00:00Z") is None and parse_time(None) is None


# ---------------------------------------------------------------------------------------------------- saved state


def test_site_entry_strips_the_key_under_any_name_and_carries_the_round_and_counts() -> None:
    cursor = URL(f"{ENDPOINT}?site=warehouse-1&api_key={KEY}&token={KEY}&page%5Bnumber%5D=5")

    entry = site_entry(EARLIER, cursor, {"pages": 4, "locations": 4000, "objects": 9000}, [KEY])

    assert KEY not in str(entry)
    assert entry == {
        ROUND: UNDER_WAY,
        CURSOR: f"{ENDPOINT}?site=warehouse-1&token=***&page%5Bnumber%5D=5",
        "pages": 4,
        "locations": 4000,
        "objects": 9000,
    }


def test_site_entry_without_a_cursor_restarts_the_site_in_its_round() -> None:
    config = settings()

    entry = site_entry(EARLIER, None, {"pages": 0}, [KEY])

    assert entry == {ROUND: UNDER_WAY, "pages": 0}
    plan = plan_of(config, checkpoint_state({"warehouse-1": entry}, {"warehouse-1": EARLIER}))
    assert plan == {"warehouse-1": replace(fresh(config, started=EARLIER), counts=entry)}


def test_checkpoint_state_round_trips_through_resume_plan() -> None:
    config = three_sites(customer="acme")
    paris = with_page_number(first_page(config, 0), 9)
    entries = {
        "paris-dc": site_entry(EARLIER, with_key(paris, "k1"), {"pages": 8, "locations": 80}, ["k1"]),
        "lyon-dc": site_entry(EARLIER, None, {"pages": 3, "locations": 30}, ["k2"], finished_at=first_page(config, 1)),
    }

    state = checkpoint_state(entries, {"paris-dc": EARLIER, "lyon-dc": EARLIER, "nice-dc": EARLIER})
    plan = plan_of(config, state)

    assert "k1" not in str(state)
    assert plan["paris-dc"] == resumed(paris, entries["paris-dc"])
    assert plan["lyon-dc"] == SiteResume(None, EARLIER, counts=entries["lyon-dc"])
    assert plan["nice-dc"] == fresh(config, 2)


def test_finished_state_has_utc_last_sync_the_rounds_and_only_the_failed_sites() -> None:
    failed = {"lyon-dc": site_entry(EARLIER, URL(f"{ENDPOINT}?site=lyon-dc&page%5Bnumber%5D=4"), {"pages": 3}, [])}
    before = datetime.now(UTC).replace(microsecond=0)

    state = finished_state(failed, {"lyon-dc": EARLIER})

    after = datetime.now(UTC)
    assert set(state) == {LAST_SYNC, ROUNDS, SITES}
    assert state[SITES] == failed
    assert state[ROUNDS] == {"lyon-dc": UNDER_WAY}
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", state[LAST_SYNC])
    moment = datetime.strptime(state[LAST_SYNC], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= after + timedelta(seconds=1)


def test_after_a_round_without_failures_every_site_starts_a_new_round() -> None:
    config = three_sites()

    state = finished_state({}, {"paris-dc": EARLIER, "lyon-dc": EARLIER, "nice-dc": EARLIER})

    assert set(state) == {LAST_SYNC, ROUNDS}
    assert plan_of(config, state) == plan_of(config, {})


def test_after_a_round_with_a_failure_only_the_failed_site_resumes_its_round() -> None:
    config = three_sites()
    lyon = with_page_number(first_page(config, 1), 4)
    entry = site_entry(EARLIER, lyon, {"pages": 3}, [])

    plan = plan_of(config, finished_state({"lyon-dc": entry}, {"lyon-dc": EARLIER}))

    assert plan["lyon-dc"] == resumed(lyon, entry)
    assert plan["paris-dc"] == fresh(config, 0)
    assert plan["nice-dc"] == fresh(config, 2)

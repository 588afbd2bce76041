"""Where each site starts (resume only on the same origin, site and customer) and what checkpoints hold per site."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from yarl import URL

from dexory_async.config import Settings
from dexory_async.links import KEY_PARAM, page_number, with_key, with_page_number
from dexory_async.state import (
    CURSOR,
    FINISHED,
    LAST_SYNC,
    SITES,
    SiteResume,
    checkpoint_state,
    finished_state,
    resume_plan,
    site_entry,
)
from tests.test_links import BASE, ENDPOINT, KEY, first_page, settings

LOGGER = "dexory_async.state"
THREE_SITES = {"site_name": "paris-dc,lyon-dc,nice-dc", "site_api_key": "k1,k2,k3"}


def three_sites(**overrides: str) -> Settings:
    return settings(**THREE_SITES, **overrides)


def cursor_at(config: Settings, site: int, number: int) -> str:
    return str(with_page_number(first_page(config, site), number))


def fresh(config: Settings, site: int = 0) -> SiteResume:
    return SiteResume(first_page(config, site))


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

    plan = resume_plan(config, state)

    assert plan == {"paris-dc": fresh(config, 0), "lyon-dc": fresh(config, 1), "nice-dc": fresh(config, 2)}
    assert state_logs(caplog) == []


def test_each_site_resumes_from_its_own_cursor_with_its_own_counts(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = three_sites()
    paris, nice = cursor_at(config, 0, 17), cursor_at(config, 2, 3)
    state = {SITES: {"paris-dc": {CURSOR: paris, "pages": 16}, "nice-dc": {CURSOR: nice, "pages": 2}}}

    plan = resume_plan(config, state)

    assert plan["paris-dc"] == SiteResume(URL(paris), resumed=True, counts={CURSOR: paris, "pages": 16})
    assert plan["nice-dc"] == SiteResume(URL(nice), resumed=True, counts={CURSOR: nice, "pages": 2})
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
    finished = {FINISHED: True, "pages": 40, "locations": 4_000, "objects": 9_000}

    plan = resume_plan(config, {SITES: {"paris-dc": finished, "lyon-dc": {CURSOR: lyon, "pages": 4}}})

    assert plan["paris-dc"].start is None
    assert plan["paris-dc"].resumed is False
    assert dict(plan["paris-dc"].counts) == finished
    assert plan["lyon-dc"].start == URL(lyon)
    assert plan["nice-dc"] == fresh(config, 2)
    assert any("'paris-dc' finished earlier" in message for message in state_logs(caplog))


@pytest.mark.parametrize("flag", [False, "true", 1, None])
def test_only_a_true_finished_flag_skips_a_site(flag: Any) -> None:
    config = settings()

    assert resume_plan(config, {SITES: {"warehouse-1": {FINISHED: flag, "pages": 3}}}) == {"warehouse-1": fresh(config)}


def test_a_site_no_longer_configured_is_left_out_of_the_plan() -> None:
    config = settings()
    gone = {CURSOR: f"{ENDPOINT}?site=old-dc&page%5Bnumber%5D=3"}

    assert resume_plan(config, {SITES: {"old-dc": gone, "warehouse-1": "junk"}}) == {"warehouse-1": fresh(config)}


def test_a_resumed_cursor_that_carries_a_key_is_stripped_of_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    cursor = f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3&api_key={KEY}"

    plan = resume_plan(settings(), {SITES: {"warehouse-1": {CURSOR: cursor}}})

    start = plan["warehouse-1"].start
    assert plan["warehouse-1"].resumed is True
    assert start is not None and KEY_PARAM not in start.query
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_a_cursor_with_customer_resumes() -> None:
    cursor = f"{ENDPOINT}?site=warehouse-1&customer=acme&cursor=opaque-token"

    plan = resume_plan(settings(customer="acme"), {SITES: {"warehouse-1": {CURSOR: cursor}}})

    start = plan["warehouse-1"].start
    assert plan["warehouse-1"].resumed is True
    assert start is not None and start.query["cursor"] == "opaque-token"


@pytest.mark.parametrize(
    ("why", "cursor", "overrides"),
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
        ("unparsable", "https://api.example.test:99999/customer-api/v1/locations?site=warehouse-1", {}),
    ],
)
def test_a_cursor_for_another_base_url_site_or_customer_is_ignored_with_a_warning(
    why: str, cursor: str, overrides: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = settings(**overrides)

    plan = resume_plan(config, {SITES: {"warehouse-1": {CURSOR: cursor, "pages": 9}}})

    assert plan == {"warehouse-1": fresh(config)}, why
    warnings = state_logs(caplog, logging.WARNING)
    assert len(warnings) == 1
    assert "'warehouse-1'" in warnings[0] and "ignoring the saved cursor" in warnings[0]
    assert not any("resuming" in message for message in state_logs(caplog))


def test_a_cursor_saved_under_one_site_for_another_is_ignored() -> None:
    config = three_sites()
    lyon = cursor_at(config, 1, 8)

    plan = resume_plan(config, {SITES: {"paris-dc": {CURSOR: lyon, "pages": 7}}})

    assert plan["paris-dc"] == fresh(config, 0)
    assert plan["lyon-dc"] == fresh(config, 1)


# ---------------------------------------------------------------------------------------------------- legacy state


def test_a_legacy_cursor_resumes_the_site_it_names_and_only_that_site() -> None:
    config = three_sites()
    lyon = cursor_at(config, 1, 12)
    legacy = {CURSOR: lyon, "pages": 11, "locations": 1_100, "objects": 2_000}

    plan = resume_plan(config, legacy)

    assert plan["lyon-dc"] == SiteResume(URL(lyon), resumed=True, counts=legacy)
    assert plan["paris-dc"] == fresh(config, 0)
    assert plan["nice-dc"] == fresh(config, 2)


def test_a_legacy_cursor_of_a_site_no_longer_configured_resumes_nothing() -> None:
    config = three_sites()

    plan = resume_plan(config, {CURSOR: f"{ENDPOINT}?site=old-dc&page%5Bnumber%5D=3", "pages": 2})

    assert plan == resume_plan(config, {})


def test_a_legacy_cursor_for_another_base_url_is_ignored_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    config = three_sites()

    plan = resume_plan(config, {CURSOR: "https://evil.example.test/customer-api/v1/locations?site=lyon-dc"})

    assert plan["lyon-dc"] == fresh(config, 1)
    warnings = state_logs(caplog, logging.WARNING)
    assert len(warnings) == 1 and "'lyon-dc'" in warnings[0]


def test_a_sites_own_entry_wins_over_a_legacy_cursor() -> None:
    config = three_sites()
    own, legacy = cursor_at(config, 1, 20), cursor_at(config, 1, 5)

    plan = resume_plan(config, {CURSOR: legacy, SITES: {"lyon-dc": {CURSOR: own}}})

    assert plan["lyon-dc"].start == URL(own)


# ---------------------------------------------------------------------------------------------------- saved state


def test_site_entry_strips_the_key_and_carries_counts() -> None:
    cursor = URL(f"{ENDPOINT}?site=warehouse-1&api_key={KEY}&page%5Bnumber%5D=5")

    entry = site_entry(cursor, {"pages": 4, "locations": 4000, "objects": 9000})

    assert KEY not in str(entry)
    assert entry == {
        CURSOR: f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=5",
        "pages": 4,
        "locations": 4000,
        "objects": 9000,
    }


def test_site_entry_without_a_cursor_starts_the_site_over() -> None:
    config = settings()

    entry = site_entry(None, {"pages": 0})

    assert entry == {"pages": 0}
    assert resume_plan(config, checkpoint_state({"warehouse-1": entry})) == {"warehouse-1": fresh(config)}


def test_a_finished_site_entry_keeps_no_cursor() -> None:
    cursor = with_key(URL(f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=5"), KEY)

    entry = site_entry(cursor, {"pages": 4}, finished=True)

    assert entry == {FINISHED: True, "pages": 4}


def test_checkpoint_state_round_trips_through_resume_plan() -> None:
    config = three_sites(customer="acme")
    paris = with_page_number(first_page(config, 0), 9)
    entries = {
        "paris-dc": site_entry(with_key(paris, "k1"), {"pages": 8, "locations": 80, "objects": 160}),
        "lyon-dc": site_entry(None, {"pages": 3, "locations": 30, "objects": 0}, finished=True),
        "nice-dc": site_entry(None, {"pages": 0, "locations": 0, "objects": 0}),
    }

    state = checkpoint_state(entries)
    plan = resume_plan(config, state)

    assert "k1" not in str(state)
    assert plan["paris-dc"] == SiteResume(paris, resumed=True, counts=entries["paris-dc"])
    assert plan["lyon-dc"].start is None and plan["lyon-dc"].counts == entries["lyon-dc"]
    assert plan["nice-dc"] == fresh(config, 2)


def test_finished_state_has_utc_last_sync_and_only_the_failed_sites() -> None:
    failed = {"lyon-dc": site_entry(URL(f"{ENDPOINT}?site=lyon-dc&page%5Bnumber%5D=4"), {"pages": 3})}
    before = datetime.now(UTC).replace(microsecond=0)

    state = finished_state(failed)

    after = datetime.now(UTC)
    assert set(state) == {LAST_SYNC, SITES}
    assert state[SITES] == failed
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", state[LAST_SYNC])
    moment = datetime.strptime(state[LAST_SYNC], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= after + timedelta(seconds=1)


def test_after_a_round_without_failures_every_site_starts_over() -> None:
    config = three_sites()

    state = finished_state({})

    assert set(state) == {LAST_SYNC}
    assert resume_plan(config, state) == resume_plan(config, {})


def test_after_a_round_with_a_failure_only_the_failed_site_resumes() -> None:
    config = three_sites()
    lyon = with_page_number(first_page(config, 1), 4)

    plan = resume_plan(config, finished_state({"lyon-dc": site_entry(lyon, {"pages": 3})}))

    assert plan["lyon-dc"].start == lyon and plan["lyon-dc"].resumed is True
    assert plan["paris-dc"] == fresh(config, 0)
    assert plan["nice-dc"] == fresh(config, 2)

"""Where a sync starts (resume only on the same origin, site and customer) and what its checkpoints hold."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta

import pytest
from yarl import URL

from dexory_async.config import Settings, parse_settings
from dexory_async.links import KEY_PARAM, first_page_url, page_number, with_key, with_page_number
from dexory_async.state import CURSOR, LAST_SYNC, checkpoint_state, finished_state, start_url

KEY = "sk-SECRET-123"
BASE = "https://api.example.test"
ENDPOINT = f"{BASE}/customer-api/v1/locations"


def settings(**overrides: str) -> Settings:
    return parse_settings({"site_name": "warehouse-1", "site_api_key": KEY, "base_url": BASE, **overrides})


# ---------------------------------------------------------------------------------------------------- start_url


def test_start_without_a_cursor_is_the_first_page(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dexory_async.state")
    config = settings()

    for state in ({}, {CURSOR: None}, {CURSOR: ""}, {LAST_SYNC: "2026-11-01T00:00:00Z"}):
        url, resumed = start_url(config, state)

        assert url == first_page_url(config)
        assert resumed is False
    assert caplog.records == []


def test_start_from_a_valid_cursor_resumes(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dexory_async.state")
    config = settings()
    cursor = str(with_page_number(first_page_url(config), 17))

    url, resumed = start_url(config, {CURSOR: cursor, "pages": 16})

    assert resumed is True
    assert url == URL(cursor)
    assert page_number(url) == 17
    messages = [r.getMessage() for r in caplog.records if r.name == "dexory_async.state"]
    assert len(messages) == 1 and "resuming" in messages[0] and cursor in messages[0]


def test_start_from_a_cursor_with_customer_resumes() -> None:
    config = settings(customer="acme")
    cursor = f"{ENDPOINT}?site=warehouse-1&customer=acme&cursor=opaque-token"

    url, resumed = start_url(config, {CURSOR: cursor})

    assert resumed is True
    assert url.query["cursor"] == "opaque-token"


def test_start_from_a_cursor_that_carries_a_key_strips_it(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="dexory_async.state")
    cursor = f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=3&api_key={KEY}"

    url, resumed = start_url(settings(), {CURSOR: cursor})

    assert resumed is True
    assert KEY_PARAM not in url.query
    assert all(KEY not in r.getMessage() for r in caplog.records)


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
    ],
)
def test_a_cursor_for_another_configuration_is_ignored(
    why: str, cursor: str, overrides: dict[str, str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="dexory_async.state")
    config = settings(**overrides)

    url, resumed = start_url(config, {CURSOR: cursor})

    assert resumed is False, why
    assert url == first_page_url(config)
    warnings = [r for r in caplog.records if r.name == "dexory_async.state" and r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "ignoring the saved cursor" in warnings[0].getMessage()
    assert not any("resuming" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------------------------------- saved state


def test_checkpoint_state_strips_the_key_and_carries_counts() -> None:
    cursor = f"{ENDPOINT}?site=warehouse-1&api_key={KEY}&page%5Bnumber%5D=5"

    state = checkpoint_state(cursor, {"pages": 4, "locations": 4000, "objects": 9000})

    assert KEY not in str(state)
    assert state == {
        CURSOR: f"{ENDPOINT}?site=warehouse-1&page%5Bnumber%5D=5",
        "pages": 4,
        "locations": 4000,
        "objects": 9000,
    }


def test_checkpoint_state_cursor_resumes_the_same_page() -> None:
    config = settings(customer="acme")
    next_page = with_page_number(first_page_url(config), 9)

    state = checkpoint_state(str(with_key(next_page, KEY)), {"pages": 8})
    url, resumed = start_url(config, state)

    assert resumed is True
    assert url == next_page


def test_finished_state_has_utc_last_sync_and_no_cursor() -> None:
    before = datetime.now(UTC).replace(microsecond=0)
    state = finished_state()
    after = datetime.now(UTC)

    assert set(state) == {LAST_SYNC}
    assert CURSOR not in state
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z", state[LAST_SYNC])
    moment = datetime.strptime(state[LAST_SYNC], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert before <= moment <= after + timedelta(seconds=1)


def test_after_a_finished_sync_the_next_one_starts_over() -> None:
    config = settings()

    assert start_url(config, finished_state()) == (first_page_url(config), False)

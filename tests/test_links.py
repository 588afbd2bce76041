"""URLs of the locations endpoint (links.py) and where a sync starts and what it saves (state.py)."""

from __future__ import annotations

import logging
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from yarl import URL

from dexory_async.config import Settings, parse_settings
from dexory_async.links import (
    KEY_PARAM,
    PAGE_NUMBER,
    PAGE_SIZE,
    first_page_url,
    page_number,
    resolve_link,
    same_origin,
    with_key,
    with_page_number,
    without_key,
)
from dexory_async.state import CURSOR, LAST_SYNC, checkpoint_state, finished_state, start_url

KEY = "sk-SECRET-123"
BASE = "https://api.example.test"
ENDPOINT = f"{BASE}/customer-api/v1/locations"


def settings(**overrides: str) -> Settings:
    return parse_settings({"site_name": "warehouse-1", "site_api_key": KEY, "base_url": BASE, **overrides})


# ---------------------------------------------------------------------------------------------------- first_page_url


def test_first_page_url_without_customer() -> None:
    url = first_page_url(settings(page_size="250"))

    assert url.scheme == "https" and url.host == "api.example.test"
    assert url.path == "/customer-api/v1/locations"
    assert dict(url.query) == {"site": "warehouse-1", PAGE_SIZE: "250"}
    assert "customer" not in url.query
    assert KEY_PARAM not in url.query
    assert str(url).startswith(ENDPOINT + "?")


def test_first_page_url_with_customer() -> None:
    url = first_page_url(settings(customer="acme"))

    assert dict(url.query) == {"site": "warehouse-1", PAGE_SIZE: "1000", "customer": "acme"}


def test_first_page_url_encodes_site_names() -> None:
    url = first_page_url(settings(site_name="Lager Süd & Co", customer="a+b"))

    assert url.query["site"] == "Lager Süd & Co"
    assert url.query["customer"] == "a+b"
    assert url.raw_query_string.count("&") == 2  # three parameters: the '&' in the name is escaped, '+' too
    assert URL(str(url)).query["site"] == "Lager Süd & Co"  # survives a round trip through a string


def test_first_page_url_keeps_a_base_url_path_prefix_and_port() -> None:
    url = first_page_url(settings(base_url="http://localhost:8080/proxy/"))

    assert str(url.with_query(None)) == "http://localhost:8080/proxy/customer-api/v1/locations"


# ---------------------------------------------------------------------------------------------------- the key


def test_with_key_adds_the_key_when_absent() -> None:
    url = URL(f"{ENDPOINT}?site=w&page%5Bnumber%5D=3")

    keyed = with_key(url, KEY)

    assert keyed.query[KEY_PARAM] == KEY
    assert keyed.query["site"] == "w" and keyed.query[PAGE_NUMBER] == "3"
    assert KEY_PARAM not in url.query  # the input is left alone


def test_with_key_keeps_a_key_the_link_already_carries() -> None:
    url = URL(f"{ENDPOINT}?site=w&api_key=from-link")

    assert with_key(url, KEY) == url
    assert with_key(url, KEY).query.getall(KEY_PARAM) == ["from-link"]


@pytest.mark.parametrize("key", ["a+b", "a b", "x&y=z", "abc/def+ghi==", "100%"])
def test_with_key_encodes_special_characters(key: str) -> None:
    keyed = with_key(URL(f"{ENDPOINT}?site=w"), key)

    assert URL(str(keyed)).query[KEY_PARAM] == key
    assert URL(str(keyed)).query["site"] == "w"


def test_without_key_strips_the_key_and_keeps_the_rest() -> None:
    url = URL(f"{ENDPOINT}?site=w&api_key={KEY}&page%5Bnumber%5D=2")

    stripped = without_key(url)

    assert KEY_PARAM not in stripped.query
    assert KEY not in str(stripped)
    assert dict(stripped.query) == {"site": "w", PAGE_NUMBER: "2"}


def test_without_key_strips_repeated_keys() -> None:
    stripped = without_key(URL(f"{ENDPOINT}?api_key=a&site=w&api_key=b"))

    assert dict(stripped.query) == {"site": "w"}


def test_without_key_leaves_a_keyless_url_unchanged() -> None:
    url = URL(f"{ENDPOINT}?site=w")

    assert without_key(url) is url


def test_with_key_then_without_key_round_trips() -> None:
    url = first_page_url(settings(customer="acme"))

    assert without_key(with_key(url, KEY)) == url


# ---------------------------------------------------------------------------------------------------- same_origin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.test/other/path?x=1", True),
        ("https://api.example.test:443/customer-api/v1/locations", True),  # default port spelt out
        ("https://API.Example.TEST/", True),  # host names are case-insensitive
        ("http://api.example.test/", False),  # scheme differs
        ("https://api.example.test:8443/", False),  # port differs
        ("https://evil.example.test/", False),  # host differs
        ("https://api.example.test.evil.test/", False),
        ("/customer-api/v1/locations", False),  # relative: no origin at all
    ],
)
def test_same_origin(url: str, expected: bool) -> None:
    assert same_origin(URL(url), URL(BASE)) is expected


# ---------------------------------------------------------------------------------------------------- resolve_link

PAGE = URL(f"{ENDPOINT}?site=w&page%5Bnumber%5D=1")


def test_resolve_absolute_link() -> None:
    link = f"{ENDPOINT}?site=w&page%5Bnumber%5D=2"

    assert resolve_link(PAGE, link) == URL(link)


def test_resolve_link_to_another_host_is_kept_for_the_caller_to_refuse() -> None:
    assert resolve_link(PAGE, "https://elsewhere.test/x?y=1") == URL("https://elsewhere.test/x?y=1")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/customer-api/v1/locations?site=w&page%5Bnumber%5D=2", f"{ENDPOINT}?site=w&page%5Bnumber%5D=2"),
        ("locations?site=w&cursor=abc", f"{ENDPOINT}?site=w&cursor=abc"),
        ("?site=w&cursor=abc", f"{ENDPOINT}?site=w&cursor=abc"),
    ],
)
def test_resolve_relative_link(link: str, expected: str) -> None:
    resolved = resolve_link(PAGE, link)

    assert resolved is not None and resolved.is_absolute()
    assert resolved == URL(expected)


def test_resolve_scheme_relative_link_takes_the_page_scheme() -> None:
    link = "//api.example.test/customer-api/v1/locations?site=w&page%5Bnumber%5D=2"

    resolved = resolve_link(PAGE, link)

    assert resolved == URL(f"{ENDPOINT}?site=w&page%5Bnumber%5D=2")
    assert resolved is not None and same_origin(resolved, URL(BASE))


@pytest.mark.parametrize("link", [None, "", 42, 1.5, ["x"], {"href": "x"}, True])
def test_resolve_link_without_a_string_is_none(link: Any) -> None:
    assert resolve_link(PAGE, link) is None


@pytest.mark.parametrize("link", [f"{ENDPOINT}?site=w&api_key={KEY}&cursor=c", f"?api_key={KEY}&site=w&cursor=c"])
def test_resolve_link_strips_the_key(link: str) -> None:
    resolved = resolve_link(PAGE, link)

    assert resolved is not None
    assert KEY_PARAM not in resolved.query
    assert KEY not in str(resolved)
    assert dict(resolved.query) == {"site": "w", "cursor": "c"}


# ---------------------------------------------------------------------------------------------------- page numbers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{ENDPOINT}?page%5Bnumber%5D=7", 7),
        (f"{ENDPOINT}?page[number]=12&site=w", 12),
        (f"{ENDPOINT}?site=w", None),
        (f"{ENDPOINT}?page%5Bnumber%5D=seven", None),
        (f"{ENDPOINT}?page%5Bnumber%5D=", None),
    ],
)
def test_page_number(url: str, expected: int | None) -> None:
    assert page_number(URL(url)) == expected


def test_with_page_number_adds_or_replaces_the_number_and_keeps_the_rest() -> None:
    first = first_page_url(settings(customer="acme"))

    third = with_page_number(first, 3)
    fourth = with_page_number(third, 4)

    assert page_number(third) == 3
    assert page_number(fourth) == 4
    assert fourth.query.getall(PAGE_NUMBER) == ["4"]
    assert {k: v for k, v in fourth.query.items() if k != PAGE_NUMBER} == dict(first.query)
    assert fourth.with_query(None) == first.with_query(None)


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

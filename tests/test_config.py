"""parse_settings: Fivetran's string-valued configuration in; Settings, or one error naming every problem, out."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from dexory_async.config import DEFAULT_BASE_URL, ConfigurationError, Settings, Site, parse_settings

SECRET = "sk-SECRET-123"
KEYS = ("sk-PARIS-111", "sk-LYON-222", "sk-NICE-333")
REQUIRED = {"site_name": "warehouse-1", "site_api_key": SECRET}


def config(**overrides: Any) -> dict[str, Any]:
    return {**REQUIRED, **overrides}


def problem_message(configuration: Any) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings(configuration)
    return str(caught.value)


def config_warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "dexory_async.config" and r.levelno == logging.WARNING]


# ---------------------------------------------------------------------------------------------------- defaults


def test_only_required_keys_gives_documented_defaults() -> None:
    settings = parse_settings(dict(REQUIRED))

    assert settings == Settings(
        sites=(Site("warehouse-1", SECRET),),
        base_url="https://api.service.dexoryview.com",
        customer=None,
        page_size=1000,
        concurrency=4,
        max_pages=100_000,
        max_retries=3,
        base_retry_delay=2.0,
        request_timeout_seconds=30.0,
        rate_limit_patience_seconds=300.0,
        checkpoint_interval_seconds=60.0,
        checkpoint_max_rows=100_000,
    )
    assert settings.base_url == DEFAULT_BASE_URL


# ---------------------------------------------------------------------------------------------------- parsing


def test_every_key_is_parsed_from_strings_to_its_type() -> None:
    settings = parse_settings(
        {
            "site_name": "warehouse-1",
            "site_api_key": SECRET,
            "base_url": "http://localhost:8080",
            "customer": "acme",
            "page_size": "250",
            "concurrency": "8",
            "max_pages": "42",
            "max_retries": "0",
            "base_retry_delay": "1.5",
            "request_timeout_seconds": "12",
            "rate_limit_patience_seconds": "600",
            "checkpoint_interval_seconds": "15",
            "checkpoint_max_rows": "5000",
        }
    )

    assert settings.sites == (Site("warehouse-1", SECRET),)
    assert settings.site_names == ["warehouse-1"]
    assert settings.base_url == "http://localhost:8080"
    assert settings.customer == "acme"
    assert settings.page_size == 250 and type(settings.page_size) is int
    assert settings.concurrency == 8 and type(settings.concurrency) is int
    assert settings.max_pages == 42 and type(settings.max_pages) is int
    assert settings.max_retries == 0 and type(settings.max_retries) is int
    assert settings.base_retry_delay == 1.5 and type(settings.base_retry_delay) is float
    assert settings.request_timeout_seconds == 12.0 and type(settings.request_timeout_seconds) is float
    assert settings.rate_limit_patience_seconds == 600.0 and type(settings.rate_limit_patience_seconds) is float
    assert settings.checkpoint_interval_seconds == 15.0 and type(settings.checkpoint_interval_seconds) is float
    assert settings.checkpoint_max_rows == 5000 and type(settings.checkpoint_max_rows) is int


def test_whitespace_around_every_value_but_the_key_is_stripped() -> None:
    settings = parse_settings(
        {
            "site_name": "  warehouse-1\t",
            "site_api_key": SECRET,
            "base_url": " https://example.test ",
            "customer": " acme ",
            "page_size": " 250 ",
            "concurrency": "\t2",
            "max_pages": "7 ",
            "max_retries": " 5",
            "base_retry_delay": " 0.5 ",
            "request_timeout_seconds": " 9.5 ",
            "checkpoint_interval_seconds": " 30 ",
            "checkpoint_max_rows": " 400 ",
        }
    )

    assert settings.sites == (Site("warehouse-1", SECRET),)
    assert settings.base_url == "https://example.test"
    assert settings.customer == "acme"
    assert (settings.page_size, settings.concurrency, settings.max_pages, settings.max_retries) == (250, 2, 7, 5)
    assert (settings.base_retry_delay, settings.request_timeout_seconds) == (0.5, 9.5)
    assert (settings.checkpoint_interval_seconds, settings.checkpoint_max_rows) == (30.0, 400)


@pytest.mark.parametrize("blank", ["", "   ", "\t\n", None])
def test_empty_optional_values_fall_back_to_defaults(blank: str | None) -> None:
    optional = [
        "base_url",
        "customer",
        "page_size",
        "concurrency",
        "max_pages",
        "max_retries",
        "base_retry_delay",
        "request_timeout_seconds",
        "rate_limit_patience_seconds",
        "checkpoint_interval_seconds",
        "checkpoint_max_rows",
    ]
    settings = parse_settings(config(**dict.fromkeys(optional, blank)))

    assert settings == parse_settings(dict(REQUIRED))
    assert settings.customer is None


def test_non_string_values_are_accepted_too() -> None:
    settings = parse_settings(config(page_size=50, base_retry_delay=0, request_timeout_seconds=2.5))

    assert (settings.page_size, settings.base_retry_delay, settings.request_timeout_seconds) == (50, 0.0, 2.5)


@pytest.mark.parametrize("padded", [f" {SECRET}", f"{SECRET}\n", f"\t{SECRET} "])
def test_a_key_with_whitespace_around_it_is_refused_without_echoing_it(padded: str) -> None:
    message = problem_message(config(site_api_key=padded))

    assert message == "invalid configuration: site_api_key has spaces or line breaks around it: remove them"


@pytest.mark.parametrize("url", ["https://user:hunter2@api.example.test", "https://:hunter2@api.example.test"])
def test_base_url_with_credentials_is_refused_without_echoing_them(url: str) -> None:
    message = problem_message(config(base_url=url))

    assert message == f"invalid configuration: base_url must be {URL_FORM}, got <hidden>"


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("page_size", "1", 1),
        ("page_size", "10000", 10_000),
        ("concurrency", "1", 1),
        ("concurrency", "32", 32),
        ("max_pages", "1", 1),
        ("max_pages", "10000000", 10_000_000),
        ("max_retries", "0", 0),
        ("max_retries", "20", 20),
        ("base_retry_delay", "0", 0.0),
        ("base_retry_delay", "300", 300.0),
        ("request_timeout_seconds", "0.001", 0.001),
        ("request_timeout_seconds", "3600", 3600.0),
        ("rate_limit_patience_seconds", "0", 0.0),
        ("rate_limit_patience_seconds", "86400", 86_400.0),
        ("checkpoint_interval_seconds", "0.001", 0.001),
        ("checkpoint_interval_seconds", "86400", 86_400.0),
        ("checkpoint_max_rows", "1", 1),
        ("checkpoint_max_rows", "10000000", 10_000_000),
    ],
)
def test_inclusive_bounds_are_accepted(key: str, raw: str, expected: float) -> None:
    assert getattr(parse_settings(config(**{key: raw})), key) == expected


@pytest.mark.parametrize("raw", ["0.05", ".25", "1e-2"])
def test_base_retry_delay_accepts_fractions(raw: str) -> None:
    assert parse_settings(config(base_retry_delay=raw)).base_retry_delay == pytest.approx(float(raw))


# ---------------------------------------------------------------------------------------------------- base_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.example.test/", "https://api.example.test"),  # trailing slashes removed
        ("https://api.example.test///", "https://api.example.test"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("https://api.example.test/prefix/", "https://api.example.test/prefix"),
        ("https://api.example.test/prefix", "https://api.example.test/prefix"),
        ("http://localhost", "http://localhost"),  # http:// to this machine
        ("http://localhost:8080/proxy", "http://localhost:8080/proxy"),
        ("http://LocalHost:8080", "http://localhost:8080"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.0.0.5", "http://127.0.0.5"),
        ("http://[::1]", "http://[::1]"),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ],
)
def test_accepted_base_url_loses_its_trailing_slashes(raw: str, expected: str) -> None:
    assert parse_settings(config(base_url=raw)).base_url == expected


@pytest.mark.parametrize(
    "raw",
    [
        "http://api.service.dexoryview.com",
        "http://api.example.test:8080/prefix",
        "http://10.0.0.7",
        "http://192.168.1.20:8080",
        "http://[2001:db8::1]",
        "http://localhost.example.test",
        "http://127.0.0.1.example.test",
    ],
)
def test_http_to_another_host_is_refused_suggesting_https(raw: str) -> None:
    message = problem_message(config(base_url=raw))

    assert message.startswith(f"invalid configuration: base_url {raw!r} uses http:// to a host that is not this")
    assert message.endswith("use https://")
    assert SECRET not in message


# ---------------------------------------------------------------------------------------------------- sites


def test_three_sites_with_three_keys_pair_them_in_order() -> None:
    settings = parse_settings(config(site_name="paris-dc,lyon-dc,nice-dc", site_api_key=",".join(KEYS)))

    assert settings.sites == (Site("paris-dc", KEYS[0]), Site("lyon-dc", KEYS[1]), Site("nice-dc", KEYS[2]))
    assert settings.site_names == ["paris-dc", "lyon-dc", "nice-dc"]


def test_one_key_serves_every_site() -> None:
    settings = parse_settings(config(site_name="paris-dc,lyon-dc,nice-dc"))

    assert settings.sites == (Site("paris-dc", SECRET), Site("lyon-dc", SECRET), Site("nice-dc", SECRET))


def test_whitespace_around_site_names_and_key_separators_is_ignored() -> None:
    settings = parse_settings(config(site_name=" paris-dc ,\tlyon dc\n, nice-dc ", site_api_key=", ".join(KEYS)))

    assert settings.sites == (Site("paris-dc", KEYS[0]), Site("lyon dc", KEYS[1]), Site("nice-dc", KEYS[2]))


@pytest.mark.parametrize("names", ["a, ,b", "a,,b", "a,", ",a", " , "])
def test_an_empty_site_entry_is_refused(names: str) -> None:
    message = problem_message(config(site_name=names))

    shown = names.strip()
    assert message == f"invalid configuration: site_name has an empty entry in {shown!r}: remove the extra comma"


@pytest.mark.parametrize("keys", [f"{KEYS[0]},,{KEYS[2]}", f"{KEYS[0]},{KEYS[1]},", f"{KEYS[0]}, ,{KEYS[2]}"])
def test_an_empty_key_entry_is_refused_without_echoing_any_key(keys: str) -> None:
    message = problem_message(config(site_name="a,b,c", site_api_key=keys))

    assert "site_api_key has an empty entry" in message
    assert not any(key in message for key in KEYS)


def test_a_site_named_twice_is_refused_naming_it() -> None:
    message = problem_message(config(site_name="paris-dc, lyon-dc,paris-dc"))

    assert message == "invalid configuration: site_name names 'paris-dc' more than once"


def test_every_site_named_twice_is_named() -> None:
    message = problem_message(config(site_name="b,a,b,a,c"))

    assert "site_name names 'a', 'b' more than once" in message


@pytest.mark.parametrize(("names", "keys"), [("a,b,c", KEYS[:2]), ("a,b", KEYS), ("a", KEYS[:2])])
def test_a_key_count_that_matches_neither_one_nor_the_sites_is_refused_without_echoing_keys(
    names: str, keys: tuple[str, ...]
) -> None:
    message = problem_message(config(site_name=names, site_api_key=",".join(keys)))

    sites = len(names.split(","))
    assert f"site_api_key has {len(keys)} keys for {sites} sites" in message
    assert not any(key in message for key in KEYS)


def test_site_and_key_problems_are_reported_with_the_others() -> None:
    message = problem_message({"site_name": "a,a", "site_api_key": f" {SECRET}", "page_size": "abc"})

    assert "site_name names 'a' more than once" in message
    assert "site_api_key has spaces or line breaks around it" in message
    assert "page_size must be" in message
    assert SECRET not in message


# ---------------------------------------------------------------------------------------------------- required keys


@pytest.mark.parametrize(
    ("missing", "expected"),
    [
        ("site_name", "site_name is required (one site name, or several separated by commas)"),
        ("site_api_key", "site_api_key is required (one API key for every site, or one per site"),
    ],
)
@pytest.mark.parametrize("how", ["absent", "empty", "blank", "none"])
def test_missing_required_key_is_named(missing: str, expected: str, how: str) -> None:
    configuration: dict[str, Any] = dict(REQUIRED)
    if how == "absent":
        del configuration[missing]
    else:
        configuration[missing] = {"empty": "", "blank": "   ", "none": None}[how]

    message = problem_message(configuration)

    assert expected in message


def test_both_required_keys_missing_are_reported_together() -> None:
    message = problem_message({})

    assert "site_name is required" in message
    assert "site_api_key is required" in message


def test_configuration_error_is_a_value_error() -> None:
    with pytest.raises(ValueError):
        parse_settings({})


@pytest.mark.parametrize("configuration", [None, "site_name=x", ["site_name", "x"]])
def test_configuration_that_is_not_a_mapping_is_rejected(configuration: Any) -> None:
    message = problem_message(configuration)

    assert "configuration must be a JSON object" in message


# ---------------------------------------------------------------------------------------------------- invalid values

INT_PAGE_SIZE = "an integer from 1 to 10000"
INT_CONCURRENCY = "an integer from 1 to 32"
INT_MAX_PAGES = "an integer from 1 to 10000000"
INT_MAX_RETRIES = "an integer from 0 to 20"
INT_CHECKPOINT_ROWS = "an integer from 1 to 10000000"
SECONDS_DELAY = "a number of seconds at least 0 and at most 300"
SECONDS_TIMEOUT = "a number of seconds greater than 0 and at most 3600"
SECONDS_CHECKPOINT = "a number of seconds greater than 0 and at most 86400"
SECONDS_PATIENCE = "a number of seconds at least 0 and at most 86400"
URL_FORM = "an http(s) URL such as https://api.service.dexoryview.com (scheme://host[:port])"


@pytest.mark.parametrize(
    ("key", "raw", "expected"),
    [
        ("page_size", "abc", INT_PAGE_SIZE),
        ("page_size", "0", INT_PAGE_SIZE),
        ("page_size", "10001", INT_PAGE_SIZE),
        ("page_size", "-1", INT_PAGE_SIZE),
        ("page_size", "1.5", INT_PAGE_SIZE),
        ("concurrency", "0", INT_CONCURRENCY),
        ("concurrency", "33", INT_CONCURRENCY),
        ("max_pages", "0", INT_MAX_PAGES),
        ("max_pages", "10000001", INT_MAX_PAGES),
        ("max_retries", "-1", INT_MAX_RETRIES),
        ("max_retries", "21", INT_MAX_RETRIES),
        ("max_retries", "three", INT_MAX_RETRIES),
        ("checkpoint_max_rows", "0", INT_CHECKPOINT_ROWS),
        ("checkpoint_max_rows", "10000001", INT_CHECKPOINT_ROWS),
        ("checkpoint_max_rows", "1.5", INT_CHECKPOINT_ROWS),
        ("base_retry_delay", "x", SECONDS_DELAY),
        ("base_retry_delay", "-1", SECONDS_DELAY),
        ("base_retry_delay", "nan", SECONDS_DELAY),
        ("base_retry_delay", "inf", SECONDS_DELAY),
        ("base_retry_delay", "300.5", SECONDS_DELAY),
        ("request_timeout_seconds", "0", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "-3", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "nan", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "3601", SECONDS_TIMEOUT),
        ("rate_limit_patience_seconds", "-1", SECONDS_PATIENCE),
        ("rate_limit_patience_seconds", "five minutes", SECONDS_PATIENCE),
        ("rate_limit_patience_seconds", "86401", SECONDS_PATIENCE),
        ("checkpoint_interval_seconds", "0", SECONDS_CHECKPOINT),
        ("checkpoint_interval_seconds", "-60", SECONDS_CHECKPOINT),
        ("checkpoint_interval_seconds", "nan", SECONDS_CHECKPOINT),
        ("checkpoint_interval_seconds", "86400.5", SECONDS_CHECKPOINT),
        ("checkpoint_interval_seconds", "a minute", SECONDS_CHECKPOINT),
        ("base_url", "ftp://x", URL_FORM),
        ("base_url", "not a url", URL_FORM),
        ("base_url", "http://h/?q=1", URL_FORM),
        ("base_url", "https://h#fragment", URL_FORM),
        ("base_url", "api.service.dexoryview.com", URL_FORM),
        ("base_url", "https:///no-host", URL_FORM),
    ],
)
def test_invalid_value_names_key_expected_form_and_value(key: str, raw: str, expected: str) -> None:
    message = problem_message(config(**{key: raw}))

    assert message == f"invalid configuration: {key} must be {expected}, got {raw!r}"


EVERY_VALUE_WRONG = {
    "page_size": "abc",
    "concurrency": "0",
    "max_pages": "0",
    "max_retries": "-1",
    "base_retry_delay": "x",
    "request_timeout_seconds": "0",
    "base_url": "ftp://x",
    "checkpoint_interval_seconds": "0",
    "checkpoint_max_rows": "0",
}


def test_every_bad_key_is_listed_in_one_error() -> None:
    message = problem_message(config(**EVERY_VALUE_WRONG))

    assert message.startswith("invalid configuration: ")
    expected_parts = [
        f"base_url must be {URL_FORM}, got 'ftp://x'",
        f"page_size must be {INT_PAGE_SIZE}, got 'abc'",
        f"concurrency must be {INT_CONCURRENCY}, got '0'",
        f"max_pages must be {INT_MAX_PAGES}, got '0'",
        f"max_retries must be {INT_MAX_RETRIES}, got '-1'",
        f"base_retry_delay must be {SECONDS_DELAY}, got 'x'",
        f"request_timeout_seconds must be {SECONDS_TIMEOUT}, got '0'",
        f"checkpoint_interval_seconds must be {SECONDS_CHECKPOINT}, got '0'",
        f"checkpoint_max_rows must be {INT_CHECKPOINT_ROWS}, got '0'",
    ]
    for part in expected_parts:
        assert part in message
    assert message.count(" must be ") == len(EVERY_VALUE_WRONG)


def test_missing_required_and_invalid_values_are_reported_together() -> None:
    message = problem_message({"site_api_key": SECRET, "page_size": "abc", "base_retry_delay": "-1"})

    assert "site_name is required" in message
    assert "page_size must be an integer from 1 to 10000, got 'abc'" in message
    assert "base_retry_delay must be a number of seconds at least 0 and at most 300, got '-1'" in message


# ---------------------------------------------------------------------------------------------------- unknown keys


def test_unknown_keys_log_a_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dexory_async.config")

    settings = parse_settings(config(pagesize="10", extra_thing="x"))

    assert settings.page_size == 1000  # the misspelt key is not taken for page_size
    assert config_warnings(caplog) == [
        "ignoring unknown configuration key 'extra_thing'",
        "ignoring unknown configuration key 'pagesize'",
    ]


@pytest.mark.parametrize("value", ["10", "0", "many"])
def test_a_retired_key_only_warns_whatever_its_value(value: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dexory_async.config")

    settings = parse_settings(config(checkpoint_every_pages=value))

    assert settings == parse_settings(dict(REQUIRED))
    assert config_warnings(caplog) == ["ignoring unknown configuration key 'checkpoint_every_pages'"]


def test_known_keys_log_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dexory_async.config")

    parse_settings(config(page_size="10", customer="acme", checkpoint_interval_seconds="5", checkpoint_max_rows="9"))

    assert [r for r in caplog.records if r.name == "dexory_async.config"] == []


# ---------------------------------------------------------------------------------------------------- keys stay secret


def test_api_keys_absent_from_repr_str_and_describe() -> None:
    settings = parse_settings(config(site_name="paris-dc,lyon-dc,nice-dc", site_api_key=",".join(KEYS), customer="a"))

    for text in (repr(settings), str(settings), str(settings.describe()), repr(settings.sites)):
        assert not any(key in text for key in KEYS)
    assert "site_api_key" not in settings.describe()
    assert repr(settings).startswith("Settings(sites=(Site(name='paris-dc'), Site(name='lyon-dc'), Site(name=")


def test_describe_lists_sites_by_name_and_every_other_setting() -> None:
    settings = parse_settings(config(site_name="paris-dc,lyon-dc", customer="acme", page_size="5"))

    assert settings.describe() == {
        "sites": ["paris-dc", "lyon-dc"],
        "base_url": DEFAULT_BASE_URL,
        "customer": "acme",
        "page_size": 5,
        "concurrency": 4,
        "max_pages": 100_000,
        "max_retries": 3,
        "base_retry_delay": 2.0,
        "request_timeout_seconds": 30.0,
        "rate_limit_patience_seconds": 300.0,
        "checkpoint_interval_seconds": 60.0,
        "checkpoint_max_rows": 100_000,
    }


def test_api_keys_absent_from_every_error_message() -> None:
    message = problem_message({"site_api_key": ",".join(KEYS), **EVERY_VALUE_WRONG})

    assert not any(key in message for key in KEYS)
    assert "site_name is required" in message


def test_api_key_absent_from_unknown_key_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dexory_async.config")

    parse_settings(config(api_key=SECRET))

    assert caplog.records, "the unknown key should have been warned about"
    assert all(SECRET not in r.getMessage() for r in caplog.records)

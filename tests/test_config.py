"""parse_settings: Fivetran's string-valued configuration in; Settings, or one error naming every problem, out."""

from __future__ import annotations

import logging
from dataclasses import FrozenInstanceError
from typing import Any

import pytest

from dexory_async.config import DEFAULT_BASE_URL, ConfigurationError, Settings, parse_settings

SECRET = "sk-SECRET-123"
REQUIRED = {"site_name": "warehouse-1", "site_api_key": SECRET}


def config(**overrides: Any) -> dict[str, Any]:
    return {**REQUIRED, **overrides}


def problem_message(configuration: dict[str, Any]) -> str:
    with pytest.raises(ConfigurationError) as caught:
        parse_settings(configuration)
    return str(caught.value)


# ---------------------------------------------------------------------------------------------------- defaults


def test_only_required_keys_gives_documented_defaults() -> None:
    settings = parse_settings(dict(REQUIRED))

    assert settings == Settings(
        site_name="warehouse-1",
        site_api_key=SECRET,
        base_url="https://api.service.dexoryview.com",
        customer=None,
        page_size=1000,
        concurrency=4,
        max_pages=100_000,
        max_retries=3,
        base_retry_delay=2.0,
        request_timeout_seconds=30.0,
        checkpoint_every_pages=10,
    )
    assert settings.base_url == DEFAULT_BASE_URL


def test_settings_are_immutable() -> None:
    settings = parse_settings(dict(REQUIRED))
    with pytest.raises(FrozenInstanceError):
        settings.page_size = 5  # type: ignore[misc]


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
            "checkpoint_every_pages": "3",
        }
    )

    assert settings.site_name == "warehouse-1"
    assert settings.site_api_key == SECRET
    assert settings.base_url == "http://localhost:8080"
    assert settings.customer == "acme"
    assert settings.page_size == 250 and type(settings.page_size) is int
    assert settings.concurrency == 8 and type(settings.concurrency) is int
    assert settings.max_pages == 42 and type(settings.max_pages) is int
    assert settings.max_retries == 0 and type(settings.max_retries) is int
    assert settings.base_retry_delay == 1.5 and type(settings.base_retry_delay) is float
    assert settings.request_timeout_seconds == 12.0 and type(settings.request_timeout_seconds) is float
    assert settings.checkpoint_every_pages == 3 and type(settings.checkpoint_every_pages) is int


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
            "checkpoint_every_pages": " 4 ",
        }
    )

    assert settings.site_name == "warehouse-1"
    assert settings.site_api_key == SECRET
    assert settings.base_url == "https://example.test"
    assert settings.customer == "acme"
    assert (settings.page_size, settings.concurrency, settings.max_pages, settings.max_retries) == (250, 2, 7, 5)
    assert (settings.base_retry_delay, settings.request_timeout_seconds) == (0.5, 9.5)
    assert settings.checkpoint_every_pages == 4


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
        "checkpoint_every_pages",
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
        ("checkpoint_every_pages", "1", 1),
        ("checkpoint_every_pages", "100000", 100_000),
        ("base_retry_delay", "0", 0.0),
        ("base_retry_delay", "300", 300.0),
        ("request_timeout_seconds", "0.001", 0.001),
        ("request_timeout_seconds", "3600", 3600.0),
    ],
)
def test_inclusive_bounds_are_accepted(key: str, raw: str, expected: float) -> None:
    assert getattr(parse_settings(config(**{key: raw})), key) == expected


@pytest.mark.parametrize("raw", ["0.05", ".25", "1e-2"])
def test_base_retry_delay_accepts_fractions(raw: str) -> None:
    assert parse_settings(config(base_retry_delay=raw)).base_retry_delay == pytest.approx(float(raw))


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://api.example.test/", "https://api.example.test"),
        ("https://api.example.test///", "https://api.example.test"),
        ("http://localhost:8080/", "http://localhost:8080"),
        ("https://api.example.test/prefix/", "https://api.example.test/prefix"),
        ("https://api.example.test/prefix", "https://api.example.test/prefix"),
    ],
)
def test_base_url_trailing_slash_removed(raw: str, expected: str) -> None:
    assert parse_settings(config(base_url=raw)).base_url == expected


# ---------------------------------------------------------------------------------------------------- required keys


@pytest.mark.parametrize("missing", ["site_name", "site_api_key"])
@pytest.mark.parametrize("how", ["absent", "empty", "blank", "none"])
def test_missing_required_key_is_named(missing: str, how: str) -> None:
    configuration = dict(REQUIRED)
    if how == "absent":
        del configuration[missing]
    else:
        configuration[missing] = {"empty": "", "blank": "   ", "none": None}[how]

    message = problem_message(configuration)

    assert f"{missing} is required (a non-empty string)" in message


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
INT_CHECKPOINT = "an integer from 1 to 100000"
SECONDS_DELAY = "a number of seconds at least 0 and at most 300"
SECONDS_TIMEOUT = "a number of seconds greater than 0 and at most 3600"
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
        ("checkpoint_every_pages", "0", INT_CHECKPOINT),
        ("checkpoint_every_pages", "100001", INT_CHECKPOINT),
        ("base_retry_delay", "x", SECONDS_DELAY),
        ("base_retry_delay", "-1", SECONDS_DELAY),
        ("base_retry_delay", "nan", SECONDS_DELAY),
        ("base_retry_delay", "inf", SECONDS_DELAY),
        ("base_retry_delay", "300.5", SECONDS_DELAY),
        ("request_timeout_seconds", "0", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "-3", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "nan", SECONDS_TIMEOUT),
        ("request_timeout_seconds", "3601", SECONDS_TIMEOUT),
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


def test_every_bad_key_is_listed_in_one_error() -> None:
    bad = {
        "page_size": "abc",
        "concurrency": "0",
        "max_pages": "0",
        "max_retries": "-1",
        "base_retry_delay": "x",
        "request_timeout_seconds": "0",
        "base_url": "ftp://x",
        "checkpoint_every_pages": "0",
    }

    message = problem_message(config(**bad))

    assert message.startswith("invalid configuration: ")
    expected_parts = [
        f"base_url must be {URL_FORM}, got 'ftp://x'",
        f"page_size must be {INT_PAGE_SIZE}, got 'abc'",
        f"concurrency must be {INT_CONCURRENCY}, got '0'",
        f"max_pages must be {INT_MAX_PAGES}, got '0'",
        f"max_retries must be {INT_MAX_RETRIES}, got '-1'",
        f"base_retry_delay must be {SECONDS_DELAY}, got 'x'",
        f"request_timeout_seconds must be {SECONDS_TIMEOUT}, got '0'",
        f"checkpoint_every_pages must be {INT_CHECKPOINT}, got '0'",
    ]
    for part in expected_parts:
        assert part in message
    assert message.count(" must be ") == len(bad)


def test_missing_required_and_invalid_values_are_reported_together() -> None:
    message = problem_message({"site_api_key": SECRET, "page_size": "abc", "base_retry_delay": "-1"})

    assert "site_name is required" in message
    assert "page_size must be an integer from 1 to 10000, got 'abc'" in message
    assert "base_retry_delay must be a number of seconds at least 0 and at most 300, got '-1'" in message


def test_page_size_abc_message_matches_the_documented_wording() -> None:
    assert "page_size must be an integer from 1 to 10000, got 'abc'" in problem_message(config(page_size="abc"))


# ---------------------------------------------------------------------------------------------------- unknown keys


def test_unknown_keys_log_a_warning_each(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="dexory_async.config")

    settings = parse_settings(config(pagesize="10", extra_thing="x"))

    assert settings.page_size == 1000  # the misspelt key is not taken for page_size
    warnings = [r for r in caplog.records if r.name == "dexory_async.config" and r.levelno == logging.WARNING]
    messages = [r.getMessage() for r in warnings]
    assert messages == [
        "ignoring unknown configuration key 'extra_thing'",
        "ignoring unknown configuration key 'pagesize'",
    ]


def test_known_keys_log_no_warning(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dexory_async.config")

    parse_settings(config(page_size="10", customer="acme"))

    assert [r for r in caplog.records if r.name == "dexory_async.config"] == []


# ---------------------------------------------------------------------------------------------------- key stays secret


def test_api_key_absent_from_repr_str_and_describe() -> None:
    settings = parse_settings(config(customer="acme"))

    assert SECRET not in repr(settings)
    assert SECRET not in str(settings)
    assert SECRET not in str(settings.describe())
    assert "site_api_key" not in settings.describe()
    assert repr(settings).startswith("Settings(site_name='warehouse-1', base_url=")


def test_describe_lists_every_other_setting() -> None:
    settings = parse_settings(config(customer="acme", page_size="5"))

    assert settings.describe() == {
        "site_name": "warehouse-1",
        "base_url": DEFAULT_BASE_URL,
        "customer": "acme",
        "page_size": 5,
        "concurrency": 4,
        "max_pages": 100_000,
        "max_retries": 3,
        "base_retry_delay": 2.0,
        "request_timeout_seconds": 30.0,
        "checkpoint_every_pages": 10,
    }


def test_api_key_absent_from_every_error_message() -> None:
    everything_wrong = {
        "site_api_key": SECRET,
        "base_url": "ftp://x",
        "page_size": "abc",
        "concurrency": "0",
        "max_pages": "0",
        "max_retries": "-1",
        "base_retry_delay": "nan",
        "request_timeout_seconds": "0",
        "checkpoint_every_pages": "0",
    }

    message = problem_message(everything_wrong)

    assert SECRET not in message
    assert "site_name is required" in message


def test_api_key_absent_from_unknown_key_warnings(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="dexory_async.config")

    parse_settings(config(api_key=SECRET))

    assert caplog.records, "the unknown key should have been warned about"
    assert all(SECRET not in r.getMessage() for r in caplog.records)

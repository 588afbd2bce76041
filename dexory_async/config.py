"""Connector settings, parsed from the string-valued configuration Fivetran hands to `update()`.

Every problem is collected and reported at once, before any request, so a user fixes the form in one go.
The API key's value is never part of a message.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any

from yarl import URL

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.service.dexoryview.com"


class ConfigurationError(ValueError):
    """One or more configuration values are missing or malformed; the message lists every one."""


@dataclass(frozen=True)
class Settings:
    site_name: str
    site_api_key: str
    base_url: str = DEFAULT_BASE_URL
    customer: str | None = None
    page_size: int = 1000
    concurrency: int = 4
    max_pages: int = 100_000
    max_retries: int = 3
    base_retry_delay: float = 2.0
    request_timeout_seconds: float = 30.0
    checkpoint_every_pages: int = 10

    def __repr__(self) -> str:  # the key must never reach a log line, even through repr()
        shown = ", ".join(f"{name}={value!r}" for name, value in self.describe().items())
        return f"Settings({shown})"

    def describe(self) -> dict[str, Any]:
        """Every setting except the key, for the start-of-sync log line."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "site_api_key"}


@dataclass(frozen=True)
class _Rule:
    """How one key is parsed, and the expected form quoted when it is not."""

    expected: str
    parse: Callable[[str], Any]


def _integer(low: int, high: int) -> _Rule:
    def parse(raw: str) -> int:
        value = int(raw)
        if not low <= value <= high:
            raise ValueError
        return value

    return _Rule(f"an integer from {low} to {high}", parse)


def _seconds(low: float, high: float, *, low_inclusive: bool) -> _Rule:
    def parse(raw: str) -> float:
        value = float(raw)
        too_low = value < low if low_inclusive else value <= low
        if math.isnan(value) or too_low or value > high:
            raise ValueError
        return value

    bound = "at least" if low_inclusive else "greater than"
    return _Rule(f"a number of seconds {bound} {low:g} and at most {high:g}", parse)


def _parse_base_url(raw: str) -> str:
    url = URL(raw.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host or url.query_string or url.fragment:
        raise ValueError
    if url.user is not None or url.password is not None:  # credentials would be logged with the URL
        raise ValueError
    return str(url)


_TEXT = _Rule("a non-empty string", str)
_RULES: dict[str, _Rule] = {
    "site_name": _TEXT,
    "site_api_key": _TEXT,
    "base_url": _Rule(f"an http(s) URL such as {DEFAULT_BASE_URL} (scheme://host[:port])", _parse_base_url),
    "customer": _TEXT,
    "page_size": _integer(1, 10_000),
    "concurrency": _integer(1, 32),
    "max_pages": _integer(1, 10_000_000),
    "max_retries": _integer(0, 20),
    "base_retry_delay": _seconds(0, 300, low_inclusive=True),
    "request_timeout_seconds": _seconds(0, 3600, low_inclusive=False),
    "checkpoint_every_pages": _integer(1, 100_000),
}
_REQUIRED = ("site_name", "site_api_key")


def expected_form(key: str) -> str:
    """How a key's value must look, as the validation errors say it (for the setup form's help text)."""
    return _RULES[key].expected


def default_of(key: str) -> Any:
    return next(f.default for f in fields(Settings) if f.name == key)


def parse_settings(configuration: Mapping[str, Any]) -> Settings:
    """Validate `configuration` and build Settings, or raise ConfigurationError naming every bad key."""
    if not isinstance(configuration, Mapping):
        raise ConfigurationError("configuration must be a JSON object of string values")
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, rule in _RULES.items():
        raw = configuration.get(key)
        text = "" if raw is None else str(raw).strip()
        if not text:
            if key in _REQUIRED:
                problems.append(f"{key} is required ({rule.expected})")
            continue
        if key == "site_api_key" and text != str(raw):
            # Not stripped: the key as sent must be exactly the value Fivetran masks in its crash reports.
            problems.append("site_api_key has spaces or line breaks around it: remove them")
            continue
        try:
            values[key] = rule.parse(text)
        except ValueError:
            secret = key == "site_api_key" or (key == "base_url" and "@" in text)  # a key, or credentials in a URL
            shown = "<hidden>" if secret else repr(str(raw))
            problems.append(f"{key} must be {rule.expected}, got {shown}")
    if problems:
        raise ConfigurationError("invalid configuration: " + "; ".join(problems))
    for key in sorted(set(configuration) - set(_RULES)):
        logger.warning("ignoring unknown configuration key %r", key)
    return Settings(**values)

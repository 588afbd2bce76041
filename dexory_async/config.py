"""Connector settings, parsed from the string-valued configuration Fivetran hands to `update()`.

Every problem is collected and reported at once, before any request, so a user fixes the form in one go.
An API key's value is never part of a message.
"""

from __future__ import annotations

import ipaddress
import logging
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

from yarl import URL

from .errors import ConfigurationError as ConfigurationError  # where it always was, for its importers

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://api.service.dexoryview.com"
SITE_NAME = "site_name"
SITE_API_KEY = "site_api_key"
LIST_SEPARATOR = ","


@dataclass(frozen=True)
class Site:
    """One Dexory site and the key its requests carry."""

    name: str
    api_key: str = field(repr=False)  # the key must never reach a log line, even through repr()


@dataclass(frozen=True)
class Settings:
    sites: tuple[Site, ...]
    base_url: str = DEFAULT_BASE_URL
    customer: str | None = None
    page_size: int = 1000
    concurrency: int = 4
    max_pages: int = 100_000
    max_retries: int = 3
    base_retry_delay: float = 2.0
    request_timeout_seconds: float = 30.0
    rate_limit_patience_seconds: float = 300.0
    checkpoint_interval_seconds: float = 60.0
    checkpoint_max_rows: int = 100_000

    @property
    def site_names(self) -> list[str]:
        return [site.name for site in self.sites]

    def describe(self) -> dict[str, Any]:
        """Every setting, sites by name only, for the start-of-sync log line."""
        described = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "sites"}
        return {"sites": self.site_names, **described}


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


class _ClearTextToRemoteHost(ValueError):
    """http:// to a host that is not this machine: the key would cross a network in clear text."""


def _parse_base_url(raw: str) -> str:
    url = URL(raw.rstrip("/"))
    if url.scheme not in ("http", "https") or not url.host or url.query_string or url.fragment:
        raise ValueError
    if url.user is not None or url.password is not None:  # credentials would be logged with the URL
        raise ValueError
    if url.scheme == "http" and not _is_loopback(url.host):
        raise _ClearTextToRemoteHost
    return str(url)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


_TEXT = _Rule("a non-empty string", str)
_SITES_FORM = "one site name, or several separated by commas"
_KEYS_FORM = "one API key for every site, or one per site separated by commas in the order of site_name"
_RULES: dict[str, _Rule] = {
    "base_url": _Rule(f"an http(s) URL such as {DEFAULT_BASE_URL} (scheme://host[:port])", _parse_base_url),
    "customer": _TEXT,
    "page_size": _integer(1, 10_000),
    "concurrency": _integer(1, 32),
    "max_pages": _integer(1, 10_000_000),
    "max_retries": _integer(0, 20),
    "base_retry_delay": _seconds(0, 300, low_inclusive=True),
    "request_timeout_seconds": _seconds(0, 3600, low_inclusive=False),
    "rate_limit_patience_seconds": _seconds(0, 86_400, low_inclusive=True),
    "checkpoint_interval_seconds": _seconds(0, 86_400, low_inclusive=False),
    "checkpoint_max_rows": _integer(1, 10_000_000),
}
_FORMS = {SITE_NAME: _SITES_FORM, SITE_API_KEY: _KEYS_FORM} | {key: rule.expected for key, rule in _RULES.items()}


def expected_form(key: str) -> str:
    """How a key's value must look, as the validation errors say it (for the setup form's help text)."""
    return _FORMS[key]


def default_of(key: str) -> Any:
    return next(f.default for f in fields(Settings) if f.name == key)


def parse_settings(configuration: Mapping[str, Any]) -> Settings:
    """Validate `configuration` and build Settings, or raise ConfigurationError naming every bad key."""
    if not isinstance(configuration, Mapping):
        raise ConfigurationError("configuration must be a JSON object of string values")
    problems: list[str] = []
    sites = _parse_sites(configuration, problems)
    values: dict[str, Any] = {}
    for key, rule in _RULES.items():
        raw = configuration.get(key)
        text = "" if raw is None else str(raw).strip()
        if not text:
            continue
        try:
            values[key] = rule.parse(text)
        except _ClearTextToRemoteHost:
            problems.append(
                f"{key} {raw!r} uses http:// to a host that is not this machine; the API key travels in the query "
                "string and must not cross a network in clear text: use https://"
            )
        except ValueError:
            shown = "<hidden>" if key == "base_url" and "@" in text else repr(str(raw))  # credentials in a URL
            problems.append(f"{key} must be {rule.expected}, got {shown}")
    if problems:
        raise ConfigurationError("invalid configuration: " + "; ".join(problems))
    for key in sorted(set(configuration) - set(_RULES) - {SITE_NAME, SITE_API_KEY}):
        logger.warning("ignoring unknown configuration key %r", key)
    return Settings(sites=sites, **values)


def _parse_sites(configuration: Mapping[str, Any], problems: list[str]) -> tuple[Site, ...]:
    """`site_name` and `site_api_key` together: one key for every site, or one per site in the same order."""
    names = _parse_names(configuration.get(SITE_NAME), problems)
    keys = _parse_keys(configuration.get(SITE_API_KEY), problems)
    if not names or not keys:
        return ()
    if len(keys) == 1:
        keys = keys * len(names)
    if len(keys) != len(names):
        problems.append(
            f"{SITE_API_KEY} has {len(keys)} keys for {len(names)} sites: give one key for every site, "
            "or one per site in the order of site_name"
        )
        return ()
    return tuple(Site(name, key) for name, key in zip(names, keys, strict=True))


def _parse_names(raw: Any, problems: list[str]) -> list[str]:
    text = "" if raw is None else str(raw).strip()
    if not text:
        problems.append(f"{SITE_NAME} is required ({_SITES_FORM})")
        return []
    names = [name.strip() for name in text.split(LIST_SEPARATOR)]
    if "" in names:
        problems.append(f"{SITE_NAME} has an empty entry in {text!r}: remove the extra comma")
        return []
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        problems.append(f"{SITE_NAME} names {', '.join(map(repr, repeated))} more than once")
        return []
    return names


def _parse_keys(raw: Any, problems: list[str]) -> list[str]:
    """Keys are never echoed, and never stripped: the key as sent must be exactly what Fivetran masks."""
    text = "" if raw is None else str(raw)
    if not text.strip():
        problems.append(f"{SITE_API_KEY} is required ({_KEYS_FORM})")
        return []
    keys = text.split(LIST_SEPARATOR)
    if len(keys) == 1 and keys[0] != keys[0].strip():
        problems.append(f"{SITE_API_KEY} has spaces or line breaks around it: remove them")
        return []
    keys = [key.strip() for key in keys] if len(keys) > 1 else keys  # "k1, k2": the separator's spaces
    if "" in keys:
        problems.append(f"{SITE_API_KEY} has an empty entry: give one key for every site, or one per site")
        return []
    return keys

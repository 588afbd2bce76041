"""configuration_hints: the sentences that point at a setting when failures across sites share one cause."""

from __future__ import annotations

from typing import Any

from yarl import URL

from dexory_async.config import Settings, parse_settings
from dexory_async.errors import KeyRejected, RetriesExhausted, SiteNotFound, TransientError
from dexory_async.hints import configuration_hints

PARIS, LYON, NICE = "paris-dc", "lyon-dc", "nice-dc"
KEYS = "key-paris, key-lyon, key-nice"


def settings(sites: str = f"{PARIS}, {LYON}, {NICE}", keys: str = KEYS, **more: str) -> Settings:
    return parse_settings({"site_name": sites, "site_api_key": keys, **more})


def not_found(site: str) -> SiteNotFound:
    return SiteNotFound(f"site {site!r} not found (HTTP 404)")


def rejected(site: str) -> KeyRejected:
    return KeyRejected(f"the API key was rejected for site {site!r} (HTTP 401)")


def hints(configured: Settings, **errors: Any) -> list[str]:
    return configuration_hints(configured, {name.replace("_", "-"): error for name, error in errors.items()})


def test_every_site_unknown_names_the_url_requested_and_points_at_base_url_first() -> None:
    configured = settings(base_url="https://proxy.example.test/dexory", customer="acme")

    (hint,) = hints(configured, paris_dc=not_found(PARIS), lyon_dc=not_found(LYON), nice_dc=not_found(NICE))

    assert hint.startswith(
        "every site answered 404 for its first page, e.g. https://proxy.example.test/dexory/customer-api/v1/locations"
        "?site=paris-dc&page%5Bsize%5D=1000&customer=acme: check base_url and customer ('acme') before site_name"
    )
    assert "key-" not in hint


def test_every_site_unknown_shows_the_url_the_request_went_to() -> None:
    requested = URL("https://api.example.test/v2/customer-api/v1/locations?site=paris-dc&page%5Bsize%5D=1")
    first = SiteNotFound("site 'paris-dc' not found (HTTP 404)", url=requested, status=404, site=PARIS)

    (hint,) = hints(settings(PARIS, "key-paris"), paris_dc=first)

    assert f"e.g. {requested}: check base_url" in hint


def test_one_site_unknown_among_several_is_the_sites_own_error() -> None:
    assert hints(settings(), nice_dc=not_found(NICE)) == []


def test_a_single_unknown_site_still_points_at_base_url() -> None:
    (hint,) = hints(settings(PARIS, "key-paris"), paris_dc=not_found(PARIS))

    assert hint.startswith("the site answered 404 for its first page, e.g. https://api.service.dexoryview.com/")
    assert "check base_url before site_name" in hint


def test_keys_rejected_with_one_key_per_site_say_keys_pair_by_position() -> None:
    (hint,) = hints(settings(), paris_dc=rejected(PARIS), lyon_dc=rejected(LYON))

    assert "site_api_key pairs keys with site names by position" in hint
    assert "same order as the sites" in hint


def test_one_key_rejected_for_some_sites_says_it_was_used_for_every_site() -> None:
    (hint,) = hints(settings(keys="the-one-key"), lyon_dc=rejected(LYON))

    assert hint.startswith("site_api_key holds one key, used for all 3 sites, and it was rejected for 1 of them")
    assert "the-one-key" not in hint


def test_a_rejected_key_of_a_single_site_needs_no_hint() -> None:
    assert hints(settings(PARIS, "key-paris"), paris_dc=rejected(PARIS)) == []


def test_other_failures_give_no_hint() -> None:
    exhausted = RetriesExhausted("giving up", last_error=TransientError("HTTP 503 from the server"))

    assert hints(settings(), paris_dc=exhausted, lyon_dc=not_found(LYON)) == []

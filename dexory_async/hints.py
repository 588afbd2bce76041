"""What the failures of a sync (or a connection test) say about the configuration as a whole.

Each site's own error says what went wrong for that site; some mistakes only show across sites: a `base_url` or
`customer` that makes every site unknown, keys given in another order than the sites, one key meant for one site
used for all of them. These sentences point at the setting to fix first.
"""

from __future__ import annotations

from collections.abc import Mapping

from .config import SITE_API_KEY, SITE_NAME, Settings
from .errors import KeyRejected, SiteNotFound
from .links import first_page_url


def configuration_hints(settings: Settings, errors: Mapping[str, BaseException]) -> list[str]:
    """Sentences that point at a setting rather than a site, from `errors`: by site name, the failures of sites
    refused on their first request."""
    hints = []
    unknown = [error for site in settings.sites if isinstance(error := errors.get(site.name), SiteNotFound)]
    if unknown and len(unknown) == len(settings.sites):
        hints.append(_every_site_unknown(settings, unknown[0]))
    rejected = [name for name, error in errors.items() if isinstance(error, KeyRejected)]
    if rejected and len(settings.sites) > 1:
        hints.append(_keys_rejected(settings, len(rejected)))
    return hints


def _every_site_unknown(settings: Settings, first: SiteNotFound) -> str:
    who = "every site" if len(settings.sites) > 1 else "the site"
    customer = f" and customer ({settings.customer!r})" if settings.customer else ""
    url = first.url or first_page_url(settings, settings.sites[0])  # the URL requested, never with the key
    return (
        f"{who} answered 404 for its first page, e.g. {url}: check base_url"
        f"{customer} before {SITE_NAME}; the connector adds /customer-api/v1/locations to base_url itself"
    )


def _keys_rejected(settings: Settings, rejected: int) -> str:
    sites = len(settings.sites)
    if len({site.api_key for site in settings.sites}) == 1:
        return (
            f"{SITE_API_KEY} holds one key, used for all {sites} sites, and it was rejected for {rejected} of them: "
            f"if each site has its own key, give every key, separated by commas in the order of {SITE_NAME}"
        )
    return (
        f"{SITE_API_KEY} pairs keys with site names by position (the first key with the first site of {SITE_NAME}, "
        "and so on): check that the keys are in the same order as the sites"
    )

"""What a sync keeps in Fivetran state, per site: the next page to fetch (never with a key) and running counts.

    {"sites": {"paris-dc": {"cursor": "https://…?site=paris-dc&page%5Bnumber%5D=7", "pages": 6, ...},
               "lyon-dc": {"finished": true, "pages": 40, ...}}}

A site marked finished completed in the sync that wrote the checkpoint; it is not fetched again until every site of
that round is done. Once a round is done, state holds only `last_sync` and the sites that failed in it, so the next
sync reads every other site in full. State from the single-site version (a top-level `cursor`) still resumes its site.
This module is where URLs become text, and text URLs again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from .config import Settings, Site
from .links import SITE_PARAM, first_page_url, same_endpoint, without_key

logger = logging.getLogger(__name__)

SITES = "sites"
CURSOR = "cursor"
FINISHED = "finished"
LAST_SYNC = "last_sync"


@dataclass(frozen=True)
class SiteResume:
    """Where one site starts in this sync: `start` is None for a site that finished earlier in this round."""

    start: URL | None
    resumed: bool = False  # `start` is a saved cursor
    counts: Mapping[str, Any] = field(default_factory=dict)


def resume_plan(settings: Settings, state: Mapping[str, Any]) -> dict[str, SiteResume]:
    """Each configured site's start, from its own entry in state (or the single-site version's cursor)."""
    entries = state.get(SITES)
    entries = entries if isinstance(entries, Mapping) else {}
    legacy = _legacy_entry(state)
    plan = {}
    for site in settings.sites:
        entry = entries.get(site.name)
        if entry is None and legacy is not None and _cursor_site(legacy) == site.name:
            entry = legacy
        plan[site.name] = _site_resume(settings, site, entry if isinstance(entry, Mapping) else {})
    return plan


def _legacy_entry(state: Mapping[str, Any]) -> Mapping[str, Any] | None:
    return state if isinstance(state.get(CURSOR), str) else None


def _cursor_site(entry: Mapping[str, Any]) -> str | None:
    try:
        return URL(str(entry[CURSOR])).query.get(SITE_PARAM)
    except ValueError:  # unreadable: _site_resume says so
        return None


def _site_resume(settings: Settings, site: Site, entry: Mapping[str, Any]) -> SiteResume:
    """A cursor is only trusted if it points at this configuration's origin, endpoint, site and customer: otherwise
    the key could travel elsewhere, or another site's pages be synced under this one."""
    first = first_page_url(settings, site)
    if entry.get(FINISHED) is True:
        logger.info(
            "site %r finished earlier in this round of syncs: not fetched again until the round ends", site.name
        )
        return SiteResume(None, counts=entry)
    cursor = entry.get(CURSOR)
    if not isinstance(cursor, str) or not cursor:
        return SiteResume(first)
    try:
        url = without_key(URL(cursor))
    except ValueError:
        logger.warning("site %r: ignoring the saved cursor: it is not a URL; starting over", site.name)
        return SiteResume(first)
    if not same_endpoint(url, first):
        logger.warning(
            "site %r: ignoring the saved cursor: it belongs to another base_url, site or customer; starting over",
            site.name,
        )
        return SiteResume(first)
    logger.info("site %r: resuming the interrupted sync from %s", site.name, url)
    return SiteResume(url, resumed=True, counts=entry)


def site_entry(cursor: URL | None, counts: Mapping[str, int], *, finished: bool = False) -> dict[str, Any]:
    """One site's entry; no cursor means the site starts from its first page."""
    entry: dict[str, Any] = {FINISHED: True} if finished else {}
    if cursor is not None and not finished:
        entry[CURSOR] = str(without_key(cursor))
    return {**entry, **counts}


def checkpoint_state(entries: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    return {SITES: dict(entries)}


def finished_state(unfinished: Mapping[str, dict[str, Any]]) -> dict[str, Any]:
    """The state at the end of a round: when it ended, and where the sites that failed in it resume."""
    state: dict[str, Any] = {LAST_SYNC: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    if unfinished:
        state[SITES] = dict(unfinished)
    return state

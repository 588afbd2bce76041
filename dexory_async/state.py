"""What a sync keeps in Fivetran state, per site: its sync round, the next page to fetch (never with a key) and the
round's running counts.

    {"sites": {"paris-dc": {"round_started_at": "2026-12-01T10:00:00.000000Z",
                            "cursor": "https://…?site=paris-dc&page%5Bnumber%5D=7", "pages": 6, ...},
               "lyon-dc": {"round_started_at": "…", "finished": "https://…?site=lyon-dc", "pages": 40, ...}},
     "rounds": {"paris-dc": "…", "lyon-dc": "…"}}

A site's round runs from its first page to its end, across as many resumed syncs as that takes, and keeps the time
it started: every row it delivers carries that time. A site marked finished (with the endpoint it finished at) is
not fetched again until every site of the sync round is done, and only while the endpoint is the same. Once every
site is done, state holds `last_sync`, the sites that failed (they resume their round) and `rounds`: each site's
latest round start, so a new round always starts later than the one before, whatever the clock did.
State from before rounds (a cursor without a round) starts its site over: the rows it saved carry no round.
This module is where URLs and times become text, and text URLs and times again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from yarl import URL

from .config import Settings, Site
from .delivered import Earlier, KeyFilter
from .links import first_page_url, same_endpoint, without_key
from .messages import SiteStart
from .redaction import redact_all

logger = logging.getLogger(__name__)

SITES = "sites"
CURSOR = "cursor"
FINISHED = "finished"
LAST_SYNC = "last_sync"
ROUND = "round_started_at"
ROUNDS = "rounds"
DELIVERED = "delivered"  # the keys the round's syncs so far delivered (a KeyFilter as text)
WIDEST = "widest"  # the round's longest object list so far
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_TICK = timedelta(microseconds=1)


@dataclass(frozen=True)
class Abandoned:
    """A round under way that this sync cannot resume: a new one starts instead."""

    started: datetime
    counts: Mapping[str, Any]
    reason: str


@dataclass(frozen=True)
class SiteResume:
    """How one site takes part in this sync: `start` is None for a site that finished earlier in this round."""

    start: SiteStart | None
    round_started_at: datetime
    counts: Mapping[str, Any] = field(default_factory=dict)
    abandoned: Abandoned | None = None


def resume_plan(
    settings: Settings, state: Mapping[str, Any], now: Callable[[], datetime] = lambda: datetime.now(UTC)
) -> dict[str, SiteResume]:
    """Each configured site's part, from its own entry in state (the single-site version's state is one entry)."""
    entries = state.get(SITES)
    entries = entries if isinstance(entries, Mapping) else {name: state for name in settings.site_names[:1]}
    rounds = state.get(ROUNDS)
    rounds = rounds if isinstance(rounds, Mapping) else {}
    moment = now()
    plan = {}
    for site in settings.sites:
        entry = entries.get(site.name)
        entry = entry if isinstance(entry, Mapping) else {}
        plan[site.name] = _site_resume(settings, site, entry, _next_round(moment, rounds.get(site.name)))
    return plan


def _next_round(moment: datetime, previous: object) -> datetime:
    """A new round's start: now, or just after the site's previous round if the clock says otherwise."""
    before = parse_time(previous)
    return moment if before is None or moment > before else before + _TICK


def _site_resume(settings: Settings, site: Site, entry: Mapping[str, Any], new_round: datetime) -> SiteResume:
    """A cursor or a finished mark is only trusted for this configuration's origin, endpoint, site and customer:
    otherwise the key could travel elsewhere, another site's pages be synced under this one, or a site be left
    with another endpoint's rows."""
    first = first_page_url(settings, site)
    fresh = SiteResume(SiteStart(first, resumed=False, round_started_at=new_round), new_round)
    started = parse_time(entry.get(ROUND))
    if started is None:  # no round under way, or state from before rounds (rows without one): the site starts one
        if entry.get(CURSOR) or entry.get(FINISHED):
            logger.warning("site %r: saved progress predates sync rounds; reading the site in full", site.name)
        return fresh
    if FINISHED in entry:
        if _same_endpoint(entry.get(FINISHED), first):
            logger.info(
                "site %r finished earlier in this round of syncs: not fetched again until the round ends", site.name
            )
            return SiteResume(None, started, counts=entry)
        logger.warning("site %r finished earlier at another base_url, site or customer: syncing it again", site.name)
        return fresh
    cursor = entry.get(CURSOR)
    earlier = _earlier(entry)
    if cursor is None:  # the round started; it starts again from its first page
        return SiteResume(SiteStart(first, False, started, earlier), started, counts=entry)
    try:
        if not isinstance(cursor, str):
            raise ValueError(cursor)
        url = without_key(URL(cursor))
    except ValueError:
        logger.warning("site %r: ignoring the saved cursor: it is not a URL; starting over", site.name)
        return replace(fresh, abandoned=Abandoned(started, entry, "its saved cursor was not a URL"))
    if not same_endpoint(url, first):
        logger.warning(
            "site %r: ignoring the saved cursor: it belongs to another base_url, site or customer; starting over",
            site.name,
        )
        reason = "base_url, site_name or customer changed while it ran"
        return replace(fresh, abandoned=Abandoned(started, entry, reason))
    logger.info("site %r: resuming the interrupted sync from %s", site.name, url)
    return SiteResume(SiteStart(url, True, started, earlier), started, counts=entry)


def _earlier(entry: Mapping[str, Any]) -> Earlier:
    widest = entry.get(WIDEST)
    return Earlier(KeyFilter.from_text(entry.get(DELIVERED)), widest if type(widest) is int else 0)


def _same_endpoint(saved: object, first: URL) -> bool:
    if not isinstance(saved, str):
        return False
    try:
        return same_endpoint(URL(saved), first)
    except ValueError:
        return False


def site_entry(
    round_started_at: datetime,
    cursor: URL | None,
    counts: Mapping[str, int],
    keys: Iterable[str],
    *,
    finished_at: URL | None = None,
    delivered: tuple[KeyFilter, int] | None = None,
) -> dict[str, Any]:
    """One site's entry: a finished site keeps the endpoint it finished at; no cursor means the site (re)starts its
    round from its first page. A round under way keeps what it `delivered` so far: its keys and widest list."""
    entry: dict[str, Any] = {ROUND: format_time(round_started_at)}
    if finished_at is not None:
        entry[FINISHED] = _saved_url(finished_at, keys)
    else:
        if cursor is not None:
            entry[CURSOR] = _saved_url(cursor, keys)
        if delivered is not None:
            entry[DELIVERED], entry[WIDEST] = delivered[0].to_text(), delivered[1]
    return {**entry, **counts}


def _saved_url(url: URL, keys: Iterable[str]) -> str:
    """The one place a URL is written to state: without its key parameter, and any key a link carried under another
    name masked."""
    return redact_all(str(without_key(url)), list(keys))


def checkpoint_state(entries: Mapping[str, dict[str, Any]], rounds: Mapping[str, datetime]) -> dict[str, Any]:
    return {SITES: dict(entries), ROUNDS: _rounds(rounds)}


def finished_state(unfinished: Mapping[str, dict[str, Any]], rounds: Mapping[str, datetime]) -> dict[str, Any]:
    """The state at the end of a round: when it ended, where the sites that failed in it resume, and each site's
    latest round start."""
    state: dict[str, Any] = {LAST_SYNC: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"), ROUNDS: _rounds(rounds)}
    if unfinished:
        state[SITES] = dict(unfinished)
    return state


def _rounds(rounds: Mapping[str, datetime]) -> dict[str, str]:
    return {name: format_time(started) for name, started in rounds.items()}


def format_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime(_TIME_FORMAT)


def parse_time(text: object) -> datetime | None:
    if not isinstance(text, str):
        return None
    try:
        return datetime.strptime(text, _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None

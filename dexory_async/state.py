"""What a sync keeps in Fivetran state: the next page to fetch (never with the key) and running counts."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from yarl import URL

from .config import Settings
from .links import first_page_url, same_origin, without_key

logger = logging.getLogger(__name__)

CURSOR = "cursor"
LAST_SYNC = "last_sync"


def start_url(settings: Settings, state: Mapping[str, Any]) -> tuple[URL, bool]:
    """Where this sync begins, and whether it resumes an interrupted one.

    A cursor is only trusted if it points at this configuration's origin, endpoint, site and customer: otherwise
    the key could travel elsewhere, or another site's pages be synced under this one.
    """
    cursor = state.get(CURSOR)
    first = first_page_url(settings)
    if not cursor:
        return first, False
    url = without_key(URL(str(cursor)))
    same_endpoint = same_origin(url, first) and url.path == first.path
    same_site = url.query.get("site") == settings.site_name and url.query.get("customer") == settings.customer
    if not (same_endpoint and same_site):
        logger.warning("ignoring the saved cursor: it belongs to another base_url, site or customer; starting over")
        return first, False
    logger.info("resuming the interrupted sync from %s", url)
    return url, True


def checkpoint_state(cursor: str, counts: Mapping[str, int]) -> dict[str, Any]:
    return {CURSOR: str(without_key(URL(cursor))), **counts}


def finished_state() -> dict[str, Any]:
    return {LAST_SYNC: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}

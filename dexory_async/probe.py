"""The setup form's connection test: one request for one location of each site, and sentences a user can act on."""

from __future__ import annotations

import asyncio
import dataclasses

import aiohttp

from .client import DexoryClient, open_session
from .config import Settings, Site
from .errors import DexoryError, RetriesExhausted
from .links import first_page_url
from .throttle import Throttle


async def probe(settings: Settings, site: Site, session: aiohttp.ClientSession) -> None:
    """Fetch one location of `site` (`page[size]=1`, no retries); raise DexoryError saying what is wrong."""
    settings = dataclasses.replace(settings, max_retries=0, page_size=1)
    try:
        await DexoryClient(settings, site, session, Throttle(1)).fetch(first_page_url(settings, site))
    except RetriesExhausted as error:
        last = error.last_error
        if last.rate_limited:
            message = f"the Dexory API at {settings.base_url} is rate limiting ({last}): test again in a minute"
            raise DexoryError(message) from None
        cause = f"no answer within {settings.request_timeout_seconds:g}s ({last})" if last.timed_out else str(last)
        raise DexoryError(f"could not reach the Dexory API at {settings.base_url}: {cause}") from None


async def _failures(settings: Settings) -> dict[str, DexoryError]:
    async with open_session(settings) as session:  # at most `concurrency` requests at once, as in a sync

        async def check(site: Site) -> DexoryError | None:
            try:
                await probe(settings, site, session)
            except DexoryError as error:
                return error
            return None

        results = await asyncio.gather(*(check(site) for site in settings.sites))
    return {site.name: error for site, error in zip(settings.sites, results, strict=True) if error is not None}


def check_connection(settings: Settings) -> dict[str, DexoryError]:
    """Why each site that does not answer with its key fails, by site name; empty when every site answers."""
    return asyncio.run(_failures(settings))

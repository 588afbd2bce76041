"""The setup form's connection test: one request for one location, and a sentence a user can act on."""

from __future__ import annotations

import asyncio
import dataclasses

from .client import DexoryClient, open_session
from .config import Settings
from .errors import DexoryError, RetriesExhausted
from .links import PAGE_SIZE, first_page_url
from .throttle import Throttle


async def probe(settings: Settings) -> None:
    """Fetch one location (`page[size]=1`, no retries); raise DexoryError saying what is wrong."""
    settings = dataclasses.replace(settings, max_retries=0, concurrency=1)
    url = first_page_url(settings).update_query({PAGE_SIZE: "1"})
    async with open_session(settings) as session:
        try:
            await DexoryClient(settings, session, Throttle(1)).fetch(url)
        except RetriesExhausted as error:
            cause = str(error.last_error)
            if error.last_error.timed_out:
                cause = f"no answer within {settings.request_timeout_seconds:g}s ({cause})"
            raise DexoryError(f"could not reach the Dexory API at {settings.base_url}: {cause}") from None


def check_connection(settings: Settings) -> str | None:
    """None when the API answers with this site and key, else why not."""
    try:
        asyncio.run(probe(settings))
    except DexoryError as error:
        return str(error)
    return None

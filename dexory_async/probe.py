"""The setup form's connection test: one request for one location of each site, and sentences a user can act on."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable

from .client import DexoryClient
from .config import Settings, Site
from .errors import DexoryError, RateLimited, RetriesExhausted
from .links import first_page_url
from .throttle import Throttle
from .transport import AiohttpTransport, Transport


async def probe(settings: Settings, site: Site, transport: Transport) -> None:
    """Fetch one location of `site` (`page[size]=1`, no retries); raise DexoryError saying what is wrong."""
    settings = dataclasses.replace(settings, max_retries=0, page_size=1)
    try:
        await DexoryClient(settings, site, transport, Throttle(1)).fetch(first_page_url(settings, site))
    except RetriesExhausted as error:
        last = error.last_error
        if isinstance(last, RateLimited):
            message = f"the Dexory API at {settings.base_url} is rate limiting ({last}): test again in a minute"
            raise DexoryError(message) from None
        raise DexoryError(f"could not reach the Dexory API at {settings.base_url}: {last}") from None


async def _failures(settings: Settings, transport: Transport) -> list[str]:
    async def check(site: Site) -> str | None:
        try:
            await probe(settings, site, transport)
        except DexoryError as error:
            return f"site {site.name!r}: {error}"
        return None

    try:
        results = await asyncio.gather(*(check(site) for site in settings.sites))
    finally:
        await transport.aclose()
    return [failure for failure in results if failure is not None]


def check_connection(settings: Settings, transport: Callable[[], Transport] | None = None) -> list[str]:
    """Why each site that does not answer with its key fails, one line each; empty when every site answers.
    `transport` makes the transport on the test's loop (default: aiohttp)."""

    async def run() -> list[str]:
        return await _failures(settings, transport() if transport else AiohttpTransport())

    return asyncio.run(run())

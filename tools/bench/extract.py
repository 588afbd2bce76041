"""One extractor measurement in a fresh process, for `make bench`: the process's peak RSS is then this run's alone.

`python -m tools.bench.extract extract --base-url URL --site NAME [--site NAME ...] --concurrency N` runs the real
extractor (fetch + parse + flatten, every site concurrently) against a running simulator with an `emit` that only
counts; with `--until-ended NAME ...` it is timed until those sites have ended, and the other sites are cancelled then
(healthy sites beside hanging ones). `... memory --base-url URL --site NAME` fetches the same page bodies first
(untimed) and then times `orjson.loads` + `flatten_locations` on them from memory, the most the extractor's CPU work
allows. Either prints one JSON line: a `Tally`. The settings are parsed by the connector's own `parse_settings`, so
every default is its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import resource
import time
from contextlib import suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp
import orjson
from yarl import URL

from dexory_async.config import LIST_SEPARATOR, SITE_API_KEY, SITE_NAME, Settings, Site, parse_settings
from dexory_async.delivered import DeliveredKeys
from dexory_async.extractor import extract
from dexory_async.flatten import flatten_locations
from dexory_async.links import first_page_url, resolve_link, with_key
from dexory_async.messages import Item, SiteEnded, SiteStart
from dexory_async.page import Page
from dexory_async.transport import AiohttpTransport

ROUND = datetime.now(UTC)  # the sync round every row of this run carries


@dataclass
class Tally:
    """What one measurement did and how long it took; `peak_rss_mb` covers the whole process (MiB)."""

    pages: int = 0
    locations: int = 0
    objects: int = 0
    bytes: int = 0
    seconds: float = 0.0
    peak_rss_mb: float = 0.0

    def count(self, locations: int, objects: int, size: int) -> None:
        self.pages += 1
        self.locations += locations
        self.objects += objects
        self.bytes += size


def peak_rss_mb() -> float:
    """This process's own high-water RSS, in MiB.

    Linux's `ru_maxrss` is carried across exec from the process that forked us: started by a parent bigger than us
    (the benchmark, with DuckDB loaded), every run reports the parent's peak instead. `VmHWM` belongs to this
    process image alone; `ru_maxrss` is only the fallback where /proc is missing.
    """
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    match = re.search(r"^VmHWM:\s+(\d+) kB", status, re.MULTILINE)
    return int(match.group(1)) / 1024 if match else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def settings_for(args: argparse.Namespace) -> Settings:
    """The connector's settings from the configuration a user would give; only what the benchmark varies is set."""
    configuration = {
        SITE_NAME: LIST_SEPARATOR.join(args.site),
        SITE_API_KEY: args.api_key,
        "base_url": args.base_url,
        "page_size": str(args.page_size),
    }
    if args.concurrency is not None:
        configuration["concurrency"] = str(args.concurrency)
    if args.request_timeout is not None:
        configuration["request_timeout_seconds"] = str(args.request_timeout)
    return parse_settings(configuration)


async def run_extractor(settings: Settings, awaited: set[str]) -> Tally:
    """The extraction of every site, timed from opening the session until every site of `awaited` has ended (then
    the rest is cancelled); nothing kept."""
    tally = Tally()
    pending = set(awaited)
    all_ended = asyncio.Event()

    async def emit(item: Item) -> None:
        if isinstance(item, Page):
            tally.count(len(item.rows.locations), len(item.rows.objects), item.size_bytes)
        elif isinstance(item, SiteEnded):
            pending.discard(item.site)
            if not pending:
                all_ended.set()

    started_at = datetime.now(UTC)
    starts = {site.name: SiteStart(first_page_url(settings, site), False, started_at) for site in settings.sites}
    started = time.perf_counter()
    transport = AiohttpTransport()
    try:
        extraction = asyncio.create_task(extract(settings, starts, emit, transport))
        ended = asyncio.create_task(all_ended.wait())
        await asyncio.wait((extraction, ended), return_when=asyncio.FIRST_COMPLETED)
        tally.seconds = time.perf_counter() - started
        ended.cancel()
        if awaited != set(settings.site_names):  # the sites the measurement does not wait for may still be running
            extraction.cancel()
        with suppress(asyncio.CancelledError):
            await extraction  # a failure of the extraction itself is no measurement: it is raised here
    finally:
        await transport.aclose()
    return tally


async def fetch_bodies(settings: Settings) -> list[tuple[Site, bytes]]:
    """Every page body of every site, following `links.next` as the API gives it."""
    bodies: list[tuple[Site, bytes]] = []
    async with aiohttp.ClientSession() as session:
        for site in settings.sites:
            url: URL | None = first_page_url(settings, site)
            while url is not None:
                async with session.get(with_key(url, site.api_key)) as response:
                    response.raise_for_status()
                    body = await response.read()
                bodies.append((site, body))
                url = resolve_link(url, orjson.loads(body).get("links", {}).get("next"))
    return bodies


def parse_from_memory(bodies: list[tuple[Site, bytes]]) -> Tally:
    """Parse and flatten bodies already in memory: the extractor's work without the network and the event loop."""
    tally = Tally()
    started = time.perf_counter()
    keys: dict[str, DeliveredKeys] = {}  # one per site, as over a round
    for site, body in bodies:
        rows = flatten_locations(
            site.name, ROUND, orjson.loads(body)["data"], keys.setdefault(site.name, DeliveredKeys())
        )
        tally.count(len(rows.locations), len(rows.objects), len(body))
    tally.seconds = time.perf_counter() - started
    return tally


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.bench.extract", description=__doc__)
    parser.add_argument("mode", choices=("extract", "memory"))
    parser.add_argument("--base-url", required=True)
    parser.add_argument("--site", action="append", help="a site to sync (repeatable; default demo-site)")
    parser.add_argument(
        "--api-key", default="demo-key", help="one key for every site, or one per site, comma-separated"
    )
    parser.add_argument("--page-size", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=None, help="default: the connector's default")
    parser.add_argument("--request-timeout", type=float, default=None, help="default: the connector's default")
    parser.add_argument(
        "--until-ended", action="append", default=[], metavar="NAME", help="end when these sites ended (repeatable)"
    )
    args = parser.parse_args(argv)
    args.site = args.site or ["demo-site"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    settings = settings_for(args)
    if args.mode == "extract":
        tally = asyncio.run(run_extractor(settings, set(args.until_ended or settings.site_names)))
    else:
        tally = parse_from_memory(asyncio.run(fetch_bodies(settings)))
    tally.peak_rss_mb = peak_rss_mb()
    print(json.dumps(asdict(tally)), flush=True)


if __name__ == "__main__":
    main()

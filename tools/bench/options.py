"""The command line of `python -m tools.bench`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tools.fivetran_cli import ROOT

REPORT = ROOT / "build" / "bench.md"
MULTI_SITES = 3  # sites of the multi-site row, splitting the end-to-end site's locations between them
HEALTHY_SITES = HANGING_SITES = HANGING_ROW_CONCURRENCY = 4  # healthy sites beside as many hanging as slots


@dataclass(frozen=True)
class Options:
    latency_site: int
    sync_site: int
    small_site: int
    large_site: int
    healthy_site: int
    serial_end_to_end: bool  # the connector end to end at concurrency 1 too: no target, the long run only
    hanging_timeout: float
    latency_ms: float
    page_size: int
    seed: int
    repeat: int
    output: Path


# By default, each size is the least at which its target means something. The latency comparison needs many pages:
# the first page is always fetched alone (prefetching starts from the API's first numbered link), which caps the
# speed-up at pages / (1 + (pages - 1) / concurrency), 3.8x at 60 pages. End to end, the warehouse's upserts set the
# pace (about 2,500 rows/s on 2 cores), so a sync costs its ceiling's time plus its first page and its parsing beside
# the upserts: about 90% of the ceiling at any size. One 20-second turn (15,000 locations) moves by about 10% on a
# shared machine (79-104% in six paired runs), so a default turn shows that figure, and only the long run's fastest of
# three turns on 50,000 locations can judge the 90% target. The serial run, which has no target, is left to the long
# run.
DEFAULT = {
    "latency_site": 60_000,
    "sync_site": 15_000,
    "small_site": 10_000,
    "large_site": 100_000,
    "healthy_site": 40_000,
    "repeat": 1,
}
FULL = {
    "latency_site": 100_000,
    "sync_site": 50_000,
    "small_site": 20_000,
    "large_site": 200_000,
    "healthy_site": 40_000,
    "repeat": 3,
}


def parse_args(argv: list[str] | None = None, description: str | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--full",
        action="store_true",
        help=f"the long run: larger sites, {FULL['repeat']} turns per figure and the serial end-to-end run; "
        f"by default {DEFAULT['repeat']} turn on sites just large enough for the targets (about 3 minutes)",
    )
    sizes = (
        ("--latency-site", "latency_site", "locations, extractor at latency"),
        ("--sync-site", "sync_site", f"locations, end to end; the multi-site row splits them between {MULTI_SITES}"),
        ("--small-site", "small_site", "locations, extractor at 0 ms and RSS"),
        ("--large-site", "large_site", "locations, RSS comparison"),
        ("--healthy-site", "healthy_site", f"locations, shared by the {HEALTHY_SITES} healthy sites beside hanging"),
    )
    for flag, key, what in sizes:
        parser.add_argument(flag, type=int, help=f"{what} (default {DEFAULT[key]:,}; --full {FULL[key]:,})")
    parser.add_argument(
        "--hanging-timeout",
        type=float,
        default=5.0,
        help="request_timeout_seconds of both runs of the hanging row (default 5; the connector's own is 30)",
    )
    parser.add_argument("--latency-ms", type=float, default=300.0, help="simulator latency per page (default 300)")
    parser.add_argument("--page-size", type=int, default=1000, help="locations per page (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="simulator data seed (default 1)")
    parser.add_argument(
        "--repeat",
        type=int,
        help=f"runs per figure, fastest kept (default {DEFAULT['repeat']}; --full {FULL['repeat']})",
    )
    parser.add_argument("--output", type=Path, default=REPORT, help="Markdown report (default build/bench.md)")
    args = parser.parse_args(argv)
    preset = FULL if args.full else DEFAULT
    options = Options(
        latency_site=args.latency_site or preset["latency_site"],
        sync_site=args.sync_site or preset["sync_site"],
        small_site=args.small_site or preset["small_site"],
        large_site=args.large_site or preset["large_site"],
        healthy_site=args.healthy_site or preset["healthy_site"],
        serial_end_to_end=args.full,
        hanging_timeout=args.hanging_timeout,
        latency_ms=args.latency_ms,
        page_size=args.page_size,
        seed=args.seed,
        repeat=args.repeat or preset["repeat"],
        output=args.output,
    )
    sizes_given = (options.latency_site, options.small_site, options.large_site)
    if min(*sizes_given, options.page_size, options.repeat) < 1 or options.latency_ms < 0:
        parser.error("site sizes, page size and repeat must be at least 1, and the latency not negative")
    if options.sync_site < MULTI_SITES or options.healthy_site < HEALTHY_SITES:
        parser.error("--sync-site and --healthy-site must give each of the sites they are split between a location")
    if options.hanging_timeout <= 0:
        parser.error("--hanging-timeout must be positive")
    return options

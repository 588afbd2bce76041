"""The command line of `python -m tools.bench`."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from tools.fivetran_cli import ROOT

REPORT = ROOT / "build" / "bench.md"
MULTI_SITES = 3  # sites of the multi-site row, splitting the end-to-end site's locations between them


@dataclass(frozen=True)
class Options:
    latency_site: int
    sync_site: int
    small_site: int
    large_site: int
    latency_ms: float
    page_size: int
    seed: int
    repeat: int
    output: Path


# The latency comparison needs a large site: the first page is always fetched alone (prefetching starts from the
# API's first numbered link), which caps the speed-up at pages / (1 + (pages - 1) / concurrency).
FULL = {"latency_site": 100_000, "sync_site": 50_000, "small_site": 20_000, "large_site": 200_000, "repeat": 3}
QUICK = {"latency_site": 8_000, "sync_site": 4_000, "small_site": 4_000, "large_site": 40_000, "repeat": 1}


def parse_args(argv: list[str] | None = None, description: str | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=description, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke run: sites of {QUICK['small_site']:,} and {QUICK['large_site']:,} locations, one repeat "
        "(too few pages for the targets to mean much)",
    )
    parser.add_argument(
        "--latency-site", type=int, help=f"locations, extractor at latency (default {FULL['latency_site']:,})"
    )
    parser.add_argument(
        "--sync-site",
        type=int,
        help=f"locations, end to end; the multi-site row splits them between {MULTI_SITES} sites "
        f"(default {FULL['sync_site']:,})",
    )
    parser.add_argument(
        "--small-site", type=int, help=f"locations, extractor at 0 ms and RSS (default {FULL['small_site']:,})"
    )
    parser.add_argument("--large-site", type=int, help=f"locations, RSS comparison (default {FULL['large_site']:,})")
    parser.add_argument("--latency-ms", type=float, default=300.0, help="simulator latency per page (default 300)")
    parser.add_argument("--page-size", type=int, default=1000, help="locations per page (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="simulator data seed (default 1)")
    parser.add_argument("--repeat", type=int, help=f"runs per figure, fastest kept (default {FULL['repeat']})")
    parser.add_argument("--output", type=Path, default=REPORT, help="Markdown report (default build/bench.md)")
    args = parser.parse_args(argv)
    preset = QUICK if args.quick else FULL
    options = Options(
        latency_site=args.latency_site or preset["latency_site"],
        sync_site=args.sync_site or preset["sync_site"],
        small_site=args.small_site or preset["small_site"],
        large_site=args.large_site or preset["large_site"],
        latency_ms=args.latency_ms,
        page_size=args.page_size,
        seed=args.seed,
        repeat=args.repeat or preset["repeat"],
        output=args.output,
    )
    sizes = (options.latency_site, options.small_site, options.large_site)
    if min(*sizes, options.page_size, options.repeat) < 1 or options.latency_ms < 0:
        parser.error("site sizes, page size and repeat must be at least 1, and the latency not negative")
    if options.sync_site < MULTI_SITES:
        parser.error(f"--sync-site must be at least {MULTI_SITES}: the multi-site row splits it between its sites")
    return options

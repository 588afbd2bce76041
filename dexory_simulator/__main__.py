"""`python -m dexory_simulator --port PORT --site NAME[:KEY[:LOCATIONS[:SEED]]] ...`: serve until SIGINT/SIGTERM.

Each `--site` adds a site; what it leaves out comes from `--api-key`, `--locations` and `--seed` (the n-th site,
counting from 0, gets seed S+n, so sites differ). Without `--site`, one site `demo-site`, so
`--site NAME --api-key KEY --locations N --seed S` describes a single site.
The first line on stdout is `listening on http://127.0.0.1:PORT` (with the real port when PORT is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from .config import CURSOR, LINK_OBJECT, LINK_STRING, NUMBERED, SimulatorConfig, SiteSpec
from .faults import FaultPlan
from .server import Simulator


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m dexory_simulator", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument(
        "--site",
        action="append",
        default=[],
        type=_site_fields,
        metavar="NAME[:KEY[:LOCATIONS[:SEED]]]",
        help="a site to serve (repeatable; default: demo-site)",
    )
    parser.add_argument("--api-key", default="demo-key", help="key of the sites that name none")
    parser.add_argument("--locations", type=int, default=5_000, help="locations of the sites that name no count")
    parser.add_argument("--seed", type=int, default=1, help="data seed: the same seed serves the same data")
    parser.add_argument(
        "--shared-locations",
        type=int,
        default=0,
        metavar="N",
        help="the first N locations have the same key on every site",
    )
    parser.add_argument(
        "--revoke-key-after",
        action="append",
        default=[],
        type=_revocation,
        metavar="SITE=N",
        help="accept SITE's key for N requests, then answer 401 (repeatable)",
    )
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="plus a random 0..J ms per request")
    parser.add_argument("--pagination", choices=(NUMBERED, CURSOR), default=NUMBERED)
    parser.add_argument("--no-last-link", action="store_true", help="numbered pages without links.last")
    parser.add_argument("--first-page-number", type=int, choices=(0, 1), default=1, help="page[number] of page one")
    parser.add_argument(
        "--link-style", choices=(LINK_STRING, LINK_OBJECT), default=LINK_STRING, help="links as URLs or link objects"
    )
    parser.add_argument(
        "--past-end",
        choices=("empty", "404", "400"),
        default="empty",
        help="answer to a page number past the end: 200 with no data, 404, or 400 'page out of range'",
    )
    parser.add_argument("--rate-limit", type=float, default=None, metavar="RPS", help="429 above RPS requests/s")
    parser.add_argument(
        "--data-version", type=int, default=1, help="serve the data as changed at this version (1: the base data)"
    )
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="[SITE/]PAGE:KIND[=VALUE][@ATTEMPTS]",
        help="inject a fault (repeatable), e.g. 3:status=503@1-2; kinds are listed in faults.py",
    )
    return parser.parse_args(argv)


SiteFields = tuple[str, str | None, int | None, int | None]


def _site_fields(text: str) -> SiteFields:
    """`NAME[:KEY[:LOCATIONS[:SEED]]]`, with None for what it leaves out."""
    name, key, locations, seed = [*text.split(":", 3), "", "", ""][:4]
    try:
        return name, key or None, int(locations) if locations else None, int(seed) if seed else None
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: LOCATIONS and SEED must be integers") from None


def _revocation(text: str) -> tuple[str, int]:
    site, _, count = text.rpartition("=")
    if not site or not count.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not SITE=N")
    return site, int(count)


def sites(args: argparse.Namespace) -> list[SiteSpec]:
    """The sites of `--site`, with what each leaves out taken from `--api-key`, `--locations` and `--seed`."""
    fields: list[SiteFields] = args.site or [("demo-site", None, None, None)]
    return [
        SiteSpec(
            name,
            args.api_key if key is None else key,
            args.locations if locations is None else locations,
            args.seed + position if seed is None else seed,
        )
        for position, (name, key, locations, seed) in enumerate(fields)
    ]


def config(args: argparse.Namespace) -> SimulatorConfig:
    return SimulatorConfig.of_sites(
        sites(args),
        shared_locations=args.shared_locations,
        revoke_key_after=dict(args.revoke_key_after),
        pagination=args.pagination,
        include_last=not args.no_last_link,
        first_page_number=args.first_page_number,
        link_style=args.link_style,
        past_end=args.past_end,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit=args.rate_limit,
        faults=FaultPlan.parse(args.fault),
        data_version=args.data_version,
    )


async def serve(config: SimulatorConfig, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Simulator(config, port=port) as simulator:
        print(f"listening on {simulator.base_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    asyncio.run(serve(config(args), args.port))


if __name__ == "__main__":
    main()

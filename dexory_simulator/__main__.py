"""`python -m dexory_async.simulator --port PORT --locations N --seed S ...`: serve until SIGINT/SIGTERM.

The first line on stdout is `listening on http://127.0.0.1:PORT` (with the real port when PORT is 0).
"""

from __future__ import annotations

import argparse
import asyncio
import signal

from .faults import FaultPlan
from .server import CURSOR, NUMBERED, Simulator, SimulatorConfig


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m dexory_async.simulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    parser.add_argument("--locations", type=int, default=5_000, help="locations on the site")
    parser.add_argument("--seed", type=int, default=1, help="data seed: the same seed serves the same data")
    parser.add_argument("--site", default="demo-site")
    parser.add_argument("--api-key", default="demo-key")
    parser.add_argument("--latency-ms", type=float, default=0.0, help="added to every request")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="plus a random 0..J ms per request")
    parser.add_argument("--pagination", choices=(NUMBERED, CURSOR), default=NUMBERED)
    parser.add_argument("--no-last-link", action="store_true", help="numbered pages without links.last")
    parser.add_argument("--rate-limit", type=float, default=None, metavar="RPS", help="429 above RPS requests/s")
    parser.add_argument(
        "--fault",
        action="append",
        default=[],
        metavar="PAGE:KIND[=VALUE][@ATTEMPTS]",
        help="inject a fault (repeatable), e.g. 3:status=503@1-2; see faults.py",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = SimulatorConfig(
        locations=args.locations,
        seed=args.seed,
        site=args.site,
        api_key=args.api_key,
        pagination=args.pagination,
        include_last=not args.no_last_link,
        latency_ms=args.latency_ms,
        jitter_ms=args.jitter_ms,
        rate_limit=args.rate_limit,
        faults=FaultPlan.parse(args.fault),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    async with Simulator(config, port=args.port) as simulator:
        print(f"listening on {simulator.base_url}", flush=True)
        await stop.wait()


def main(argv: list[str] | None = None) -> None:
    asyncio.run(serve(parse_args(argv)))


if __name__ == "__main__":
    main()

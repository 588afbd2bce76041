"""The simulator in its own process, and the sites a run syncs with what a correct sync of them lands."""

from __future__ import annotations

import math
import re
import select
import signal
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from dexory_simulator.config import SiteSpec
from dexory_simulator.data import NOTHING, GroundTruth, ground_truth
from dexory_simulator.server import PAGE_CACHE_ENTRIES
from tools.bench.results import BenchError
from tools.fivetran_cli import ROOT

SIMULATOR_START_SECONDS = 60.0
SIMULATOR_STOP_SECONDS = 10.0
SITE = "demo-site"
API_KEY = "demo-key"


@dataclass(frozen=True)
class Sites:
    """The sites one run syncs, and the rows a correct sync of them lands."""

    specs: tuple[SiteSpec, ...]
    truth: GroundTruth

    @classmethod
    def of(cls, *specs: SiteSpec) -> Sites:
        return cls(specs, sum((ground_truth(spec.seed, spec.locations) for spec in specs), NOTHING))

    @classmethod
    def single(cls, locations: int, seed: int) -> Sites:
        return cls.of(SiteSpec(SITE, API_KEY, locations, seed))

    @classmethod
    def split(cls, locations: int, seed: int, count: int, prefix: str = "site") -> Sites:
        """`locations` shared out between `count` sites named `prefix-N`, each with its own key and seed (after
        `seed`)."""
        share, extra = divmod(locations, count)
        return cls.of(
            *(
                SiteSpec(f"{prefix}-{n + 1}", f"{prefix}-key-{n + 1}", share + (1 if n < extra else 0), seed + n + 1)
                for n in range(count)
            )
        )

    def __add__(self, other: Sites) -> Sites:
        return Sites(self.specs + other.specs, self.truth + other.truth)

    @property
    def locations(self) -> int:
        return sum(spec.locations for spec in self.specs)

    def configuration(self) -> dict[str, str]:
        """`site_name` and `site_api_key` as a user fills them in: one key per site, in the order of the names."""
        return {
            "site_name": ", ".join(spec.name for spec in self.specs),
            "site_api_key": ", ".join(spec.api_key for spec in self.specs),
        }

    def pages(self, page_size: int) -> int:
        return sum(math.ceil(spec.locations / page_size) for spec in self.specs)


@dataclass(frozen=True)
class Target:
    """Sites a run syncs, served by a running simulator."""

    base_url: str
    latency_ms: float
    sites: Sites


NO_SITES = Sites((), NOTHING)


@contextmanager
def simulator(sites: Sites, latency_ms: float, hanging: Sites = NO_SITES) -> Iterator[str]:
    """Serve `sites` from `python -m dexory_simulator`, and `hanging` ones that take every request and answer none;
    yields its base URL, and always stops it."""
    arguments = ["--port", "0", "--latency-ms", f"{latency_ms:g}"]
    for spec in (sites + hanging).specs:
        arguments += ["--site", spec.argument]
    for spec in hanging.specs:
        arguments += ["--fault", f"{spec.name}/1:stall@*"]  # the first page stalls an hour, every attempt
    process = subprocess.Popen(
        [sys.executable, "-m", "dexory_simulator", *arguments], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    try:
        yield _listening_url(process)
    finally:
        _stop(process)


def _listening_url(process: subprocess.Popen[str]) -> str:
    assert process.stdout is not None
    ready, _, _ = select.select([process.stdout], [], [], SIMULATOR_START_SECONDS)
    line = process.stdout.readline() if ready else ""
    match = re.match(r"listening on (http://\S+)", line)
    if match is None:
        raise BenchError(f"the simulator did not start (exit code {process.poll()}, first line {line!r})")
    return match.group(1)


def _stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(SIMULATOR_STOP_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    if process.stdout is not None:
        process.stdout.close()


def check_cache(sites: Sites, page_size: int) -> None:
    if sites.pages(page_size) > PAGE_CACHE_ENTRIES:
        print(
            f"warning: more pages than the simulator caches ({PAGE_CACHE_ENTRIES}); it will be slower", file=sys.stderr
        )

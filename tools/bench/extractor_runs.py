"""Sections 1, 2, 4 and 5: the extractor alone, each run in a fresh `tools.bench.extract` process; and warming up."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from dexory_async.config import default_of
from tools.bench.options import HANGING_ROW_CONCURRENCY, Options
from tools.bench.progress import progress
from tools.bench.results import BenchError, Run
from tools.bench.simulator import NO_SITES, Sites, Target, check_cache, simulator
from tools.fivetran_cli import ROOT

DEFAULT_CONCURRENCY: int = default_of("concurrency")


def extractor_process(
    mode: str,
    target: Target,
    page_size: int,
    concurrency: int | None,
    awaited: Sites | None = None,
    request_timeout: float | None = None,
) -> dict[str, Any]:
    """One `tools.bench.extract` run over every site of `target`, timed until the sites of `awaited` (default: all)
    have ended, their counts checked against the ground truth; its JSON tally."""
    arguments = [mode, "--base-url", target.base_url, "--page-size", str(page_size)]
    for spec in target.sites.specs:
        arguments += ["--site", spec.name]
    arguments += ["--api-key", ",".join(spec.api_key for spec in target.sites.specs)]
    if concurrency is not None:
        arguments += ["--concurrency", str(concurrency)]
    if request_timeout is not None:
        arguments += ["--request-timeout", f"{request_timeout:g}"]
    for spec in awaited.specs if awaited is not None else ():
        arguments += ["--until-ended", spec.name]
    command = [sys.executable, "-m", "tools.bench.extract", *arguments]
    shown = " ".join(command[2:])
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"`{shown}` failed ({result.returncode}):\n{result.stderr[-3000:]}")
    tally: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    truth = (awaited or target.sites).truth
    if (tally["locations"], tally["objects"]) != (truth.locations, truth.objects):
        raise BenchError(
            f"`{shown}` counted {tally['locations']:,} locations and {tally['objects']:,} objects, "
            f"expected {truth.locations:,} and {truth.objects:,}"
        )
    return tally


def extractor_run(target: Target, options: Options, concurrency: int | None) -> Run:
    """The real extractor; `None` leaves the concurrency at the connector's default."""
    label = "extractor, serial" if concurrency == 1 else "extractor, default"
    progress(f"  {label}")
    tally = extractor_process("extract", target, options.page_size, concurrency)
    return Run(label, target.sites.locations, target.latency_ms, concurrency or DEFAULT_CONCURRENCY, **tally)


def memory_run(target: Target, options: Options) -> Run:
    """Parse + flatten from memory; its RSS holds every body at once, so it is not shown."""
    progress("  in-memory loads + flatten")
    tally = extractor_process("memory", target, options.page_size, None)
    return replace(Run("in-memory loads + flatten", target.sites.locations, None, None, **tally), peak_rss_mb=None)


def healthy_run(target: Target, healthy: Sites, options: Options, label: str) -> Run:
    """The extractor over every site of `target`, timed until the `healthy` ones have ended."""
    progress(f"  {label}")
    concurrency = HANGING_ROW_CONCURRENCY
    tally = extractor_process("extract", target, options.page_size, concurrency, healthy, options.hanging_timeout)
    return Run(label, healthy.locations, target.latency_ms, concurrency, **tally)


@contextmanager
def warmed(sites: Sites, latency_ms: float, options: Options, hanging: Sites = NO_SITES) -> Iterator[Target]:
    """A simulator serving `sites` (and `hanging` ones, never answering) that has served every page once (untimed),
    so it answers from its cache and is never the limit."""
    check_cache(sites, options.page_size)
    with simulator(sites, latency_ms, hanging) as base_url:
        target = Target(base_url, latency_ms, sites)
        progress("  warming the simulator up")
        extractor_process("extract", target, options.page_size, None)
        yield target

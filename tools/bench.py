"""`make bench`: how fast the connector syncs, as one table whose ratios come from baselines measured in the same run.

A benchmark, not a test: it prints the table (and writes it as Markdown to build/bench.md) with PASS/FAIL lines for
the targets, and exits non-zero only when a measurement itself goes wrong (a run that errs or lands the wrong counts).

1. The extractor alone (fetch + parse + flatten; rows counted, nothing upserted), each run in a fresh process
   (`tools.bench_extract`) so its peak RSS is its own, against the simulator in a separate process: serial
   (concurrency 1) against the default settings, at the given latency and at 0 ms.
2. At 0 ms, the same page bodies parsed and flattened from memory: the most the extractor's CPU work allows.
3. End to end through `fivetran debug` into DuckDB at the given latency, serial and default, against an emit-only
   ceiling: a project that upserts the same rows, precomputed at import, with the same schema and checkpoints.
4. The extractor's peak RSS at two site sizes ten times apart.

Runs that are compared take turns, `--repeat` times, so drift on a shared machine hits them alike; each figure is the
fastest of its runs, and the largest peak RSS of them.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import select
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from string import Template
from typing import Any

import duckdb

from dexory_async.config import Settings
from dexory_async.simulator.data import GroundTruth, ground_truth
from dexory_async.simulator.server import PAGE_CACHE_ENTRIES
from dexory_async.tables import LOCATIONS, OBJECTS
from tools.fivetran_cli import ROOT, run_debug, stage_project, write_configuration

BENCH_DIR = ROOT / "build" / "bench"
REPORT = ROOT / "build" / "bench.md"
SITE = "demo-site"
API_KEY = "demo-key"
DEFAULT_CONCURRENCY = Settings(site_name=SITE, site_api_key=API_KEY).concurrency
SIMULATOR_START_SECONDS = 60.0
SIMULATOR_STOP_SECONDS = 10.0
SYNC_TIMEOUT_SECONDS = 900.0

TARGET_LATENCY_SPEEDUP = 3.5
TARGET_CEILING_SHARE = 0.90
TARGET_RSS_GROWTH = 1.25
TARGET_RSS_MB = 250.0


class BenchError(RuntimeError):
    """A measurement went wrong (not merely slow): its numbers would mean nothing."""


# --- options -------------------------------------------------------------------------------------------------------


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


def parse_args(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(
        prog="python -m tools.bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
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
    parser.add_argument("--sync-site", type=int, help=f"locations, end to end (default {FULL['sync_site']:,})")
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
    sizes = (options.latency_site, options.sync_site, options.small_site, options.large_site)
    if min(*sizes, options.page_size, options.repeat) < 1 or options.latency_ms < 0:
        parser.error("site sizes, page size and repeat must be at least 1, and the latency not negative")
    return options


# --- results -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """One timed run, in the units the table shows; `None` where a figure does not apply."""

    label: str
    site: int
    latency_ms: float | None
    concurrency: int | None
    pages: int
    locations: int
    objects: int
    bytes: int | None
    seconds: float
    peak_rss_mb: float | None

    @property
    def rows(self) -> int:
        return self.locations + self.objects

    def per_second(self, amount: float) -> float:
        return amount / max(self.seconds, 1e-9)

    @property
    def rows_per_s(self) -> float:
        return self.per_second(self.rows)


@dataclass(frozen=True)
class Line:
    """A row of the table: a run and what it is compared with."""

    run: Run
    ratio: str


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)


def best_of(runs: list[Run]) -> Run:
    """The fastest run, with the largest peak RSS of them all (a peak is a peak)."""
    fastest = min(runs, key=lambda run: run.seconds)
    peaks = [run.peak_rss_mb for run in runs if run.peak_rss_mb is not None]
    return replace(fastest, peak_rss_mb=max(peaks) if peaks else None)


def interleaved(repeat: int, *measurements: Callable[[], Run]) -> list[Run]:
    """Each measurement `repeat` times, taking turns, so drift on a shared machine hits all alike; the best of each."""
    runs: list[list[Run]] = [[] for _ in measurements]
    for _ in range(repeat):
        for bucket, measurement in zip(runs, measurements, strict=True):
            bucket.append(measurement())
    return [best_of(bucket) for bucket in runs]


def times(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else math.inf


# --- the simulator, in its own process -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    """A running simulator and what a correct pass over it yields."""

    base_url: str
    site: int
    latency_ms: float
    truth: GroundTruth


@contextmanager
def simulator(site: int, seed: int, latency_ms: float) -> Iterator[str]:
    """Serve `site` locations from `python -m dexory_async.simulator`; yields its base URL, and always stops it."""
    arguments = (
        f"--port 0 --locations {site} --seed {seed} --latency-ms {latency_ms:g} --site {SITE} --api-key {API_KEY}"
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "dexory_async.simulator", *arguments.split()],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
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


@contextmanager
def warmed(site: int, latency_ms: float, options: Options, truth: GroundTruth) -> Iterator[Target]:
    """A simulator that has served every page once (untimed), so it answers from its cache and is never the limit."""
    if math.ceil(site / options.page_size) > PAGE_CACHE_ENTRIES:
        print(
            f"warning: more pages than the simulator caches ({PAGE_CACHE_ENTRIES}); it will be slower", file=sys.stderr
        )
    with simulator(site, options.seed, latency_ms) as base_url:
        target = Target(base_url, site, latency_ms, truth)
        extractor_process("extract", target, options.page_size, None)
        yield target


# --- sections 1, 2 and 4: the extractor, in a fresh process per run -----------------------------------------------


def extractor_process(mode: str, target: Target, page_size: int, concurrency: int | None) -> dict[str, Any]:
    """One `tools.bench_extract` run, its counts checked against the ground truth; its JSON tally."""
    arguments = f"{mode} --base-url {target.base_url} --site {SITE} --api-key {API_KEY} --page-size {page_size}"
    if concurrency is not None:
        arguments += f" --concurrency {concurrency}"
    command = [sys.executable, "-m", "tools.bench_extract", *arguments.split()]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise BenchError(f"`{' '.join(command[2:])}` failed ({result.returncode}):\n{result.stderr[-3000:]}")
    tally = json.loads(result.stdout.strip().splitlines()[-1])
    if (tally["locations"], tally["objects"]) != (target.truth.locations, target.truth.objects):
        raise BenchError(
            f"`{' '.join(command[2:])}` counted {tally['locations']:,} locations and {tally['objects']:,} objects, "
            f"expected {target.truth.locations:,} and {target.truth.objects:,}"
        )
    return tally


def extractor_run(target: Target, options: Options, concurrency: int | None) -> Run:
    tally = extractor_process("extract", target, options.page_size, concurrency)
    label = "extractor, serial" if concurrency == 1 else "extractor, default"
    return Run(label, target.site, target.latency_ms, concurrency or DEFAULT_CONCURRENCY, **tally)


def memory_run(target: Target, options: Options) -> Run:
    """Parse + flatten from memory; its RSS holds every body at once, so it is not shown."""
    tally = extractor_process("memory", target, options.page_size, None)
    return replace(Run("in-memory loads + flatten", target.site, None, None, **tally), peak_rss_mb=None)


# --- section 3: end to end through `fivetran debug` ----------------------------------------------------------------

CEILING_CONNECTOR = Template('''\
"""Emit-only ceiling for `make bench`: the rows a sync of the simulator lands, upserted with no network.

The rows are flattened at import, outside the timed part (`calling update()` to `SYNC SUCCEEDED`); `update()` upserts
them page by page with the real connector's schema, order, checkpoint cadence and garbage-collector settings.
"""

from fivetran_connector_sdk import Connector
from fivetran_connector_sdk import Operations as op

from dexory_async.config import parse_settings
from dexory_async.flatten import flatten_locations
from dexory_async.gc_policy import fewer_gc_passes
from dexory_async.links import first_page_url, with_page_number
from dexory_async.simulator.data import locations
from dexory_async.state import checkpoint_state, finished_state
from dexory_async.tables import LOCATIONS, OBJECTS, table_definitions

SEED = $seed
SITE_LOCATIONS = $locations
PAGE_SIZE = $page_size
PAGES = [flatten_locations(list(locations(SEED, start, min(start + PAGE_SIZE, SITE_LOCATIONS))))
         for start in range(0, SITE_LOCATIONS, PAGE_SIZE)]


def schema(configuration):
    return table_definitions()


def update(configuration, state):
    with fewer_gc_passes():
        upsert_all(parse_settings(configuration))


def upsert_all(settings):
    first = first_page_url(settings)
    counts = {"pages": 0, "locations": 0, "objects": 0}
    upsert = op.upsert
    unsaved = 0
    for number, rows in enumerate(PAGES, start=1):
        for row in rows.locations:
            upsert(LOCATIONS, row)
        for row in rows.objects:
            upsert(OBJECTS, row)
        counts["pages"] += 1
        counts["locations"] += len(rows.locations)
        counts["objects"] += len(rows.objects)
        unsaved += 1
        if unsaved >= settings.checkpoint_every_pages and number < len(PAGES):
            op.checkpoint(checkpoint_state(str(with_page_number(first, number + 1)), counts))
            unsaved = 0
    op.checkpoint(finished_state())


connector = Connector(update=update, schema=schema)
''')

_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3})\s")


def stage_ceiling(dest: Path, options: Options, site: int) -> Path:
    """The staged connector with the ceiling as its connector.py, plus the simulator's data for it to flatten."""
    project = stage_project(dest)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(ROOT / "dexory_async" / "simulator", project / "dexory_async" / "simulator", ignore=ignore)
    source = CEILING_CONNECTOR.substitute(seed=options.seed, locations=site, page_size=options.page_size)
    (project / "connector.py").write_text(source)
    return project


def log_time(log: str, marker: str) -> float:
    """Seconds since midnight of the first SDK log line containing `marker`."""
    for line in log.splitlines():
        match = _STAMP.match(line)
        if match and marker in line:
            hours, minutes, seconds, millis = (int(part) for part in match.groups())
            return hours * 3600 + minutes * 60 + seconds + millis / 1000
    raise BenchError(f"no log line containing {marker!r}")


def update_seconds(log: str) -> float:
    """From `calling update()` to `SYNC SUCCEEDED`: the sync itself, CLI start-up excluded for every run alike."""
    return (log_time(log, "SYNC SUCCEEDED") - log_time(log, "calling update()")) % 86_400


def warehouse_counts(database: Path) -> GroundTruth:
    with duckdb.connect(str(database), read_only=True) as db:
        counts = [db.execute(f"SELECT count(*) FROM tester.{table}").fetchone() for table in (LOCATIONS, OBJECTS)]
    return GroundTruth(*(count[0] if count else 0 for count in counts))


def sync_run(label: str, project: Path, configuration: dict[str, str], truth: GroundTruth, options: Options) -> Run:
    """One `fivetran debug` with a private HOME: its rate, once the warehouse is known to hold exactly the site."""
    write_configuration(project, configuration)
    log_path = BENCH_DIR / f"{project.name}.log"
    result = run_debug(project, BENCH_DIR / "home", timeout=SYNC_TIMEOUT_SECONDS, log_path=log_path)
    if result.returncode != 0:
        raise BenchError(f"{label}: `fivetran debug` exited {result.returncode}; see {log_path}")
    landed = warehouse_counts(project / "files" / "warehouse.db")
    if landed != truth:
        raise BenchError(
            f"{label}: the warehouse holds {landed.locations:,} locations and {landed.objects:,} objects, "
            f"expected {truth.locations:,} and {truth.objects:,}; see {log_path}"
        )
    pages = math.ceil(truth.locations / options.page_size)
    seconds = update_seconds(result.stdout)
    return Run(label, truth.locations, None, None, pages, truth.locations, truth.objects, None, seconds, None)


def connector_run(target: Target, options: Options, concurrency: int | None) -> Run:
    """The real connector against the simulator; `None` leaves the concurrency at its default."""
    name, label = ("e2e-serial", "end to end, serial") if concurrency == 1 else ("e2e-default", "end to end, default")
    configuration = {
        "site_name": SITE,
        "site_api_key": API_KEY,
        "base_url": target.base_url,
        "page_size": str(options.page_size),
    }
    if concurrency is not None:
        configuration["concurrency"] = str(concurrency)
    run = sync_run(label, stage_project(BENCH_DIR / name), configuration, target.truth, options)
    return replace(run, latency_ms=target.latency_ms, concurrency=concurrency or DEFAULT_CONCURRENCY)


def ceiling_run(options: Options, truth: GroundTruth) -> Run:
    project = stage_ceiling(BENCH_DIR / "e2e-ceiling", options, truth.locations)
    configuration = {"site_name": SITE, "site_api_key": API_KEY, "page_size": str(options.page_size)}
    return sync_run("emit-only ceiling", project, configuration, truth, options)


# --- the table -----------------------------------------------------------------------------------------------------

HEADER = ("measurement", "site", "latency", "conc.", "pages/s", "locations/s", "rows/s", "MB/s", "peak RSS MB", "ratio")
RIGHT_ALIGNED = frozenset({1, 4, 5, 6, 7, 8})


def cells(line: Line) -> tuple[str, ...]:
    run = line.run
    return (
        run.label,
        f"{run.site:,}",
        "-" if run.latency_ms is None else f"{run.latency_ms:g} ms",
        "-" if run.concurrency is None else str(run.concurrency),
        f"{run.per_second(run.pages):,.1f}",
        f"{run.per_second(run.locations):,.0f}",
        f"{run.rows_per_s:,.0f}",
        "-" if run.bytes is None else f"{run.per_second(run.bytes) / 1e6:,.1f}",
        "-" if run.peak_rss_mb is None else f"{run.peak_rss_mb:,.0f}",
        line.ratio,
    )


def markdown_table(lines: list[Line]) -> str:
    """A Markdown table padded so it also reads as plain text."""
    rows = [HEADER, *(cells(line) for line in lines)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]

    def render(row: tuple[str, ...]) -> str:
        padded = (
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|".join(
        "-" * (width + 1) + ":" if column in RIGHT_ALIGNED else "-" * (width + 2) for column, width in enumerate(widths)
    )
    return "\n".join([render(HEADER), f"|{rule}|", *(render(row) for row in rows[1:])])


def verdict(passed: bool, text: str) -> str:
    return f"{'PASS' if passed else 'FAIL'}  {text}"


# --- the sections --------------------------------------------------------------------------------------------------


def progress(title: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {title}", file=sys.stderr, flush=True)


def latency_section(options: Options, report: Report) -> None:
    """Section 1 at the given latency: the extractor, serial against the default settings."""
    progress(f"ground truth of the {options.latency_site:,}-location site")
    truth = ground_truth(options.seed, options.latency_site)
    with warmed(options.latency_site, options.latency_ms, options, truth) as target:
        progress(f"extractor at {options.latency_ms:g} ms: serial and default, {options.repeat} turn(s)")
        serial, default = interleaved(
            options.repeat, partial(extractor_run, target, options, 1), partial(extractor_run, target, options, None)
        )
    speedup = times(default.rows_per_s, serial.rows_per_s)
    report.lines += [Line(serial, "baseline"), Line(default, f"{speedup:.2f}x serial")]
    report.verdicts.append(
        verdict(
            speedup >= TARGET_LATENCY_SPEEDUP,
            f"extractor at {options.latency_ms:g} ms: default is {speedup:.2f}x serial rows/s "
            f"(target >= {TARGET_LATENCY_SPEEDUP}x)",
        )
    )


def end_to_end_section(options: Options, report: Report) -> None:
    """Section 3 at the given latency: the connector through the real sink, serial and default, against the ceiling."""
    progress(f"ground truth of the {options.sync_site:,}-location site")
    truth = ground_truth(options.seed, options.sync_site)
    with warmed(options.sync_site, options.latency_ms, options, truth) as target:
        progress(f"end to end at {options.latency_ms:g} ms: serial, default and ceiling, {options.repeat} turn(s)")
        serial, default, ceiling = interleaved(
            options.repeat,
            partial(connector_run, target, options, 1),
            partial(connector_run, target, options, None),
            partial(ceiling_run, options, truth),
        )
    share = times(default.rows_per_s, ceiling.rows_per_s)
    versus_serial = times(default.rows_per_s, serial.rows_per_s)
    report.lines += [
        Line(serial, f"{times(serial.rows_per_s, ceiling.rows_per_s):.0%} of ceiling"),
        Line(default, f"{share:.0%} of ceiling; {versus_serial:.2f}x serial"),
        Line(ceiling, "ceiling"),
    ]
    report.verdicts.append(
        verdict(
            share >= TARGET_CEILING_SHARE,
            f"end to end: default reaches {share:.1%} of the emit-only ceiling's rows/s "
            f"(target >= {TARGET_CEILING_SHARE:.0%})",
        )
    )


def zero_latency_sections(options: Options, truth: GroundTruth, report: Report) -> Run:
    """Sections 1 and 2 at 0 ms; returns the default run, whose peak RSS section 4 compares with."""
    with warmed(options.small_site, 0.0, options, truth) as target:
        progress(f"extractor at 0 ms, and from memory: {options.repeat} turn(s)")
        serial, default, memory = interleaved(
            options.repeat,
            partial(extractor_run, target, options, 1),
            partial(extractor_run, target, options, None),
            partial(memory_run, target, options),
        )
    versus_serial = times(default.rows_per_s, serial.rows_per_s)
    versus_memory = times(default.rows_per_s, memory.rows_per_s)
    report.lines += [
        Line(serial, "baseline"),
        Line(default, f"{versus_serial:.2f}x serial; {versus_memory:.2f}x in-memory"),
        Line(memory, "reference (CPU only)"),
    ]
    return default


def rss_section(options: Options, small: Run, report: Report) -> None:
    """Section 4: the extractor's peak RSS on a larger site, against the smaller site's run."""
    progress(f"ground truth of the {options.large_site:,}-location site")
    truth = ground_truth(options.seed, options.large_site)
    with warmed(options.large_site, 0.0, options, truth) as target:
        progress(f"extractor peak RSS at {options.large_site:,} locations: {options.repeat} run(s)")
        (large,) = interleaved(options.repeat, partial(extractor_run, target, options, None))
    assert small.peak_rss_mb is not None and large.peak_rss_mb is not None
    growth = times(large.peak_rss_mb, small.peak_rss_mb)
    report.lines += [
        Line(replace(small, label="extractor RSS, default"), "RSS baseline (the run above)"),
        Line(replace(large, label="extractor RSS, default"), f"RSS {growth:.2f}x the {small.site:,} site"),
    ]
    passed = growth <= TARGET_RSS_GROWTH and large.peak_rss_mb < TARGET_RSS_MB
    report.verdicts.append(
        verdict(
            passed,
            f"extractor peak RSS: {large.peak_rss_mb:.0f} MB at {large.site:,} locations, {growth:.2f}x the "
            f"{small.site:,} site (target <= {TARGET_RSS_GROWTH}x and < {TARGET_RSS_MB:.0f} MB)",
        )
    )


def run_all(options: Options) -> Report:
    report = Report()
    latency_section(options, report)
    end_to_end_section(options, report)
    progress(f"ground truth of the {options.small_site:,}-location site")
    small = zero_latency_sections(options, ground_truth(options.seed, options.small_site), report)
    rss_section(options, small, report)
    return report


def render(report: Report, options: Options, elapsed: float) -> str:
    note = (
        f"One run of `python -m tools.bench` in {elapsed / 60:.1f} min: seed {options.seed}, {options.page_size:,} "
        "locations per page, the simulator in its own process and warmed; each figure the fastest of "
        f"{options.repeat} interleaved run(s), with the largest peak RSS. rows = locations + "
        "expected_inventory_objects; MB = 10^6 bytes of response body. Peak RSS in MiB: the extractor's own process "
        "(VmHWM, see tools/bench_extract.py). End to end: `fivetran debug` into "
        "DuckDB, from `calling update()` to `SYNC SUCCEEDED` in the SDK log, row counts checked in the warehouse."
    )
    return "\n\n".join([markdown_table(report.lines), "\n".join(report.verdicts), note]) + "\n"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the simulator


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        report = run_all(options)
    except BenchError as error:
        print(f"bench failed: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # the simulator is already stopped by then
        print("bench interrupted", file=sys.stderr)
        return 130
    text = render(report, options, time.monotonic() - started)
    print(text, end="")
    options.output.parent.mkdir(parents=True, exist_ok=True)
    options.output.write_text(text)
    print(f"total {time.monotonic() - started:.0f} s; written to {options.output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""What each section runs and compares, and `main`."""

from __future__ import annotations

import signal
import sys
import time
from dataclasses import replace
from functools import partial

import tools.bench
from tools.bench.end_to_end import BENCH_DIR, ceiling_run, connector_run
from tools.bench.extractor_runs import extractor_run, healthy_run, memory_run, warmed
from tools.bench.options import HANGING_ROW_CONCURRENCY, HANGING_SITES, HEALTHY_SITES, MULTI_SITES, Options, parse_args
from tools.bench.progress import progress
from tools.bench.results import BenchError, Line, Report, Run, interleaved, times, verdict
from tools.bench.simulator import Sites
from tools.bench.table import markdown_table

TARGET_LATENCY_SPEEDUP = 3.5
TARGET_CEILING_SHARE = 0.90
TARGET_RSS_GROWTH = 1.25
TARGET_RSS_MB = 250.0
TARGET_BESIDE_HANGING = 1.25


def latency_section(options: Options, report: Report) -> None:
    """Section 1 at the given latency: the extractor, serial against the default settings."""
    progress(f"ground truth of the {options.latency_site:,}-location site")
    sites = Sites.single(options.latency_site, options.seed)
    with warmed(sites, options.latency_ms, options) as target:
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
    """Section 3 at the given latency, every run through the real sink, taking turns against one simulator serving
    the single site and the multi-site row's sites: the connector (also serial, in the long run) against the
    emit-only ceiling of the single site; the connector on the sites of the multi-site row, against the ceiling of
    those sites."""
    progress(
        f"ground truth of the {options.sync_site:,}-location site, and of {MULTI_SITES} sites sharing as many locations"
    )
    single = Sites.single(options.sync_site, options.seed)
    multi = Sites.split(options.sync_site, options.seed, MULTI_SITES)
    with warmed(single + multi, options.latency_ms, options) as served:
        one, several = replace(served, sites=single), replace(served, sites=multi)
        measurements = [
            partial(connector_run, one, options, None, "e2e-default", "end to end, default"),
            partial(ceiling_run, one, options, "e2e-ceiling", "emit-only ceiling"),
            partial(connector_run, several, options, None, "e2e-sites", f"end to end, {MULTI_SITES} sites, default"),
            partial(ceiling_run, several, options, "e2e-sites-ceiling", f"emit-only ceiling, {MULTI_SITES} sites"),
        ]
        if options.serial_end_to_end:
            measurements.insert(0, partial(connector_run, one, options, 1, "e2e-serial", "end to end, serial"))
        progress(
            f"end to end at {options.latency_ms:g} ms: {'serial, ' if options.serial_end_to_end else ''}default, "
            f"ceiling, {MULTI_SITES} sites and their ceiling, {options.repeat} turn(s)"
        )
        *serial, default, ceiling, sites, sites_ceiling = interleaved(options.repeat, *measurements)

    def of_ceiling(run: Run, ceiling: Run = ceiling) -> float:
        return times(run.rows_per_s, ceiling.rows_per_s)

    share, sites_share = of_ceiling(default), of_ceiling(sites, sites_ceiling)
    versus_serial = "".join(f"; {times(default.rows_per_s, run.rows_per_s):.2f}x serial" for run in serial)
    report.lines += [
        *(Line(run, f"{of_ceiling(run):.0%} of ceiling") for run in serial),
        Line(default, f"{share:.0%} of ceiling{versus_serial}"),
        Line(ceiling, "ceiling"),
        Line(sites, f"{sites_share:.0%} of the {MULTI_SITES}-site ceiling"),
        Line(sites_ceiling, f"ceiling of the {MULTI_SITES} sites"),
    ]
    report.verdicts += [
        verdict(
            share >= TARGET_CEILING_SHARE,
            f"end to end: default reaches {share:.1%} of the emit-only ceiling's rows/s "
            f"(target >= {TARGET_CEILING_SHARE:.0%})",
        ),
        verdict(
            sites_share >= TARGET_CEILING_SHARE,
            f"end to end, {MULTI_SITES} sites: default reaches {sites_share:.1%} of the emit-only ceiling's rows/s "
            f"for the same {MULTI_SITES} sites (target >= {TARGET_CEILING_SHARE:.0%})",
        ),
    ]


def zero_latency_sections(options: Options, report: Report) -> Run:
    """Sections 1 and 2 at 0 ms; returns the default run, whose peak RSS section 4 compares with."""
    progress(f"ground truth of the {options.small_site:,}-location site")
    sites = Sites.single(options.small_site, options.seed)
    with warmed(sites, 0.0, options) as target:
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
    sites = Sites.single(options.large_site, options.seed)
    with warmed(sites, 0.0, options) as target:
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


def hanging_section(options: Options, report: Report) -> None:
    """Section 5: healthy sites beside as many hanging ones as there are slots (the API takes the request and never
    answers), against the same healthy sites alone, both timed until the healthy sites have ended."""
    progress(f"ground truth of {HEALTHY_SITES} healthy sites sharing {options.healthy_site:,} locations")
    healthy = Sites.split(options.healthy_site, options.seed, HEALTHY_SITES, "healthy")
    hanging = Sites.split(HANGING_SITES, options.seed, HANGING_SITES, "hanging")
    with warmed(healthy, options.latency_ms, options, hanging) as served:
        beside = replace(served, sites=healthy + hanging)
        alone_label = f"{HEALTHY_SITES} healthy sites alone"
        beside_label = f"{HEALTHY_SITES} healthy sites beside {HANGING_SITES} hanging"
        alone, with_hanging = interleaved(
            options.repeat,
            partial(healthy_run, served, healthy, options, alone_label),
            partial(healthy_run, beside, healthy, options, beside_label),
        )
    slower = times(with_hanging.seconds, alone.seconds)
    report.lines += [Line(alone, "baseline"), Line(with_hanging, f"{slower:.2f}x the time alone")]
    report.verdicts.append(
        verdict(
            slower <= TARGET_BESIDE_HANGING,
            f"beside {HANGING_SITES} hanging sites (request timeout {options.hanging_timeout:g} s, concurrency "
            f"{HANGING_ROW_CONCURRENCY}), {HEALTHY_SITES} healthy sites take {slower:.2f}x their time alone "
            f"(target <= {TARGET_BESIDE_HANGING}x)",
        )
    )


def run_all(options: Options) -> Report:
    report = Report()
    progress(f"part 1/4: the extractor at {options.latency_ms:g} ms")
    latency_section(options, report)
    progress("part 2/4: end to end, against the emit-only ceiling")
    end_to_end_section(options, report)
    progress("part 3/4: the extractor at 0 ms, from memory, and its peak RSS at two sizes")
    small = zero_latency_sections(options, report)
    rss_section(options, small, report)
    progress("part 4/4: healthy sites beside hanging ones")
    hanging_section(options, report)
    return report


def render(report: Report, options: Options, elapsed: float) -> str:
    note = (
        f"One run of `python -m tools.bench` in {elapsed / 60:.1f} min: seed {options.seed}, {options.page_size:,} "
        "locations per page, the simulator in its own process and warmed; each figure the fastest of "
        f"{options.repeat} interleaved run(s), with the largest peak RSS. rows = locations + "
        "expected_inventory_objects; MB = 10^6 bytes of response body. Peak RSS in MiB: the extractor's own process "
        "(VmHWM, see tools/bench/extract.py). End to end: `fivetran debug` into DuckDB, from `calling update()` to "
        "`SYNC SUCCEEDED` in the SDK log, row counts checked in the warehouse. The emit-only ceiling upserts the "
        "same rows (round_started_at included), flattened from memory before the timed part, and checkpoints the "
        f"library's ledger at the connector's cadence. The {MULTI_SITES} sites split the end-to-end site's "
        "locations, with one key each."
    )
    return "\n\n".join([markdown_table(report.lines), "\n".join(report.verdicts), note]) + "\n"


def _exit_on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through the `finally` that stops the simulator


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv, tools.bench.__doc__)
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

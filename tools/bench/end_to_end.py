"""Section 3: syncs through `fivetran debug` into DuckDB, timed from the SDK's log, their rows counted in the warehouse.

Every project is staged by `tools.fivetran_cli.stage_project`. The ceiling's replaces the real `connector.py` with
`ceiling_connector.py` (copied as it is) and adds the simulator package, whose data it flattens, and its plan.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from dataclasses import replace
from pathlib import Path

import duckdb

from dexory_async.tables import LOCATIONS, OBJECTS
from dexory_simulator.data import GroundTruth
from tools import fivetran_cli
from tools.bench.ceiling_connector import PLAN_FILE, Plan
from tools.bench.extractor_runs import DEFAULT_CONCURRENCY
from tools.bench.options import Options
from tools.bench.progress import progress
from tools.bench.results import BenchError, Run
from tools.bench.simulator import Sites, Target
from tools.fivetran_cli import ROOT, RUNTIME_EXCLUDES, stage_project, write_configuration

BENCH_DIR = ROOT / "build" / "bench"
SYNC_TIMEOUT_SECONDS = 900.0
CEILING_MODULE = Path(__file__).resolve().with_name("ceiling_connector.py")

_STAMP = re.compile(r"^(\d\d):(\d\d):(\d\d)\.(\d{3})\s")


def stage_ceiling(dest: Path, sites: Sites, page_size: int) -> Path:
    """The ceiling as the project's connector, with the simulator's data for it to flatten and its plan."""
    project = stage_project(dest)
    shutil.copy2(CEILING_MODULE, project / "connector.py")
    shutil.copytree(ROOT / "dexory_simulator", project / "dexory_simulator", ignore=RUNTIME_EXCLUDES)
    (project / PLAN_FILE).write_text(Plan(page_size, sites.specs).to_json())
    return project


def run_debug(project: Path, log_path: Path) -> subprocess.CompletedProcess[str]:
    """`fivetran debug` on `project` with a private HOME; the output saved to `log_path`."""
    try:
        return fivetran_cli.run_debug(project, BENCH_DIR / "home", timeout=SYNC_TIMEOUT_SECONDS, log_path=log_path)
    except subprocess.TimeoutExpired as timeout:
        raise BenchError(f"`fivetran debug` on {project} took over {SYNC_TIMEOUT_SECONDS:.0f} s") from timeout


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


def sync_run(label: str, project: Path, configuration: dict[str, str], sites: Sites, options: Options) -> Run:
    """One `fivetran debug`: its rate, once the warehouse is known to hold exactly the sites."""
    progress(f"  {label}")
    write_configuration(project, configuration)
    log_path = BENCH_DIR / f"{project.name}.log"
    result = run_debug(project, log_path)
    if result.returncode != 0:
        raise BenchError(f"{label}: `fivetran debug` exited {result.returncode}; see {log_path}")
    landed = warehouse_counts(project / "files" / "warehouse.db")
    if landed != sites.truth:
        raise BenchError(
            f"{label}: the warehouse holds {landed.locations:,} locations and {landed.objects:,} objects, "
            f"expected {sites.truth.locations:,} and {sites.truth.objects:,}; see {log_path}"
        )
    pages = sites.pages(options.page_size)
    seconds = update_seconds(result.stdout)
    return Run(label, landed.locations, None, None, pages, landed.locations, landed.objects, None, seconds, None)


def configuration_for(target: Target, options: Options, concurrency: int | None = None) -> dict[str, str]:
    configuration = {
        **target.sites.configuration(),
        "base_url": target.base_url,
        "page_size": str(options.page_size),
    }
    if concurrency is not None:
        configuration["concurrency"] = str(concurrency)
    return configuration


def connector_run(target: Target, options: Options, concurrency: int | None, name: str, label: str) -> Run:
    """The real connector against the simulator; `None` leaves the concurrency at its default."""
    project = stage_project(BENCH_DIR / name)
    run = sync_run(label, project, configuration_for(target, options, concurrency), target.sites, options)
    return replace(run, latency_ms=target.latency_ms, concurrency=concurrency or DEFAULT_CONCURRENCY)


def ceiling_run(target: Target, options: Options, name: str, label: str) -> Run:
    """The emit-only ceiling for the sites of `target` (whose simulator it never calls: its pages are in memory)."""
    project = stage_ceiling(BENCH_DIR / name, target.sites, options.page_size)
    return sync_run(label, project, configuration_for(target, options), target.sites, options)

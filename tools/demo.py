"""`make demo`: the connector's promises, shown through the real `fivetran debug` against the Dexory API simulator.

Three syncs of two sites into one DuckDB file: in the first, one site's key stops working part-way (a simulator
switch) and that site fails alone while the other lands completely; the second resumes the failed site and every
count matches the simulator's ground truth; the third finds nothing changed at the API and adds no row. Each sync's
full log is kept next to the warehouse; the connector's own lines are shown.
"""

from __future__ import annotations

import argparse
import re
import subprocess
from collections.abc import Mapping
from pathlib import Path

import duckdb

from dexory_simulator import GroundTruth, Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tools.fivetran_cli import ROOT, cli_env, debug_command, stage_project, write_configuration

DEMO_DIR = ROOT / "build" / "demo"
WAREHOUSE = DEMO_DIR / "files" / "warehouse.db"
FAILING_SITE = "lyon-dc"
KEY_ACCEPTED_FOR = 2  # requests of the failing site's key before the simulator starts answering 401
_LOG_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d{3} \S+\s+\S*\s*(\S+)\s")  # time, level, icon, origin
_SDK_LINES_SHOWN = ("SYNC SUCCEEDED", "SYNC FAILED")
_ERROR, _TRACEBACK = "Error: ", "Traceback (most recent call last)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--locations", type=int, default=1_200, help="in all, split between the two sites")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()

    project = stage_project(DEMO_DIR)
    lyon = SiteSpec(FAILING_SITE, "lyon-demo-key", args.locations // 2, seed=43)
    config = SimulatorConfig(
        locations=args.locations - lyon.locations,
        seed=42,
        site="paris-dc",
        api_key="paris-demo-key",
        extra_sites=(lyon,),
        shared_locations=50,  # the same location names on both sites: two rows, told apart by `site`
        latency_ms=args.latency_ms,
    )
    with serve_in_thread(config) as simulator:
        sites = ", ".join(f"{site.name} ({site.locations:,} locations)" for site in config.sites)
        print(f"simulator: {sites} at {simulator.base_url} ({args.latency_ms:g} ms per page)")
        write_configuration(
            project,
            {
                "site_name": ", ".join(site.name for site in config.sites),
                "site_api_key": ", ".join(site.api_key for site in config.sites),
                "base_url": simulator.base_url,
                "page_size": "200",
            },
        )
        truths = simulator.site_truths()

        simulator.revoke_key_after(FAILING_SITE, KEY_ACCEPTED_FOR)
        sync(project, 1, f"{FAILING_SITE}'s key is refused after {KEY_ACCEPTED_FOR} requests: it fails alone")
        show_counts(truths, failing=FAILING_SITE)

        simulator.revoke_key_after(FAILING_SITE, None)
        resumed_from = len(simulator.requests)
        sync(project, 2, f"the key works again: {FAILING_SITE} resumes where it stopped")
        show_resume(simulator, resumed_from)
        before = show_counts(truths)

        sync(project, 3, "nothing changed at the API")
        show_unchanged(before, show_counts(truths))
    show_join()
    print(
        f'\nopen it yourself: .venv/bin/python -c "import duckdb; '
        f"print(duckdb.connect('{WAREHOUSE}', read_only=True).sql('FROM tester.locations LIMIT 5'))\"\n"
        f"each sync's full log: {DEMO_DIR}/sync-N.log"
    )


def sync(project: Path, number: int, title: str) -> None:
    """One `fivetran debug` run; its connector lines (and the SDK's verdict) are shown, all of it kept in a file."""
    print(f"\n=== sync {number}: {title}\n", flush=True)
    result = subprocess.run(
        debug_command(project),
        cwd=project,
        env=cli_env(ROOT / "build" / "fivetran-home"),
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    (DEMO_DIR / f"sync-{number}.log").write_text(result.stdout)
    print("\n".join(shown_lines(result.stdout)))
    print(f"\n`fivetran debug` exit code {result.returncode}")


def shown_lines(output: str) -> list[str]:
    """The connector's log lines with their continuation lines, the SDK's verdict on the sync, and the error a
    failed sync ends with (without the traceback that follows it)."""
    shown, showing = [], False
    for line in output.splitlines():
        start, text = _LOG_LINE.match(line), line.strip()
        if start is not None and any(verdict in text for verdict in _SDK_LINES_SHOWN):
            shown.append(line)  # the verdict alone, not the table of operations under it
            showing = False
            continue
        if start is not None:
            showing = start.group(1) == "connector"
        elif text.startswith((_ERROR, _TRACEBACK)):
            showing = text.startswith(_ERROR)
        if showing:
            shown.append(line)
    return shown


def landed() -> dict[str, tuple[int, int]]:
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        rows = db.execute("""
            SELECT s.site,
                   (SELECT count(*) FROM tester.locations l WHERE l.site = s.site),
                   (SELECT count(*) FROM tester.expected_inventory_objects o WHERE o.site = s.site)
            FROM (SELECT DISTINCT site FROM tester.locations) s ORDER BY s.site""").fetchall()
    return {site: (locations, objects) for site, locations, objects in rows}


def show_counts(truths: Mapping[str, GroundTruth], failing: str | None = None) -> dict[str, tuple[int, int]]:
    """Rows in the warehouse per site, next to what the simulator served, with a verdict."""
    counts = landed()
    print(f"\n  {'site':<10} {'locations':>21} {'expected objects':>21}   verdict")
    print(f"  {'':<10} {'landed / API':>21} {'landed / API':>21}")
    for site, truth in sorted(truths.items()):
        locations, objects = counts.get(site, (0, 0))
        exact = (locations, objects) == (truth.locations, truth.objects)
        verdict = "exact" if exact else "partial: failed, resumes next sync" if site == failing else "MISMATCH"
        print(
            f"  {site:<10} {f'{locations:,} / {truth.locations:,}':>21} {f'{objects:,} / {truth.objects:,}':>21}"
            f"   {verdict}"
        )
    return counts


def show_resume(simulator: Simulator, since: int) -> None:
    asked = sorted({record.page or 0 for record in simulator.requests[since:] if record.site == FAILING_SITE})
    print(f"\n  {FAILING_SITE} requested in this sync: pages {', '.join(map(str, asked))} (not page 1 again)")


def show_unchanged(before: Mapping[str, tuple[int, int]], after: Mapping[str, tuple[int, int]]) -> None:
    added = sum(a - b for site in after for a, b in zip(after[site], before.get(site, (0, 0)), strict=True))
    print(f"\n  rows added by the unchanged sync: {added:,} (rows are updated in place, same keys)")


def show_join() -> None:
    print("\nthe same location on both sites, with its expected objects (joined on the five key columns):\n")
    with duckdb.connect(str(WAREHOUSE), read_only=True) as db:
        db.sql("""
            SELECT l.site, l.name, l.aisle, l.status, l.scan_date, o.object_index, o.sku, o.quantity
            FROM tester.locations l
            JOIN tester.expected_inventory_objects o USING (site, name, location_type, aisle, scan_date)
            WHERE l.name = (SELECT min(name) FROM tester.locations)
            ORDER BY l.site, o.object_index LIMIT 8""").show(max_width=120)


if __name__ == "__main__":
    main()

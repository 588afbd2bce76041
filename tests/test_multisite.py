"""Several sites in one sync, against the simulator over real sockets and through the real `fivetran debug` into DuckDB.

Every site lands its own ground truth (told apart by the `site` column, even where the location keys are the same on
every site), with its own key only, within the shared concurrency budget; a site that fails does so alone; a killed,
stopped or failed sync resumes each site where it stopped; and the configuration of the sites is checked before any
request is made.
"""

from __future__ import annotations

import json
import signal
import time
from collections import Counter
from pathlib import Path
from typing import Any

import duckdb
import pytest
from yarl import URL

import connector
from dexory_async.config import ConfigurationError, parse_settings
from dexory_async.links import page_number
from dexory_async.state import resume_plan
from dexory_simulator import GroundTruth, RequestRecord, Simulator, SimulatorConfig, SiteSpec, serve_in_thread
from tests.conftest import WRONG_KEY, assert_no_key, checkpoints, configuration_for, requests_since
from tests.debug_process import StreamedDebug, state_of
from tools.fivetran_cli import run_debug, stage_project, write_configuration

PAGE_SIZE = 100
NAMES = ("north", "south", "east")
SITE_KEYS = {  # distinctive, so that a leak is easy to grep for
    "north": "sk-north-3b1f9c2e7a6d4058",
    "south": "sk-south-8e2a4c6f1b3d5079",
    "east": "sk-east-5d7c9e1a3f2b4068",
}
SHARED_KEY = "sk-shared-6a8c0e2b4d1f3957"
SITE_KEY = ("site", "name", "location_type", "aisle", "scan_date")  # the locations table's primary key
LOCATION_KEY = "name, location_type, aisle, scan_date"
CHECKPOINT_LINE = "checkpoint recorded: "


# ---------------------------------------------------------------------------------------------------- helpers


def three_sites(
    sizes: tuple[int, int, int] = (700, 450, 300), *, shared_key: bool = False, **options: Any
) -> SimulatorConfig:
    """A simulator serving north, south and east, each with its own data and (unless `shared_key`) its own key."""
    specs = [
        SiteSpec(name, SHARED_KEY if shared_key else SITE_KEYS[name], size, seed)
        for seed, (name, size) in enumerate(zip(NAMES, sizes, strict=True), start=31)
    ]
    return SimulatorConfig.of_sites(specs, **options)


def sites_configuration(simulator: Simulator, *, shared_key: bool = False, **overrides: Any) -> dict[str, str]:
    """The configuration of every site of `simulator`: one key for all, or one per site in the order of the names."""
    sites = simulator.config.sites
    keys = sites[0].api_key if shared_key else ", ".join(site.api_key for site in sites)
    return configuration_for(
        simulator, site_name=", ".join(site.name for site in sites), site_api_key=keys, **overrides
    )


def every_key(simulator: Simulator) -> set[str]:
    return {site.api_key for site in simulator.config.sites}


def per_site(database: Path) -> dict[str, GroundTruth]:
    """Rows landed per site, in the simulator's terms."""
    with duckdb.connect(str(database), read_only=True) as db:
        located = dict(db.execute("SELECT site, count(*) FROM tester.locations GROUP BY site").fetchall())
        listed = dict(
            db.execute("SELECT site, count(*) FROM tester.expected_inventory_objects GROUP BY site").fetchall()
        )
    return {site: GroundTruth(located.get(site, 0), listed.get(site, 0)) for site in {*located, *listed}}


def scalar(database: Path, sql: str) -> int:
    with duckdb.connect(str(database), read_only=True) as db:
        row = db.execute(sql).fetchone()
    assert row is not None
    return int(row[0])


def duplicates(database: Path) -> tuple[int, int]:
    """Locations landed more than once per primary key, and objects more than once per (location, index)."""
    keys = ", ".join(SITE_KEY)
    return (
        scalar(database, f"SELECT count(*) - count(DISTINCT ({keys})) FROM tester.locations"),
        scalar(
            database, f"SELECT count(*) - count(DISTINCT ({keys}, object_index)) FROM tester.expected_inventory_objects"
        ),
    )


def orphans(database: Path) -> int:
    """Objects without their location, joined on all five key columns."""
    return scalar(
        database,
        "SELECT count(*) FROM tester.expected_inventory_objects o "
        f"ANTI JOIN tester.locations l USING ({', '.join(SITE_KEY)})",
    )


def assert_every_site_landed_exactly_once(database: Path, simulator: Simulator) -> None:
    assert per_site(database) == simulator.site_truths()
    assert duplicates(database) == (0, 0)
    assert orphans(database) == 0


def write_state(project: Path, state: dict[str, Any]) -> None:
    (project / "files").mkdir(exist_ok=True)
    (project / "files" / "state.json").write_text(json.dumps(state))


def of_site(records: list[RequestRecord], site: str) -> list[RequestRecord]:
    return [record for record in records if record.site == site]


def unnumbered(records: list[RequestRecord]) -> list[RequestRecord]:
    """Requests for a site's first page as the connector asks for it when it starts a site over."""
    return [record for record in records if "page[number]" not in record.query]


# ------------------------------------------------------------------------------------------- three sites, one sync


@pytest.mark.parametrize("shared_key", [False, True], ids=["a-key-per-site", "one-key-for-all"])
def test_three_sites_land_their_own_rows_with_their_own_keys(project: Path, home: Path, shared_key: bool) -> None:
    concurrency = 4
    config = three_sites(shared_key=shared_key, shared_locations=120, latency_ms=30)
    with serve_in_thread(config) as simulator:
        write_configuration(project, sites_configuration(simulator, shared_key=shared_key, concurrency=concurrency))
        result = run_debug(project, home, timeout=300, log_path=project.parent / "debug.log")
        truths = simulator.site_truths()
        shared = simulator.shared_keys()
        records = list(simulator.requests)
        max_in_flight = simulator.max_in_flight

    assert result.returncode == 0, result.stdout[-3000:]
    database = project / "files" / "warehouse.db"
    assert per_site(database) == truths  # GROUP BY site: each site's own ground truth, no more, no less
    assert duplicates(database) == (0, 0)
    assert orphans(database) == 0  # objects -> locations on (site, name, location_type, aisle, scan_date)

    # The locations whose key columns are the same on every site land once per site, not merged into one row.
    assert shared > 0
    in_every_site = f"""
        SELECT count(*), sum(sites) FROM (
            SELECT count(DISTINCT site) AS sites FROM tester.locations GROUP BY {LOCATION_KEY}
            HAVING count(DISTINCT site) = {len(NAMES)})"""
    with duckdb.connect(str(database), read_only=True) as db:
        assert db.execute(in_every_site).fetchone() == (shared, shared * len(NAMES))

    assert records and all(record.key_matches_site for record in records)  # never another site's key
    assert Counter(record.site for record in records) == {
        name: -(-truth.locations // PAGE_SIZE) for name, truth in truths.items()
    }  # every page of every site, once
    assert 1 < max_in_flight <= concurrency  # concurrent, within the budget shared by all sites
    assert state_of(project).keys() == {"last_sync", "rounds"}
    assert_no_key(project, every_key(simulator), result.stdout)


def test_every_checkpoint_resumes_each_site_where_it_stood(project: Path, home: Path) -> None:
    """Whatever checkpoint a crash leaves behind, a site that had landed pages either resumes from a cursor or is
    finished: it never starts over from its first page."""
    with serve_in_thread(three_sites((400, 300, 200))) as simulator:
        configuration = sites_configuration(simulator, checkpoint_max_rows=1)
        write_configuration(project, configuration)
        result = run_debug(project, home, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    settings = parse_settings(configuration)
    intermediate = checkpoints(result.stdout)[:-1]  # the last one closes the round
    assert len(intermediate) >= sum(-(-size // PAGE_SIZE) for size in (400, 300, 200))  # one per page at least
    starting_over = []
    for number, state in enumerate(intermediate, start=1):
        for site, plan in resume_plan(settings, state).items():
            landed_pages = state["sites"][site].get("pages", 0)
            if landed_pages and plan.start is not None and not plan.start.resumed:
                starting_over.append(f"checkpoint {number}: site {site!r} with {landed_pages} pages landed")
    assert not starting_over, starting_over


# --------------------------------------------------------------------------------------- one site's key is revoked


def test_a_revoked_key_fails_its_site_alone_and_the_next_sync_completes_it(project: Path, home: Path) -> None:
    config = three_sites(revoke_key_after={"south": 2})
    database = project / "files" / "warehouse.db"
    with serve_in_thread(config) as simulator:
        write_configuration(project, sites_configuration(simulator))
        failed = run_debug(project, home, timeout=300, log_path=project.parent / "debug-failed.log")
        truths = simulator.site_truths()
        after_failure = per_site(database)
        state = state_of(project)

        simulator.revoke_key_after("south", None)  # the key is restored
        resumed_at = time.monotonic()
        second = run_debug(project, home, timeout=300, log_path=project.parent / "debug-resumed.log")
        rerun = requests_since(simulator, resumed_at)
        final_state = state_of(project)

    print(f"failed run: exit {failed.returncode}, landed {after_failure}, state {state}")
    print(f"resumed run: requests per site {Counter(record.site for record in rerun)}")
    print(*[line for line in failed.stdout.splitlines() if "sites failed" in line][:1])
    assert failed.returncode != 0, failed.stdout[-3000:]
    assert "SYNC FAILED" in failed.stdout
    assert "1 of 3 sites failed (2 synced)" in failed.stdout
    assert "site 'south': the API key was rejected for site 'south' (HTTP 401)" in failed.stdout
    assert after_failure["north"] == truths["north"] and after_failure["east"] == truths["east"]
    assert after_failure.get("south", GroundTruth(0, 0)).locations < truths["south"].locations

    south = state["sites"]["south"]  # where south resumes; the other two completed the round
    assert state["sites"].keys() == {"south"}
    cursor = URL(south["cursor"])
    assert page_number(cursor) == south["pages"] + 1
    assert south["locations"] == after_failure.get("south", GroundTruth(0, 0)).locations  # what landed, no more

    assert second.returncode == 0, second.stdout[-3000:]
    south_rerun = of_site(rerun, "south")
    assert south_rerun[0].page == page_number(cursor) and not unnumbered(south_rerun)  # resumed, not started over
    assert all(record.status == 200 for record in rerun)
    assert_every_site_landed_exactly_once(database, simulator)  # across both runs, once per key
    assert final_state.keys() == {"last_sync", "rounds"}
    assert_no_key(project, every_key(simulator), failed.stdout, second.stdout)


# ------------------------------------------------------------------------------------------------- killed mid-sync


def test_a_sync_killed_mid_way_resumes_every_site_where_it_stopped(tmp_path: Path, project: Path, home: Path) -> None:
    config = three_sites((1_000, 800, 600), latency_ms=40)
    with serve_in_thread(config) as simulator:
        configuration = sites_configuration(simulator, concurrency=4, checkpoint_max_rows=300)
        write_configuration(project, configuration)

        killed = StreamedDebug(project, home)
        try:
            deadline = time.monotonic() + 120
            while True:
                sites = state_of(project).get("sites", {})
                if len(sites) == len(NAMES) and all(
                    "cursor" in entry and (page_number(URL(entry["cursor"])) or 0) > 2 for entry in sites.values()
                ):
                    break
                assert killed.process.poll() is None, f"debug ended before it was killed:\n{killed.output[-3000:]}"
                assert time.monotonic() < deadline, killed.output[-3000:]
                time.sleep(0.02)
        finally:
            killed.kill()
        assert killed.process.returncode == -signal.SIGKILL
        checkpointed = state_of(project)["sites"]
        resumed_at = time.monotonic()
        second = run_debug(project, home, timeout=300, log_path=tmp_path / "debug-resumed.log")
        rerun = requests_since(simulator, resumed_at)

        scratch = stage_project(tmp_path / "scratch")
        write_configuration(scratch, configuration)
        scratch_at = time.monotonic()
        full = run_debug(scratch, home, timeout=300)
        from_scratch = requests_since(simulator, scratch_at)

    (tmp_path / "debug-killed.log").write_text(killed.output)
    assert second.returncode == 0 and full.returncode == 0, second.stdout[-3000:]
    assert_every_site_landed_exactly_once(project / "files" / "warehouse.db", simulator)
    print(f"killed with state {checkpointed}; requests: resumed run {len(rerun)}, from scratch {len(from_scratch)}")
    assert len(rerun) < len(from_scratch)
    for site, entry in checkpointed.items():
        if "cursor" not in entry:
            continue
        site_requests = of_site(rerun, site)
        assert not unnumbered(site_requests), f"site {site!r} started over after its checkpoint"
        assert site_requests[0].page == page_number(URL(entry["cursor"]))
        assert min(record.page or 0 for record in site_requests) == page_number(URL(entry["cursor"]))
    assert any("cursor" in entry for entry in checkpointed.values())
    assert_no_key(project, every_key(simulator), killed.output, second.stdout)


# -------------------------------------------------------------------------------------------- max_pages per site


def test_max_pages_counts_per_site_and_finished_sites_wait_for_the_round(project: Path, home: Path) -> None:
    config = three_sites((250, 500, 150))  # 3, 5 and 2 pages
    runs: list[Counter[str | None]] = []
    states = []
    with serve_in_thread(config) as simulator:
        write_configuration(project, sites_configuration(simulator, max_pages=2))
        for _ in range(3):
            started = time.monotonic()
            result = run_debug(project, home, timeout=300)
            assert result.returncode == 0, result.stdout[-3000:]
            runs.append(Counter(record.site for record in requests_since(simulator, started)))
            states.append(state_of(project))
        database = project / "files" / "warehouse.db"
        assert_every_site_landed_exactly_once(database, simulator)

    print(f"requests per site per run: {runs}")
    assert runs[0] == {"north": 2, "south": 2, "east": 2}  # max_pages is per site
    assert "finished" in states[0]["sites"]["east"]  # east ended within its two pages
    assert runs[1] == {"north": 1, "south": 2}  # east finished: not fetched again in this round
    assert "finished" in states[1]["sites"]["north"]
    assert runs[2] == {"south": 1}
    assert states[2].keys() == {"last_sync", "rounds"}  # the round is over: the next sync reads every site again


# ------------------------------------------------------------------------------------------ configuration errors


MISCONFIGURED = {
    "key-count": (
        {"site_name": "north, south, east", "site_api_key": f"{SITE_KEYS['north']}, {SITE_KEYS['south']}"},
        "site_api_key has 2 keys for 3 sites",
    ),
    "duplicate-site": (
        {"site_name": "north, south, north", "site_api_key": SHARED_KEY},
        "site_name names 'north' more than once",
    ),
    "empty-entry": ({"site_name": "north, , east", "site_api_key": SHARED_KEY}, "site_name has an empty entry"),
}


@pytest.mark.parametrize("case", list(MISCONFIGURED))
def test_a_misconfigured_site_list_fails_before_any_request(project: Path, home: Path, case: str) -> None:
    overrides, message = MISCONFIGURED[case]
    with serve_in_thread(three_sites()) as simulator:
        write_configuration(project, configuration_for(simulator, **overrides))
        result = run_debug(project, home, timeout=120)
        requests = len(simulator.requests)
    assert result.returncode != 0
    assert message in result.stdout, result.stdout[-3000:]
    print(*[line for line in result.stdout.splitlines() if message in line][:1])
    assert requests == 0
    assert_no_key(project, {*SITE_KEYS.values(), SHARED_KEY}, result.stdout)


def test_clear_text_to_another_host_is_refused_and_https_suggested() -> None:
    configuration = {
        "site_name": "north, south",
        "site_api_key": SHARED_KEY,
        "base_url": "http://dexory.example.invalid",  # never contacted: refused before any request
    }
    with pytest.raises(ConfigurationError) as raised:
        parse_settings(configuration)
    assert "http://" in str(raised.value) and "use https://" in str(raised.value)
    test = connector.connection_test(configuration)  # what the setup form shows
    assert test.failure is not None and "use https://" in test.failure
    assert SHARED_KEY not in str(raised.value) + test.failure


# ------------------------------------------------------------------------------------------------ legacy state


def test_state_from_before_sync_rounds_reads_its_site_in_full(project: Path, home: Path) -> None:
    """Rows saved before rounds carry none: resuming would leave them out of the round's snapshot."""
    with serve_in_thread(three_sites()) as simulator:
        resumed_site = simulator.config.sites[0]
        base = simulator.base_url
        legacy = {
            "cursor": f"{base}/customer-api/v1/locations?site={resumed_site.name}&page%5Bsize%5D={PAGE_SIZE}"
            "&page%5Bnumber%5D=3",
            "pages": 2,
        }
        write_state(project, legacy)
        write_configuration(project, sites_configuration(simulator))
        result = run_debug(project, home, timeout=300)
        truths = simulator.site_truths()
        records = list(simulator.requests)

    assert result.returncode == 0, result.stdout[-3000:]
    assert f"site {resumed_site.name!r}: saved progress predates sync rounds; reading the site in full" in result.stdout
    assert of_site(records, resumed_site.name)[0].page == 1
    landed = per_site(project / "files" / "warehouse.db")
    assert all(landed[name] == truths[name] for name in NAMES)
    assert state_of(project).keys() == {"last_sync", "rounds"}


# ---------------------------------------------------------------------------------------------- connection test


def test_connection_test_reports_each_failing_site_on_its_own_line() -> None:
    with serve_in_thread(three_sites()) as simulator:
        keys = f"{SITE_KEYS['north']}, {WRONG_KEY}, {SITE_KEYS['east']}"
        failing = connector.connection_test(
            configuration_for(simulator, site_name="north, south, nowhere", site_api_key=keys)
        )
        passing = connector.connection_test(sites_configuration(simulator))
        records = list(simulator.requests)

    assert failing.failure is not None
    print(failing.failure)
    lines = failing.failure.splitlines()
    assert len(lines) == 2, lines
    (south,) = [line for line in lines if "'south'" in line]
    (nowhere,) = [line for line in lines if "'nowhere'" in line]
    assert "the API key was rejected" in south and "HTTP 401" in south
    assert "site 'nowhere' not found (HTTP 404)" in nowhere
    assert not any(key in failing.failure for key in (*SITE_KEYS.values(), WRONG_KEY))
    assert passing.success, passing.failure
    known = [record for record in records if record.site in ("north", "east")]
    assert known and all(record.key_matches_site for record in known)


def test_connection_test_says_an_unknown_site_is_not_found() -> None:
    with serve_in_thread(three_sites()) as simulator:
        keys = ", ".join(SITE_KEYS.values())
        result = connector.connection_test(
            configuration_for(simulator, site_name="north, nowhere, east", site_api_key=keys)
        )
    assert result.failure is not None
    assert result.failure.splitlines() == [
        "site 'nowhere': site 'nowhere' not found (HTTP 404): check site_name (and customer, base_url)"
    ]

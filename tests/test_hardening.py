"""API shapes and histories that once lost rows silently, leaked part of a key, or broke every later sync.

Most run a whole sync in process (tests/connection.py: every line `update()` runs, the simulator answering in
memory): JSON:API link objects, links that are present but unreadable or malformed, a saved cursor past the end of a
site that shrank, a 404 on a later page, zero-based page numbers, and how often a sync checkpoints. An error body
echoing the key across the excerpt's cut runs through the real `fivetran debug` into DuckDB, for every file the SDK
writes (crash reports, state, warehouse) and what it prints; so does how much memory a bigger page costs.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from yarl import URL

from dexory_async.client import BODY_EXCERPT_CHARS
from dexory_async.config import parse_settings
from dexory_async.links import first_page_url, page_number, with_key
from dexory_simulator import (
    LINK_OBJECT,
    LINK_STRING,
    PAST_END_400,
    PAST_END_404,
    FaultPlan,
    GroundTruth,
    Simulator,
    SimulatorConfig,
    SiteSpec,
    ground_truth,
    locations,
    serve_in_thread,
)
from tests.conftest import PAGE_SIZE, TEST_KEY, configuration_for
from tests.connection import Connection
from tests.sinks import RecordingSink
from tests.warehouse import landed
from tools.fivetran_cli import cli_env, debug_command, run_debug, stage_project, write_configuration

LONG_KEY = "dxk_7Qm2ZtV9pLw4Rb8NcY3hJf6GsKe1XaU5oDi0TnMvHyBq"  # 48 characters, none of its fragments ordinary text
RSS_ENV = "DEXORY_RSS_TEST"


# ---------------------------------------------------------------------------------------------------- helpers


def landed_truth(project: Path) -> GroundTruth:
    rows = landed(project / "files" / "warehouse.db")
    assert rows.distinct_location_keys == rows.locations and rows.orphan_objects == 0 and rows.null_keys == 0
    return GroundTruth(rows.locations, rows.objects)


def fragments(secret: str, size: int = 8) -> set[str]:
    return {secret[start : start + size] for start in range(len(secret) - size + 1)}


def leaked_fragments(project: Path, secret: str, *outputs: str) -> dict[str, set[str]]:
    """Where any 8-character piece of `secret` appears: the outputs, and every file under the project (state,
    crash reports, warehouse, logs) but the configuration, where the user put the key."""
    pieces = fragments(secret)
    found: dict[str, set[str]] = {}
    texts = {f"output {number}": output for number, output in enumerate(outputs)}
    for path in project.rglob("*"):
        if path.is_file() and path.name != "configuration.json":
            texts[str(path.relative_to(project))] = path.read_bytes().decode("utf-8", "replace")
    for where, text in texts.items():
        hits = {piece for piece in pieces if piece in text}
        if hits:
            found[where] = hits
    return found


# ------------------------------------------------------------------------------------ a links.next that cannot be read


@pytest.mark.parametrize("found", ["object", "number"])
def test_a_links_next_that_cannot_be_read_fails_the_sync_after_its_page(found: str) -> None:
    faults = FaultPlan.parse([f"2:next_unreadable={found}"])
    simulator = Simulator(
        SimulatorConfig(locations=650, seed=42, api_key=TEST_KEY, link_style=LINK_OBJECT, faults=faults)
    )
    connection = Connection(simulator, configuration_for(simulator, concurrency=4))
    synced = connection.sync()
    shown = {"object": "{'meta': {'page': 3}}", "number": "3"}[found]
    assert not synced.succeeded
    assert f"page 2 ({simulator.base_url}/customer-api/v1/locations?" in str(synced.error)
    assert f"links.next not a URL nor a link object with an href: {shown}" in str(synced.error)
    assert connection.landed() == ground_truth(42, 2 * PAGE_SIZE)  # the rows of pages 1-2, not a row more
    entry = connection.state["sites"][simulator.config.site]
    assert page_number(URL(entry["cursor"])) == 2 and entry["pages"] == 1  # page 2 is read again next time
    assert TEST_KEY not in synced.output


# ----------------------------------------------------------------------------------- a cursor past a shrunk site


@pytest.mark.parametrize("past_end", [PAST_END_404, PAST_END_400])
def test_a_saved_cursor_past_the_end_of_a_shrunk_site_starts_it_over(past_end: Any) -> None:
    simulator = Simulator(SimulatorConfig(locations=200, seed=43, api_key=TEST_KEY))
    connection = Connection(simulator, configuration_for(simulator, max_pages=5, page_size=20))
    stopped = connection.sync()
    assert stopped.succeeded, stopped.output[-3000:]
    saved = URL(connection.state["sites"][simulator.config.site]["cursor"])
    assert page_number(saved) == 6

    # The site shrank: the same origin (the cursor is tried, not ignored), and a warehouse holding this sync's rows only
    shrunk = Simulator(SimulatorConfig(locations=60, seed=43, api_key=TEST_KEY, past_end=past_end))
    assert shrunk.base_url == simulator.base_url
    connection.simulator, connection.sink = shrunk, RecordingSink()
    synced = connection.sync()
    records = sorted(shrunk.requests, key=lambda record: record.at)
    assert synced.succeeded, synced.output[-3000:]
    assert "the saved cursor was refused" in synced.output and "starting over from the first page" in synced.output
    assert f"(HTTP {past_end})" in synced.output
    assert records[0].page == 6 and records[0].status == int(past_end)  # the cursor was tried once...
    assert "page[number]" not in records[1].query  # ...then the first page
    assert connection.landed() == shrunk.ground_truth()
    assert connection.state.keys() == {"last_sync", "rounds"}  # page 6 is forgotten


def test_a_404_on_a_later_page_names_the_page_not_the_site() -> None:
    config = SimulatorConfig(locations=600, seed=44, api_key=TEST_KEY, faults=FaultPlan.parse(["3:status=404@*"]))
    simulator = Simulator(config)
    connection = Connection(simulator, configuration_for(simulator, concurrency=1))
    synced = connection.sync()
    assert not synced.succeeded
    refused = re.search(r"the API refused page (\S+) of site 'demo-site' \(HTTP 404\)", synced.output)
    assert refused is not None, synced.output[-3000:]
    assert page_number(URL(refused[1])) == 3
    assert "not found (HTTP 404): check site_name" not in synced.output
    assert page_number(URL(connection.state["sites"][config.site]["cursor"])) == 3
    assert connection.landed() == ground_truth(44, 2 * PAGE_SIZE)


# ------------------------------------------------------------------------------------ a key echoed across the cut


def _key_offset_in_error_body(path_and_query: str) -> int:
    """Where the key starts in the simulator's echo_url answer with no padding: its JSON:API error document, whose
    detail is `invalid request GET <path and query as sent>`."""
    document = orjson.dumps({"errors": [{"status": "400", "title": "Bad Request", "detail": "\0"}]}).decode()
    return document.index("\\u0000") + len("invalid request GET ") + path_and_query.index(LONG_KEY)


def test_an_error_body_echoing_the_key_across_the_cut_leaks_no_part_of_it(project: Path, home: Path) -> None:
    """One site per padding, so that the key starts at every offset from 150 to 210 of the error body, straddling
    the excerpt's cut at every position: on a site's first page, and (from where its longer URL allows) a later
    one, whose error also names the page."""
    offsets = range(BODY_EXCERPT_CHARS - 50, BODY_EXCERPT_CHARS + 11)
    page_size = 2  # a later page's sites land their first page: small, as rows cost time through the SDK
    placeholder = parse_settings({"site_name": "p1-000", "site_api_key": LONG_KEY, "page_size": str(page_size)})
    first = with_key(first_page_url(placeholder, placeholder.sites[0]), LONG_KEY).raw_path_qs
    later = with_key(
        URL(f"/customer-api/v1/locations?site=p2-000&page%5Bnumber%5D=2&page%5Bsize%5D={page_size}"), LONG_KEY
    ).raw_path_qs
    assert _key_offset_in_error_body(first) <= offsets[0]  # the first page's answer can put the key anywhere
    specs, faults = [], []
    for page, path in ((1, first), (2, later)):
        for offset in range(max(offsets[0], _key_offset_in_error_body(path)), offsets[-1] + 1):
            name = f"p{page}-{offset:03d}"  # as long as the placeholder's name: the same offsets
            padding = offset - _key_offset_in_error_body(path)
            specs.append(SiteSpec(name, LONG_KEY, 2 * page_size, offset))
            faults.append(f"{name}/{page}:echo_url={padding}")
    first_spec, *extra = specs
    config = SimulatorConfig(
        site=first_spec.name,
        api_key=LONG_KEY,
        locations=first_spec.locations,
        seed=first_spec.seed,
        extra_sites=tuple(extra),
        faults=FaultPlan.parse(faults),
    )
    with serve_in_thread(config) as simulator:
        names = ", ".join(spec.name for spec in specs)
        write_configuration(
            project, configuration_for(simulator, site_name=names, site_api_key=LONG_KEY, page_size=page_size)
        )
        result = run_debug(project, home, timeout=300, log_path=project.parent / "debug.log")
        injected = config.faults.injected["echo_url"]
    assert result.returncode != 0
    assert injected == len(specs)  # every site met its echo
    assert f"{len(specs)} of {len(specs)} sites failed" in result.stdout
    assert result.stdout.count("HTTP 400 from the API for the first page of site") >= len(offsets)
    assert result.stdout.count("the API refused page") >= len(specs) - len(offsets)
    assert "invalid request GET /customer-api/v1/locations?" in result.stdout  # the excerpts were shown...
    assert list((project / "crash-reports").glob("*")), "no crash report to check"
    assert leaked_fragments(project, LONG_KEY, result.stdout) == {}  # ...with no 8 characters of the key


# --------------------------------------------------------------------- pages numbered from 0 or 1, link objects


@pytest.mark.parametrize(
    ("first_page_number", "link_style"),
    [(0, LINK_STRING), (1, LINK_STRING), (1, LINK_OBJECT), (0, LINK_OBJECT)],
    ids=["from-0", "from-1", "from-1-link-objects", "from-0-link-objects"],
)
def test_page_numbers_and_link_objects_sync_the_ground_truth_with_prefetch(
    first_page_number: Any, link_style: Any
) -> None:
    """Whether the API numbers pages from 0 or 1, and gives links as URLs or JSON:API link objects, every page lands
    once, fetched ahead (the links were understood as numbered pages)."""
    config = SimulatorConfig(
        locations=190,
        seed=45,
        api_key=TEST_KEY,
        first_page_number=first_page_number,
        link_style=link_style,
        latency_ms=15,
    )
    simulator = Simulator(config)
    connection = Connection(simulator, configuration_for(simulator, concurrency=4, page_size=20))
    synced = connection.sync()
    assert synced.succeeded, synced.output[-3000:]
    assert connection.landed() == simulator.ground_truth()
    pages = Counter(record.page for record in simulator.requests)
    assert pages == dict.fromkeys(range(1, 11), 1)  # every page once: the first not again under its number
    assert 1 < simulator.max_in_flight <= 4


# -------------------------------------------------------------------------------------------- malformed links.next


@pytest.mark.parametrize(("kind", "shown"), [("next_bad_port", "127.0.0.1:99999"), ("next_bad_ipv6", "http://[::1")])
def test_a_malformed_links_next_fails_after_checkpointing_what_was_synced(kind: str, shown: str) -> None:
    config = SimulatorConfig(locations=800, seed=46, api_key=TEST_KEY, faults=FaultPlan.parse([f"3:{kind}"]))
    simulator = Simulator(config)
    connection = Connection(simulator, configuration_for(simulator, concurrency=4))
    synced = connection.sync()
    assert not synced.succeeded
    failure = str(synced.error)
    assert "sites failed" in failure and "page 3 (" in failure and shown in failure, synced.output[-3000:]
    assert TEST_KEY not in synced.output and "api_key" not in failure
    entry = connection.state["sites"][config.site]
    assert page_number(URL(entry["cursor"])) == 3 and entry["pages"] == 2  # page 3 is read again next time
    assert connection.landed() == ground_truth(46, 3 * PAGE_SIZE)  # pages 1-3, whose rows were fine


# ------------------------------------------------------------------------------------------- checkpoints, memory


def test_checkpoints_follow_the_row_bound() -> None:
    max_rows, page_size = 200, 20  # about 3 pages between checkpoints
    config = SimulatorConfig(locations=400, seed=47, api_key=TEST_KEY)
    simulator = Simulator(config)
    configuration = configuration_for(
        simulator, page_size=page_size, checkpoint_interval_seconds=3600, checkpoint_max_rows=max_rows
    )
    connection = Connection(simulator, configuration)
    synced = connection.sync()
    assert synced.succeeded, synced.output[-3000:]

    page_rows = []
    for start in range(0, config.locations, page_size):
        page = list(locations(config.seed, start, min(start + page_size, config.locations)))
        page_rows.append(len(page) + sum(len(location["expected_inventory_objects"]) for location in page))
    implied, since = 0, 0
    for rows in page_rows:  # a checkpoint once max_rows were written since the last one
        since += rows
        if since >= max_rows:
            implied, since = implied + 1, 0

    opening, *during, closing = synced.checkpoints  # the round saved as it starts, the row bound's, the round's end
    assert "cursor" not in opening["sites"]["demo-site"] and "round_started_at" in opening["sites"]["demo-site"]
    assert closing.keys() == {"last_sync", "rounds"}
    assert len(during) == implied
    written = [entry["sites"]["demo-site"]["locations"] + entry["sites"]["demo-site"]["objects"] for entry in during]
    steps = [after - before for before, after in zip([0, *written], written, strict=False)]
    assert all(max_rows <= step < max_rows + max(page_rows) for step in steps), steps


def _peak_rss_kib(project: Path, home: Path) -> tuple[int, str]:
    """The largest resident set of any process `fivetran debug` ran, measured by a fresh wrapper process."""
    wrapper = (
        "import resource, subprocess, sys\n"
        "done = subprocess.run(sys.argv[1:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)\n"
        "sys.stderr.write(done.stdout)\n"
        "print(done.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", wrapper, *debug_command(project)],
        cwd=project,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    returncode, peak = map(int, run.stdout.split())
    assert returncode == 0, run.stderr[-3000:]
    return peak, run.stderr


@pytest.mark.skipif(not os.environ.get(RSS_ENV), reason=f"about 40 s; set {RSS_ENV}=1 to measure peak memory")
def test_peak_memory_barely_grows_with_the_page_size(tmp_path: Path, home: Path) -> None:
    config = SimulatorConfig(locations=30_000, seed=48, api_key=TEST_KEY)
    peaks: dict[int, int] = {}
    with serve_in_thread(config) as simulator:
        truth = simulator.ground_truth()
        for page_size in (1_000, 10_000):
            project = stage_project(tmp_path / f"page-size-{page_size}")
            write_configuration(project, configuration_for(simulator, page_size=page_size, concurrency=4))
            peaks[page_size], output = _peak_rss_kib(project, home)
            assert landed_truth(project) == truth
            reported = re.search(r"memory usage: average [\d.]+ MB, peak [\d.]+ MB", output)
            print(f"page_size {page_size}: peak RSS {peaks[page_size] / 1024:.0f} MiB; SDK: {reported and reported[0]}")
    assert peaks[10_000] <= 1.5 * peaks[1_000], peaks

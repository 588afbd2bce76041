"""The Dexory API simulator itself: the API's shape, several sites, determinism, request records and the CLI."""

from __future__ import annotations

import signal
import subprocess
import sys
from typing import Any

import aiohttp
import orjson
import pytest

from dexory_simulator import (
    CURSOR,
    LINK_OBJECT,
    Fault,
    FaultPlan,
    GroundTruth,
    Simulator,
    SimulatorConfig,
    SiteSpec,
    ground_truth,
    location,
)
from dexory_simulator.__main__ import config as cli_config
from dexory_simulator.__main__ import parse_args
from dexory_simulator.data import KEY_FIELDS
from dexory_simulator.pages import LOCATIONS_PATH
from dexory_simulator.server import STATS_PATH

QUERY = {"site": "demo-site", "api_key": "demo-key", "page[size]": "10"}
NORTH = SiteSpec("north", "key-north", locations=30, seed=3)
SOUTH = SiteSpec("south", "key-south", locations=20, seed=4)


def two_sites(**config: Any) -> SimulatorConfig:
    """North as the first site, south as an extra one."""
    return SimulatorConfig(
        site=NORTH.name,
        api_key=NORTH.api_key,
        locations=NORTH.locations,
        seed=NORTH.seed,
        extra_sites=(SOUTH,),
        **config,
    )


def site_query(site: SiteSpec, **more: str) -> dict[str, str]:
    return {"site": site.name, "api_key": site.api_key, "page[size]": "10", **more}


async def get(session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None) -> tuple[int, Any]:
    async with session.get(url, params=params) as response:
        return response.status, orjson.loads(await response.read())


async def fetch_all(session: aiohttp.ClientSession, simulator: Simulator, site: SiteSpec) -> list[Any]:
    """Every item of `site`, following links.next."""
    url: str | None = simulator.base_url + LOCATIONS_PATH
    params, items = site_query(site), []
    while url:
        status, page = await get(session, url, params)
        assert status == 200
        items += page["data"]
        url, params = page["links"]["next"], {"api_key": site.api_key}
    return items


# ---------------------------------------------------------------------------------------------------- pagination


async def test_numbered_pages_have_json_api_links() -> None:
    async with Simulator(SimulatorConfig(locations=25, seed=2)) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        status, first = await get(session, url, QUERY)
        assert status == 200 and len(first["data"]) == 10
        assert first["data"][0] == location(2, 0)
        assert set(first["links"]) == {"first", "prev", "next", "last"} and first["links"]["prev"] is None
        assert "page%5Bnumber%5D=2" in first["links"]["next"] and "page%5Bnumber%5D=3" in first["links"]["last"]
        assert "api_key" not in first["links"]["next"]  # links never carry the key
        _, last = await get(session, first["links"]["last"] + "&api_key=demo-key")
        assert len(last["data"]) == 5 and last["links"]["next"] is None


async def test_cursor_pages_are_opaque_and_complete() -> None:
    config = SimulatorConfig(locations=25, pagination=CURSOR)
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        url, params, names = simulator.base_url + LOCATIONS_PATH, dict(QUERY), []
        while url:
            _, page = await get(session, url, params)
            names += [item["name"] for item in page["data"]]
            url, params = page["links"].get("next"), {"api_key": "demo-key"}
            assert url is None or ("cursor=" in url and "page" not in url)
    assert names == [location(1, index)["name"] for index in range(25)]


async def test_link_objects_carry_href_and_page_number() -> None:
    config = SimulatorConfig(locations=25, link_style=LINK_OBJECT)
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        _, first = await get(session, simulator.base_url + LOCATIONS_PATH, QUERY)
        links = first["links"]
        assert links["prev"] is None
        assert {name: link["meta"] for name, link in links.items() if link} == {
            "first": {"page": 1},
            "next": {"page": 2},
            "last": {"page": 3},
        }
        assert "page%5Bnumber%5D=2" in links["next"]["href"]
        _, second = await get(session, links["next"]["href"], {"api_key": "demo-key"})
    assert second["data"][0] == location(1, 10) and second["links"]["prev"]["meta"] == {"page": 1}


async def test_zero_based_numbering_starts_at_page_zero() -> None:
    config = SimulatorConfig(locations=25, first_page_number=0, link_style=LINK_OBJECT)
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        _, first = await get(session, url, QUERY)
        assert first["data"][0] == location(1, 0)
        assert "page%5Bnumber%5D=1" in first["links"]["next"]["href"] and first["links"]["next"]["meta"]["page"] == 1
        assert "page%5Bnumber%5D=2" in first["links"]["last"]["href"] and first["links"]["last"]["meta"]["page"] == 2
        _, last = await get(session, url, {**QUERY, "page[number]": "2"})
        assert [item["name"] for item in last["data"]] == [location(1, index)["name"] for index in range(20, 25)]
        assert last["links"]["next"] is None
        assert (await get(session, url, {**QUERY, "page[number]": "-1"}))[0] == 400
    assert [record.page for record in simulator.requests] == [1, 3, None]  # records count pages from 1 regardless


@pytest.mark.parametrize(
    ("past_end", "status", "answer"),
    [
        ("empty", 200, {"data": []}),
        ("404", 404, {"errors": [{"status": "404", "title": "Not Found", "detail": "page not found"}]}),
        ("400", 400, {"errors": [{"status": "400", "title": "Bad Request", "detail": "page out of range"}]}),
    ],
)
async def test_a_page_past_the_end_answers_as_configured(past_end: Any, status: int, answer: dict[str, Any]) -> None:
    async with Simulator(SimulatorConfig(locations=25, past_end=past_end)) as simulator, aiohttp.ClientSession() as s:
        url = simulator.base_url + LOCATIONS_PATH
        assert (await get(s, url, {**QUERY, "page[number]": "3"}))[0] == 200  # the last page is not past the end
        got_status, body = await get(s, url, {**QUERY, "page[number]": "4"})
    assert got_status == status
    assert {key: body[key] for key in answer} == answer


# ---------------------------------------------------------------------------------------------------- sites


async def test_every_site_serves_its_own_data_and_ground_truth() -> None:
    async with Simulator(two_sites()) as simulator, aiohttp.ClientSession() as session:
        served = {site.name: await fetch_all(session, simulator, site) for site in (NORTH, SOUTH)}
    for site in (NORTH, SOUTH):
        assert served[site.name] == [location(site.seed, index) for index in range(site.locations)]
        objects = sum(len(item["expected_inventory_objects"]) for item in served[site.name])
        assert simulator.ground_truth(site.name) == GroundTruth(site.locations, objects)
    assert simulator.site_truths() == {site.name: ground_truth(site.seed, site.locations) for site in (NORTH, SOUTH)}
    assert simulator.ground_truth() == simulator.ground_truth("north") + simulator.ground_truth("south")


async def test_shared_locations_have_the_same_key_on_every_site() -> None:
    async with Simulator(two_sites(shared_locations=12)) as simulator, aiohttp.ClientSession() as session:
        north, south = [await fetch_all(session, simulator, site) for site in (NORTH, SOUTH)]
    assert simulator.shared_keys() == 12

    def keys(items: list[Any]) -> list[tuple[Any, ...]]:
        return [tuple(item[field] for field in KEY_FIELDS) for item in items]

    assert keys(north[:12]) == keys(south[:12])
    assert not set(keys(north[12:])) & set(keys(south[12:]))
    assert [item["image_url"] for item in north[:12]] != [item["image_url"] for item in south[:12]]  # the rest differs
    assert north[12:] == [location(NORTH.seed, index) for index in range(12, NORTH.locations)]  # unshared: unchanged


async def test_requests_record_the_site_and_whether_the_key_was_its_own() -> None:
    async with Simulator(two_sites()) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        statuses = [
            (await get(session, url, params))[0]
            for params in (
                site_query(NORTH),
                site_query(SOUTH, api_key=NORTH.api_key),  # north's key for south
                site_query(SOUTH),
                site_query(SiteSpec("elsewhere", NORTH.api_key, 0, 0)),
                {"site": "north"},
            )
        ]
        _, stats = await get(session, simulator.base_url + STATS_PATH)
    assert statuses == [200, 401, 200, 404, 401]
    records = [(record.site, record.key_present, record.key_matches_site) for record in simulator.requests]
    assert records == [
        ("north", True, True),
        ("south", True, False),
        ("south", True, True),
        ("elsewhere", True, False),
        ("north", False, False),
    ]
    assert not any(site.api_key in repr(simulator.requests) for site in (NORTH, SOUTH))
    assert stats["requests_per_site"] == {"north": 2, "south": 2, "elsewhere": 1}
    assert stats["mismatched_keys"] == 2 and stats["max_in_flight"] == 1


async def test_site_and_key_are_checked_and_requests_recorded_without_the_key() -> None:
    async with Simulator(SimulatorConfig(locations=5)) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        assert (await get(session, url, {**QUERY, "api_key": "nope"}))[0] == 401
        assert (await get(session, url, {**QUERY, "site": "elsewhere"}))[0] == 404
        assert (await get(session, url, {**QUERY, "page[size]": "0"}))[0] == 400
        _, stats = await get(session, simulator.base_url + STATS_PATH)
    assert [record.status for record in simulator.requests] == [401, 404, 400]
    assert all(record.query.get("api_key") == "***" and record.key_present for record in simulator.requests)
    assert stats["requests"] == 3 and stats["max_in_flight"] == 1


async def test_a_revoked_key_is_rejected_until_restored() -> None:
    async with Simulator(two_sites(revoke_key_after={"south": 2})) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH

        async def status(site: SiteSpec) -> int:
            return (await get(session, url, site_query(site)))[0]

        assert [await status(SOUTH) for _ in range(4)] == [200, 200, 401, 401]
        assert await status(NORTH) == 200  # other sites keep their keys
        simulator.revoke_key_after("south", None)
        assert await status(SOUTH) == 200
        simulator.revoke_key_after("north", 0)
        assert await status(NORTH) == 401
    assert [record.key_matches_site for record in simulator.requests] == [True] * 7  # the key was right, just revoked


def test_sites_must_be_distinct_and_known() -> None:
    with pytest.raises(ValueError, match="differ"):
        SimulatorConfig(site="north", extra_sites=(NORTH,))
    with pytest.raises(ValueError, match="unknown sites"):
        SimulatorConfig(revoke_key_after={"nowhere": 1})
    with pytest.raises(ValueError, match="unknown sites"):
        SimulatorConfig(faults=FaultPlan.parse(["nowhere/1:malformed"]))


# ---------------------------------------------------------------------------------------------------- faults


def test_faults_name_a_site_or_hit_every_site() -> None:
    assert Fault.parse("north/3:status=503@1-2") == Fault(3, "status", "503", 1, 2, site="north")
    assert Fault.parse("2:next_origin=http://127.0.0.1:1/") == Fault(2, "next_origin", "http://127.0.0.1:1/", 1, None)
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault.parse("north/1:nonsense")


async def test_a_fault_on_one_site_leaves_the_others_alone() -> None:
    config = two_sites(faults=FaultPlan.parse(["south/1:status=503"]))
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        statuses = [(await get(session, url, site_query(site)))[0] for site in (NORTH, SOUTH, SOUTH)]
    assert statuses == [200, 503, 200]
    assert config.faults.attempts == {("north", 1): 1, ("south", 1): 2}


async def test_malformed_records_are_described_in_the_simulators_own_words() -> None:
    config = two_sites(faults=FaultPlan.parse(["south/2:malformed", "3:malformed"]))
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        url = simulator.base_url + LOCATIONS_PATH
        _, page = await get(session, url, site_query(SOUTH, **{"page[number]": "2"}))
        _, untouched = await get(session, url, site_query(NORTH, **{"page[number]": "2"}))
    assert len(page["data"]) == 10 + 5 and len(untouched["data"]) == 10
    assert page["data"][11]["name"] == "MALFORMED-south-2-no-aisle" and "aisle" not in page["data"][11]
    south = simulator.malformed_truth("south")
    assert south.defects == {
        "items that are not objects": 2,
        "locations without an aisle": 2,
        "locations with an unreadable scan_date": 2,
        "locations whose expected_inventory_objects is not a list": 2,
        "inventory objects that are not objects": 4,
    }
    assert south.lands == GroundTruth(locations=4, objects=2)  # two valid locations and one object per page
    assert simulator.malformed_truth().lands == GroundTruth(locations=6, objects=3)
    assert simulator.ground_truth("south") == ground_truth(SOUTH.seed, SOUTH.locations) + south.lands


async def test_an_echoed_url_error_holds_the_key_after_the_padding() -> None:
    async with (
        Simulator(SimulatorConfig(locations=25, faults=FaultPlan.parse(["1:echo_url=7"]))) as simulator,
        aiohttp.ClientSession() as session,
    ):
        url = simulator.base_url + LOCATIONS_PATH
        status, body = await get(session, url, QUERY)
        retried, _ = await get(session, url, QUERY)
    assert (status, retried) == (400, 200)
    (error,) = body["errors"]
    assert error["status"] == "400" and error["title"] == "Bad Request"
    prefix = "." * 7 + "invalid request GET " + LOCATIONS_PATH + "?"
    assert error["detail"].startswith(prefix) and "api_key=demo-key" in error["detail"][len(prefix) :]
    assert simulator.requests[0].fault == "echo_url" and "demo-key" not in repr(simulator.requests)


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("next_bad_port", "http://127.0.0.1:99999/customer-api/v1/locations?site=demo-site&page%5Bnumber%5D=2"),
        ("next_bad_ipv6", "http://[::1/customer-api/v1/locations?site=demo-site&page%5Bnumber%5D=2"),
        ("next_unreadable", {"meta": {"page": 2}}),
        ("next_unreadable=number", 2),
    ],
)
async def test_malformed_next_links(fault: str, expected: Any) -> None:
    config = SimulatorConfig(locations=25, faults=FaultPlan.parse([f"1:{fault}"]))
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        _, page = await get(session, simulator.base_url + LOCATIONS_PATH, QUERY)
    link = page["links"]["next"]
    if isinstance(expected, str):
        assert link == expected + "&page%5Bsize%5D=10"
    else:
        assert link == expected


async def test_a_malformed_next_link_object_keeps_its_shape() -> None:
    config = SimulatorConfig(locations=25, link_style=LINK_OBJECT, faults=FaultPlan.parse(["1:next_bad_ipv6"]))
    async with Simulator(config) as simulator, aiohttp.ClientSession() as session:
        _, page = await get(session, simulator.base_url + LOCATIONS_PATH, QUERY)
    assert page["links"]["next"]["href"].startswith("http://[::1/customer-api/v1/locations?")
    assert page["links"]["next"]["meta"] == {"page": 2}


# ---------------------------------------------------------------------------------------------------- determinism, CLI


async def test_same_seed_serves_the_same_bytes() -> None:
    bodies = []
    for _ in range(2):
        async with (
            Simulator(SimulatorConfig(locations=50, seed=7), port=0) as simulator,
            aiohttp.ClientSession() as session,
            session.get(simulator.base_url + LOCATIONS_PATH, params=QUERY) as response,
        ):
            bodies.append(orjson.loads(await response.read())["data"])
    assert bodies[0] == bodies[1]


def test_cli_sites_take_what_they_leave_out_from_the_defaults() -> None:
    sites = ("--site", "north:kn:12:5", "--site", "south", "--site", "east::9")
    defaults = ("--api-key", "ks", "--locations", "7", "--seed", "20")
    shape = ("--shared-locations", "3", "--past-end", "404", "--first-page-number", "0", "--link-style", "object")
    faults = ("--revoke-key-after", "south=4", "--fault", "south/2:echo_url=5")
    args = parse_args([*sites, *defaults, *shape, *faults])
    config = cli_config(args)
    assert config.sites == (
        SiteSpec("north", "kn", 12, 5),
        SiteSpec("south", "ks", 7, 21),
        SiteSpec("east", "ks", 9, 22),
    )
    assert (config.shared_locations, config.revoke_key_after, config.past_end) == (3, {"south": 4}, "404")
    assert (config.first_page_number, config.link_style) == (0, "object")
    assert config.faults.faults == [Fault(2, "echo_url", "5", 1, 1, site="south")]
    single = cli_config(parse_args(["--site", "w", "--api-key", "k", "--locations", "4", "--seed", "9"]))
    assert single.sites == (SiteSpec("w", "k", 4, 9),)


def test_cli_prints_its_address_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dexory_simulator", "--port", "0", "--locations", "10", "--seed", "3"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline()  # type: ignore[union-attr]
        assert line.startswith("listening on http://127.0.0.1:")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        process.kill()
        process.wait()
        process.stdout.close()  # type: ignore[union-attr]

"""The Dexory API simulator itself: the API's shape, determinism, request records and the CLI contract."""

from __future__ import annotations

import signal
import subprocess
import sys

import aiohttp
import orjson

from dexory_async.simulator import CURSOR, Simulator, SimulatorConfig
from dexory_async.simulator.data import location
from dexory_async.simulator.server import LOCATIONS_PATH, STATS_PATH

QUERY = {"site": "demo-site", "api_key": "demo-key", "page[size]": "10"}


async def get(session: aiohttp.ClientSession, url: str, params: dict[str, str] | None = None) -> tuple[int, dict]:
    async with session.get(url, params=params) as response:
        return response.status, orjson.loads(await response.read())


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


def test_cli_prints_its_address_and_stops_on_sigterm() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "dexory_async.simulator", "--port", "0", "--locations", "10", "--seed", "3"],
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

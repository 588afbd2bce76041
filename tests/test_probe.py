"""The setup form's connection test over the in-memory transport: one request per site, and a sentence per failure."""

from __future__ import annotations

import asyncio

import pytest

from dexory_async.config import Settings, Site
from dexory_async.errors import DexoryError, TLSFailed
from dexory_async.probe import check_connection, probe
from dexory_async.transport import MockTransport, Request, Response
from tests.conftest import TEST_KEY, FakeClock

SETTINGS = Settings(sites=(Site("north", TEST_KEY),), base_url="https://api.example.test", request_timeout_seconds=10)


def answering(status: int, headers: dict[str, str]) -> MockTransport:
    return MockTransport(lambda request: Response(status, b'{"data": []}', headers))


async def never(request: Request) -> Response:
    await asyncio.Event().wait()
    raise AssertionError("unreachable")


async def test_a_rate_limited_probe_says_to_test_again_later(clock: FakeClock) -> None:
    with pytest.raises(DexoryError, match=r"is rate limiting \(HTTP 429 .*\): test again in a minute"):
        await clock.run(probe(SETTINGS, SETTINGS.sites[0], answering(429, {"Retry-After": "30"})))


async def test_a_probe_without_answer_says_the_limit_once(clock: FakeClock) -> None:
    with pytest.raises(DexoryError) as raised:
        await clock.run(probe(SETTINGS, SETTINGS.sites[0], MockTransport(never)))

    message = str(raised.value)
    assert message.startswith("could not reach the Dexory API at https://api.example.test: no answer within 10s")
    assert TEST_KEY not in message


def test_the_connection_test_names_each_failing_site_on_its_own_line() -> None:
    settings = Settings(sites=(Site("north", TEST_KEY), Site("south", "key-south"), Site("east", "key-east")))

    def answer(request: Request) -> Response:
        site = request.url.query["site"]
        if site == "south":
            raise TLSFailed("TLS failed: certificate verify failed")
        return Response(401 if site == "east" else 200, b'{"data": []}')

    failures = check_connection(settings, transport=lambda: MockTransport(answer))

    assert failures == [
        "site 'south': TLS failed: certificate verify failed",
        "site 'east': the API key was rejected for site 'east' (HTTP 401): check site_api_key",
    ]

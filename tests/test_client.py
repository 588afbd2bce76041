"""One site's requests over the in-memory transport, on a fake clock: what is retried and what fails at once, what
each failure says, the timeout, the warning for a request outstanding long, and the key kept out of all of it."""

from __future__ import annotations

import asyncio
import dataclasses
import logging

import pytest
from yarl import URL

from dexory_async.client import SLOW_REQUEST_SECONDS, DexoryClient, body_limit
from dexory_async.config import Settings, Site
from dexory_async.errors import (
    ConnectionFailed,
    Redirected,
    RequestError,
    ResponseTooLarge,
    RetriesExhausted,
    ServerError,
    TimedOut,
    TLSFailed,
)
from dexory_async.links import first_page_url, with_page_number
from dexory_async.page import Page
from dexory_async.throttle import Throttle
from dexory_async.transport import MockTransport, Request, Response
from tests.conftest import TEST_KEY, FakeClock

SITE = Site("north", TEST_KEY)
SETTINGS = Settings(sites=(SITE,), base_url="https://api.example.test", max_retries=2, base_retry_delay=2.0)
PAGE_3 = with_page_number(first_page_url(SETTINGS, SITE), 3)
PAGE_BODY = b'{"data": [], "links": {"next": null}}'


class Server:
    """Answers in turn from `answers` (the last one for good), counting requests; never answers for `None`."""

    def __init__(self, *answers: Response | RequestError | None) -> None:
        self.answers = list(answers)
        self.requested: list[URL] = []

    async def __call__(self, request: Request) -> Response:
        self.requested.append(request.url)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if answer is None:
            await asyncio.Event().wait()
        if isinstance(answer, RequestError):
            raise answer
        assert answer is not None
        return answer


async def fetch(server: Server, clock: FakeClock, settings: Settings = SETTINGS) -> Page:
    client = DexoryClient(settings, SITE, MockTransport(server), Throttle(settings.concurrency))
    return await clock.run(client.fetch(PAGE_3))


async def failure(server: Server, clock: FakeClock, settings: Settings = SETTINGS) -> BaseException:
    with pytest.raises(Exception) as raised:
        await fetch(server, clock, settings)
    for error in (raised.value, getattr(raised.value, "last_error", None)):
        assert TEST_KEY not in f"{error} {error!r} {vars(error) if error else ''}"
    return raised.value


async def test_a_timeout_says_the_limit_and_that_the_server_never_answered(clock: FakeClock) -> None:
    server = Server(None)

    error = await failure(server, clock)

    assert isinstance(error, RetriesExhausted) and isinstance(error.last_error, TimedOut)
    assert f"no answer within 30s (request_timeout_seconds): the server never answered {PAGE_3}" in str(error)
    assert (error.last_error.site, error.last_error.url) == ("north", PAGE_3)
    assert len(server.requested) == 3  # timeouts are retried


async def test_a_request_outstanding_for_long_is_logged_with_site_page_and_seconds(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def late(request: Request) -> Response:
        await asyncio.sleep(SLOW_REQUEST_SECONDS + 3)
        return Response(200, PAGE_BODY)

    client = DexoryClient(SETTINGS, SITE, MockTransport(late), Throttle(1))
    with caplog.at_level(logging.WARNING, logger="dexory_async.client"):
        await clock.run(client.fetch(PAGE_3))

    [line] = [record.getMessage() for record in caplog.records]
    assert line == "site 'north': page 3 has had no answer for 5s (it times out after 30s)"


async def test_a_prompt_answer_logs_nothing(clock: FakeClock, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="dexory_async.client"):
        page = await fetch(Server(Response(200, PAGE_BODY)), clock)

    assert page.url == PAGE_3 and caplog.records == []


async def test_the_final_server_error_shows_the_start_of_its_body_masked(clock: FakeClock) -> None:
    body = f'{{"error": "upstream timeout for key \\"{TEST_KEY}\\"", "trace": "{"x" * 500}"}}'.encode()

    error = await failure(Server(Response(503, body)), clock)

    assert isinstance(error, RetriesExhausted) and isinstance(error.last_error, ServerError)
    assert 'HTTP 503 from the server: {"error": "upstream timeout for key \\"***\\""' in str(error)
    assert len(str(error.last_error)) < 300  # a short excerpt, not the whole body


@pytest.mark.parametrize(
    "answer",
    [
        TLSFailed("TLS failed: certificate verify failed"),
        ResponseTooLarge("the answer passed 32 MB"),
        Response(302, headers={"Location": "https://elsewhere.example.test/?api_key=" + TEST_KEY}),
    ],
    ids=["tls", "too-large", "redirect"],
)
async def test_a_permanent_failure_is_not_retried(clock: FakeClock, answer: Response | RequestError) -> None:
    server = Server(answer)

    error = await failure(server, clock)

    assert isinstance(error, (TLSFailed, ResponseTooLarge, Redirected)) and len(server.requested) == 1
    assert error.site == "north"


async def test_a_redirect_names_the_page_and_the_host_it_leads_to(clock: FakeClock) -> None:
    location = f"https://elsewhere.example.test/v2?api_key={TEST_KEY}"

    error = await failure(Server(Response(301, headers={"Location": location})), clock)

    assert isinstance(error, Redirected) and str(PAGE_3) in str(error) and "host elsewhere.example.test" in str(error)


async def test_transient_failures_are_retried_with_backoff_then_the_page_is_read(
    clock: FakeClock, caplog: pytest.LogCaptureFixture
) -> None:
    server = Server(ConnectionFailed("ClientOSError: reset"), Response(503), Response(200, PAGE_BODY))
    started = clock.now

    page = await fetch(server, clock)

    assert page.url == PAGE_3 and len(server.requested) == 3
    assert clock.now - started == pytest.approx(2.0 + 4.0)  # base_retry_delay 2 s, doubled
    assert all(url.query["api_key"] == TEST_KEY for url in server.requested)  # added at the last moment
    assert TEST_KEY not in caplog.text


async def test_a_page_past_its_bound_fails_at_once_naming_the_page_and_the_bound_grows_with_page_size(
    clock: FakeClock,
) -> None:
    """The bound keeps a runaway body from taking the connector's memory; a larger page_size earns a larger bound."""
    padding = b" " * (body_limit(SETTINGS) + 1)
    body = b'{"data": [], "links": {"next": null}}' + padding

    error = await failure(Server(Response(200, body)), clock)

    assert isinstance(error, ResponseTooLarge) and str(PAGE_3) in str(error) and "MB (decompressed)" in str(error)
    larger = dataclasses.replace(SETTINGS, page_size=SETTINGS.page_size * 10)
    assert body_limit(larger) > len(body)
    page = await fetch(Server(Response(200, body)), clock, larger)
    assert page.data == []

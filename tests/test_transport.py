"""The transports: aiohttp over real loopback sockets (bounded bodies, redirects left alone, TLS and connection
failures as the connector's errors, the key masked), and the in-memory one tests use."""

from __future__ import annotations

import gzip
import ssl
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from yarl import URL

from dexory_async.errors import ConnectionFailed, RequestRefused, ResponseTooLarge, TLSFailed
from dexory_async.transport import AiohttpTransport, MockTransport, Request, Response
from tests.conftest import TEST_KEY

INFLATED = 40_000_000  # what the bomb inflates to
LIMIT = 1_000_000


async def bomb(request: web.Request) -> web.Response:
    """40 MB of zeros in about 40 kB: a body that is small on the wire and huge once read."""
    body = gzip.compress(b"\0" * INFLATED, compresslevel=9)
    return web.Response(body=body, headers={"Content-Encoding": "gzip", "Content-Type": "application/json"})


async def big(request: web.Request) -> web.Response:
    return web.Response(body=b"[" + b"0," * (LIMIT // 2) + b"0]")


async def small(request: web.Request) -> web.Response:
    return web.Response(body=gzip.compress(b'{"data": []}'), headers={"Content-Encoding": "gzip"})


async def moved(request: web.Request) -> web.Response:
    raise web.HTTPFound(f"https://elsewhere.example.test/locations?{request.query_string}")


@pytest.fixture
async def server() -> AsyncIterator[URL]:
    app = web.Application()
    for path, handler in (("/bomb", bomb), ("/big", big), ("/small", small), ("/moved", moved)):
        app.router.add_get(path, handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield URL(f"http://127.0.0.1:{port}")
    await runner.cleanup()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    opened = AiohttpTransport()
    yield opened
    await opened.aclose()


def keyed(url: URL) -> URL:
    return url.with_query({"site": "w", "api_key": TEST_KEY})


@pytest.mark.parametrize("path", ["/bomb", "/big"])
async def test_a_body_past_its_bound_is_refused_while_it_streams(
    server: URL, transport: AiohttpTransport, path: str
) -> None:
    """A gzip bomb is refused after about `limit` inflated bytes, not 40 MB; so is a plain body past the bound."""
    with pytest.raises(ResponseTooLarge) as raised:
        await transport.get(Request(keyed(server / path.strip("/")), LIMIT))

    message = str(raised.value)
    assert f"{server}{path}?site=w" in message and "passed 1 MB (decompressed)" in message
    assert TEST_KEY not in message and raised.value.url == (server / path.strip("/")).with_query(site="w")
    assert isinstance(raised.value, RequestRefused)  # not retried: the next answer would be as large


async def test_a_body_within_its_bound_is_read_whole_and_inflated(server: URL, transport: AiohttpTransport) -> None:
    response = await transport.get(Request(keyed(server / "small"), LIMIT))

    assert (response.status, response.body) == (200, b'{"data": []}')


async def test_a_redirect_is_answered_not_followed(server: URL, transport: AiohttpTransport) -> None:
    response = await transport.get(Request(keyed(server / "moved"), LIMIT))

    assert response.status == 302
    assert (response.header("location") or "").startswith("https://elsewhere.example.test/")


async def test_a_refused_connection_is_a_connection_failure_without_the_key(transport: AiohttpTransport) -> None:
    with pytest.raises(ConnectionFailed) as raised:
        await transport.get(Request(keyed(URL("http://127.0.0.1:9/locations")), LIMIT))

    assert "Cannot connect to host 127.0.0.1:9" in str(raised.value)
    assert raised.value.__context__ is None and raised.value.__cause__ is None  # aiohttp's error is not chained
    assert raised.value.url == URL("http://127.0.0.1:9/locations?site=w")


@pytest.fixture
def self_signed(tmp_path: Path) -> ssl.SSLContext:
    """A server context with a certificate no authority signed."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    request = ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1"]
    subprocess.run(
        ["openssl", *request, "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


async def test_an_untrusted_certificate_is_a_tls_failure(
    self_signed: ssl.SSLContext, transport: AiohttpTransport
) -> None:
    app = web.Application()
    app.router.add_get("/small", small)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=self_signed)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        with pytest.raises(TLSFailed) as raised:
            await transport.get(Request(keyed(URL(f"https://127.0.0.1:{port}/small")), LIMIT))
    finally:
        await runner.cleanup()

    assert "certificate verify failed" in str(raised.value) and TEST_KEY not in str(raised.value)
    assert isinstance(raised.value, RequestRefused)  # permanent: retrying cannot fix a certificate


async def test_tls_spoken_to_a_plain_server_is_a_tls_failure(server: URL, transport: AiohttpTransport) -> None:
    with pytest.raises(TLSFailed):
        await transport.get(Request(keyed(server.with_scheme("https") / "small"), LIMIT))


async def test_the_in_memory_transport_takes_sync_or_async_handlers_and_bounds_bodies() -> None:
    async def slow(request: Request) -> Response:
        return Response(200, request.url.query["body"].encode())

    def quick(request: Request) -> Response:
        return Response(200, request.url.query["body"].encode())

    for handler in (slow, quick):
        transport = MockTransport(handler)
        assert (await transport.get(Request(URL("http://h/?body=ok"), limit=2))).body == b"ok"
        with pytest.raises(ResponseTooLarge):
            await transport.get(Request(URL("http://h/?body=too+long"), limit=2))
        await transport.aclose()


def test_a_request_shows_no_key_in_its_repr() -> None:
    """A crash report prints the locals of the failing frames: a transport's `request` among them."""
    request = Request(keyed(URL("https://api.example.test/locations")), LIMIT)

    assert TEST_KEY not in repr(request) and TEST_KEY not in str(request)
    assert request.shown == URL("https://api.example.test/locations?site=w")

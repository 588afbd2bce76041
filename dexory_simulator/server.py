"""The Dexory API simulator: an aiohttp server with the real API's shape, for tests, the demo and the benchmark.

It serves `GET /customer-api/v1/locations` from the deterministic data in `data.py`, checks `site` and `api_key`,
paginates JSON:API-style (numbered pages with `links.last`, or opaque cursors), and can add latency, a rate limit
and the faults of a `FaultPlan`. It records every request (never the key's value) and the most requests it had in
flight at once, so tests can assert what a client did.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import email.utils
import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from yarl import URL

from . import data, faults
from .faults import Fault, FaultPlan

LOCATIONS_PATH = "/customer-api/v1/locations"
STATS_PATH = "/_simulator/stats"  # for a simulator in another process: what it has seen so far
NUMBERED = "numbered"
CURSOR = "cursor"
MAX_PAGE_SIZE = 10_000
DEFAULT_PAGE_SIZE = 100
PAGE_CACHE_ENTRIES = 512
# What a `malformed` fault adds to a page beyond the skipped records: two valid locations and one valid object.
MALFORMED_EXTRA = data.GroundTruth(locations=2, objects=1)
MALFORMED_SKIPS = {
    "location_not_an_object": 1,
    "location_missing_key_field": 1,
    "location_bad_scan_date": 1,
    "objects_not_a_list": 1,
    "object_not_an_object": 2,
}


@dataclass
class SimulatorConfig:
    locations: int = 5_000
    seed: int = 1
    site: str = "demo-site"
    api_key: str = "demo-key"
    pagination: str = NUMBERED
    include_last: bool = True  # numbered pages: links.last present
    latency_ms: float = 0.0  # added to every request
    jitter_ms: float = 0.0  # plus a random 0..jitter_ms per request, so pages arrive out of order
    rate_limit: float | None = None  # requests per second; above it, 429 with Retry-After
    faults: FaultPlan = field(default_factory=FaultPlan)


@dataclass(frozen=True)
class RequestRecord:
    at: float  # arrival, time.monotonic()
    answered: float  # time.monotonic() when answered, or abandoned by the client
    path: str
    query: dict[str, str]  # the query as sent, with the key's value masked
    key_present: bool
    page: int | None
    status: int
    fault: str | None


@dataclass
class _Outcome:
    """What a request came to, filled in as it is answered (a cancelled request keeps what was known)."""

    status: int = 499  # nginx's "client closed request": the value kept if the client went away
    page: int | None = None
    fault: str | None = None


@dataclass(frozen=True)
class _PageRequest:
    number: int
    offset: int
    size: int
    cursor: bool


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(1.0, rate)
        self.updated = time.monotonic()

    def take(self) -> float | None:
        """None if a request may go ahead now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(max(1.0, self.rate), self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return None
        return (1 - self.tokens) / self.rate


class Simulator:
    """Run with `async with Simulator(config) as sim:` (current loop) or `serve_in_thread(config)`."""

    def __init__(self, config: SimulatorConfig, host: str = "127.0.0.1", port: int = 0) -> None:
        self.config = config
        self.host = host
        self.port = port
        self.requests: list[RequestRecord] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._cache: dict[tuple[int, int, bool], bytes] = {}
        self._bucket = _TokenBucket(config.rate_limit) if config.rate_limit else None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ground_truth(self) -> data.GroundTruth:
        """The rows a correct sync lands, including what `malformed` faults add to pages that exist."""
        truth = data.ground_truth(self.config.seed, self.config.locations)
        extra = sum(1 for fault in self.config.faults.faults if fault.kind == faults.MALFORMED)
        return data.GroundTruth(
            truth.locations + extra * MALFORMED_EXTRA.locations, truth.objects + extra * MALFORMED_EXTRA.objects
        )

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get(LOCATIONS_PATH, self._handle)
        app.router.add_get(STATS_PATH, self._stats)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Simulator:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        outcome = _Outcome()
        arrived = time.monotonic()
        try:
            response = await self._answer(request, outcome)
            outcome.status = response.status
            return response
        finally:
            self.in_flight -= 1
            query = {k: ("***" if k == "api_key" else v) for k, v in request.query.items()}
            self.requests.append(
                RequestRecord(
                    arrived,
                    time.monotonic(),
                    request.path,
                    query,
                    "api_key" in request.query,
                    outcome.page,
                    outcome.status,
                    outcome.fault,
                )
            )

    async def _stats(self, request: web.Request) -> web.Response:
        stats = {
            "requests": len(self.requests),
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "faults_injected": dict(self.config.faults.injected),
        }
        return web.Response(body=orjson.dumps(stats), content_type="application/json")

    async def _answer(self, request: web.Request, outcome: _Outcome) -> web.StreamResponse:
        query = request.query
        if query.get("site") != self.config.site:
            return _error(404, "Not Found", "site not found")
        if query.get("api_key") != self.config.api_key:
            return _error(401, "Unauthorized", "invalid api key")
        if self._bucket is not None and (wait := self._bucket.take()) is not None:
            outcome.fault = "rate_limit"
            retry_after = str(max(1, math.ceil(wait)))
            return _error(429, "Too Many Requests", "rate limit exceeded", {"Retry-After": retry_after})
        target = self._page_request(query)
        if target is None:
            return _error(400, "Bad Request", "bad page[number], page[size] or cursor")
        outcome.page = target.number
        attempt = self.config.faults.next_attempt(target.number)
        await self._delay(target, attempt)
        failure = self.config.faults.failure(target.number, attempt)
        if failure is not None:
            outcome.fault = failure.kind
            return await self._fail(request, target, failure)
        content = self.config.faults.content(target.number, attempt)
        outcome.fault = ",".join(fault.kind for fault in content) or None
        return web.Response(body=self._body(target, query.get("customer"), content), content_type="application/json")

    def _page_request(self, query: Any) -> _PageRequest | None:
        try:
            if "cursor" in query:
                offset, size = _decode_cursor(query["cursor"])
                cursor = True
            else:
                size = int(query.get("page[size]", DEFAULT_PAGE_SIZE))
                offset = (int(query.get("page[number]", 1)) - 1) * size
                cursor = self.config.pagination == CURSOR
        except (ValueError, binascii.Error):
            return None
        if not 1 <= size <= MAX_PAGE_SIZE or offset < 0:
            return None
        return _PageRequest(offset // size + 1, offset, size, cursor)

    async def _delay(self, target: _PageRequest, attempt: int) -> None:
        delay = self.config.latency_ms
        if self.config.jitter_ms:
            delay += random.Random(f"{self.config.seed}:{target.number}:{attempt}").uniform(0, self.config.jitter_ms)
        if delay:
            await asyncio.sleep(delay / 1000)

    async def _fail(self, request: web.Request, target: _PageRequest, fault: Fault) -> web.StreamResponse:
        if fault.kind == faults.STATUS:
            return _error(int(fault.value or 503), "Server Error", "injected failure")
        if fault.kind == faults.RETRY_AFTER:
            return _error(429, "Too Many Requests", "slow down", {"Retry-After": _retry_after(fault.value)})
        if fault.kind == faults.STALL:
            await asyncio.sleep(float(fault.value or 3600))
            return web.Response(body=self._body(target, None, []), content_type="application/json")
        if fault.kind == faults.RESET:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # nothing more can be written on an aborted connection
        if fault.kind == faults.TRUNCATED:
            body = self._body(target, None, [])
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        if fault.kind == faults.NOT_JSON:
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        return web.Response(
            body=orjson.dumps({"data": {"unexpected": True}, "links": {}}), content_type="application/json"
        )

    def _body(self, target: _PageRequest, customer: str | None, content: list[Fault]) -> bytes:
        key = (target.offset, target.size, target.cursor)
        if not content and customer is None and key in self._cache:
            return self._cache[key]
        stop = min(target.offset + target.size, self.config.locations)
        items: list[Any] = list(data.locations(self.config.seed, target.offset, max(stop, target.offset)))
        links = self._links(target, customer, has_next=stop < self.config.locations)
        for fault in content:
            _apply_content_fault(fault, target, items, links, self._link)
        body = orjson.dumps({"data": items, "links": links})
        if not content and customer is None:
            if len(self._cache) >= PAGE_CACHE_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = body
        return body

    def _links(self, target: _PageRequest, customer: str | None, *, has_next: bool) -> dict[str, str | None]:
        size = target.size
        last = max(1, math.ceil(self.config.locations / size))
        if target.cursor:
            return {
                "first": self._link(customer, cursor=(0, size)),
                "prev": self._link(customer, cursor=(target.offset - size, size)) if target.offset else None,
                "next": self._link(customer, cursor=(target.offset + size, size)) if has_next else None,
            }
        links = {
            "first": self._link(customer, number=1, size=size),
            "prev": self._link(customer, number=target.number - 1, size=size) if target.number > 1 else None,
            "next": self._link(customer, number=target.number + 1, size=size) if has_next else None,
        }
        if self.config.include_last:
            links["last"] = self._link(customer, number=last, size=size)
        return links

    def _link(
        self,
        customer: str | None,
        *,
        number: int = 1,
        size: int = DEFAULT_PAGE_SIZE,
        cursor: tuple[int, int] | None = None,
        base: str | None = None,
    ) -> str:
        query: dict[str, str] = {"site": self.config.site}
        if customer is not None:
            query["customer"] = customer
        if cursor is not None:
            query["cursor"] = _encode_cursor(*cursor)
        else:
            query["page[number]"] = str(number)
            query["page[size]"] = str(size)
        return str(URL(base or self.base_url).with_path(LOCATIONS_PATH).with_query(query))


def _apply_content_fault(
    fault: Fault, target: _PageRequest, items: list[Any], links: dict[str, Any], link: Any
) -> None:
    if fault.kind == faults.MALFORMED:
        items.extend(_malformed_records(target.number))
    elif fault.kind == faults.NEXT_ORIGIN:
        links["next"] = link(None, number=target.number + 1, size=target.size, base=fault.value)
    elif fault.kind == faults.NEXT_LOOP:
        links["next"] = link(None, number=int(fault.value or 1), size=target.size)
    elif fault.kind == faults.NEXT_CURSOR and links.get("next"):
        links["next"] = link(None, cursor=(target.offset + target.size, target.size))


def _malformed_records(page: int) -> list[Any]:
    """One of each malformed kind; see MALFORMED_EXTRA and MALFORMED_SKIPS for what a sync should make of them."""
    base = {"location_type": "rack", "aisle": "ZZ", "scan_date": "2026-11-02T10:00:00Z"}
    return [
        "not a location",
        {"name": f"MALFORMED-{page}-no-aisle", "location_type": "rack", "scan_date": "2026-11-02T10:00:00Z"},
        {**base, "name": f"MALFORMED-{page}-bad-date", "scan_date": "yesterday"},
        {**base, "name": f"MALFORMED-{page}-objects-not-list", "expected_inventory_objects": "n/a"},
        {**base, "name": f"MALFORMED-{page}-bad-objects", "expected_inventory_objects": [17, {"sku": "OK-1"}, "x"]},
    ]


def _retry_after(value: str | None) -> str:
    if value and value.startswith("date"):
        ahead = float(value.partition("+")[2] or 0)
        return email.utils.formatdate(time.time() + ahead, usegmt=True)
    return value or "1"


def _error(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = orjson.dumps({"errors": [{"status": str(status), "title": title, "detail": detail}]})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def _encode_cursor(offset: int, size: int) -> str:
    return base64.urlsafe_b64encode(f"v1:{offset}:{size}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, int]:
    text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    version, offset, size = text.split(":")
    if version != "v1":
        raise ValueError(cursor)
    return int(offset), int(size)


@contextmanager
def serve_in_thread(config: SimulatorConfig, port: int = 0) -> Iterator[Simulator]:
    """Run a Simulator on its own event loop in a background thread, for synchronous callers."""
    loop = asyncio.new_event_loop()
    simulator = Simulator(config, port=port)
    ready = threading.Event()
    failure: list[BaseException] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(simulator.start())
        except BaseException as error:
            failure.append(error)
            ready.set()
            return
        ready.set()
        loop.run_forever()
        loop.run_until_complete(simulator.close())
        loop.close()

    thread = threading.Thread(target=run, name="dexory-simulator", daemon=True)
    thread.start()
    ready.wait()
    if failure:
        raise failure[0]
    try:
        yield simulator
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)

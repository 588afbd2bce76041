"""The Dexory API simulator: an aiohttp server with the real API's shape, for tests, the demo and the benchmark.

It serves `GET /customer-api/v1/locations` for several sites from the deterministic data in `data.py`, checks
`site` (404 if unknown) and that site's `api_key` (401 if wrong or revoked), paginates JSON:API-style as
`SimulatorConfig` says, and can add latency, a rate limit and the faults of a `FaultPlan`. It records every request
(the site asked for and whether the key was that site's, never the key's value) and the most requests it had in
flight at once, so tests can assert what a client did.
"""

from __future__ import annotations

import asyncio
import email.utils
import math
import random
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.test_utils import make_mocked_request

from . import changes, data, faults, lookalikes, malformed
from .config import PAST_END_404, PAST_END_EMPTY, SimulatorConfig, SiteSpec
from .faults import Fault
from .pages import LOCATIONS_PATH, Link, Links, PageRequest, last_page, page_request, render
from .records import RequestRecord, stats

STATS_PATH = "/_simulator/stats"  # for a simulator in another process: what it has seen so far
PAGE_CACHE_ENTRIES = 512
BAD_PORT_ORIGIN = "http://127.0.0.1:99999"
BAD_IPV6_ORIGIN = "http://[::1"


@dataclass
class _Site:
    spec: SiteSpec
    key_uses_left: int | None  # None: the key is accepted for good

    def accepts(self, key: str | None) -> bool:
        """Whether `key` is this site's and still accepted; each acceptance uses up one of `key_uses_left`."""
        if key != self.spec.api_key or self.key_uses_left == 0:
            return False
        if self.key_uses_left is not None:
            self.key_uses_left -= 1
        return True


@dataclass
class _Outcome:
    """What a request came to, filled in as it is answered (a cancelled request keeps what was known)."""

    status: int = 499  # nginx's "client closed request": the value kept if the client went away
    page: int | None = None
    fault: str | None = None


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = max(1.0, rate)
        self.updated: float | None = None  # full until the first request

    def take(self, now: float) -> float | None:
        """None if a request may go ahead at `now`, else the seconds until one may."""
        elapsed = 0.0 if self.updated is None else now - self.updated
        self.tokens = min(max(1.0, self.rate), self.tokens + elapsed * self.rate)
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
        self._sites = {spec.name: _Site(spec, config.revoke_key_after.get(spec.name)) for spec in config.sites}
        self._cache: dict[tuple[str, int, int, bool], bytes] = {}
        self._bucket = _TokenBucket(config.rate_limit) if config.rate_limit else None
        self._runner: web.AppRunner | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def ground_truth(self, site: str | None = None) -> data.GroundTruth:
        """The rows a correct sync of `site` (default: of every site) lands, with what `malformed` faults add to
        pages that exist."""
        if site is None:
            return sum(self.site_truths().values(), data.NOTHING)
        spec = self._sites[site].spec
        if self.config.data_version < 2:  # the base data, counted without building a snapshot
            return data.ground_truth(spec.seed, spec.locations) + self.malformed_truth(site).lands
        snapshot = self.snapshot(site)
        return data.GroundTruth(snapshot.locations, snapshot.objects) + self.malformed_truth(site).lands

    def snapshot(self, site: str) -> changes.Snapshot:
        """What `site` serves as current now: its location keys, expected objects and their total quantity."""
        return changes.Snapshot.of(self.catalogue(site))

    def catalogue(self, site: str) -> changes.Catalogue:
        spec = self._sites[site].spec
        return changes.Catalogue(spec.seed, spec.locations, self.config.shared_locations, self.config.data_version)

    def set_data_version(self, version: int) -> None:
        """Serve every site's data as it is at `version` from now on (1 is the base data): the API changed."""
        self.config.data_version = version
        self._cache.clear()

    def site_truths(self) -> dict[str, data.GroundTruth]:
        return {name: self.ground_truth(name) for name in self._sites}

    def malformed_truth(self, site: str | None = None) -> malformed.MalformedTruth:
        """What the `malformed` faults put on the pages of `site` (default: of every site), in the simulator's words."""
        names = list(self._sites) if site is None else [site]
        return malformed.truth(sum(len(self.config.faults.on_site(name, faults.MALFORMED)) for name in names))

    def shared_keys(self) -> int:
        """How many location keys (name, location_type, aisle, scan_date) every site serves."""
        return min(self.config.shared_locations, *(spec.locations for spec in self.config.sites))

    def revoke_key_after(self, site: str, requests: int | None) -> None:
        """From now on, accept `site`'s key for `requests` more requests, then answer 401; None accepts it again."""
        self._sites[site].key_uses_left = requests

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

    async def respond(self, path_qs: str) -> web.Response:
        """Answer `GET path_qs` as over a socket, without one (for a client's in-memory transport); a reset
        connection raises ConnectionResetError."""
        task = asyncio.current_task()
        try:
            response = await self._handle(make_mocked_request("GET", path_qs))
        except asyncio.CancelledError:
            if task is not None and task.cancelling():  # the caller's own cancellation
                raise
            raise ConnectionResetError("the simulator reset the connection") from None
        assert isinstance(response, web.Response)  # every answer has its whole body
        return response

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        outcome = _Outcome()
        arrived = _now()
        try:
            response = await self._answer(request, outcome)
            outcome.status = response.status
            return response
        finally:
            self.in_flight -= 1
            self.requests.append(self._record(request, outcome, arrived))

    def _record(self, request: web.Request, outcome: _Outcome, arrived: float) -> RequestRecord:
        site = request.query.get("site")
        known = self._sites.get(site or "")
        return RequestRecord(
            at=arrived,
            answered=_now(),
            path=request.path,
            query={k: ("***" if k == "api_key" else v) for k, v in request.query.items()},
            key_present="api_key" in request.query,
            site=site,
            key_matches_site=known is not None and request.query.get("api_key") == known.spec.api_key,
            page=outcome.page,
            status=outcome.status,
            fault=outcome.fault,
        )

    async def _stats(self, request: web.Request) -> web.Response:
        summary = stats(self.requests, self.in_flight, self.max_in_flight, self.config.faults.injected)
        return web.Response(body=orjson.dumps(summary), content_type="application/json")

    async def _answer(self, request: web.Request, outcome: _Outcome) -> web.StreamResponse:
        query = request.query
        site = self._sites.get(query.get("site") or "")
        if site is None:
            return _error(404, "Not Found", "site not found")
        if not site.accepts(query.get("api_key")):
            return _error(401, "Unauthorized", "invalid api key")
        if self._bucket is not None and (wait := self._bucket.take(_now())) is not None:
            outcome.fault = "rate_limit"
            retry_after = str(max(1, math.ceil(wait)))
            return _error(429, "Too Many Requests", "rate limit exceeded", {"Retry-After": retry_after})
        target = page_request(query, self.config)
        if target is None:
            return _error(400, "Bad Request", "bad page[number], page[size] or cursor")
        outcome.page = target.page
        name = site.spec.name
        attempt = self.config.faults.next_attempt(name, target.page)
        await self._delay(site.spec, target, attempt)
        if self._refused_past_end(site.spec, target):
            return self._past_end_error()
        failure = self.config.faults.failure(name, target.page, attempt)
        if failure is not None:
            outcome.fault = failure.kind
            return await self._fail(request, site.spec, target, failure)
        content = self.config.faults.content(name, target.page, attempt)
        outcome.fault = ",".join(fault.kind for fault in content) or None
        body = self._body(site.spec, target, query.get("customer"), content)
        return web.Response(body=body, content_type="application/json")

    async def _delay(self, spec: SiteSpec, target: PageRequest, attempt: int) -> None:
        delay = self.config.latency_ms
        if self.config.jitter_ms:
            delay += random.Random(f"{spec.seed}:{target.page}:{attempt}").uniform(0, self.config.jitter_ms)
        if delay:
            await asyncio.sleep(delay / 1000)

    def _refused_past_end(self, spec: SiteSpec, target: PageRequest) -> bool:
        if target.cursor or self.config.past_end == PAST_END_EMPTY:
            return False
        return target.page > last_page(len(self.catalogue(spec.name)), target.size)

    def _past_end_error(self) -> web.Response:
        if self.config.past_end == PAST_END_404:
            return _error(404, "Not Found", "page not found")
        return _error(400, "Bad Request", "page out of range")

    async def _fail(
        self, request: web.Request, spec: SiteSpec, target: PageRequest, fault: Fault
    ) -> web.StreamResponse:
        if fault.kind == faults.STATUS:
            return _error(int(fault.value or 503), "Server Error", "injected failure")
        if fault.kind == faults.RETRY_AFTER:
            return _error(429, "Too Many Requests", "slow down", {"Retry-After": _retry_after(fault.value)})
        if fault.kind == faults.STALL:
            await asyncio.sleep(float(fault.value or 3600))
            return web.Response(body=self._body(spec, target, None, []), content_type="application/json")
        if fault.kind == faults.RESET:
            assert request.transport is not None
            request.transport.abort()
            raise asyncio.CancelledError  # nothing more can be written on an aborted connection
        if fault.kind == faults.TRUNCATED:
            body = self._body(spec, target, None, [])
            return web.Response(body=body[: len(body) // 2], content_type="application/json")
        if fault.kind == faults.NOT_JSON:
            return web.Response(text="<html><body>502 Bad Gateway</body></html>", content_type="text/html")
        if fault.kind == faults.ECHO_URL:
            padding = "." * int(fault.value or 0)
            return _error(400, "Bad Request", f"{padding}invalid request GET {request.raw_path}")
        return web.Response(
            body=orjson.dumps({"data": {"unexpected": True}, "links": {}}), content_type="application/json"
        )

    def _body(self, spec: SiteSpec, target: PageRequest, customer: str | None, content: list[Fault]) -> bytes:
        key = (spec.name, target.offset, target.size, target.cursor)
        if not content and customer is None and key in self._cache:
            return self._cache[key]
        catalogue = self.catalogue(spec.name)
        items: list[Any] = catalogue.items(target.offset, target.offset + target.size)
        links = Links(self.base_url, spec.name, customer, self.config)
        page_links = links.of(target, len(catalogue))
        for fault in content:
            _change_content(fault, spec.name, target, items, page_links, links)
        rendered = render(page_links, self.config.link_style)
        for fault in content:
            if fault.kind == faults.NEXT_UNREADABLE:
                rendered["next"] = _unreadable_link(fault.value, links.number(target.page + 1))
        body = orjson.dumps({"data": items, "links": rendered})
        if not content and customer is None:
            if len(self._cache) >= PAGE_CACHE_ENTRIES:
                self._cache.pop(next(iter(self._cache)))
            self._cache[key] = body
        return body


def _change_content(
    fault: Fault, site: str, target: PageRequest, items: list[Any], page_links: dict[str, Link | None], links: Links
) -> None:
    following = target.page + 1
    if fault.kind == faults.MALFORMED:
        items.extend(record.record for record in malformed.records(site, target.page))
    elif fault.kind == faults.LOOKALIKE_KEYS:
        items.extend(record for _, record in lookalikes.records(site, target.page))
    elif fault.kind == faults.NEXT_ORIGIN:
        page_links["next"] = links.numbered(following, target.size, origin=fault.value)
    elif fault.kind == faults.NEXT_LOOP:
        page_links["next"] = links.numbered(int(fault.value or 1), target.size)
    elif fault.kind == faults.NEXT_CURSOR and page_links.get("next"):
        page_links["next"] = links.cursor(target.offset + target.size, target.size)
    elif fault.kind == faults.NEXT_BAD_PORT:
        page_links["next"] = links.numbered(following, target.size, origin=BAD_PORT_ORIGIN)
    elif fault.kind == faults.NEXT_BAD_IPV6:
        page_links["next"] = links.numbered(following, target.size, origin=BAD_IPV6_ORIGIN)
    elif fault.kind == faults.NEXT_NULL:
        page_links["next"] = None


def _unreadable_link(value: str | None, number: int) -> object:
    """A links.next no client can follow: a link object without href, or a bare page number."""
    if value == "number":
        return number
    return {"meta": {"page": number}}


def _retry_after(value: str | None) -> str:
    if value and value.startswith("date"):
        ahead = float(value.partition("+")[2] or 0)
        return email.utils.formatdate(time.time() + ahead, usegmt=True)
    return value or "1"


def _now() -> float:
    """The serving loop's clock: time.monotonic(), or a test's fake clock when the simulator answers in memory."""
    return asyncio.get_running_loop().time()


def _error(status: int, title: str, detail: str, headers: dict[str, str] | None = None) -> web.Response:
    body = orjson.dumps({"errors": [{"status": str(status), "title": title, "detail": detail}]})
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


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

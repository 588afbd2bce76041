"""What many tests share: settings pointing at a simulator, the simulator answering in memory, a fake clock,
settling the loop, the key guard on files and outputs, checkpoints read from `fivetran debug`, a staged project, and
a leak watchdog."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest
from yarl import URL

from dexory_async.config import Settings, parse_settings
from dexory_async.errors import ConnectionFailed
from dexory_async.links import KEY_PARAM
from dexory_async.transport import MockTransport, Request, Response
from dexory_simulator import RequestRecord, Simulator
from tools.fivetran_cli import stage_project

TEST_KEY = "sk-test-9f8e7d6c5b4a"  # distinctive, so a leak is easy to grep for
WRONG_KEY = "sk-wrong-5e4d3c2b1a0f"  # configured in the wrong-key scenarios: a secret as much as the right one
PAGE_SIZE = 100  # what configuration_for asks for unless told otherwise
CHECKPOINT_LINE = "checkpoint recorded: "
LEAK_MARKERS = ("Unclosed client session", "Unclosed connector", "Task was destroyed", "Task exception was never")


def configuration_for(simulator: Simulator, *, sites: Sequence[str] | None = None, **overrides: Any) -> dict[str, str]:
    """A Fivetran-style configuration (every value a string) pointing at `simulator`: its first site only, or the
    `sites` named (each with its own key, in order)."""
    keys = {spec.name: spec.api_key for spec in simulator.config.sites}
    names = [simulator.config.site] if sites is None else list(sites)
    configuration = {
        "site_name": ",".join(names),
        "site_api_key": ",".join(keys[name] for name in names),
        "base_url": simulator.base_url,
        "page_size": str(PAGE_SIZE),
        "base_retry_delay": "0.01",
        "request_timeout_seconds": "5",
    }
    configuration.update({key: str(value) for key, value in overrides.items()})
    return configuration


def settings_for(simulator: Simulator, *, sites: Sequence[str] | None = None, **overrides: Any) -> Settings:
    return parse_settings(configuration_for(simulator, sites=sites, **overrides))


def extractor_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "dexory-extractor"]


def wait_until(condition: Callable[[], object], timeout: float = 10.0) -> bool:
    """Poll `condition` until it holds; False if it still does not after `timeout` (a bound for failures only)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


T = TypeVar("T")


def in_memory(simulator: Simulator, *others: Simulator) -> MockTransport:
    """A transport on which `simulator`, and each of `others`, answers the requests to its own origin, as over a
    socket but without one (never started: give each another port for another origin); a request to any other
    origin fails as a host that does not answer would."""
    hosts = {URL(host.base_url).origin(): host for host in (simulator, *others)}

    async def answer(request: Request) -> Response:
        host = hosts.get(request.url.origin())
        if host is None:
            raise ConnectionFailed(f"ClientConnectorError: cannot connect to {request.url.origin()}", url=request.shown)
        try:
            response = await host.respond(request.url.raw_path_qs)
        except ConnectionResetError as error:
            raise ConnectionFailed(f"ClientOSError: {error}", url=request.shown) from None
        assert response.body is not None and isinstance(response.body, bytes)
        return Response(response.status, response.body, dict(response.headers))

    return MockTransport(answer)


class FakeClock:
    """The running loop's clock, frozen until a test moves it; the loop's timers follow it."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def run(self, work: Awaitable[T]) -> T:
        """Await `work`, moving the clock straight to the next timer whenever every task waits for one: retries,
        Retry-After pauses and timeouts take no real time."""
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(work)
        while not task.done():
            await settle()
            timers = [handle.when() for handle in loop._scheduled if not handle.cancelled()]  # type: ignore[attr-defined]
            if not task.done() and timers:
                self.now = max(self.now, min(timers))
        return task.result()


@pytest.fixture
async def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    loop = asyncio.get_running_loop()
    fake = FakeClock(loop.time())
    monkeypatch.setattr(loop, "time", fake)
    return fake


async def settle() -> None:
    """Let every ready task run until it waits again (on a fake, a clock, or the test): a few turns of the loop."""
    for _ in range(30):
        await asyncio.sleep(0)


def requests_since(simulator: Simulator, moment: float) -> list[RequestRecord]:
    """What `simulator` was asked since `moment`, in the order the requests arrived."""
    return sorted((record for record in list(simulator.requests) if record.at >= moment), key=lambda r: r.at)


def query_without_key(url: URL | dict[str, str]) -> dict[str, str]:
    """A URL's query, or a request record's (whose key is masked), without the key: what must match on resume."""
    query = url if isinstance(url, dict) else dict(url.query)
    return {name: value for name, value in query.items() if name != KEY_PARAM}


def checkpoints(output: str) -> list[dict[str, Any]]:
    """The state of every checkpoint `fivetran debug` printed, in order."""
    return [json.loads(line.split(CHECKPOINT_LINE, 1)[1]) for line in output.splitlines() if CHECKPOINT_LINE in line]


def assert_no_key(project: Path, keys: set[str], *outputs: str) -> None:
    """The keys are in configuration.json, where the user put them, and nowhere else: not in any output, the state,
    a crash report, or any other file under the project (the warehouse included)."""
    files = [path for path in project.rglob("*") if path.is_file() and path.name != "configuration.json"]
    for key in keys:
        for output in outputs:
            assert key not in output, "an API key leaked into the debug output"
        for path in files:
            assert key.encode() not in path.read_bytes(), f"an API key leaked into {path.relative_to(project)}"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    return stage_project(tmp_path / "project")


@pytest.fixture(scope="session")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A private HOME for the `fivetran` CLI, shared by the tests that run it."""
    return tmp_path_factory.mktemp("fivetran-home")


class _LeakWatch(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if any(marker in message for marker in LEAK_MARKERS):
            self.messages.append(message)


@pytest.fixture(autouse=True)
def no_leaked_sessions_or_tasks() -> Iterator[None]:
    """Fail any test after which asyncio or aiohttp reports an unclosed session or a destroyed pending task."""
    import gc

    watch = _LeakWatch()
    asyncio_logger = logging.getLogger("asyncio")
    asyncio_logger.addHandler(watch)
    try:
        yield
        gc.collect()
    finally:
        asyncio_logger.removeHandler(watch)
    assert not watch.messages, f"leaked resources: {watch.messages}"

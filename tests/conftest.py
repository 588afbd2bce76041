"""Shared fixtures: simulators over real sockets, settings pointing at them, a fake event-loop clock, and a leak
watchdog."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

import pytest

from dexory_async.config import Settings, parse_settings
from dexory_simulator import Simulator

TEST_KEY = "sk-test-9f8e7d6c5b4a"  # distinctive, so a leak is easy to grep for
WRONG_KEY = "sk-wrong-5e4d3c2b1a0f"  # configured in the wrong-key scenarios: a secret as much as the right one
PAGE_SIZE = 100  # what configuration_for asks for unless told otherwise
T = TypeVar("T")
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


class FakeClock:
    """The running loop's clock, frozen until a test moves it: timers fire when the fake time passes them."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    async def run(self, awaitable: Awaitable[T], *, step: float = 0.05, limit: float = 3600.0) -> T:
        """`awaitable` to its end, the clock moved by `step` whenever every task waits: however slow the machine,
        the fake time it takes is the same."""
        task = asyncio.ensure_future(awaitable)
        deadline = self.now + limit
        while not task.done():
            for _ in range(30):
                await asyncio.sleep(0)
            if not task.done():
                assert self.now < deadline, f"still running after {limit} s of fake time"
                self.now += step
        return task.result()


@pytest.fixture
async def clock(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[FakeClock]:
    """The running loop's clock, frozen until a test advances `clock.now` (or runs a coroutine in fake time)."""
    loop = asyncio.get_running_loop()
    fake = FakeClock(loop.time())
    monkeypatch.setattr(loop, "time", fake)
    yield fake

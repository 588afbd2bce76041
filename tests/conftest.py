"""Shared fixtures: simulators over real sockets, settings pointing at them, and a leak watchdog."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from dexory_async.config import Settings, parse_settings
from dexory_async.simulator import Simulator

TEST_KEY = "sk-test-9f8e7d6c5b4a"  # distinctive, so a leak is easy to grep for
WRONG_KEY = "sk-wrong-5e4d3c2b1a0f"  # configured in the wrong-key scenarios: a secret as much as the right one
LEAK_MARKERS = ("Unclosed client session", "Unclosed connector", "Task was destroyed", "Task exception was never")


def configuration_for(simulator: Simulator, **overrides: Any) -> dict[str, str]:
    """A Fivetran-style configuration (every value a string) pointing at `simulator`."""
    configuration = {
        "site_name": simulator.config.site,
        "site_api_key": simulator.config.api_key,
        "base_url": simulator.base_url,
        "page_size": "100",
        "base_retry_delay": "0.01",
        "request_timeout_seconds": "5",
    }
    configuration.update({key: str(value) for key, value in overrides.items()})
    return configuration


def settings_for(simulator: Simulator, **overrides: Any) -> Settings:
    return parse_settings(configuration_for(simulator, **overrides))


def extractor_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name == "dexory-extractor"]


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

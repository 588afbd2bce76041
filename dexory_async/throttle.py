"""Politeness per API key: an adaptive cap on its requests in flight, and a pause after a 429.

An API rate-limits a key, so the sites that share a key share a throttle, and a 429 slows only those sites; the
shared budget is what bounds the sync as a whole. The cap follows AIMD, like TCP: a 429 halves it (at most once per
pause) and pauses every request with that key, not just the one told to wait; a run of successes raises it by one,
back up to the configured concurrency, where it no longer binds: then the budget alone bounds the requests, and a
request it let step out while it waits (a server that never answers) keeps no other site of the key from fetching.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

logger = logging.getLogger(__name__)

SUCCESSES_PER_STEP_UP = 8


class Throttle:
    def __init__(self, concurrency: int, name: str = "") -> None:
        self.name = name  # the sites it throttles, for log lines
        self.ceiling = concurrency
        self.limit = concurrency
        self.lowest_limit = concurrency
        self._in_flight = 0
        self._paused_until = 0.0
        self._successes = 0
        self._changed = asyncio.Condition()

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold one of the `limit` request slots (while rate limiting has lowered it), waiting out any pause first."""
        loop = asyncio.get_running_loop()
        async with self._changed:
            while True:
                pause = self._paused_until - loop.time()
                if pause > 0:
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._changed.wait(), timeout=pause)
                elif self._in_flight < self.limit or self.limit >= self.ceiling:
                    break
                else:
                    await self._changed.wait()
            self._in_flight += 1
        try:
            yield
        finally:
            async with self._changed:
                self._in_flight -= 1
                self._changed.notify_all()

    def succeeded(self) -> None:
        """Count a success; enough of them in a row raise the cap by one."""
        self._successes += 1
        if self.limit < self.ceiling and self._successes >= SUCCESSES_PER_STEP_UP:
            self.limit += 1
            self._successes = 0
            logger.info("%sno rate limiting lately: raising concurrency to %d", self._prefix, self.limit)

    def rate_limited(self, wait: float) -> None:
        """Pause every worker for `wait` seconds and halve the cap (once per pause)."""
        now = asyncio.get_running_loop().time()
        self._successes = 0
        if now >= self._paused_until and self.limit > 1:
            self.limit = max(1, self.limit // 2)
            self.lowest_limit = min(self.lowest_limit, self.limit)
            logger.warning("%srate limited by the API: lowering concurrency to %d", self._prefix, self.limit)
        self._paused_until = max(self._paused_until, now + wait)

    @property
    def _prefix(self) -> str:
        return f"{self.name}: " if self.name else ""

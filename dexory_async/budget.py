"""The request budget shared by every site of a sync: at most `concurrency` pages held at once, shared fairly.

A page is held from its request until it is handed on, so the budget bounds both the requests in flight and the
fetched pages waiting their turn, whatever the number of sites. Each site fetching gets a lane; a lane may hold up
to an even share of the budget (less if its own rate limiting says so), and only as many pages as it has left.
Waiting for the budget is first come, first served, so no site is starved.

A request that waits (a retry's backoff, a Retry-After pause, a server that accepts and never answers) must not keep
healthy sites from fetching: once it is outstanding for much longer than pages take lately (`patience`), its place
in the budget goes back to the others, and it waits its turn for one again when its page arrives. It still counts in
its lane, so a site that waits fetches no more meanwhile.
"""

from __future__ import annotations

import asyncio
import math
import statistics
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import TypeVar

PATIENCE_FLOOR_SECONDS = 1.0  # before any page has arrived, and however fast pages come
PATIENCE_FACTOR = 4.0  # times the median time the recent pages took
RECENT_PAGES = 64

T = TypeVar("T")


class Budget:
    def __init__(self, total: int) -> None:
        self.total = total
        self.slots = asyncio.Semaphore(total)
        self._lanes = 0
        self._recent: deque[float] = deque(maxlen=RECENT_PAGES)  # seconds each recent page took, retries included

    @asynccontextmanager
    async def lane(self, cap: Callable[[], int] | None = None) -> AsyncIterator[Lane]:
        """A site's share of the budget for as long as it fetches; `cap` lowers it (a site's rate limit)."""
        self._lanes += 1
        try:
            yield Lane(self, cap or (lambda: self.total))
        finally:
            self._lanes -= 1

    def share(self) -> int:
        return max(1, math.ceil(self.total / max(1, self._lanes)))

    def patience(self) -> float:
        """Seconds a request keeps its place in the budget before it counts as waiting."""
        if not self._recent:
            return PATIENCE_FLOOR_SECONDS
        return max(PATIENCE_FLOOR_SECONDS, PATIENCE_FACTOR * statistics.median(self._recent))

    def record_page_time(self, seconds: float) -> None:
        """Note how long a page took, so that on an API slow throughout, its pages do not all count as waiting."""
        self._recent.append(seconds)


class Lane:
    def __init__(self, budget: Budget, cap: Callable[[], int]) -> None:
        self._budget = budget
        self._cap = cap
        self.held = 0

    def room(self) -> int:
        """How many more pages this lane may hold now."""
        return max(0, min(self._budget.share(), self._cap()) - self.held)

    async def take(self) -> Slot:
        """One page's slot, waiting for it: for the page a site needs next."""
        await self._budget.slots.acquire()
        self.held += 1
        return Slot(self._budget, self)

    async def try_take(self) -> Slot | None:
        """One page's slot if it is free now and no one waits for one: for fetching ahead."""
        if self.room() <= 0 or self._budget.slots.locked():
            return None
        return await self.take()  # returns at once: a slot is free and no one is queued for it

    def gave(self) -> None:
        self.held -= 1


class Slot:
    """One page's place, from its request until it is handed on: in its lane throughout, and in the budget except
    while its request waits."""

    def __init__(self, budget: Budget, lane: Lane) -> None:
        self._budget = budget
        self._lane = lane
        self.in_budget = True

    async def fetch(self, request: Awaitable[T]) -> T:
        """The outcome of `request`, its place in the budget left to others while it waits longer than `patience`."""
        loop = asyncio.get_running_loop()
        started = loop.time()
        timer = loop.call_later(self._budget.patience(), self.step_out)
        try:
            outcome = await request
        finally:
            timer.cancel()
        self._budget.record_page_time(loop.time() - started)
        await self.step_in()
        return outcome

    def step_out(self) -> None:
        if self.in_budget:
            self.in_budget = False
            self._budget.slots.release()

    async def step_in(self) -> None:
        """Back into the budget, waiting its turn like any other request."""
        if not self.in_budget:
            await self._budget.slots.acquire()
            self.in_budget = True

    def give(self) -> None:
        """Give the place back: the page was handed on, or is no longer wanted."""
        self.step_out()
        self._lane.gave()

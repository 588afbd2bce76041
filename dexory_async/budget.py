"""The request budget shared by every site of a sync: at most `concurrency` pages held at once, shared fairly.

A page is held from its request until it is handed on, so the budget bounds both the requests in flight and the
fetched pages waiting their turn, whatever the number of sites. Each site fetching gets a lane; a lane may hold up
to an even share of the budget (less if its own rate limiting says so), and only as many pages as it has left.
Waiting for the budget is first come, first served, so no site is starved.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager


class Budget:
    def __init__(self, total: int) -> None:
        self.total = total
        self.slots = asyncio.Semaphore(total)
        self._lanes = 0

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


class Lane:
    def __init__(self, budget: Budget, cap: Callable[[], int]) -> None:
        self._budget = budget
        self._cap = cap
        self.held = 0

    def room(self) -> int:
        """How many more pages this lane may hold now."""
        return max(0, min(self._budget.share(), self._cap()) - self.held)

    async def take(self) -> None:
        """One page's slot, waiting for it: for the page a site needs next."""
        await self._budget.slots.acquire()
        self.held += 1

    async def try_take(self) -> bool:
        """One page's slot if it is free now and no one waits for one: for fetching ahead."""
        if self.room() <= 0 or self._budget.slots.locked():
            return False
        await self._budget.slots.acquire()  # returns at once: a slot is free and no one is queued for it
        self.held += 1
        return True

    def give(self) -> None:
        self.held -= 1
        self._budget.slots.release()

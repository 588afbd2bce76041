"""The adaptive throttle: halve on a 429 (once per pause), pause every worker, creep back up after successes.

The event loop's clock is faked, so a pause ends when a test moves the clock, never because the machine is slow.
"""

from __future__ import annotations

import asyncio

from dexory_async.throttle import SUCCESSES_PER_STEP_UP, Throttle
from tests.conftest import FakeClock, settle


def succeed(throttle: Throttle, times: int) -> None:
    for _ in range(times):
        throttle.succeeded()


class Crowd:
    """Requests through one throttle that hold their slot until released, counted as they enter and leave."""

    def __init__(self, throttle: Throttle, *, released: bool = False) -> None:
        self.throttle = throttle
        self.entered = self.inside = self.most = 0
        self.release = asyncio.Event()
        if released:
            self.release.set()

    def start(self, count: int) -> list[asyncio.Task[None]]:
        return [asyncio.create_task(self._request()) for _ in range(count)]

    async def _request(self) -> None:
        async with self.throttle.slot():
            self.entered += 1
            self.inside += 1
            self.most = max(self.most, self.inside)
            await self.release.wait()
            self.inside -= 1


async def test_a_429_halves_the_limit_once_per_pause_and_successes_raise_it_step_by_step(clock: FakeClock) -> None:
    throttle = Throttle(8)
    throttle.rate_limited(5.0)
    clock.now += 4.9
    throttle.rate_limited(5.0)  # the same burst of 429s: no second halving during the pause
    assert (throttle.limit, throttle.lowest_limit) == (4, 4)
    succeed(throttle, SUCCESSES_PER_STEP_UP - 1)
    assert throttle.limit == 4  # slowly: one step per run of successes
    throttle.succeeded()
    assert throttle.limit == 5
    succeed(throttle, 10 * SUCCESSES_PER_STEP_UP)
    assert throttle.limit == 8 and throttle.lowest_limit == 4  # never above the configured concurrency


async def test_a_429_after_the_pause_halves_again_down_to_one(clock: FakeClock) -> None:
    throttle = Throttle(8)
    for expected in (4, 2, 1, 1):
        throttle.rate_limited(1.0)
        clock.now += 1.0
        assert throttle.limit == expected
    assert throttle.lowest_limit == 1


async def test_a_429_during_the_climb_starts_the_run_of_successes_over(clock: FakeClock) -> None:
    throttle = Throttle(4)
    throttle.rate_limited(1.0)
    succeed(throttle, SUCCESSES_PER_STEP_UP - 1)
    clock.now += 1.0  # the pause is over
    throttle.rate_limited(1.0)
    assert throttle.limit == 1
    succeed(throttle, SUCCESSES_PER_STEP_UP - 1)
    assert throttle.limit == 1
    throttle.succeeded()
    assert throttle.limit == 2


async def test_the_pause_holds_back_every_new_request_until_it_ends(clock: FakeClock) -> None:
    throttle = Throttle(4)
    throttle.rate_limited(30.0)
    crowd = Crowd(throttle, released=True)

    requests = crowd.start(3)
    await settle()
    assert crowd.entered == 0
    clock.now += 29.9
    await settle()
    assert crowd.entered == 0  # still paused
    clock.now += 0.1
    await asyncio.gather(*requests)
    assert crowd.entered == 3


async def test_a_later_429_extends_the_pause_and_a_shorter_one_does_not_cut_it(clock: FakeClock) -> None:
    throttle = Throttle(4)
    throttle.rate_limited(10.0)
    clock.now += 5.0
    throttle.rate_limited(20.0)  # now paused until 25 s in
    throttle.rate_limited(1.0)  # does not shorten it
    crowd = Crowd(throttle, released=True)

    requests = crowd.start(1)
    clock.now += 19.9
    await settle()
    assert crowd.entered == 0
    clock.now += 0.1
    await asyncio.gather(*requests)
    assert crowd.entered == 1


async def test_at_the_ceiling_the_throttle_leaves_the_bound_to_the_budget() -> None:
    """Not rate limited, the throttle admits every request: the budget bounds them, and the requests it let step out
    while they wait (hanging on a server that never answers) must not keep the key's other sites from fetching."""
    crowd = Crowd(Throttle(2))

    requests = crowd.start(6)
    await settle()
    assert crowd.inside == 6
    crowd.release.set()
    await asyncio.gather(*requests)


async def test_a_lowered_limit_admits_fewer_requests_at_once(clock: FakeClock) -> None:
    throttle = Throttle(4)
    throttle.rate_limited(1.0)
    clock.now += 1.0
    crowd = Crowd(throttle)

    requests = crowd.start(6)
    await settle()
    assert crowd.inside == throttle.limit == 2
    crowd.release.set()
    await asyncio.gather(*requests)
    assert (crowd.most, crowd.entered) == (2, 6)

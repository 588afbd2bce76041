"""The adaptive throttle: halve on a 429 (once per pause), pause every worker, creep back up after successes."""

from __future__ import annotations

import asyncio

from dexory_async.throttle import SUCCESSES_PER_STEP_UP, Throttle


async def test_a_429_halves_the_limit_once_per_pause_and_successes_raise_it_step_by_step() -> None:
    throttle = Throttle(8)
    throttle.rate_limited(0.01)
    throttle.rate_limited(0.01)  # the same burst of 429s: no second halving during the pause
    assert (throttle.limit, throttle.lowest_limit) == (4, 4)
    for _ in range(SUCCESSES_PER_STEP_UP - 1):
        throttle.succeeded()
    assert throttle.limit == 4  # slowly: one step per run of successes
    throttle.succeeded()
    assert throttle.limit == 5
    for _ in range(10 * SUCCESSES_PER_STEP_UP):
        throttle.succeeded()
    assert throttle.limit == 8 and throttle.lowest_limit == 4  # never above the configured concurrency


async def test_a_429_during_the_climb_starts_the_run_of_successes_over() -> None:
    throttle = Throttle(4)
    throttle.rate_limited(0.0)
    for _ in range(SUCCESSES_PER_STEP_UP - 1):
        throttle.succeeded()
    await asyncio.sleep(0.01)  # the pause is over
    throttle.rate_limited(0.0)
    assert throttle.limit == 1
    for _ in range(SUCCESSES_PER_STEP_UP - 1):
        throttle.succeeded()
    assert throttle.limit == 1


async def test_the_pause_holds_back_every_new_request() -> None:
    throttle = Throttle(4)
    loop = asyncio.get_running_loop()
    throttle.rate_limited(0.2)
    started = loop.time()

    async def request() -> float:
        async with throttle.slot():
            return loop.time() - started

    waits = await asyncio.gather(*(request() for _ in range(3)))
    assert min(waits) >= 0.19


async def test_no_more_slots_than_the_limit() -> None:
    throttle = Throttle(2)
    inside, most = 0, 0

    async def request() -> None:
        nonlocal inside, most
        async with throttle.slot():
            inside += 1
            most = max(most, inside)
            await asyncio.sleep(0.01)
            inside -= 1

    await asyncio.gather(*(request() for _ in range(10)))
    assert most == 2

"""The keys a site delivered in its round: exact within a sync, a Bloom filter in state across the round's syncs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from dexory_async.delivered import DeliveredKeys, Earlier, KeyFilter, Superseded

SCAN = datetime(2026, 11, 30, 8, tzinfo=UTC)


def key(n: int) -> tuple[Any, ...]:
    return (f"A01-{n:05d}", "rack", "A01", SCAN + timedelta(microseconds=n))


def test_the_filter_never_misses_a_key_it_holds_and_rarely_claims_one_it_does_not() -> None:
    held = KeyFilter()
    for n in range(100_000):  # past the first layers: the filter grows, and its false positives add up
        held.add(key(n))

    assert len(held.layers) == 3
    assert all(key(n) in held for n in range(100_000))
    wrongly_claimed = sum(key(n) in held for n in range(100_000, 120_000))
    assert wrongly_claimed < 20_000 * 0.05


def test_the_filter_survives_its_text_and_damaged_text_is_no_filter() -> None:
    held = KeyFilter()
    for n in range(5_000):
        held.add(key(n))

    again = KeyFilter.from_text(held.to_text())

    assert again is not None and again.keys == held.keys and again.layers == held.layers
    assert KeyFilter.from_text(KeyFilter().to_text()) == KeyFilter()
    text = held.to_text()
    packed = text.partition(":")[2]
    for damaged in (None, 17, "", "garbage", text[:-8], "3,3:" + packed, "x:" + packed):
        assert KeyFilter.from_text(damaged) is None, str(damaged)[:20]


def test_a_key_delivered_again_in_the_same_sync_supersedes_what_only_its_earlier_copies_had() -> None:
    keys = DeliveredKeys()

    assert keys.deliver(key(1), 5) is None
    assert keys.deliver(key(1), 2) == Superseded(range(2, 5), certain=True)
    assert keys.deliver(key(1), 4) == Superseded(range(4, 5), certain=True)  # position 4 is gone already: harmless
    assert keys.deliver(key(1), 6) == Superseded(range(6, 5), certain=True)  # nothing


@pytest.mark.parametrize(("extent", "expected"), [(1, range(1, 6)), (6, None)])
def test_a_key_an_earlier_sync_of_the_round_delivered_supersedes_up_to_the_rounds_widest_list(
    extent: int, expected: range | None
) -> None:
    earlier = KeyFilter()
    earlier.add(key(1))
    keys = DeliveredKeys(Earlier(earlier, widest=6))

    superseded = keys.deliver(key(1), extent)
    unseen = keys.deliver(key(2), extent)

    assert superseded == (None if expected is None else Superseded(expected, certain=False))
    assert unseen is None

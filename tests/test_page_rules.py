"""The rules of pagination (page_rules.py), as pure functions: every verdict on a next link and on an end, and why.

No event loop, no fetching: a page and the trail of the pages before it go in, a verdict comes out.
"""

from __future__ import annotations

import itertools
from collections.abc import Set as AbstractSet
from typing import Any

import pytest
from yarl import URL

from dexory_async.links import link_identity, with_page_number
from dexory_async.page import EndNotBelieved, Page
from dexory_async.page_rules import (
    AskFollowing,
    Believe,
    Doubt,
    Follow,
    Refuse,
    Trail,
    judge_end,
    judge_following,
    judge_page,
    last_number,
    number_of,
    pages_after,
    placed,
    refusal_of,
)

ORIGIN = URL("https://api.example.test")
START = URL("https://api.example.test/customer-api/v1/locations?site=s&page[size]=10")
PREVIOUS = with_page_number(START, 4)


def numbered(number: int) -> URL:
    return with_page_number(START, number)


def page(url: URL = START, *, data: list[Any] | None = None, sequence: int = 5, **links: Any) -> Page:
    return Page("s", url, ["a"] if data is None else data, links, size_bytes=1, sequence=sequence)


def trail(
    *, visited: AbstractSet[URL] = frozenset(), announced: int | None = None, previous: URL | None = PREVIOUS
) -> Trail:
    return Trail(ORIGIN, START, {hash(link_identity(url)) for url in visited}, announced, previous)


# ---------------------------------------------------------------------------------------------------- reading a page


@pytest.mark.parametrize(
    ("url", "next_url", "expected"),
    [
        (numbered(5), numbered(6), 5),
        (numbered(5), None, 5),
        (numbered(5), START.update_query(cursor="x"), 5),
        (START, numbered(2), 1),  # a first page asked for without a number: one before its next link's
        (START, numbered(1), 0),  # ... of a zero-based API
        (START, None, None),
        (START, START.update_query(cursor="x"), None),
    ],
)
def test_number_of(url: URL, next_url: URL | None, expected: int | None) -> None:
    assert number_of(url, next_url) == expected


@pytest.mark.parametrize(
    ("last", "expected"),
    [
        (None, None),
        ("", None),
        (str(numbered(9)), 9),
        ({"href": str(numbered(9))}, 9),
        ("?site=s&page[size]=10&page[number]=9", 9),
        ("http://h:99999/x", None),  # unreadable: no reason to stop, nothing to bound by either
        (str(numbered(9).update_query(site="t")), None),  # another site's
        (str(START), None),  # no number
    ],
)
def test_last_number_reads_only_this_endpoints_numbered_links_last(last: object, expected: int | None) -> None:
    assert last_number(page(numbered(5), last=last)) == expected


@pytest.mark.parametrize(
    ("number", "last", "expected"),
    [(5, None, None), (5, 9, 4), (5, 5, 0), (5, 3, 0), (None, 5, 4), (None, 1, 0), (None, 0, 0)],
)
def test_pages_after(number: int | None, last: int | None, expected: int | None) -> None:
    assert pages_after(number, last) == expected


def test_placed_gives_the_page_its_place_and_what_its_links_last_announces() -> None:
    first = placed(page(START, next=str(numbered(2)), last=str(numbered(7))), 1)
    later = placed(page(numbered(3), next=str(numbered(4)), last=str(numbered(7))), 3)
    unreadable_next = placed(page(START, next=17, last=str(numbered(7))), 1)

    assert (first.sequence, first.pages_after) == (1, 6)
    assert (later.sequence, later.pages_after) == (3, 4)
    assert unreadable_next.pages_after == 6  # a first page of 0 or 1: at least 6 after it


# ---------------------------------------------------------------------------------------------------- next links


def test_a_next_link_to_the_following_page_is_followed() -> None:
    assert judge_page(page(numbered(5), next=str(numbered(6))), trail()) == Follow(numbered(6))


def test_an_opaque_next_link_never_seen_is_followed() -> None:
    cursor = START.update_query(cursor="b7Zq")

    assert judge_page(page(START.update_query(cursor="a"), next=str(cursor)), trail()) == Follow(cursor)


@pytest.mark.parametrize("link", [17, True, [str(numbered(6))], {"meta": 1}, {"href": None}, "http://[::1/x"])
def test_an_unreadable_next_link_is_refused_naming_the_page(link: object) -> None:
    verdict = judge_page(page(numbered(5), next=link), trail())

    assert isinstance(verdict, Refuse) and verdict.reason.startswith(f"page 5 ({numbered(5)}): links.next ")


REFUSALS = {
    "another host": ("https://evil.test/customer-api/v1/locations?site=s&page[size]=10&page[number]=6", "origin"),
    "another scheme": (str(numbered(6)).replace("https:", "http:"), "origin"),
    "another site": (str(numbered(6).update_query(site="t")), "not this site's locations endpoint"),
    "a customer": (str(numbered(6).update_query(customer="c")), "not this site's locations endpoint"),
    "another path": (str(numbered(6).with_path("/customer-api/v1/inventory")), "not this site's locations endpoint"),
    "back a page": (str(numbered(4)), "pagination loop"),
    "itself": (str(numbered(5)), "pagination loop"),
    "a page visited": (str(START.update_query(cursor="seen")), "pagination loop"),
    "past a page": (str(numbered(7)), "jumps from page 5 to page 7"),
}


@pytest.mark.parametrize(("link", "why"), REFUSALS.values(), ids=REFUSALS.keys())
def test_a_next_link_that_must_not_be_followed_is_refused_saying_why(link: str, why: str) -> None:
    verdict = judge_page(page(numbered(5), next=link), trail(visited={START.update_query(cursor="seen")}))

    assert isinstance(verdict, Refuse)
    assert verdict.reason.startswith(f"page 5 ({numbered(5)}): ") and why in verdict.reason


def test_refusal_of_reads_the_visited_pages_and_leaves_them_alone() -> None:
    seen = trail(visited={numbered(2)})
    before = set(seen.visited)

    assert refusal_of(numbered(3), 2, seen) is None
    assert refusal_of(numbered(2), None, seen) is not None  # a loop, by identity alone
    assert set(seen.visited) == before


# ---------------------------------------------------------------------------------------------------- ends


def last_page(number: int | None, *, pages_after: int | None = None, data: list[Any] | None = None) -> Page:
    url = START if number is None else numbered(number)
    return Page("s", url, ["a"] if data is None else data, {"next": None}, 1, sequence=5, pages_after=pages_after)


def test_a_page_whose_links_last_announces_more_is_not_the_end() -> None:
    verdict = judge_end(last_page(5, pages_after=2), 5, trail())

    assert isinstance(verdict, Doubt)
    assert "its links.last announces 2 more page(s)" in verdict.end.reason


def test_an_end_before_what_an_earlier_links_last_announced_is_not_believed() -> None:
    verdict = judge_end(last_page(5), 5, trail(announced=8))

    assert isinstance(verdict, Doubt) and "an earlier links.last announced page 8" in verdict.end.reason


@pytest.mark.parametrize(("own", "announced"), [(0, None), (0, 5), (None, 5), (0, 3)])
def test_a_links_last_that_names_this_page_proves_the_end(own: int | None, announced: int | None) -> None:
    verdict = judge_end(last_page(5, pages_after=own), 5, trail(announced=announced))

    assert verdict == Believe("links.last says it is the last page")


def test_without_a_links_last_the_page_after_is_asked_about() -> None:
    assert judge_end(last_page(5), 5, trail()) == AskFollowing(numbered(6))


def test_without_a_page_number_the_apis_word_is_taken() -> None:
    """An opaque cursor, or a lone first page asked for without a number: no page after it can be derived."""
    verdict = judge_end(last_page(None), None, trail())

    assert isinstance(verdict, Believe)


@pytest.mark.parametrize(
    ("own", "announced", "number"),
    list(itertools.product([None, 0, 2], [None, 3, 5, 8], [None, 5])),
)
def test_every_end_verdict_keeps_the_rules(own: int | None, announced: int | None, number: int | None) -> None:
    """Over every combination: an end is believed only if nothing announces more, asked about only when a number
    gives the page after it and no links.last names this page, and doubted only when a links.last announces more."""
    verdict = judge_end(last_page(number, pages_after=own), number, trail(announced=announced))
    announces_more = bool(own) or (number is not None and announced is not None and announced > number)
    proven = own == 0 or (number is not None and announced == number)

    assert isinstance(verdict, Doubt) == announces_more
    assert isinstance(verdict, AskFollowing) == (not announces_more and not proven and number is not None)
    assert isinstance(verdict, Believe) == (not announces_more and (proven or number is None))


def test_the_page_after_with_other_locations_says_the_site_goes_on() -> None:
    quiet = last_page(5, data=["a", "b"])
    following = Page("s", numbered(6), ["c", "d", "e"], {}, 1)

    verdict = judge_following(quiet, following, trail())
    assert isinstance(verdict, Doubt)
    assert verdict.end.reason.startswith(f"page 5 ({numbered(5)}) has no links.next, but {numbered(6)}, the page after")
    assert "holds 3 other locations: the site does not end here" in verdict.end.reason


@pytest.mark.parametrize(
    "following", [None, Page("s", numbered(6), [], {}, 1), Page("s", numbered(6), ["a", "b"], {}, 1)], ids=str
)
def test_the_page_after_refused_empty_or_repeating_this_one_proves_the_end(following: Page | None) -> None:
    """A 404 or 400 past the end, an empty page, or this page again (some APIs answer past the end with the last)."""
    assert isinstance(judge_following(last_page(5, data=["a", "b"]), following, trail()), Believe)


@pytest.mark.parametrize(("previous", "expected"), [(PREVIOUS, (PREVIOUS, 2)), (None, (numbered(5), 1))])
def test_an_end_not_believed_is_read_again_from_the_page_before_when_there_is_one(
    previous: URL | None, expected: tuple[URL, int]
) -> None:
    verdict = judge_end(last_page(5, pages_after=1), 5, trail(previous=previous))

    assert isinstance(verdict, Doubt) and isinstance(verdict.end, EndNotBelieved)
    assert (verdict.end.page_url, verdict.end.rereads) == expected
    assert ("reads again from the page before it" in verdict.end.reason) == (previous is not None)

"""Reading a 200 answer as a page (client.parse_page): strict JSON fast, lenient JSON kept, anything else retried."""

from __future__ import annotations

import math

import pytest
from yarl import URL

from dexory_async.client import parse_page
from dexory_async.errors import TransientError

URL_ = URL("https://api.example.test/customer-api/v1/locations?site=s&page%5Bsize%5D=10")


def test_half_a_surrogate_pair_is_replaced_and_the_page_kept() -> None:
    """orjson refuses `"\\ud800"` (half a UTF-16 pair), and so would the warehouse: one such value must not fail the
    site on this page at every sync. The page is read, the half replaced by U+FFFD, whole pairs (emoji) kept."""
    body = b'{"data": [{"name": "A\\ud800B", "message": "ok \\ud83d\\ude00", "\\udfff": 1}], "links": {"next": null}}'

    page = parse_page("s", URL_, body)

    assert page.data == [{"name": "A\ufffdB", "message": "ok \N{GRINNING FACE}", "\ufffd": 1}]
    assert page.links == {"next": None}
    for text in (*page.data[0], *[value for value in page.data[0].values() if isinstance(value, str)]):
        text.encode("utf-8")  # storable


def test_a_nan_that_orjson_refuses_is_read() -> None:
    page = parse_page("s", URL_, b'{"data": [{"name": "A", "occupancy": NaN}]}')

    assert math.isnan(page.data[0]["occupancy"])
    assert page.links is None


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "not valid JSON"),
        (b'{"data": [{"name": "A"', "not valid JSON"),
        (b'{"data": {"name": "A"}}', "no `data` list"),
        (b"[]", "no `data` list"),
    ],
)
def test_anything_else_is_transient(body: bytes, message: str) -> None:
    with pytest.raises(TransientError, match=message):
        parse_page("s", URL_, body)

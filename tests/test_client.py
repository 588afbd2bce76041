"""Reading a 200 answer as a page (client.parse_page): strict JSON fast, lenient JSON kept, anything else retried."""

from __future__ import annotations

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


def test_the_lenient_reading_reads_integers_as_orjson_does() -> None:
    """A page read leniently (for a half surrogate pair) still gives integers beyond 64 bits as floats, as orjson
    does: a Python int too large for a float would fail the upsert, and with it the whole sync."""
    page = parse_page("s", URL_, b'{"data": [{"name": "A\\ud800", "serial": 123456789012345678901, "n": 7}]}')

    assert page.data[0]["serial"] == float(123456789012345678901) and page.data[0]["n"] == 7
    assert page.links == {}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"<html><body>502 Bad Gateway</body></html>", "not valid JSON"),
        (b'{"data": [{"name": "A"', "not valid JSON"),
        (b'{"data": {"name": "A"}}', "no `data` list"),
        (b"[]", "no `data` list"),
        (b'{"data": [{"name": "A", "occupancy": NaN}]}', "not valid JSON"),
        (b'{"data": [{"name": "A", "occupancy": Infinity}]}', "not valid JSON"),
        (b'{"data": ' + b"[" * 5000 + b"]" * 5000 + b"}", "not valid JSON"),
    ],
)
def test_anything_else_is_transient(body: bytes, message: str) -> None:
    with pytest.raises(TransientError, match=message):
        parse_page("s", URL_, body)

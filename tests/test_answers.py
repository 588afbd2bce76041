"""Reading an answer: a 200 as a page (strict JSON fast, lenient JSON kept, anything else retried), any other status
as the error it stands for."""

from __future__ import annotations

import pytest
from yarl import URL

from dexory_async import errors
from dexory_async.answers import error_for_status, parse_page
from dexory_async.transport import Response

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
    with pytest.raises(errors.NotAPage, match=message) as raised:
        parse_page("s", URL_, body)
    assert raised.value.site == "s" and raised.value.url == URL_ and raised.value.status == 200


def test_a_byte_order_mark_is_read_past_without_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    """Some servers start JSON with a UTF-8 BOM; the page is read as it is, not as strings that are not Unicode."""
    page = parse_page("s", URL_, b'\xef\xbb\xbf{"data": [{"name": "A\xc3\xa9"}], "links": {"next": null}}')

    assert page.data == [{"name": "A\u00e9"}]
    assert "not valid Unicode" not in caplog.text


FIRST_PAGE = URL("https://api.example.test/customer-api/v1/locations?site=Warehouse+7&page%5Bsize%5D=100")
LATER_PAGE = FIRST_PAGE.update_query({"page[number]": "12"})


def status_error(
    status: int, shown: str = "", headers: dict[str, str] | None = None, *, first_page: bool
) -> errors.RequestError:
    url = FIRST_PAGE if first_page else LATER_PAGE
    response = Response(status, b"(the body, masked and cut by the client)", headers or {})
    return error_for_status(response, "Warehouse 7", url, shown, first_page=first_page)


@pytest.mark.parametrize("first_page", [True, False])
def test_every_error_carries_its_site_url_and_status(first_page: bool) -> None:
    for status in (301, 400, 401, 403, 404, 429, 500):
        error = status_error(status, first_page=first_page)
        url = FIRST_PAGE if first_page else LATER_PAGE
        assert (error.site, error.url, error.status) == ("Warehouse 7", url, status)


@pytest.mark.parametrize("first_page", [True, False])
def test_429_is_rate_limited_and_carries_retry_after(first_page: bool) -> None:
    error = status_error(429, "slow down", {"retry-after": "12"}, first_page=first_page)

    assert type(error) is errors.RateLimited and isinstance(error, errors.TransientError)
    assert error.retry_after == 12.0
    assert "429" in str(error)


def test_429_without_retry_after() -> None:
    error = status_error(429, first_page=False)

    assert isinstance(error, errors.RateLimited) and error.retry_after is None


@pytest.mark.parametrize("first_page", [True, False])
@pytest.mark.parametrize("status", [408, 500, 502, 503, 504, 599])
def test_5xx_and_408_are_server_errors_showing_the_start_of_the_body(status: int, first_page: bool) -> None:
    """The last retry's error is what the user reads: the server's own words help more than its status alone."""
    error = status_error(status, "<html>bad gateway</html>", {"Retry-After": "7"}, first_page=first_page)

    assert type(error) is errors.ServerError and isinstance(error, errors.TransientError)
    assert error.retry_after == 7.0
    assert str(error) == f"HTTP {status} from the server: <html>bad gateway</html>"


def test_a_server_error_without_a_body_says_only_its_status() -> None:
    assert str(status_error(503, " ", first_page=False)) == "HTTP 503 from the server"


@pytest.mark.parametrize("first_page", [True, False])
@pytest.mark.parametrize("status", [401, 403])
def test_401_and_403_mean_the_key_was_rejected_for_the_site(status: int, first_page: bool) -> None:
    error = status_error(status, "forbidden", first_page=first_page)

    assert type(error) is errors.KeyRejected
    message = str(error)
    assert "the API key was rejected for site 'Warehouse 7'" in message
    assert f"HTTP {status}" in message
    assert "site_api_key" in message


def test_404_on_a_sites_first_page_means_the_site_was_not_found() -> None:
    error = status_error(404, "not found", first_page=True)

    assert type(error) is errors.SiteNotFound
    assert "site 'Warehouse 7' not found" in str(error)
    assert "HTTP 404" in str(error)
    assert "site_name" in str(error)


@pytest.mark.parametrize("status", [404, 400, 410, 422])
def test_a_permanent_4xx_on_a_later_page_rejects_that_page_naming_it(status: int) -> None:
    error = status_error(status, '{"error":"page[number] out of range"}', first_page=False)

    assert type(error) is errors.PageRejected and isinstance(error, errors.RequestRefused)
    message = str(error)
    assert str(LATER_PAGE) in message
    assert "site 'Warehouse 7'" in message
    assert f"HTTP {status}" in message
    assert message.endswith('{"error":"page[number] out of range"}')


@pytest.mark.parametrize("first_page", [True, False])
@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
def test_a_redirect_names_the_page_and_the_target_host_never_its_query(status: int, first_page: bool) -> None:
    location = "https://elsewhere.example.test/v2/locations?api_key=sk-echoed-1234&site=Warehouse+7"

    error = status_error(status, headers={"Location": location}, first_page=first_page)

    assert type(error) is errors.Redirected and isinstance(error, errors.RequestRefused)
    message = str(error)
    assert str(FIRST_PAGE if first_page else LATER_PAGE) in message
    assert f"HTTP {status}" in message and "host elsewhere.example.test" in message and "base_url" in message
    assert "sk-echoed" not in message and "/v2/" not in message


@pytest.mark.parametrize(("location", "host"), [("/moved", "host api.example.test"), ("http://[::1", "an unreadable")])
def test_a_relative_or_unreadable_redirect_is_still_described(location: str, host: str) -> None:
    assert host in str(status_error(302, headers={"Location": location}, first_page=False))


@pytest.mark.parametrize("status", [400, 405, 409, 410, 418, 422])
def test_other_4xx_on_the_first_page_fail_with_status_site_and_excerpt(status: int) -> None:
    excerpt = '{"error":"page[size] too large"}'

    error = status_error(status, excerpt, first_page=True)

    assert type(error) is errors.RequestRefused
    assert str(error) == f"HTTP {status} from the API for the first page of site 'Warehouse 7': {excerpt}"

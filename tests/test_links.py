"""URLs of the locations endpoint: each site's first page, the key, origins, the API's links and page numbers."""

from __future__ import annotations

from typing import Any

import pytest
from yarl import URL

from dexory_async.config import Settings, Site, parse_settings
from dexory_async.errors import LinkError
from dexory_async.links import (
    KEY_PARAM,
    PAGE_NUMBER,
    PAGE_SIZE,
    first_page_url,
    link_identity,
    page_number,
    resolve_link,
    same_origin,
    with_key,
    with_page_number,
    without_key,
)

KEY = "sk-SECRET-123"
BASE = "https://api.example.test"
ENDPOINT = f"{BASE}/customer-api/v1/locations"


def settings(**overrides: str) -> Settings:
    return parse_settings({"site_name": "warehouse-1", "site_api_key": KEY, "base_url": BASE, **overrides})


def first_page(config: Settings, site: int = 0) -> URL:
    return first_page_url(config, config.sites[site])


# ---------------------------------------------------------------------------------------------------- first_page_url


def test_first_page_url_without_customer() -> None:
    url = first_page(settings(page_size="250"))

    assert url.scheme == "https" and url.host == "api.example.test"
    assert url.path == "/customer-api/v1/locations"
    assert dict(url.query) == {"site": "warehouse-1", PAGE_SIZE: "250"}
    assert KEY_PARAM not in url.query
    assert str(url).startswith(ENDPOINT + "?")


def test_first_page_url_with_customer() -> None:
    url = first_page(settings(customer="acme"))

    assert dict(url.query) == {"site": "warehouse-1", PAGE_SIZE: "1000", "customer": "acme"}


def test_each_site_has_its_own_first_page_differing_only_in_site() -> None:
    config = settings(site_name="paris-dc,lyon-dc", site_api_key="k1,k2", customer="acme")

    paris, lyon = first_page(config, 0), first_page(config, 1)

    assert (paris.query["site"], lyon.query["site"]) == ("paris-dc", "lyon-dc")
    assert paris.with_query(None) == lyon.with_query(None)
    assert paris.update_query(site="lyon-dc") == lyon
    assert all(KEY_PARAM not in url.query for url in (paris, lyon))


def test_first_page_url_is_built_from_the_site_given_not_the_settings() -> None:
    url = first_page_url(settings(), Site("elsewhere", "k"))

    assert url.query["site"] == "elsewhere"


def test_first_page_url_encodes_site_names() -> None:
    url = first_page(settings(site_name="Lager Süd & Co", customer="a+b"))

    assert url.query["site"] == "Lager Süd & Co"
    assert url.query["customer"] == "a+b"
    assert url.raw_query_string.count("&") == 2  # three parameters: the '&' in the name is escaped, '+' too
    assert URL(str(url)).query["site"] == "Lager Süd & Co"  # survives a round trip through a string


def test_first_page_url_keeps_a_base_url_path_prefix_and_port() -> None:
    url = first_page(settings(base_url="http://localhost:8080/proxy/"))

    assert str(url.with_query(None)) == "http://localhost:8080/proxy/customer-api/v1/locations"


# ---------------------------------------------------------------------------------------------------- the key


def test_with_key_adds_the_key_when_absent() -> None:
    url = URL(f"{ENDPOINT}?site=w&page%5Bnumber%5D=3")

    keyed = with_key(url, KEY)

    assert keyed.query[KEY_PARAM] == KEY
    assert keyed.query["site"] == "w" and keyed.query[PAGE_NUMBER] == "3"
    assert KEY_PARAM not in url.query  # the input is left alone


@pytest.mark.parametrize("carried", ["?site=w&api_key=from-link", "?api_key=one&site=w&api_key=two"])
def test_with_key_replaces_any_key_a_link_carried_with_this_sites_key(carried: str) -> None:
    keyed = with_key(URL(ENDPOINT + carried), KEY)

    assert keyed.query.getall(KEY_PARAM) == [KEY]
    assert keyed.query["site"] == "w"


@pytest.mark.parametrize("key", ["a+b", "a b", "x&y=z", "abc/def+ghi==", "100%"])
def test_with_key_encodes_special_characters(key: str) -> None:
    keyed = with_key(URL(f"{ENDPOINT}?site=w"), key)

    assert URL(str(keyed)).query[KEY_PARAM] == key
    assert URL(str(keyed)).query["site"] == "w"


def test_without_key_strips_the_key_and_keeps_the_rest() -> None:
    url = URL(f"{ENDPOINT}?site=w&api_key={KEY}&page%5Bnumber%5D=2")

    stripped = without_key(url)

    assert KEY_PARAM not in stripped.query
    assert KEY not in str(stripped)
    assert dict(stripped.query) == {"site": "w", PAGE_NUMBER: "2"}


def test_without_key_strips_repeated_keys() -> None:
    stripped = without_key(URL(f"{ENDPOINT}?api_key=a&site=w&api_key=b"))

    assert dict(stripped.query) == {"site": "w"}


def test_without_key_leaves_a_keyless_url_unchanged() -> None:
    url = URL(f"{ENDPOINT}?site=w")

    assert without_key(url) is url


def test_with_key_then_without_key_round_trips() -> None:
    url = first_page(settings(customer="acme"))

    assert without_key(with_key(url, KEY)) == url


# ---------------------------------------------------------------------------------------------------- same_origin


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.example.test/other/path?x=1", True),
        ("https://api.example.test:443/customer-api/v1/locations", True),  # default port spelt out
        ("https://API.Example.TEST/", True),  # host names are case-insensitive
        ("http://api.example.test/", False),  # scheme differs
        ("https://api.example.test:8443/", False),  # port differs
        ("https://evil.example.test/", False),  # host differs
        ("https://api.example.test.evil.test/", False),
        ("/customer-api/v1/locations", False),  # relative: no origin at all
    ],
)
def test_same_origin(url: str, expected: bool) -> None:
    assert same_origin(URL(url), URL(BASE)) is expected


# ---------------------------------------------------------------------------------------------------- resolve_link

PAGE = URL(f"{ENDPOINT}?site=w&page%5Bnumber%5D=1")
NEXT = f"{ENDPOINT}?site=w&page%5Bnumber%5D=2"


@pytest.mark.parametrize("link", [NEXT, {"href": NEXT}, {"href": NEXT, "meta": {"count": 3}}])
def test_resolve_an_absolute_link_given_as_text_or_as_a_link_object(link: Any) -> None:
    assert resolve_link(PAGE, link) == URL(NEXT)


def test_resolve_link_to_another_host_is_kept_for_the_caller_to_refuse() -> None:
    assert resolve_link(PAGE, "https://elsewhere.test/x?y=1") == URL("https://elsewhere.test/x?y=1")


@pytest.mark.parametrize(
    ("link", "expected"),
    [
        ("/customer-api/v1/locations?site=w&page%5Bnumber%5D=2", NEXT),
        ("locations?site=w&cursor=abc", f"{ENDPOINT}?site=w&cursor=abc"),
        ("?site=w&cursor=abc", f"{ENDPOINT}?site=w&cursor=abc"),
        ({"href": "?site=w&cursor=abc"}, f"{ENDPOINT}?site=w&cursor=abc"),
    ],
)
def test_resolve_relative_link(link: Any, expected: str) -> None:
    resolved = resolve_link(PAGE, link)

    assert resolved is not None and resolved.is_absolute()
    assert resolved == URL(expected)


def test_resolve_scheme_relative_link_takes_the_page_scheme() -> None:
    link = "//api.example.test/customer-api/v1/locations?site=w&page%5Bnumber%5D=2"

    resolved = resolve_link(PAGE, link)

    assert resolved == URL(NEXT)
    assert resolved is not None and same_origin(resolved, URL(BASE))


@pytest.mark.parametrize("link", [None, "", {"href": ""}])
def test_a_null_or_empty_link_means_there_is_none(link: Any) -> None:
    """Some APIs write "" where JSON:API writes null."""
    assert resolve_link(PAGE, link) is None


@pytest.mark.parametrize(
    "link",
    [42, 1.5, True, ["x"], {}, {"href": None}, {"href": 7}, {"url": NEXT}, {"meta": {}}],
)
def test_a_link_that_is_neither_a_url_nor_a_link_object_with_an_href_is_refused(link: Any) -> None:
    with pytest.raises(LinkError) as caught:
        resolve_link(PAGE, link)

    assert repr(link) in str(caught.value)


@pytest.mark.parametrize(
    "link",
    [
        "https://api.example.test:99999/customer-api/v1/locations",  # port out of range
        "https://api.example.test:-1/customer-api/v1/locations",
        "https://api.example.test:abc/customer-api/v1/locations",  # port not a number
        "//api.example.test:port/customer-api/v1/locations",
        "http://[::1/customer-api/v1/locations",  # unclosed IPv6 literal
        "mailto:ops@example.test",  # no host
        "https://",
    ],
)
def test_a_link_that_cannot_be_parsed_is_refused_naming_it(link: str) -> None:
    for given in (link, {"href": link}):
        with pytest.raises(LinkError) as caught:
            resolve_link(PAGE, given)

        assert repr(link) in str(caught.value)


def test_a_refused_link_is_shortened_in_the_message() -> None:
    link = "https://api.example.test:abc/" + "x" * 10_000

    with pytest.raises(LinkError) as caught:
        resolve_link(PAGE, link)

    assert link[:100] in str(caught.value)
    assert len(str(caught.value)) < 500


@pytest.mark.parametrize(
    "link",
    ["https://api.example.test:abc/x?api_key=" + KEY, "mailto:x?api_key=" + KEY, {"url": "/x?api_key=" + KEY}],
)
def test_a_refused_link_is_named_without_the_key_it_carries(link: Any) -> None:
    with pytest.raises(LinkError) as caught:
        resolve_link(PAGE, link)

    assert KEY not in str(caught.value)


@pytest.mark.parametrize(
    "link",
    [
        f"{ENDPOINT}?site=w&api_key={KEY}&cursor=c",
        f"?api_key={KEY}&site=w&cursor=c",
        {"href": f"?api_key={KEY}&site=w&cursor=c"},
    ],
)
def test_resolve_link_strips_the_key(link: Any) -> None:
    resolved = resolve_link(PAGE, link)

    assert resolved is not None
    assert KEY_PARAM not in resolved.query
    assert KEY not in str(resolved)
    assert dict(resolved.query) == {"site": "w", "cursor": "c"}


# ---------------------------------------------------------------------------------------------------- page numbers


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{ENDPOINT}?page%5Bnumber%5D=7", 7),
        (f"{ENDPOINT}?page[number]=12&site=w", 12),
        (f"{ENDPOINT}?site=w", None),
        (f"{ENDPOINT}?page%5Bnumber%5D=seven", None),
        (f"{ENDPOINT}?page%5Bnumber%5D=", None),
    ],
)
def test_page_number(url: str, expected: int | None) -> None:
    assert page_number(URL(url)) == expected


def test_with_page_number_adds_or_replaces_the_number_and_keeps_the_rest() -> None:
    first = first_page(settings(customer="acme"))

    third = with_page_number(first, 3)
    fourth = with_page_number(third, 4)

    assert page_number(third) == 3
    assert page_number(fourth) == 4
    assert fourth.query.getall(PAGE_NUMBER) == ["4"]
    assert {k: v for k, v in fourth.query.items() if k != PAGE_NUMBER} == dict(first.query)
    assert fourth.with_query(None) == first.with_query(None)


# ---------------------------------------------------------------------------------------------------- link identity


def test_link_identity_ignores_the_order_of_query_parameters() -> None:
    a = URL(f"{ENDPOINT}?site=s&page%5Bnumber%5D=2&page%5Bsize%5D=10")
    b = URL(f"{ENDPOINT}?page%5Bsize%5D=10&site=s&page%5Bnumber%5D=2")
    assert link_identity(a) == link_identity(b)
    assert link_identity(a) != link_identity(with_page_number(a, 3))


def test_a_page_without_a_number_is_not_taken_for_page_one() -> None:
    first = URL(f"{ENDPOINT}?site=s&page%5Bsize%5D=10")

    assert link_identity(first) != link_identity(with_page_number(first, 1))
    assert link_identity(first) == link_identity(URL(f"{ENDPOINT}?page%5Bsize%5D=10&site=s"))


def test_link_identity_tells_sites_apart() -> None:
    config = settings(site_name="paris-dc,lyon-dc")

    assert link_identity(first_page(config, 0)) != link_identity(first_page(config, 1))


def test_link_identity_can_ignore_the_page_number() -> None:
    page_two = URL(f"{ENDPOINT}?site=s&page%5Bnumber%5D=2&page%5Bsize%5D=10")
    assert link_identity(page_two, ignore_number=True) == link_identity(
        with_page_number(page_two, 9), ignore_number=True
    )
    assert link_identity(page_two, ignore_number=True) == link_identity(
        page_two.without_query_params(PAGE_NUMBER), ignore_number=True
    )
    other_size = page_two.update_query({PAGE_SIZE: "20"})
    assert link_identity(page_two, ignore_number=True) != link_identity(other_size, ignore_number=True)

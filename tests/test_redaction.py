"""redact() and excerpt(): the API key leaves the process in no spelling, whole or in part."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable, Iterator
from urllib.parse import quote, quote_plus

import pytest
from yarl import URL

from dexory_async.links import with_key
from dexory_async.redaction import MASK, excerpt, redact

KEY = "dxk_4f9Qm2LzR8vT1nW6yB3cH7jK0pXe5sAaUgYiOoEdFrGh"  # as long as a real key
BASE64_KEY = "q+7Vx/Lr2Tb7WcYh5K+mPd9Fs/J4gUe6AoQ1iRt0EyXnVb=="
SPECIAL = "sk SECRET+1/2&3=4%"  # a key whose raw, percent- and plus-encoded spellings all differ
KEYS = [KEY, BASE64_KEY, SPECIAL]
ENDPOINT = URL("https://api.dexory.com/customer-api/v1/locations?site=w")


def as_sent(key: str) -> str:
    """The key as the request URL spells it."""
    return with_key(URL("https://h/x"), key).raw_query_string.removeprefix("api_key=")


SPELLINGS: dict[str, Callable[[str], str]] = {
    "raw": lambda key: key,
    "percent-encoded": lambda key: quote(key, safe=""),
    "plus-encoded": quote_plus,
    "as sent": as_sent,
    "lower-case hex": lambda key: re.sub("%[0-9A-F]{2}", lambda match: match[0].lower(), quote(key, safe="")),
    "JSON-escaped": lambda key: as_sent(key).replace("/", "\\/"),
}


def leaked(text: str, key: str) -> list[str]:
    """The 8-character pieces of any spelling of `key` that `text` shows."""
    spellings = [spell(key) for spell in SPELLINGS.values()]
    return sorted({piece for s in spellings for i in range(len(s) - 7) if (piece := s[i : i + 8]) in text})


@pytest.mark.parametrize("key", KEYS)
def test_every_spelling_of_the_key_is_masked_wherever_it_occurs(key: str) -> None:
    spellings = [spell(key) for spell in SPELLINGS.values()]
    text = " and ".join(spellings + [spelling * 2 for spelling in spellings])

    assert redact(text, key) == " and ".join([MASK] * len(spellings) + [MASK * 2] * len(spellings))


@pytest.mark.parametrize("key", KEYS)
def test_key_as_sent_in_the_request_url_is_masked(key: str) -> None:
    echoed = f"400 Bad Request: {with_key(ENDPOINT, key)}"

    assert redact(echoed, key) == f"400 Bad Request: {ENDPOINT}&api_key={MASK}"


def test_a_similar_but_different_key_is_left_alone() -> None:
    assert redact("sk-SECRET-12 and sk-SECRET-1234", "sk-SECRET-999") == "sk-SECRET-12 and sk-SECRET-1234"


@pytest.mark.parametrize("secret", [KEY, ""])
@pytest.mark.parametrize(
    "text", ["", "HTTP 503 from the server; retry 1 of 3 in 2.0s", "/x?site=w&api_keys=2&my_key=3&api_key=&page=1"]
)
def test_text_without_a_key_is_unchanged(text: str, secret: str) -> None:
    assert redact(text, secret) == text


@pytest.mark.parametrize("secret", ["", "an-unrelated-key"])
@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("GET /x?site=w&api_key=whatever-it-is", f"GET /x?site=w&api_key={MASK}"),
        ("GET /x?API_Key=abc+d/e==&site=w", f"GET /x?API_Key={MASK}&site=w"),
        ("GET /x?api%5Fkey=abc&site=w", f"GET /x?api%5Fkey={MASK}&site=w"),
        ("GET /x?%61pi%5fKEY%3dabc", f"GET /x?%61pi%5fKEY%3d{MASK}"),
        ("/login?next=%2Fx%3Fapi_key%3Dabc%26site%3Dw", f"/login?next=%2Fx%3Fapi_key%3D{MASK}"),
        ("/login?next=%252Fx%253Fapi%255Fkey%253Dabc", f"/login?next=%252Fx%253Fapi%255Fkey%253D{MASK}"),
        ('{"detail":"GET /x?api_key=abc\\u0026site=w"}', f'{{"detail":"GET /x?api_key={MASK}\\u0026site=w"}}'),
        ('{"detail":"GET /x?api_key=a\\/b\\"}', f'{{"detail":"GET /x?api_key={MASK}\\"}}'),
        ("<a href='/x?api_key=abc'>/x?api_key=abc</a>", f"<a href='/x?api_key={MASK}'>/x?api_key={MASK}</a>"),
        ("/x?api_key=abc#top and /x?api_key=abc\tthen", f"/x?api_key={MASK}#top and /x?api_key={MASK}\tthen"),
    ],
)
def test_any_api_key_parameter_is_masked_whatever_the_secret(text: str, masked: str, secret: str) -> None:
    assert redact(text, secret) == masked


@pytest.mark.parametrize(
    "text",
    [
        f"GET {with_key(ENDPOINT, BASE64_KEY)} and {BASE64_KEY}",
        f"the key {quote(BASE64_KEY, safe='')}, again in /x?api%5Fkey%3D{KEY}",
        f"cut short: {BASE64_KEY[:20]}",
    ],
)
def test_masking_twice_changes_nothing(text: str) -> None:
    once = redact(text, BASE64_KEY)
    assert redact(once, BASE64_KEY) == once

    shown = excerpt(text, BASE64_KEY, 40)
    assert excerpt(shown, BASE64_KEY, 40) == shown


@pytest.mark.parametrize(
    ("body", "shown"),
    [
        (b'{"errors":[]}', '{"errors":[]}'),
        (b"\xff not UTF-8", "\ufffd not UTF-8"),
        ("x" * 300, "x" * 200),
        (f"refused: {KEY} and {KEY[:20]}", f"refused: {MASK} and {MASK}"),
    ],
)
def test_excerpt_is_the_masked_body_cut_at_the_limit(body: str | bytes, shown: str) -> None:
    assert excerpt(body, KEY, 200) == shown


# Texts that spell the key: "<pad>" is where filler goes to move it, "<key>" is where it goes.
JSON_API_ERROR = json.dumps(
    {
        "errors": [
            {"status": "400", "detail": f"<pad>: unknown site in GET {ENDPOINT.with_query(None)}?api_key=<key>&site=w"}
        ]
    },
    separators=(",", ":"),
)
PLAIN = "<pad> the key <key> was refused"
REDIRECT = f"<pad> see /login?next={quote(str(ENDPOINT.with_query(None)), safe='')}%3Fapi_key%3D<key>%26site%3Dw"


def cut_inside_the_key(text: str, spelled: str, limit: int) -> Iterator[str]:
    """`text` filled so that its `limit`-th character falls at each offset of `spelled`, the key as `text` spells it."""
    head, rest = text.split("<pad>")
    middle, tail = rest.split("<key>")
    for offset in range(len(spelled) + 1):
        pad = limit - offset - len(head) - len(middle)
        assert pad >= 0, "the limit is too small for this text"
        yield head + "x" * pad + middle + spelled + tail


@pytest.mark.parametrize("limit", [200, 256, 1000])
@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    ("text", "spell"),
    [
        pytest.param(JSON_API_ERROR, SPELLINGS["as sent"], id="JSON:API error echoing the request URL"),
        pytest.param(JSON_API_ERROR, SPELLINGS["JSON-escaped"], id="JSON:API error escaping slashes"),
        pytest.param(REDIRECT, lambda key: quote(as_sent(key), safe=""), id="request URL URL-encoded in another"),
        *(pytest.param(PLAIN, SPELLINGS[name], id=f"plain text, key {name}") for name in SPELLINGS),
    ],
)
def test_no_piece_of_the_key_survives_a_cut(text: str, spell: Callable[[str], str], key: str, limit: int) -> None:
    for body in cut_inside_the_key(text, spell(key), limit):
        for shown in (excerpt(body.encode(), key, limit), excerpt(body[:limit], key, limit)):  # cut here, or before
            assert len(shown) <= limit
            assert not leaked(shown, key), shown


def json_escaped(key: str) -> str:
    """The key as a JSON encoder that escapes every character would write it (`\\u0041...`)."""
    return "".join(f"\\u{ord(char):04x}" for char in key)


QUOTED_KEY = 'sk-"quoted"\\key<&>é'  # a key with characters JSON and HTML both escape


@pytest.mark.parametrize(
    "spelled",
    [
        json.dumps(QUOTED_KEY)[1:-1],  # \" and \\ and \u00e9
        json.dumps(QUOTED_KEY, ensure_ascii=False)[1:-1],
        json_escaped(QUOTED_KEY),
        json_escaped(QUOTED_KEY).upper().replace("\\U", "\\u"),
        html.escape(QUOTED_KEY),  # &quot; &amp; &lt; &gt;
        "".join(f"&#{ord(char)};" for char in QUOTED_KEY),
        "".join(f"&#x{ord(char):X};" for char in QUOTED_KEY),
        html.escape(json.dumps(QUOTED_KEY)[1:-1]).replace("&quot;", "&#34;"),  # HTML-escaped, then a mix
        quote(QUOTED_KEY, safe=""),
    ],
    ids=["json", "json-utf8", "json-every-char", "json-upper-hex", "html", "html-decimal", "html-hex", "mixed", "url"],
)
def test_an_escaped_echo_of_the_key_is_masked(spelled: str) -> None:
    """A 4xx body may echo the key as its server's encoder escapes it: every escape is masked, in a whole body and in
    an excerpt cut inside it."""
    body = f'{{"detail": "invalid key {spelled} for site w"}}'

    assert redact(body, QUOTED_KEY) == f'{{"detail": "invalid key {MASK} for site w"}}'
    start = body.index(spelled)
    for limit in range(start + len(spelled) // 2, start + len(spelled)):  # at least 3 of its characters shown
        assert excerpt(body[:limit], QUOTED_KEY, limit) == body[:start] + MASK


@pytest.mark.parametrize("key", ["a", "ab", "e1", "pi"])
def test_a_very_short_key_does_not_garble_messages(key: str) -> None:
    """Masked where it stands alone, left alone inside words: the message stays readable."""
    message = "the API key was rejected for site 'paris' (HTTP 401): check site_api_key"

    assert redact(message, key) == message
    assert redact(f"invalid key: {key}.", key) == f"invalid key: {MASK}."
    assert excerpt(message, key, 200) == message


def test_a_site_name_holding_api_key_is_left_whole_in_its_cursor() -> None:
    """The cursor is masked again before it is saved: a site named `x api_key=y` must come back as itself."""
    cursor = str(ENDPOINT.update_query({"site": "north api_key=7", "page[number]": "3"}))

    assert redact(cursor, "") == cursor
    assert URL(redact(cursor, KEY)).query["site"] == "north api_key=7"

"""redact(): the API key is masked in every form it can take in a log line, an error or an echoed URL."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

import pytest
from yarl import URL

from dexory_async.links import with_key
from dexory_async.redaction import MASK, redact

KEY = "sk-SECRET-123"
SPECIAL = "sk SECRET+1/2&3=4%"  # a key whose raw, percent- and plus-encoded forms all differ


def test_raw_key_is_masked() -> None:
    assert redact(f"GET /x?api_key={KEY} failed", KEY) == f"GET /x?api_key={MASK} failed"


def test_every_occurrence_is_masked() -> None:
    text = f"{KEY} then {KEY}{KEY} and again {KEY}."

    assert redact(text, KEY) == f"{MASK} then {MASK}{MASK} and again {MASK}."


def test_percent_encoded_key_is_masked() -> None:
    encoded = quote(SPECIAL, safe="")
    assert encoded == "sk%20SECRET%2B1%2F2%263%3D4%25"

    assert redact(f"url=https://h/x?api_key={encoded}&site=s", SPECIAL) == f"url=https://h/x?api_key={MASK}&site=s"


def test_plus_encoded_key_is_masked() -> None:
    encoded = quote_plus(SPECIAL)
    assert encoded == "sk+SECRET%2B1%2F2%263%3D4%25"

    assert redact(f"api_key={encoded}", SPECIAL) == f"api_key={MASK}"


def test_raw_percent_and_plus_forms_in_one_text_are_all_masked() -> None:
    text = f"raw={SPECIAL} pct={quote(SPECIAL, safe='')} plus={quote_plus(SPECIAL)}"

    redacted = redact(text, SPECIAL)

    assert redacted == f"raw={MASK} pct={MASK} plus={MASK}"
    assert "SECRET" not in redacted


def test_text_without_the_key_is_unchanged() -> None:
    text = "HTTP 503 from the server; retry 1 of 3 in 2.0s"

    assert redact(text, KEY) == text


def test_a_similar_but_different_key_is_left_alone() -> None:
    assert redact("sk-SECRET-12 and sk-SECRET-1234", "sk-SECRET-999") == "sk-SECRET-12 and sk-SECRET-1234"


@pytest.mark.parametrize("text", ["", "anything at all", f"api_key={KEY}"])
def test_empty_secret_leaves_text_unchanged(text: str) -> None:
    assert redact(text, "") == text


def test_empty_text() -> None:
    assert redact("", KEY) == ""


def test_key_as_sent_in_a_plain_request_url_is_masked() -> None:
    url = str(with_key(URL("https://api.example.test/customer-api/v1/locations?site=w"), KEY))

    assert redact(f"error fetching {url}", KEY) == (
        f"error fetching https://api.example.test/customer-api/v1/locations?site=w&api_key={MASK}"
    )


@pytest.mark.parametrize("key", ["AbC/dEf+GhI=", "AbC/dEf GhI", "key:with&amp"])
def test_key_as_yarl_encodes_it_in_the_request_url_is_masked(key: str) -> None:
    url = str(with_key(URL("https://api.example.test/customer-api/v1/locations?site=w"), key))
    echoed = f"400 Bad Request: {url}"

    redacted = redact(echoed, key)

    assert redacted == f"400 Bad Request: https://api.example.test/customer-api/v1/locations?site=w&api_key={MASK}"

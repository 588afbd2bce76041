"""Keeping the API key out of every string that leaves the process."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from yarl import URL

MASK = "***"

_MIN_FRAGMENT = 4  # a cut-off key's start shorter than this gives nothing away, and ordinary text may end like it


def _spelled_any_way(text: str) -> str:
    """A pattern for `text` with each character raw or percent-encoded, once or more, in any case."""
    return "".join(
        f"(?:{re.escape(char)}|%(?:25)*(?:{ord(char.lower()):02X}|{ord(char.upper()):02X}))" for char in text
    )


# The value of an `api_key` query parameter, whatever it holds: a server may echo a key that is not the one we hold,
# or spell ours in a way _spellings() does not know. JSON may escape "/" as "\/"; any other "\" ends the value.
_KEY_VALUE = re.compile(f"({_spelled_any_way('api_key=')})" + r"""(?:[^&\s"'#<>\\]|\\/)+""", re.IGNORECASE)


def _spellings(secret: str) -> list[str]:
    """`secret` raw and URL-encoded as yarl, quote() and quote_plus() do, each also with "/" escaped as JSON may;
    longest first, so that no spelling is masked only in part."""
    as_sent = URL.build(query={"k": secret}).raw_query_string.removeprefix("k=")  # how yarl puts it in a URL
    spellings = {secret, quote(secret, safe=""), quote_plus(secret), as_sent}
    return sorted(spellings | {spelling.replace("/", "\\/") for spelling in spellings}, key=len, reverse=True)


def redact(text: str, secret: str) -> str:
    """`text` with every spelling of `secret`, and the value of any `api_key` query parameter, replaced by a mask.
    Case is ignored: a server may re-encode a URL with lower-case hex digits."""
    if secret:
        text = re.sub("|".join(map(re.escape, _spellings(secret))), MASK, text, flags=re.IGNORECASE)
    return _KEY_VALUE.sub(lambda match: match[1] + MASK, text)


def redact_all(text: str, secrets: Iterable[str]) -> str:
    """`text` with every one of `secrets` masked, longest first (one key may contain another)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        text = redact(text, secret)
    return redact(text, "")


def excerpt(body: str | bytes, secret: str, limit: int) -> str:
    """At most `limit` characters of `body`, masked before they are cut (a cut key no longer matches the secret), with
    the start of a key at its end masked too, for a `body` that someone else cut."""
    text = redact(body.decode("utf-8", "replace") if isinstance(body, bytes) else body, secret)[:limit]
    cut = max(
        (
            size
            for spelling in _spellings(secret)
            for size in range(_MIN_FRAGMENT, len(spelling))
            if text[-size:].lower() == spelling[:size].lower()
        ),
        default=0,
    )
    return text[: len(text) - cut] + MASK if cut else text

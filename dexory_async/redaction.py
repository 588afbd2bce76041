"""Keeping the API key out of every string that leaves the process."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

from yarl import URL

MASK = "***"


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` (raw, or URL-encoded any way it may be) replaced by a mask."""
    if not secret:
        return text
    as_sent = URL.build(query={"k": secret}).raw_query_string.removeprefix("k=")  # how yarl puts it in a URL
    for form in sorted({secret, quote(secret, safe=""), quote_plus(secret), as_sent}, key=len, reverse=True):
        text = text.replace(form, MASK)
    return text

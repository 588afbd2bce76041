"""Keeping the API key out of every string that leaves the process."""

from __future__ import annotations

from urllib.parse import quote, quote_plus

MASK = "***"


def redact(text: str, secret: str) -> str:
    """`text` with every occurrence of `secret` (raw or URL-encoded) replaced by a mask."""
    if not secret:
        return text
    for form in {secret, quote(secret, safe=""), quote_plus(secret)}:
        text = text.replace(form, MASK)
    return text

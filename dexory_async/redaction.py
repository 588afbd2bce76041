"""Keeping the API key out of every string that leaves the process.

A server may echo the key in any spelling: raw, percent-encoded (once or twice, in any case), plus-encoded,
JSON-escaped (`\\u0041`, `\\"`, `\\/`), HTML-escaped (`&amp;`, `&#65;`, `&#x41;`), or a mix of them, character by
character. Every such spelling is masked, and so is the value of any `api_key` query parameter, whatever key it holds.
"""

from __future__ import annotations

import functools
import html.entities
import re
from collections.abc import Iterable

MASK = "***"

_MIN_FRAGMENT = 3  # key characters a cut-off start must show to be masked: fewer give nothing away
_SHORT_KEY = 8  # a key shorter than this is masked only as a whole token: masking its letters everywhere would
# garble every message, and a key this short is no secret worth the name

# The value of an `api_key` query parameter, whatever it holds: a server may echo a key that is not the one we hold,
# in a URL of its own or percent-encoded inside another. Only after a separator (`?`, `&`, spelled either way, or the
# start of a word): a site name holding ` api_key=` is `+api_key%3D` in a URL, so a cursor keeping it stays whole.
# JSON may escape "/" as "\/"; any other "\" ends the value.
_ENCODED = "%(?:25)*"
_NAME = "".join(f"(?:{char}|{_ENCODED}{ord(char):02X})" for char in "api_key")
_KEY_VALUE = re.compile(
    rf"""((?:^|[?&;\s"'(<>,]|{_ENCODED}(?:3F|26)){_NAME}(?:=|{_ENCODED}3D))(?:[^&\s"'#<>\\]|\\/)+""", re.IGNORECASE
)
_JSON_ESCAPED = '"\\/'
_PARTIAL_ESCAPE = (
    r"(?:(?:%(?:25)*[0-9A-F]{2}){0,3}(?:%(?:25)*[0-9A-F]?)?|\\(?:u[0-9A-F]{0,3})?|&#?x?[0-9A-F]*|&[A-Z]*)?"
)


def _spelled(char: str) -> str:
    """A pattern for `char` in any spelling a server might echo it in; the raw character last, so that an escape
    (`%25`) is masked whole rather than read as a raw character (`%`) and the rest left behind."""
    forms = ["".join(f"%(?:25)*{byte:02X}" for byte in char.encode())]
    utf16 = char.encode("utf-16-be", "surrogatepass")
    forms.append("".join(rf"\\u{utf16[i]:02X}{utf16[i + 1]:02X}" for i in range(0, len(utf16), 2)))
    as_html = _html(char)
    if char in _JSON_ESCAPED:  # `\"`, `\\`, `\/`, the escaped character itself perhaps HTML-escaped in turn
        forms.append(f"\\\\(?:{as_html}|{re.escape(char)})")
    forms.append(as_html)
    if char == " ":
        forms.append(r"\+")
    forms.append(re.escape(char))
    return f"(?:{'|'.join(forms)})"


def _html(char: str) -> str:
    """`char` as an HTML character reference: numeric, or named."""
    code = ord(char)
    names = [name for name in ("apos" if char == "'" else None, html.entities.codepoint2name.get(code)) if name]
    return "|".join([f"&#0*{code};", f"&#x0*{code:X};", *(f"&{name};" for name in names)])


@functools.lru_cache(maxsize=64)
def _pattern(secret: str) -> re.Pattern[str]:
    spelled = "".join(map(_spelled, secret))
    if len(secret) < _SHORT_KEY:
        spelled = rf"(?<![0-9A-Za-z]){spelled}(?![0-9A-Za-z])"
    return re.compile(spelled, re.IGNORECASE)


@functools.lru_cache(maxsize=64)
def _cut_start(secret: str) -> re.Pattern[str]:
    """The start of `secret`, spelled any way and cut anywhere (inside an escape too), at the very end of a text."""
    tail = ""
    for char in reversed(secret[_MIN_FRAGMENT:]):
        tail = f"(?:{_spelled(char)}{tail})?"
    head = "".join(map(_spelled, secret[:_MIN_FRAGMENT]))
    return re.compile(f"{head}{tail}{_PARTIAL_ESCAPE}\\Z", re.IGNORECASE)


def redact(text: str, secret: str) -> str:
    """`text` with every spelling of `secret`, and the value of any `api_key` query parameter, replaced by a mask.
    Case is ignored: a server may re-encode a URL with lower-case hex digits."""
    if secret:
        text = _pattern(secret).sub(MASK, text)
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
    if len(secret) <= _MIN_FRAGMENT:
        return text
    cut = _cut_start(secret).search(text)
    return text[: cut.start()] + MASK if cut else text

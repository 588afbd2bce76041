"""Faults the simulator injects on chosen pages and attempts, for testing how a client rides them out.

A fault is written `[SITE/]PAGE:KIND[=VALUE][@ATTEMPTS]`, e.g. `3:status=503@1-2` (page 3 answers 503 to its first
two requests), `5:retry_after=2` (429 with `Retry-After: 2` once), `4:malformed` (every time page 4 is served),
`north/2:echo_url=40` (page 2 of site `north` only). Without SITE a fault hits that page of every site; attempts are
counted per site and page. PAGE is the page's 1-based position, whatever numbering the API uses; ATTEMPTS is `N`,
`N-M` or `*` (default: `1` for failures, `*` for content changes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

# Answers instead of the page.
STATUS = "status"  # VALUE: the HTTP status (500, 502, 503, 504, ...)
RETRY_AFTER = "retry_after"  # 429; VALUE: seconds, or `date+N` for an HTTP date N seconds ahead
STALL = "stall"  # VALUE: seconds to wait before answering (default 3600)
RESET = "reset"  # the connection is dropped without an answer
TRUNCATED = "truncated"  # 200 with half the body
NOT_JSON = "not_json"  # 200 with an HTML error page
DATA_NOT_LIST = "data_not_list"  # 200 with `data` an object
ECHO_URL = "echo_url"  # 400 whose detail echoes the request as sent, key included; VALUE: padding before it
# Changes to the page's content.
MALFORMED = "malformed"  # malformed locations and objects added to the page (the valid ones stay); see malformed.py
NEXT_ORIGIN = "next_origin"  # VALUE: base URL of another origin that links.next points to
NEXT_LOOP = "next_loop"  # VALUE: the page links.next points back to (default 1)
NEXT_CURSOR = "next_cursor"  # links.next becomes an opaque cursor link from this page on
NEXT_BAD_PORT = "next_bad_port"  # links.next on http://127.0.0.1:99999, a port that cannot exist
NEXT_BAD_IPV6 = "next_bad_ipv6"  # links.next on http://[::1, an IPv6 literal never closed
NEXT_UNREADABLE = "next_unreadable"  # VALUE: `object` (an object without href, default) or `number`
NEXT_NULL = "next_null"  # links.next is null although more pages follow (pair with include_last off)
LOOKALIKE_KEYS = "lookalike_keys"  # locations whose keys differ only in ways a warehouse may not keep; lookalikes.py

FAILURES = frozenset({STATUS, RETRY_AFTER, STALL, RESET, TRUNCATED, NOT_JSON, DATA_NOT_LIST, ECHO_URL})
CONTENT = frozenset(
    {
        MALFORMED,
        NEXT_ORIGIN,
        NEXT_LOOP,
        NEXT_CURSOR,
        NEXT_BAD_PORT,
        NEXT_BAD_IPV6,
        NEXT_UNREADABLE,
        NEXT_NULL,
        LOOKALIKE_KEYS,
    }
)


@dataclass(frozen=True)
class Fault:
    page: int
    kind: str
    value: str | None = None
    first_attempt: int = 1
    last_attempt: int | None = 1  # None: every attempt
    site: str | None = None  # None: every site

    @classmethod
    def parse(cls, spec: str) -> Fault:
        try:
            where, rest = spec.split(":", 1)
            site, _, page = where.rpartition("/")
            rest, _, attempts = rest.partition("@")
            kind, _, value = rest.partition("=")
            if kind not in FAILURES | CONTENT:
                raise ValueError(f"unknown fault kind {kind!r}")
            first, last = _attempts(attempts or ("1" if kind in FAILURES else "*"))
            return cls(int(page), kind, value or None, first, last, site or None)
        except ValueError as error:
            raise ValueError(f"bad fault {spec!r} ([SITE/]PAGE:KIND[=VALUE][@N|N-M|*]): {error}") from None

    def applies(self, site: str, page: int, attempt: int) -> bool:
        if self.site not in (None, site) or page != self.page or attempt < self.first_attempt:
            return False
        return self.last_attempt is None or attempt <= self.last_attempt


def _attempts(text: str) -> tuple[int, int | None]:
    if text == "*":
        return 1, None
    first, _, last = text.partition("-")
    return int(first), int(last or first)


@dataclass
class FaultPlan:
    faults: list[Fault] = field(default_factory=list)
    attempts: Counter[tuple[str, int]] = field(default_factory=Counter)  # (site, page): requests so far
    injected: Counter[str] = field(default_factory=Counter)

    @classmethod
    def parse(cls, specs: list[str]) -> FaultPlan:
        return cls([Fault.parse(spec) for spec in specs])

    def sites(self) -> set[str]:
        """The sites faults are aimed at by name."""
        return {fault.site for fault in self.faults if fault.site is not None}

    def on_site(self, site: str, kind: str) -> list[Fault]:
        """The faults of `kind` that hit `site`, whatever the page and attempt."""
        return [fault for fault in self.faults if fault.kind == kind and fault.site in (None, site)]

    def next_attempt(self, site: str, page: int) -> int:
        self.attempts[site, page] += 1
        return self.attempts[site, page]

    def failure(self, site: str, page: int, attempt: int) -> Fault | None:
        for fault in self.faults:
            if fault.kind in FAILURES and fault.applies(site, page, attempt):
                self.injected[fault.kind] += 1
                return fault
        return None

    def content(self, site: str, page: int, attempt: int) -> list[Fault]:
        return [fault for fault in self.faults if fault.kind in CONTENT and fault.applies(site, page, attempt)]

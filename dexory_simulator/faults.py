"""Faults the simulator injects on chosen pages and attempts, for testing how the connector rides them out.

A fault is written `PAGE:KIND[=VALUE][@ATTEMPTS]`, e.g. `3:status=503@1-2` (page 3 answers 503 to its first two
requests), `5:retry_after=2` (429 with `Retry-After: 2` once), `4:malformed` (every time page 4 is served). PAGE is
the 1-based page number; ATTEMPTS is `N`, `N-M` or `*` (default: `1` for failures, `*` for content changes).
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
# Changes to the page's content.
MALFORMED = "malformed"  # malformed locations and objects added to the page (the valid ones stay)
NEXT_ORIGIN = "next_origin"  # VALUE: base URL of another origin that links.next points to
NEXT_LOOP = "next_loop"  # VALUE: the page number links.next points back to (default 1)
NEXT_CURSOR = "next_cursor"  # links.next becomes an opaque cursor link from this page on

FAILURES = frozenset({STATUS, RETRY_AFTER, STALL, RESET, TRUNCATED, NOT_JSON, DATA_NOT_LIST})
CONTENT = frozenset({MALFORMED, NEXT_ORIGIN, NEXT_LOOP, NEXT_CURSOR})


@dataclass(frozen=True)
class Fault:
    page: int
    kind: str
    value: str | None = None
    first_attempt: int = 1
    last_attempt: int | None = 1  # None: every attempt

    @classmethod
    def parse(cls, spec: str) -> Fault:
        try:
            page_text, rest = spec.split(":", 1)
            rest, _, attempts = rest.partition("@")
            kind, _, value = rest.partition("=")
            if kind not in FAILURES | CONTENT:
                raise ValueError(f"unknown fault kind {kind!r}")
            first, last = _attempts(attempts or ("1" if kind in FAILURES else "*"))
            return cls(int(page_text), kind, value or None, first, last)
        except ValueError as error:
            raise ValueError(f"bad fault {spec!r} (PAGE:KIND[=VALUE][@N|N-M|*]): {error}") from None

    def applies(self, page: int, attempt: int) -> bool:
        if page != self.page or attempt < self.first_attempt:
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
    attempts: Counter[int] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)

    @classmethod
    def parse(cls, specs: list[str]) -> FaultPlan:
        return cls([Fault.parse(spec) for spec in specs])

    def next_attempt(self, page: int) -> int:
        self.attempts[page] += 1
        return self.attempts[page]

    def failure(self, page: int, attempt: int) -> Fault | None:
        return self._first(page, attempt, FAILURES)

    def content(self, page: int, attempt: int) -> list[Fault]:
        return [fault for fault in self.faults if fault.kind in CONTENT and fault.applies(page, attempt)]

    def _first(self, page: int, attempt: int, kinds: frozenset[str]) -> Fault | None:
        for fault in self.faults:
            if fault.kind in kinds and fault.applies(page, attempt):
                self.injected[fault.kind] += 1
                return fault
        return None

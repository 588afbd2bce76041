"""What the simulator keeps of each request (never the key's value), and the summary it reports of them."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RequestRecord:
    at: float  # arrival, on the serving loop's clock (time.monotonic(), unless a test fakes it)
    answered: float  # when answered, or abandoned by the client, on the same clock
    path: str
    query: dict[str, str]  # the query as sent, with the key's value masked
    key_present: bool
    site: str | None  # the site asked for
    key_matches_site: bool  # the key sent is that site's own key
    page: int | None  # 1-based position of the page asked for (page[number] is in `query`)
    status: int
    fault: str | None


def stats(
    requests: Sequence[RequestRecord], in_flight: int, max_in_flight: int, injected: Mapping[str, int]
) -> dict[str, Any]:
    """For a simulator in another process: what it has seen so far."""
    return {
        "requests": len(requests),
        "in_flight": in_flight,
        "max_in_flight": max_in_flight,
        "requests_per_site": dict(Counter(record.site for record in requests if record.site is not None)),
        "mismatched_keys": sum(1 for record in requests if record.key_present and not record.key_matches_site),
        "faults_injected": dict(injected),
    }

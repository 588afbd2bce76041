"""Timed runs, in the units the table shows, and how runs that are compared are taken."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace


class BenchError(RuntimeError):
    """A measurement went wrong (not merely slow): its numbers would mean nothing."""


@dataclass(frozen=True)
class Run:
    """One timed run, in the units the table shows; `None` where a figure does not apply."""

    label: str
    site: int  # locations, over every site synced
    latency_ms: float | None
    concurrency: int | None
    pages: int
    locations: int
    objects: int
    bytes: int | None
    seconds: float
    peak_rss_mb: float | None

    @property
    def rows(self) -> int:
        return self.locations + self.objects

    def per_second(self, amount: float) -> float:
        return amount / max(self.seconds, 1e-9)

    @property
    def rows_per_s(self) -> float:
        return self.per_second(self.rows)


@dataclass(frozen=True)
class Line:
    """A row of the table: a run and what it is compared with."""

    run: Run
    ratio: str


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)
    verdicts: list[str] = field(default_factory=list)


def best_of(runs: list[Run]) -> Run:
    """The fastest run, with the largest peak RSS of them all (a peak is a peak)."""
    fastest = min(runs, key=lambda run: run.seconds)
    peaks = [run.peak_rss_mb for run in runs if run.peak_rss_mb is not None]
    return replace(fastest, peak_rss_mb=max(peaks) if peaks else None)


def interleaved(repeat: int, *measurements: Callable[[], Run]) -> list[Run]:
    """Each measurement `repeat` times, taking turns, so drift on a shared machine hits all alike; the best of each."""
    runs: list[list[Run]] = [[] for _ in measurements]
    for _ in range(repeat):
        for bucket, measurement in zip(runs, measurements, strict=True):
            bucket.append(measurement())
    return [best_of(bucket) for bucket in runs]


def times(value: float, baseline: float) -> float:
    return value / baseline if baseline > 0 else math.inf


def verdict(passed: bool, text: str) -> str:
    return f"{'PASS' if passed else 'FAIL'}  {text}"

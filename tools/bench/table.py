"""The report as a Markdown table padded so it also reads as plain text."""

from __future__ import annotations

from tools.bench.results import Line

HEADER = ("measurement", "site", "latency", "conc.", "pages/s", "locations/s", "rows/s", "MB/s", "peak RSS MB", "ratio")
RIGHT_ALIGNED = frozenset({1, 4, 5, 6, 7, 8})


def cells(line: Line) -> tuple[str, ...]:
    run = line.run
    return (
        run.label,
        f"{run.site:,}",
        "-" if run.latency_ms is None else f"{run.latency_ms:g} ms",
        "-" if run.concurrency is None else str(run.concurrency),
        f"{run.per_second(run.pages):,.1f}",
        f"{run.per_second(run.locations):,.0f}",
        f"{run.rows_per_s:,.0f}",
        "-" if run.bytes is None else f"{run.per_second(run.bytes) / 1e6:,.1f}",
        "-" if run.peak_rss_mb is None else f"{run.peak_rss_mb:,.0f}",
        line.ratio,
    )


def markdown_table(lines: list[Line]) -> str:
    rows = [HEADER, *(cells(line) for line in lines)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADER))]

    def render(row: tuple[str, ...]) -> str:
        padded = (
            cell.rjust(width) if column in RIGHT_ALIGNED else cell.ljust(width)
            for column, (cell, width) in enumerate(zip(row, widths, strict=True))
        )
        return "| " + " | ".join(padded) + " |"

    rule = "|".join(
        "-" * (width + 1) + ":" if column in RIGHT_ALIGNED else "-" * (width + 2) for column, width in enumerate(widths)
    )
    return "\n".join([render(HEADER), f"|{rule}|", *(render(row) for row in rows[1:])])

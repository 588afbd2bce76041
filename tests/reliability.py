"""The numbers behind the README's reliability table, recorded by the fault tests as they run.

A test calls `record(...)` with what it observed; when the environment variable RELIABILITY_REPORT names a file, one
JSON line per call is appended to it (nothing happens otherwise). Render the collected lines as Markdown with
`python -m tests.reliability FILE`.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dexory_simulator import Simulator

ENV = "RELIABILITY_REPORT"
COLUMNS = (
    "scenario",
    "what the connector does",
    "proved by",
    "faults injected",
    "retries",
    "rows expected",
    "rows landed",
)


def record(
    test: str,
    scenario: str,
    behaviour: str,
    *,
    faults: Mapping[str, int] | str,
    retries: int | str,
    expected: str,
    landed: str,
) -> None:
    """Append one scenario's observed numbers to $RELIABILITY_REPORT, if set."""
    path = os.environ.get(ENV)
    if not path:
        return
    entry = {
        "test": test,
        "scenario": scenario,
        "behaviour": behaviour,
        "faults": _faults(faults),
        "retries": str(retries),
        "expected": expected,
        "landed": landed,
    }
    with open(path, "a", encoding="utf-8") as report:
        report.write(json.dumps(entry, ensure_ascii=False) + "\n")


def rows(locations: int, objects: int) -> str:
    return f"{locations:,} locations + {objects:,} objects"


def truth_rows(simulator: Simulator) -> str:
    truth = simulator.ground_truth()
    return rows(truth.locations, truth.objects)


def _faults(faults: Mapping[str, int] | str) -> str:
    if isinstance(faults, str):
        return faults
    return ", ".join(f"{kind} x{count}" for kind, count in sorted(faults.items()) if count) or "none"


def render(lines: list[str]) -> str:
    """A Markdown table, one row per scenario (the last record wins when a test ran more than once)."""
    entries: dict[tuple[str, str], dict[str, Any]] = {}
    for line in lines:
        if line.strip():
            entry = json.loads(line)
            entries[(entry["test"], entry["scenario"])] = entry
    table = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    for entry in entries.values():
        cells = (
            entry["scenario"],
            entry["behaviour"],
            f"`{entry['test']}`",
            entry["faults"],
            entry["retries"],
            entry["expected"],
            entry["landed"],
        )
        table.append("| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(table) + "\n"


if __name__ == "__main__":
    sys.stdout.write(render(Path(sys.argv[1]).read_text(encoding="utf-8").splitlines()))

"""A sink that records what a sync writes, in order, for tests of the bridge without the SDK."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from dexory_async.tables import LOCATIONS, OBJECTS


@dataclass
class RecordingSink:
    """Upserts, deletes, checkpoints and log lines, recorded; each checkpoint with the location and object rows
    written before it. `on_row` runs as each row is written (a slow warehouse moving a fake clock, say);
    `fail_at_row` makes that row's upsert raise."""

    upserted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    deleted: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    checkpoints: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (data rows so far, state as JSON)
    logs: list[tuple[int, str]] = field(default_factory=list)
    on_row: Callable[[], None] = lambda: None
    fail_at_row: int | None = None

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        if table in (LOCATIONS, OBJECTS):
            if self.fail_at_row is not None and self.data_rows + 1 == self.fail_at_row:
                raise RuntimeError("the warehouse is down")
            self.on_row()
        self.upserted.append((table, data))

    def delete(self, table: str, keys: dict[str, Any]) -> None:
        self.deleted.append((table, keys))

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.checkpoints.append((self.data_rows, json.loads(json.dumps(state))))

    def log(self, level: int, message: str) -> None:
        self.logs.append((level, message))

    @property
    def data_rows(self) -> int:
        return sum(1 for table, _ in self.upserted if table in (LOCATIONS, OBJECTS))

    def rows_of(self, table: str) -> list[dict[str, Any]]:
        return [data for name, data in self.upserted if name == table]

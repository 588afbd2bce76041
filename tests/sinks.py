"""A sink that records what a sync writes, in order, for tests of the bridge without the SDK; and the tables a
warehouse would hold after those writes."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from dexory_async.tables import LOCATIONS, OBJECTS, table_definitions

DELETED = "_fivetran_deleted"
PRIMARY_KEYS = {definition["table"]: tuple(definition["primary_key"]) for definition in table_definitions()}


@dataclass
class RecordingSink:
    """Upserts and deletes in the order they came, checkpoints and log lines; each checkpoint with the location and
    object rows written before it. `on_row` runs as each row is written (a slow warehouse moving a fake clock, say);
    `fail_at_row` makes that row's upsert raise."""

    writes: list[tuple[Literal["upsert", "delete"], str, dict[str, Any]]] = field(default_factory=list)
    checkpoints: list[tuple[int, dict[str, Any]]] = field(default_factory=list)  # (data rows so far, state as JSON)
    logs: list[tuple[int, str]] = field(default_factory=list)
    on_row: Callable[[], None] = lambda: None
    fail_at_row: int | None = None
    data_rows: int = 0  # location and object rows upserted so far

    def upsert(self, table: str, data: dict[str, Any]) -> None:
        if table in (LOCATIONS, OBJECTS):
            if self.data_rows + 1 == self.fail_at_row:
                raise RuntimeError("the warehouse is down")
            self.on_row()
            self.data_rows += 1
        self.writes.append(("upsert", table, data))

    def delete(self, table: str, keys: dict[str, Any]) -> None:
        self.writes.append(("delete", table, keys))

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.checkpoints.append((self.data_rows, json.loads(json.dumps(state))))

    def log(self, level: int, message: str) -> None:
        self.logs.append((level, message))

    @property
    def upserted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(table, data) for operation, table, data in self.writes if operation == "upsert"]

    @property
    def deleted(self) -> list[tuple[str, dict[str, Any]]]:
        return [(table, keys) for operation, table, keys in self.writes if operation == "delete"]

    def rows_of(self, table: str) -> list[dict[str, Any]]:
        return [data for name, data in self.upserted if name == table]

    def table(self, name: str) -> list[dict[str, Any]]:
        """The rows of table `name` as a warehouse holds them after every write so far: an upsert replaces the row
        with its primary key, a delete marks that row deleted (as Fivetran's soft delete does)."""
        primary_key = PRIMARY_KEYS[name]
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        for operation, table, data in self.writes:
            if table != name:
                continue
            key = tuple(data[column] for column in primary_key)
            if operation == "upsert":
                rows[key] = {**data, DELETED: False}
            elif key in rows:
                rows[key] = {**rows[key], DELETED: True}
        return list(rows.values())

    def current(self, name: str) -> list[dict[str, Any]]:
        """The rows of `name` not marked deleted."""
        return [row for row in self.table(name) if not row[DELETED]]

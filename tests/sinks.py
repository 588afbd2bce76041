"""A sink that records what a sync writes, in order, for tests of the bridge without the SDK; and the tables a
warehouse would hold after those writes."""

from __future__ import annotations

import copy
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
    committed: list[int] = field(default_factory=list)  # per checkpoint, how many writes it committed
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
        self.writes.append(("upsert", table, copy.copy(data)))

    def delete(self, table: str, keys: dict[str, Any]) -> None:
        self.writes.append(("delete", table, copy.copy(keys)))

    def checkpoint(self, state: dict[str, Any]) -> None:
        self.checkpoints.append((self.data_rows, json.loads(json.dumps(state))))
        self.committed.append(len(self.writes))

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
        """The rows of table `name` as a warehouse holds them once the last checkpoint committed the writes before
        it: an upsert replaces the row with its primary key, a delete marks that row deleted (as Fivetran's soft
        delete does). Keys compare as Python values: what the warehouse itself would merge (a number and its text,
        timestamps under a microsecond apart) is for the end-to-end tests."""
        primary_key = PRIMARY_KEYS[name]
        rows: dict[tuple[Any, ...], dict[str, Any]] = {}
        committed = self.committed[-1] if self.committed else 0
        for operation, table, data in self.writes[:committed]:
            if table != name:
                continue
            key = tuple(data[column] for column in primary_key)
            if operation == "upsert":
                rows[key] = {**data, DELETED: False}
            elif key in rows:
                rows[key] = {**rows[key], DELETED: True}
        return list(rows.values())

    def current(self, name: str) -> list[dict[str, Any]]:
        """The rows of `name` not marked deleted, as the last checkpoint committed them."""
        return [row for row in self.table(name) if not row[DELETED]]

    def committed_at(self, checkpoint: int) -> RecordingSink:
        """A warehouse holding only what checkpoint number `checkpoint` committed: where a process killed after it
        left things (its later writes never committed), for the next sync to resume from."""
        kept = self.committed[checkpoint]
        return RecordingSink(
            writes=self.writes[:kept],
            checkpoints=self.checkpoints[: checkpoint + 1],
            committed=self.committed[: checkpoint + 1],
            data_rows=self.checkpoints[checkpoint][0],
        )

"""Where a sync's rows, deletes, checkpoints and log lines go: the SDK's operations in production, a recording sink in
tests. The bridge in `connector.py` drains pages into one; nothing else in the library writes to the warehouse."""

from __future__ import annotations

from typing import Any, Protocol

from .flatten import Row


class Sink(Protocol):
    def upsert(self, table: str, data: Row) -> None: ...

    def delete(self, table: str, keys: Row) -> None:
        """A soft delete: the row stays, marked `_fivetran_deleted`."""

    def checkpoint(self, state: dict[str, Any]) -> None:
        """Returns once everything written before it is committed along with `state`."""

    def log(self, level: int, message: str) -> None: ...

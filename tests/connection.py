"""A Fivetran connection run in the test's process: `connector.sync`, every line `update()` runs, writing to a
recording sink, the simulator answering in memory, and the state carried from one sync to the next as Fivetran
carries it (the last checkpoint's). What `fivetran debug` adds (the CLI, the SDK's warehouse and its log format) is
left to the end-to-end tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import connector
from dexory_async.tables import LOCATIONS, OBJECTS
from dexory_simulator import GroundTruth, Simulator
from tests.conftest import in_memory
from tests.sinks import RecordingSink


@dataclass(frozen=True)
class Synced:
    """How one sync ended, and what it logged and checkpointed."""

    error: Exception | None
    logs: list[str]
    checkpoints: list[dict[str, Any]]

    @property
    def succeeded(self) -> bool:
        return self.error is None

    @property
    def output(self) -> str:
        """Its log lines, then the error it failed with: what `fivetran debug` prints of them."""
        return "\n".join([*self.logs, *([str(self.error)] if self.error is not None else [])])


@dataclass
class Connection:
    """One connection: its configuration, the state its last checkpoint left, and the warehouse every sync writes."""

    simulator: Simulator
    configuration: dict[str, str]
    sink: RecordingSink = field(default_factory=RecordingSink)
    state: dict[str, Any] = field(default_factory=dict)
    other_hosts: tuple[Simulator, ...] = ()  # also answering, each at its own origin (see `in_memory`)

    def sync(self) -> Synced:
        logs, saved = len(self.sink.logs), len(self.sink.checkpoints)
        error: Exception | None = None
        try:
            connector.sync(
                self.configuration,
                self.state,
                self.sink,
                transport=lambda: in_memory(self.simulator, *self.other_hosts),
            )
        except Exception as failure:  # how the sync ended is what the test asserts on
            error = failure
        checkpoints = [state for _, state in self.sink.checkpoints[saved:]]
        if checkpoints:
            self.state = checkpoints[-1]
        return Synced(error, [message for _, message in self.sink.logs[logs:]], checkpoints)

    def landed(self, site: str | None = None) -> GroundTruth:
        """Locations and objects the warehouse holds (of `site`, or of every site), deleted ones left out."""
        return GroundTruth(
            *(
                sum(1 for row in self.sink.current(table) if site is None or row["site"] == site)
                for table in (LOCATIONS, OBJECTS)
            )
        )

"""A Fivetran connection run in the test's process: `connector.sync`, every line `update()` runs, writing to a
recording sink, the simulator answering in memory, and the state carried from one sync to the next as Fivetran
carries it (the last checkpoint's). What `fivetran debug` adds (the CLI, the SDK's warehouse and its log format) is
left to the end-to-end tests."""

from __future__ import annotations

import copy
import json
import traceback
from collections.abc import Iterable
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
        """Its log lines, then the error it failed with, traceback and chained causes included: what `fivetran
        debug` prints of them, and its crash report holds."""
        failure = traceback.format_exception(self.error) if self.error is not None else []
        return "\n".join([*self.logs, *failure])


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
                copy.deepcopy(self.state),  # as the SDK hands it over: the recorded checkpoints stay as they were
                self.sink,
                transport=lambda: in_memory(self.simulator, *self.other_hosts),
            )
        except Exception as failure:  # how the sync ended is what the test asserts on
            error = failure
        checkpoints = [state for _, state in self.sink.checkpoints[saved:]]
        if checkpoints:
            self.state = checkpoints[-1]
        return Synced(error, [message for _, message in self.sink.logs[logs:]], checkpoints)

    def assert_no_key(self, keys: Iterable[str], *runs: Synced) -> None:
        """What the end-to-end key guard checks of a project, in process: no key in any run's output (tracebacks
        included), any checkpoint, or any write the warehouse was sent."""
        written = [*(run.output for run in runs), json.dumps([self.sink.checkpoints, self.sink.writes], default=str)]
        for key in keys:
            assert not any(key in text for text in written), "an API key leaked into what the sync wrote"

    def landed(self, site: str | None = None) -> GroundTruth:
        """Locations and objects the warehouse holds (of `site`, or of every site) as the last checkpoint committed
        them, deleted ones left out."""
        return GroundTruth(
            *(
                sum(1 for row in self.sink.current(table) if site is None or row["site"] == site)
                for table in (LOCATIONS, OBJECTS)
            )
        )

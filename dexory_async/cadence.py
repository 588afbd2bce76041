"""When the bridge saves progress: about every `checkpoint_interval_seconds`, sooner once `checkpoint_max_rows` rows
were written since the last save (rows waiting for a checkpoint take the sink's memory), and only between pages."""

from __future__ import annotations

import time
from collections.abc import Callable


class CheckpointCadence:
    def __init__(self, interval_seconds: float, max_rows: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._interval = interval_seconds
        self._max_rows = max_rows
        self._clock = clock
        self._last = clock()
        self._rows = 0

    def wrote(self, rows: int) -> None:
        self._rows += rows

    def due(self) -> bool:
        return self._rows >= self._max_rows or self._clock() - self._last >= self._interval

    def saved(self) -> None:
        self._last = self._clock()
        self._rows = 0

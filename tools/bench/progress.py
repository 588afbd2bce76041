"""The lines `make bench` writes to stderr while it runs: time elapsed, then the section or the run starting."""

from __future__ import annotations

import sys
import time

_STARTED = time.monotonic()


def progress(text: str) -> None:
    minutes, seconds = divmod(int(time.monotonic() - _STARTED), 60)
    print(f"[{minutes:02d}:{seconds:02d}] {text}", file=sys.stderr, flush=True)

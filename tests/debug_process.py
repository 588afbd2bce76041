"""Running `fivetran debug` as a process the test can watch and kill mid-sync, and reading the state it leaves (or a
checkpoint of a connection run in process holds)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
from pathlib import Path
from typing import Any

from tools.fivetran_cli import cli_env, debug_command, run_debug


class StreamedDebug:
    """`fivetran debug` in its own process group, its output read line by line as it comes."""

    def __init__(self, project: Path, home: Path) -> None:
        self.lines: list[str] = []
        self.process = subprocess.Popen(
            debug_command(project),
            cwd=project,
            env=cli_env(home),
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            preexec_fn=_interruptible,
        )
        self._reader = threading.Thread(target=self._read, name="debug-output", daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)

    def count(self, text: str) -> int:
        return sum(text in line for line in list(self.lines))

    def kill(self) -> None:
        """SIGKILL the whole process group (the CLI and anything it started), then collect what it printed."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()

    @property
    def output(self) -> str:
        return "".join(self.lines)


def state_of(project: Path) -> dict[str, Any]:
    path = project / "files" / "state.json"
    try:
        state: dict[str, Any] = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):  # not written yet
        return {}
    return state


def debug_succeeds(project: Path, home: Path) -> str:
    """`fivetran debug` on `project`, which must succeed; what it printed."""
    result = run_debug(project, home, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:]
    return result.stdout


def site_state(project: Path, site: str = "demo-site") -> dict[str, Any]:
    return entry_of(state_of(project), site)


def entry_of(state: dict[str, Any], site: str = "demo-site") -> dict[str, Any]:
    """What `state` (a checkpoint's, or state.json's) holds of `site`: its cursor and counts while it resumes."""
    entry: dict[str, Any] = state.get("sites", {}).get(site, {})
    return entry


def _interruptible() -> None:
    """SIGINT at its default in the child, as in a terminal: a pytest-xdist worker ignores it, and an ignored signal
    stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.default_int_handler)

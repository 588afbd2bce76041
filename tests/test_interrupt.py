"""A sync stopped by SIGINT or SIGTERM saves its progress and fails saying so, as any failure does, instead of
crashing on KeyboardInterrupt (or dying silently on SIGTERM) between two checkpoints; the next sync resumes."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from dexory_simulator import SimulatorConfig, serve_in_thread
from tests.conftest import TEST_KEY, configuration_for, wait_until
from tests.debug_process import StreamedDebug, site_state
from tests.warehouse import landed
from tools.fivetran_cli import run_debug, stage_project, write_configuration


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_saves_progress_and_the_next_sync_resumes(tmp_path: Path, home: Path, signum: signal.Signals) -> None:
    project = stage_project(tmp_path / "project")
    # 20 small pages, one at a time, each answered after 100 ms and checkpointed: the signal, sent once 2 pages are
    # saved, lands with well over a second of the sync still to go.
    config = SimulatorConfig(locations=200, seed=8, api_key=TEST_KEY, latency_ms=100)
    with serve_in_thread(config) as simulator:
        write_configuration(project, configuration_for(simulator, page_size=10, concurrency=1, checkpoint_max_rows=1))
        debug = StreamedDebug(project, home)
        assert wait_until(lambda: site_state(project).get("pages", 0) >= 2, timeout=120), debug.output
        debug.process.send_signal(signum)
        debug.process.wait(60)
        debug.kill()  # collects what it printed
        saved = site_state(project)

        # The rest at full speed, checkpointed as usual (a checkpoint costs `fivetran debug` far more than a page).
        simulator.config.latency_ms = 0
        write_configuration(project, configuration_for(simulator, page_size=10))
        result = run_debug(project, home, timeout=300)
        truth = simulator.ground_truth()

    assert f"interrupted ({signum.name}); progress saved" in debug.output
    assert "KeyboardInterrupt" not in debug.output and debug.process.returncode != 0  # a failure, as any, not a crash
    assert "cursor" in saved and saved["pages"] >= 2
    assert result.returncode == 0 and "resuming the interrupted sync" in result.stdout
    rows = landed(project / "files" / "warehouse.db")
    assert (rows.locations, rows.objects) == (truth.locations, truth.objects)

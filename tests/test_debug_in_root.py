"""`fivetran debug` in the project root itself, as Fivetran's docs have users run it, with tests/ and tools/ in it.

The CLI's dependency check runs pipreqs over every .py file under the root. An import pipreqs cannot resolve from
the installed packages (such as `tomllib`, missing from its standard-library list) sends it to PyPI, and the SDK
retries that three times over 12 seconds before going on with a SEVERE line.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from dexory_simulator import SimulatorConfig, serve_in_thread
from tests.conftest import TEST_KEY, configuration_for
from tests.warehouse import landed
from tools.fivetran_cli import ROOT, run_debug, write_configuration

PIPREQS_TROUBLE = ("pipreqs", "WARNING", "SEVERE")  # every line of a failed check has one of these


def working_tree_copy(dest: Path) -> Path:
    """Copy the project root as a clone with the uncommitted work would hold it: tracked and untracked files, without
    what .gitignore leaves out (.venv, build/, files/, configuration.json)."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    for name in filter(None, listing.split("\0")):
        source = ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is still listed
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def test_debug_in_the_project_root_is_clean_and_lands_the_ground_truth(tmp_path: Path, home: Path) -> None:
    project = working_tree_copy(tmp_path / "project")
    assert (project / "tests").is_dir() and (project / "tools").is_dir()
    with serve_in_thread(SimulatorConfig(locations=200, seed=8, api_key=TEST_KEY)) as simulator:
        write_configuration(project, configuration_for(simulator))
        result = run_debug(project, home, timeout=300)
        truth = simulator.ground_truth()
    assert result.returncode == 0, result.stdout[-3000:]
    assert [line for line in result.stdout.splitlines() if any(word in line for word in PIPREQS_TROUBLE)] == []
    rows = landed(project / "files" / "warehouse.db")
    assert (rows.locations, rows.objects) == (truth.locations, truth.objects)

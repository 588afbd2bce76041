"""Running the real `fivetran` CLI the same way everywhere (demo, tests, benchmark, packaging).

The CLI scans the project it is given (pipreqs for dependencies, the packager for files), so it gets a staged copy
holding only what Fivetran runs: `connector.py`, the `dexory_async` package, and a minimal
`pyproject.toml`. It runs offline: telemetry off, a private HOME whose version-check timestamps are in the far
future, and pipreqs finding every installed import locally (`tools.pipreqs_hints`), so no run waits on PyPI.
"""

from __future__ import annotations

import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from tools.pipreqs_hints import FOLDER, hints_folder

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
FIVETRAN = str(VENV_BIN / "fivetran")
NEVER = 9_999_999_999  # a version-check timestamp far in the future: never check
# What the CLI says when the dependency check is unhappy (pipreqs failing, or pyproject.toml not matching the imports).
DEPENDENCY_COMPLAINTS = (
    "pipreqs",
    "Include the following dependency",
    "not at the current stable version",
    "We recommend using the current stable version",
    "dependencies are not needed",
)
RUNTIME_EXCLUDES = shutil.ignore_patterns("__pycache__", "*.pyc")
DISTRIBUTION = "dexory-fivetran"  # the project's name in pyproject.toml


def stage_project(dest: Path, *, fresh: bool = True) -> Path:
    """Copy what Fivetran deploys into `dest` and return it. `fresh` also drops what earlier runs left there
    (files/ with the warehouse and state, configuration.json); without it they are kept, so a sync can resume."""
    if fresh and dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(dest / "dexory_async", ignore_errors=True)
    shutil.copy2(ROOT / "connector.py", dest / "connector.py")
    shutil.copytree(ROOT / "dexory_async", dest / "dexory_async", ignore=RUNTIME_EXCLUDES)
    (dest / "pyproject.toml").write_text(runtime_pyproject())
    (dest / ".gitignore").write_text("configuration.json\nstate.json\nfiles/\n__pycache__/\n")
    return dest


def runtime_pyproject() -> str:
    """A `pyproject.toml` declaring only the runtime dependencies, taken from the installed project's metadata (which
    `make install` refreshes whenever pyproject.toml changes). Not parsed with `tomllib`: pipreqs' standard-library
    list predates it, so any file importing it makes `fivetran debug` in the project root look it up on PyPI."""
    metadata = importlib.metadata.metadata(DISTRIBUTION)
    runtime = [requirement for requirement in metadata.get_all("Requires-Dist", []) if "extra ==" not in requirement]
    dependencies = "".join(f'    "{requirement}",\n' for requirement in runtime)
    return (
        f'[project]\nname = "{metadata["Name"]}"\nversion = "{metadata["Version"]}"\n'
        f'requires-python = "{metadata["Requires-Python"]}"\ndependencies = [\n{dependencies}]\n'
    )


def seed_home(home: Path) -> Path:
    """A HOME for the CLI where the SDK's and core's PyPI version checks count as just done."""
    sdk = home / ".fivetran" / "connector_sdk"
    core = home / ".fivetran" / "connector_sdk_core"
    sdk.mkdir(parents=True, exist_ok=True)
    core.mkdir(parents=True, exist_ok=True)
    (sdk / "_last_version_check").write_text(str(NEVER))
    (core / "_config.json").write_text(json.dumps({"lastVersionCheck": NEVER, "licenseNoticeShown": True}))
    return home


def cli_env(home: Path | None = None) -> dict[str, str]:
    """The CLI's environment, with the folder where pipreqs finds the installed imports on PYTHONPATH."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(hints_folder(FOLDER)), env.get("PYTHONPATH")]))
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["DO_NOT_TRACK"] = "1"
    env["PYTHONUNBUFFERED"] = "1"
    if home is not None:
        env["HOME"] = str(seed_home(home))
    return env


def dependency_complaints(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(marker in line for marker in DEPENDENCY_COMPLAINTS)]


def write_configuration(project: Path, configuration: dict[str, str]) -> Path:
    path = project / "configuration.json"
    path.write_text(json.dumps(configuration, indent=2))
    path.chmod(0o600)
    return path


def run_cli(arguments: list[str], home: Path | None, timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """Any `fivetran` command, non-interactive, output captured."""
    return subprocess.run(
        [FIVETRAN, *arguments],
        env=cli_env(home),
        text=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )


def debug_arguments(project: Path, state: Path | None = None) -> list[str]:
    """`debug` on `project` with its configuration.json (the CLI resolves both paths against the project)."""
    arguments = ["debug", str(project), "--configuration", "configuration.json"]
    return arguments if state is None else [*arguments, "--state", str(state)]


def debug_command(project: Path, state: Path | None = None) -> list[str]:
    return [FIVETRAN, *debug_arguments(project, state)]


def run_debug(
    project: Path,
    home: Path,
    state: Path | None = None,
    timeout: float = 600,
    log_path: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """`fivetran debug` on a staged project whose configuration.json is written; output captured (and saved)."""
    result = run_cli(debug_arguments(project, state), home, timeout)
    if log_path is not None:
        log_path.write_text(result.stdout)
    return result

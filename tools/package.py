"""`make package`: the upload zip, built by the SDK's own packager from a staged copy of the runtime files.

Staging keeps tests, the simulator, local configuration and the venv out of the zip whatever the packager's rules.
"""

from __future__ import annotations

import shutil
import sys
import zipfile
from pathlib import Path

from tools.fivetran_cli import ROOT, dependency_complaints, run_cli, stage_project

PROJECT_NAME = "dexory_fivetran"
DIST = ROOT / "dist" / f"{PROJECT_NAME}.zip"


def build_package(work: Path = ROOT / "build") -> Path:
    """Stage, run `fivetran package --non-interactive`, check its log; the zip's path."""
    project = stage_project(work / "package" / PROJECT_NAME)
    result = run_cli(["package", str(project), "--non-interactive"], home=work / "fivetran-home")
    print(result.stdout, end="")
    complaints = dependency_complaints(result.stdout)
    if result.returncode != 0 or complaints:
        raise SystemExit(f"fivetran package failed or complained (exit {result.returncode}): {complaints}")
    return project / "files" / f"{PROJECT_NAME}.zip"


def main() -> None:
    DIST.parent.mkdir(exist_ok=True)
    path = Path(shutil.copy2(build_package(), DIST))
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    print(f"\n{path.relative_to(ROOT)}: {len(names)} files")
    for name in sorted(names):
        print(f"  {name}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()

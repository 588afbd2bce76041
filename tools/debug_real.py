"""`make debug`: `fivetran debug` against the real Dexory API with your own configuration.json.

The runtime files are staged into build/debug; its files/ (warehouse.db, state.json) are kept between runs, so an
interrupted sync resumes there. Uses your real HOME, so values encrypted by `fivetran configuration` decrypt.
"""

from __future__ import annotations

import shutil
import subprocess
import sys

from tools.fivetran_cli import ROOT, cli_env, debug_command, stage_project

CONFIGURATION = ROOT / "configuration.json"


def main() -> int:
    if not CONFIGURATION.exists():
        print(
            f"{CONFIGURATION.name} not found in {ROOT}.\n"
            f"Copy configuration.json.example to configuration.json, fill in site_name and site_api_key "
            f"(every value is a string), then run `make debug` again.",
            file=sys.stderr,
        )
        return 2
    project = stage_project(ROOT / "build" / "debug", fresh=False)
    shutil.copy2(CONFIGURATION, project / "configuration.json")
    print(f"staged into {project}; the warehouse is {project / 'files' / 'warehouse.db'}", flush=True)
    return subprocess.run(debug_command(project), cwd=project, env=cli_env(), check=False).returncode


if __name__ == "__main__":
    sys.exit(main())

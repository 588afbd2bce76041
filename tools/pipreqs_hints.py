"""The import names pipreqs cannot find among the installed distributions, in a folder the CLI puts on PYTHONPATH.

`fivetran debug` checks dependencies with pipreqs, which learns what a distribution exports only from a file named
`top_level.txt` in a folder named `NAME-VERSION...` anywhere under its `sys.path`. Wheels built by poetry (backoff)
or maturin (orjson) ship none, so pipreqs looks those imports up on PyPI: offline, three tries over 12 s and a SEVERE
line on every run. `hints_folder()` writes one such file per distribution that lacks it, derived from its RECORD,
into build/, and `tools.fivetran_cli` runs every CLI command with that folder on PYTHONPATH; `make install` also puts
it on the environment's own path (a `.pth` file), so a plain `fivetran debug` in the project root, as Fivetran's docs
run it, is as quiet. No installed distribution is changed, and the hints follow whatever is installed. Its subfolders
(`backoff-2.2.1`) are no dist-info, so `importlib.metadata` never sees them, and no module can be imported from them.
"""

from __future__ import annotations

import importlib.metadata
import sysconfig
from pathlib import Path

TOP_LEVEL = "top_level.txt"
FOLDER = Path(__file__).resolve().parent.parent / "build" / "pipreqs-hints"
PATH_FILE = "dexory_pipreqs_hints.pth"


def import_names(distribution: importlib.metadata.Distribution) -> set[str]:
    """The top-level packages and modules of `distribution`, from the files it installed."""
    names = set()
    for path in distribution.files or ():
        top = path.parts[0] if path.parts else ""
        if not top or top in ("..", "__pycache__") or top.endswith((".dist-info", ".data")):
            continue
        if len(path.parts) == 1:
            if not top.endswith((".py", ".so", ".pyd")):
                continue
            top = top.split(".")[0]
        names.add(top)
    return names


def missing_hints() -> dict[str, set[str]]:
    """`NAME-VERSION` (as pipreqs splits a folder name) of every installed distribution without a top_level.txt,
    with its import names."""
    hints = {}
    for distribution in importlib.metadata.distributions():
        names = import_names(distribution) if distribution.read_text(TOP_LEVEL) is None else set()
        if names:
            name = distribution.metadata["Name"].replace("-", "_")
            hints[f"{name}-{distribution.version}"] = names
    return hints


def hints_folder(folder: Path) -> Path:
    """`folder`, holding `NAME-VERSION/top_level.txt` for every distribution that ships none; returns it."""
    for name, imports in missing_hints().items():
        (folder / name).mkdir(parents=True, exist_ok=True)
        (folder / name / TOP_LEVEL).write_text("\n".join(sorted(imports)) + "\n")
    return folder


def install(folder: Path = FOLDER) -> Path:
    """Write the hints into `folder` and put it on this environment's path; returns the `.pth` file."""
    path_file = Path(sysconfig.get_paths()["purelib"]) / PATH_FILE
    path_file.write_text(f"{hints_folder(folder)}\n")
    return path_file


if __name__ == "__main__":
    install()

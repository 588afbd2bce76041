"""pipreqs, as `fivetran debug` runs it, resolves every runtime import locally at the pinned version."""

from __future__ import annotations

import importlib.metadata
import json
import os
import subprocess
import sys
from pathlib import Path

from tools.fivetran_cli import DISTRIBUTION
from tools.pipreqs_hints import hints_folder

RUNTIME_IMPORTS = ("aiohttp", "backoff", "orjson", "yarl")
RESOLVE = (
    "import json, sys; from pipreqs.pipreqs import get_import_local; "
    "print(json.dumps({p['name']: p['version'] for p in get_import_local(sys.argv[1:])}))"
)


def resolved_locally(python_path: Path) -> dict[str, str]:
    """What pipreqs finds installed for the runtime imports, run with `python_path` on PYTHONPATH."""
    env = {**os.environ, "PYTHONPATH": str(python_path)}
    command = [sys.executable, "-c", RESOLVE, *RUNTIME_IMPORTS]
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    found: dict[str, str] = json.loads(result.stdout)
    return found


def test_every_runtime_import_resolves_at_its_pinned_version(tmp_path: Path) -> None:
    pinned = dict(
        requirement.split("==")
        for requirement in importlib.metadata.requires(DISTRIBUTION) or []
        if "extra ==" not in requirement
    )
    assert resolved_locally(hints_folder(tmp_path)) == pinned


def test_the_hints_are_invisible_to_importlib_metadata(tmp_path: Path) -> None:
    hints_folder(tmp_path)
    assert not any(path.name.endswith((".dist-info", ".egg-info")) for path in tmp_path.iterdir())
    assert list(importlib.metadata.distributions(path=[str(tmp_path)])) == []

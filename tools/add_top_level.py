"""Give every installed distribution a `top_level.txt`, derived from its RECORD, where its wheel shipped none.

`fivetran debug` checks dependencies with pipreqs, which finds an installed package only through that file; wheels
built by poetry (backoff) or maturin (orjson) lack it, and pipreqs then retries against the network on every run.
Run with the project venv's python after each install; it only adds missing files, so it is safe to repeat.
"""

from __future__ import annotations

import importlib.metadata
from pathlib import Path


def import_names(distribution: importlib.metadata.Distribution) -> set[str]:
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


def main() -> None:
    for distribution in importlib.metadata.distributions():
        if distribution.read_text("top_level.txt") is not None:
            continue
        names = import_names(distribution)
        folder = getattr(distribution, "_path", None)
        if names and isinstance(folder, Path) and folder.name.endswith(".dist-info"):
            (folder / "top_level.txt").write_text("\n".join(sorted(names)) + "\n")
            print(f"added top_level.txt to {folder.name}: {', '.join(sorted(names))}")


if __name__ == "__main__":
    main()

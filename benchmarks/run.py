"""Run every benchmark script (or those named: core, pipeline, gguf, api) in this interpreter."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

HERE = Path(__file__).parent
ALL = ("core", "pipeline", "gguf", "api")


def main(names: list[str]) -> None:
    for name in names or ALL:
        script = HERE / f"bench_{name}.py"
        if not script.exists():
            raise SystemExit(f"no benchmark named {name!r}; choose from {', '.join(ALL)}")
        sys.argv = [str(script)]  # each script parses its own (default) arguments
        try:
            runpy.run_path(str(script), run_name="__main__")
        except SystemExit as exit:
            if exit.code not in (0, None):
                raise


if __name__ == "__main__":
    main(sys.argv[1:])

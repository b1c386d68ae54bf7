"""``hatch run dist:wheels [DIR]``: build the four distributions' wheels into DIR (default ``dist``)
and print each wheel written, then the line that installs from them.

Needs only hatchling (``--no-build-isolation``: nothing is downloaded and nothing compiles).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ("abstractllm-core", "abstractllm-hf-pipeline", "abstractllm-hf-gguf", "abstractllm-hf-api")


def build(out: Path) -> list[Path]:
    """Build the wheels into ``out``; returns the wheel files this build wrote (new or rewritten)."""
    before = {path: path.stat().st_mtime_ns for path in out.glob("*.whl")} if out.is_dir() else {}
    command = [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "--wheel-dir", str(out)]
    # pip's own lines are kept back (PIP_VERBOSE in the environment, as hatch's default env sets it,
    # outweighs --quiet) and shown only when the build fails.
    built = subprocess.run(
        [*command, *(str(REPO / "packages" / name) for name in DISTRIBUTIONS)], capture_output=True, text=True, check=False
    )
    if built.returncode != 0:
        sys.stderr.write(built.stdout + built.stderr)
        raise subprocess.CalledProcessError(built.returncode, command)
    return sorted(path for path in out.glob("*.whl") if before.get(path) != path.stat().st_mtime_ns)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="hatch run dist:wheels", description=__doc__.splitlines()[0])
    parser.add_argument("dir", nargs="?", default="dist", help="where the wheels go (default: dist)")
    out = Path(parser.parse_args(argv).dir)
    try:
        written = build(out)
    except subprocess.CalledProcessError as exc:
        print(f"building the wheels failed (pip exited with {exc.returncode})", file=sys.stderr)
        return 1
    for wheel in written:
        print(f"wrote {wheel}")
    print(f"then, for example: pip install --find-links {out} abstractllm-core abstractllm-hf-api (README.md lists the choices)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

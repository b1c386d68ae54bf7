"""Draw the seeded JSONSchemaBench sample the constrained-decoding benchmark and tests use.

    python benchmarks/draw_jsonschemabench.py --git-dir <bare clone of guidance-ai/jsonschemabench> [--per-set N]

Reads the schemas under ``data/<set>/`` at the clone's HEAD, draws ``--per-set`` of each set with
``random.Random(SEED)`` over the sorted file names, and writes ``tests/data/jsonschemabench/<set>.jsonl``
(one ``{"name": ..., "schema": ...}`` per line) and ``SOURCE.json`` (the commit and the names drawn).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
from pathlib import Path

SEED = 24  # the issue this sample was drawn for
OUT = Path(__file__).resolve().parents[1] / "tests" / "data" / "jsonschemabench"


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", git_dir, *args], capture_output=True, text=True, check=True).stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--per-set", type=int, default=12)
    args = parser.parse_args()
    commit = _git(args.git_dir, "rev-parse", "HEAD").strip()
    sets = sorted(Path(line).name for line in _git(args.git_dir, "ls-tree", "--name-only", "HEAD", "data/").split())
    drawn: dict[str, list[str]] = {}
    for name in sets:
        files = sorted(_git(args.git_dir, "ls-tree", "--name-only", "HEAD", f"data/{name}/").split())
        chosen = random.Random(f"{SEED}:{name}").sample(files, min(args.per_set, len(files)))
        lines = []
        for path in chosen:
            schema = json.loads(_git(args.git_dir, "show", f"HEAD:{path}"))
            lines.append(json.dumps({"name": Path(path).stem, "schema": schema}, separators=(",", ":")))
        (OUT / f"{name}.jsonl").write_text("\n".join(lines) + "\n")
        drawn[name] = [Path(path).stem for path in chosen]
    source = {"repository": "guidance-ai/jsonschemabench", "commit": commit, "seed": SEED, "drawn": drawn}
    (OUT / "SOURCE.json").write_text(json.dumps(source, indent=1) + "\n")


if __name__ == "__main__":
    main()

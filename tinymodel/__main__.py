"""``python -m tinymodel [--out DIR]``: build (or reuse) the tiny test models and print their paths."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path

from . import ensure_tiny_models

DEFAULT_OUT = Path(__file__).resolve().parent.parent / ".cache" / "tiny-models"


def main(argv: list[str] | None = None) -> int:
    """CLI entry point; prints ``name=path`` lines on stdout, logs on stderr."""
    parser = argparse.ArgumentParser(prog="python -m tinymodel", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"cache root (default: {DEFAULT_OUT})")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    t0 = time.perf_counter()
    models = ensure_tiny_models(args.out)
    logging.getLogger("tinymodel").info("done in %.1fs", time.perf_counter() - t0)
    print(f"root={models.root}")
    print(f"pipeline_dir={models.pipeline_dir}")
    print(f"pipeline_dir_no_template={models.pipeline_dir_no_template}")
    print(f"gguf_f32={models.gguf_f32}")
    print(f"gguf_q8_0={models.gguf_q8_0}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

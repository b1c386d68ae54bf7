"""Coverage of constrained decoding on the committed JSONSchemaBench sample, one mode per child process.

``coverage(mode)`` runs this file as a child (``--mode MODE --start K --out FILE``) that asks the
project's tiny model for a reply to every sampled schema (greedy, ``max_tokens=600``) and appends one
JSON line per schema. A child that dies (a crash in native code) is recorded as ``crash`` for the
schema it was on, and a new child goes on from the next one. Each schema's outcome is one of:

- ``valid``: finished, and ``jsonschema`` (its draft, with format checking) accepts the reply;
- ``refused``: an ``abstractllm.errors`` exception before generation (the schema cannot be enforced);
- ``truncated``: cut by ``max_tokens`` (``finish_reason="length"``);
- ``caught``: the last-line check raised ``OutputParsingError`` (the constraint let an invalid value
  through, reported as an error);
- ``false success``: finished, returned as a success, and the schema rejects it;
- ``error`` (another exception) or ``crash`` (the process died).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "jsonschemabench"
PROMPT = "Reply with one example value as JSON."
MAX_TOKENS = 600
OUTCOMES = ("valid", "refused", "truncated", "caught", "false success", "error", "crash")
_CHILD_SECONDS = 1800


def sample() -> list[tuple[str, str, dict[str, Any]]]:
    """(set, name, schema) of every sampled schema, in a fixed order."""
    found = []
    for path in sorted(DATA.glob("*.jsonl")):
        for line in path.read_text().splitlines():
            entry = json.loads(line)
            found.append((path.stem, entry["name"], entry["schema"]))
    return found


def independent_errors(value: Any, schema: dict[str, Any]) -> list[str]:
    """What ``jsonschema`` itself finds wrong (not core's checker), in the schema's draft with format checking."""
    import jsonschema

    validator_class = jsonschema.validators.validator_for(schema, default=jsonschema.Draft202012Validator)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    return [error.message[:200] for error in validator.iter_errors(value)]


def classify(llm: Any, schema: dict[str, Any]) -> dict[str, Any]:
    """One schema's outcome (see the module docstring) and what explains it."""
    from abstractllm.errors import InvalidArgumentError, OutputParsingError, UnsupportedFeatureError

    fmt = {"type": "json_schema", "json_schema": {"name": "sample", "schema": schema}}
    started = time.perf_counter()
    try:
        reply = llm.generate(PROMPT, response_format=fmt, temperature=0, max_tokens=MAX_TOKENS)
    except OutputParsingError as exc:
        return {"outcome": "caught", "why": str(exc)[:300]}
    except (UnsupportedFeatureError, InvalidArgumentError) as exc:  # raised before any token is decoded
        return {"outcome": "refused", "why": f"{type(exc).__name__}: {str(exc)[:300]}", "keyword": exc.details.get("keyword")}
    except Exception as exc:  # reported, not raised: the benchmark goes on
        return {"outcome": "error", "why": f"{type(exc).__name__}: {str(exc)[:300]}"}
    seconds = round(time.perf_counter() - started, 3)
    if reply.finish_reason == "length":
        return {"outcome": "truncated", "tokens": reply.usage.completion_tokens, "seconds": seconds}
    try:
        problems = independent_errors(json.loads(str(reply)), schema)
    except ValueError as exc:
        problems = [f"not JSON: {exc}"]
    if problems:
        return {"outcome": "false success", "why": problems[:3], "text": str(reply)[:300]}
    return {"outcome": "valid", "tokens": reply.usage.completion_tokens, "seconds": seconds}


def _worker(mode: str, start: int, out: Path) -> None:
    sys.path.insert(0, str(ROOT))
    from abstractllm import create_llm
    from tinymodel import ensure_tiny_models

    models = ensure_tiny_models(ROOT / ".cache" / "tiny-models")
    where = {"model_path": str(models.gguf_f32)} if mode == "gguf" else {"model": str(models.pipeline_dir)}
    llm = create_llm("huggingface", **where)
    with out.open("a") as sink:
        for index, (group, name, schema) in enumerate(sample()):
            if index < start:
                continue
            sink.write(json.dumps({"index": index, "set": group, "name": name, **classify(llm, schema)}) + "\n")
            sink.flush()
    llm.unload()


def coverage(mode: str, out: Path) -> list[dict[str, Any]]:
    """Every sampled schema's outcome in ``mode`` (children restarted past a crash)."""
    out.unlink(missing_ok=True)
    total = len(sample())
    done: list[dict[str, Any]] = []
    while len(done) < total:
        start = len(done)
        try:
            status = subprocess.call(
                [sys.executable, __file__, "--mode", mode, "--start", str(start), "--out", str(out)], timeout=_CHILD_SECONDS
            )
        except subprocess.TimeoutExpired:
            status = -9
        done = [json.loads(line) for line in out.read_text().splitlines()] if out.exists() else []
        if status != 0 and len(done) < total:
            group, name, _ = sample()[len(done)]
            crash = {"index": len(done), "set": group, "name": name, "outcome": "crash", "why": f"exit status {status}"}
            with out.open("a") as sink:
                sink.write(json.dumps(crash) + "\n")
            done.append(crash)
    return done


def table(results: dict[str, list[dict[str, Any]]]) -> str:
    """The per set and mode table, in markdown."""
    lines = ["| set | mode | " + " | ".join(OUTCOMES) + " |", "|---|---|" + "---|" * len(OUTCOMES)]
    groups = sorted({entry["set"] for entries in results.values() for entry in entries})
    for group in [*groups, "all"]:
        for mode, entries in results.items():
            counts = Counter(entry["outcome"] for entry in entries if group in ("all", entry["set"]))
            lines.append(f"| {group} | {mode} | " + " | ".join(str(counts[name]) for name in OUTCOMES) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mode", choices=["gguf", "pipeline"], required=True)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    _worker(arguments.mode, arguments.start, arguments.out)

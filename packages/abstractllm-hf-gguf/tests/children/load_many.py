"""Child process: load each GGUF file named on stdin (one path a line) and generate two tokens.

Prints one JSON line per file: {"path", "outcome"} where outcome is "ok", "generate:<Error>"
or the name of the error class raised while loading; a raw (non-abstractllm) exception
is reported as "raw:<Type>: <message>". A crash ends the process with a signal.
"""

from __future__ import annotations

import json
import sys

from abstractllm import create_llm
from abstractllm.errors import AbstractLLMError


def outcome(path: str) -> str:
    try:
        llm = create_llm("huggingface", model_path=path)
    except AbstractLLMError as exc:
        return type(exc).__name__
    except BaseException as exc:
        return f"raw:{type(exc).__name__}: {str(exc)[:200]}"
    try:
        llm.generate("The sky is", raw=True, temperature=0, max_tokens=2)
    except AbstractLLMError as exc:
        return f"generate:{type(exc).__name__}"
    except BaseException as exc:
        return f"raw:{type(exc).__name__}: {str(exc)[:200]}"
    finally:
        llm.unload()
    return "ok"


def main() -> int:
    for line in sys.stdin:
        path = line.strip()
        if path:
            print(json.dumps({"path": path, "outcome": outcome(path)}), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

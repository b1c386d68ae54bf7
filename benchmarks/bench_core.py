"""Core benchmark: the cost of importing abstractllm, against pluggy alone, in fresh processes."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import finish, fresh_process_seconds, report

REPEATS = 15


def main() -> None:
    pluggy = fresh_process_seconds("import pluggy", REPEATS)
    plain = fresh_process_seconds("import abstractllm", REPEATS)
    names = fresh_process_seconds("from abstractllm import create_llm, Session, ModelCapability", REPEATS)
    discovery = fresh_process_seconds(
        "from abstractllm import create_llm\nfrom abstractllm._private.plugins import get_plugins\nget_plugins()", REPEATS
    )
    report(
        "core",
        [
            {"measure": "import pluggy (reference)", "value": pluggy * 1e3, "unit": "ms"},
            {
                "measure": "import abstractllm",
                "value": plain * 1e3,
                "unit": "ms",
                "ratio": plain / pluggy,
                "target": "<= 30 ms",
                "ok": plain <= 0.030,
            },
            {
                "measure": "from abstractllm import create_llm, Session, ...",
                "value": names * 1e3,
                "unit": "ms",
                "ratio": names / pluggy,
            },
            {
                "measure": "... + discover every installed plugin",
                "value": discovery * 1e3,
                "unit": "ms",
                "ratio": discovery / pluggy,
            },
        ],
    )


if __name__ == "__main__":
    main()
    finish()

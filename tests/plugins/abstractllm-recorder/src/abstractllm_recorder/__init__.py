"""Wraps every generate call: counts calls per provider/mode and the text they returned.

When ``ABSTRACTLLM_RECORDER_UPPER=1`` it also changes replies to upper case, to prove a
wrapper can change results, not only observe them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator
from typing import Any

from abstractllm.plugins import hookimpl

CALLS: Counter[str] = Counter()
TEXTS: list[str] = []


@hookimpl(wrapper=True)
def abstractllm_generate(backend: Any, request: Any) -> Generator[None, Any, Any]:
    CALLS[f"{backend.info.provider}/{backend.info.mode}"] += 1
    completion = yield
    for choice in completion.choices:
        TEXTS.append(choice.text)
        if os.environ.get("ABSTRACTLLM_RECORDER_UPPER") == "1":
            choice.text = choice.text.upper()
    return completion

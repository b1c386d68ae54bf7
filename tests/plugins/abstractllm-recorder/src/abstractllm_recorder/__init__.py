"""Observes every call through ``abstractllm_call_finished`` (sync, async, streamed, failed or
abandoned) and wraps the sync generation hook.

``CALLS`` counts finished calls per provider/mode, ``FINISHED`` keeps one record per call
(kind, outcome, text, timing), ``TEXTS`` the sync replies the wrapper saw. When
``ABSTRACTLLM_RECORDER_UPPER=1`` the wrapper also changes sync replies to upper case, to prove
a wrapper can change results, not only observe them.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Generator
from typing import Any

from abstractllm.hookspecs import hookimpl

CALLS: Counter[str] = Counter()
FINISHED: list[dict[str, Any]] = []
TEXTS: list[str] = []


@hookimpl
def abstractllm_call_finished(call: Any) -> None:
    CALLS[f"{call.provider}/{call.mode}"] += 1
    FINISHED.append(
        {
            "kind": call.kind,
            "outcome": call.outcome,
            "text": call.completion.choices[0].text if call.completion else None,
            "error": type(call.error).__name__ if call.error else None,
            "total": call.timing.total,
            "first_token": call.timing.first_token,
        }
    )


@hookimpl(wrapper=True)
def abstractllm_generate(backend: Any, request: Any) -> Generator[None, Any, Any]:
    completion = yield
    for choice in completion.choices:
        TEXTS.append(choice.text)
        if os.environ.get("ABSTRACTLLM_RECORDER_UPPER") == "1":
            choice.text = choice.text.upper()
    return completion

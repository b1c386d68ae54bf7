"""Replies that ignore what the request constrained: a forced tool call that did not come,
structured output that is not valid for its schema.

A server may accept ``tool_choice`` and ``response_format`` and then ignore them (HF's
``transformers serve`` does). The reply looks like a success, and the caller finds out late
and misled (``.parsed`` blaming ``max_tokens``). Core's reply assembler finds what a reply
ignored (``ReplyAssembler.unmet``); on every reply of the API backend this raises it as
``UnsupportedFeatureError`` at the call, saying that the server ignored the constraint and
what to do.
"""

from __future__ import annotations

from abstractllm.blocks import Unmet
from abstractllm.errors import UnsupportedFeatureError
from abstractllm.request import GenerationRequest

__all__ = ["raise_unmet"]

_USE_ANOTHER = "use a server that enforces it (llama.cpp's server, vLLM or TGI do)"
_INSTEAD = {
    "tool_choice": "or pass tool_choice='auto' and check reply.tool_calls yourself",
    "response_format": "or drop response_format and parse the text yourself",
}
_WHAT = {"tool_choice": "forced tool calls", "response_format": "structured output"}


def raise_unmet(unmet: Unmet | None, request: GenerationRequest, *, where: str) -> None:
    """Raise ``UnsupportedFeatureError`` for a reply to ``request`` that shows the server at
    ``where`` ignored one of its constraints; nothing when ``unmet`` is None."""
    if unmet is None:
        return
    if unmet.feature == "tool_choice":
        ignored = f"tool_choice={request.tool_choice!r}"
    else:
        ignored = f"response_format ({request.response_format.kind if request.response_format else None})"
    raise UnsupportedFeatureError(
        f"{where} ignored {ignored}: {unmet.problem}. The server does not enforce {_WHAT[unmet.feature]}:"
        f" {_USE_ANOTHER}, {_INSTEAD[unmet.feature]}",
        feature=unmet.feature,
        details=dict(unmet.details),
        original_exception=unmet.cause,
    ) from unmet.cause

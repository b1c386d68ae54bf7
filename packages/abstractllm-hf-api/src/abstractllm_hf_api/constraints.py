"""Replies that ignore what the request constrained: a forced tool call that did not come,
structured output that is not valid for its schema.

A server may accept ``tool_choice`` and ``response_format`` and then ignore them (HF's
``transformers serve`` does). The reply looks like a success, and the caller finds out late
and misled (``.parsed`` blaming ``max_tokens``). These checks run on every reply of the API
backend and raise ``UnsupportedFeatureError`` at the call, saying that the server ignored
the constraint and what to do.
"""

from __future__ import annotations

from collections.abc import Sequence

from abstractllm.backend import parse_structured
from abstractllm.errors import OutputParsingError, UnsupportedFeatureError
from abstractllm.request import GenerationRequest
from abstractllm.tools import ToolCall

__all__ = ["check_constraints"]

_USE_ANOTHER = "use a server that enforces it (llama.cpp's server, vLLM or TGI do)"


def check_constraints(
    request: GenerationRequest, text: str, finish_reason: str | None, tool_calls: Sequence[ToolCall], *, where: str
) -> None:
    """Raise ``UnsupportedFeatureError`` when one reply (``text``, ``finish_reason``,
    ``tool_calls``) shows that the server at ``where`` ignored a forced ``tool_choice`` or
    the ``response_format``. A structured reply cut by ``max_tokens`` that starts as JSON
    is left for ``.parsed`` to report (raising max_tokens is then the fix)."""
    forced = request.tool_choice not in ("auto", "none") and bool(request.tools)
    if forced:
        wanted = request.tool_choice
        names = [call.name for call in tool_calls]
        if not names or (wanted != "required" and wanted not in names):
            got = f"a call to {names}" if names else f"no tool call (finish_reason {finish_reason!r})"
            cut = "; the reply was cut by max_tokens, raise it if the call did not fit" if finish_reason == "length" else ""
            raise UnsupportedFeatureError(
                f"{where} ignored tool_choice={wanted!r}: the reply has {got}{cut}. The server does not enforce forced"
                f" tool calls: {_USE_ANOTHER}, or pass tool_choice='auto' and check reply.tool_calls yourself",
                feature="tool_choice",
                details={"tool_choice": wanted, "finish_reason": finish_reason, "tool_calls": names},
            )
    response_format = request.response_format
    if response_format is None or forced or tool_calls:
        return
    if finish_reason == "length" and text.lstrip()[:1] in ("{", "["):
        return
    try:
        parse_structured(text, response_format, None)
    except OutputParsingError as exc:
        raise UnsupportedFeatureError(
            f"{where} ignored response_format ({response_format.kind}): {exc.message}. The server does not enforce"
            f" structured output: {_USE_ANOTHER}, or drop response_format and parse the text yourself",
            feature="response_format",
            details={"finish_reason": finish_reason, "reply_start": text[:200]},
            original_exception=exc,
        ) from exc

"""Functionary v3.1 (MeetKai's Llama-3.1-based models): ``<function=get_weather>{"city": "Paris"}</function>``,
one block per call, the tool's name in the open marker and its arguments as one JSON object.

Detected by ``<function=`` and ``</function>`` in a template of Llama 3's header tokens (so before
``llama3``, whose ``<|python_tag|>`` Functionary's template also holds, for its code interpreter). The
markers are plain text in Functionary's tokenizer, not special tokens. The template writes an earlier
call's ``arguments`` as the JSON text it is given, so calls are handed back unchanged. A
``<|python_tag|>`` block (the code interpreter's Python) is not read as a call.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["FUNCTIONARY"]

OPEN = "<function="
CLOSE = "</function>"


def _detect(template: str) -> bool:
    return OPEN in template and CLOSE in template and "<|start_header_id|>" in template


FUNCTIONARY = ToolFamily(
    "functionary",
    ToolMarkup(OPEN, CLOSE, name_marker=">"),
    detect=_detect,
    named_call=(OPEN + "{name}>", CLOSE),
)

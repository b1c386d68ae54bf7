"""Functionary (MeetKai's Llama-3-based models), in two versions:

- ``functionary`` (v3.1): ``<function=get_weather>{"city": "Paris"}</function>``, one block per call, the
  tool's name in the open marker and its arguments as one JSON object. Detected by ``<function=`` and
  ``</function>`` in a template of Llama 3's header tokens (so before ``llama3``, whose ``<|python_tag|>``
  Functionary's template also holds, for its code interpreter; a ``<|python_tag|>`` block is not read
  as a call).
- ``functionary_v32`` (v3.2): the prompt ends with ``>>>`` and the reply is segments
  ``<recipient>\\n<content>`` separated by ``>>>``: ``all`` for text, a tool's name for a call with the
  JSON arguments (``all\\nLet me check.>>>get_weather\\n{"city": "Paris"}``). Detected by the template's
  ``>>>all`` text recipient.

The markers are plain text in Functionary's tokenizer, not special tokens. Both templates write an
earlier call's ``arguments`` as the JSON text they are given, so calls are handed back unchanged.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["FUNCTIONARY", "FUNCTIONARY_V32"]

OPEN = "<function="
CLOSE = "</function>"
RECIPIENT_MARK = ">>>"
TEXT_RECIPIENT = "all"


def _detect(template: str) -> bool:
    return OPEN in template and CLOSE in template and "<|start_header_id|>" in template


def _detect_v32(template: str) -> bool:
    return RECIPIENT_MARK + TEXT_RECIPIENT in template and "<|start_header_id|>" in template


FUNCTIONARY = ToolFamily(
    "functionary",
    ToolMarkup(OPEN, CLOSE, name_marker=">"),
    detect=_detect,
    named_call=(OPEN + "{name}>", CLOSE),
)

FUNCTIONARY_V32 = ToolFamily(
    "functionary_v32",
    ToolMarkup(RECIPIENT_MARK, "", recipient_text=TEXT_RECIPIENT),
    detect=_detect_v32,
    named_call=("{name}\n", ""),
)

"""Llama 3.1/3.2/3.3 (JSON tool calling): a bare ``{"name": ..., "parameters": {...}}`` reply, or
``<|python_tag|>`` followed by the JSON; several calls are separated by ``;``.

Detected by ``<|python_tag|>`` in the template, or by Meta's own instruction
(``"parameters": dictionary of argument name``) in a template of Llama 3's header tokens.
A ``<|python_tag|>`` block that is not JSON (a built-in tool's Python) is an ``<unparsed>`` call.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["LLAMA3"]

PYTHON_TAG = "<|python_tag|>"


def _detect(template: str) -> bool:
    return PYTHON_TAG in template or ("<|start_header_id|>" in template and '"parameters": dictionary of argument' in template)


LLAMA3 = ToolFamily(
    "llama3",
    ToolMarkup(PYTHON_TAG, "", leading_json=True),
    detect=_detect,
    arguments_key="parameters",
    render_back=arguments_as_objects,
)

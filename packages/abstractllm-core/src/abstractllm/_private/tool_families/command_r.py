"""Command R (Cohere's Command R7B tool use): ``<|START_ACTION|>[{"tool_call_id": "0", "tool_name": ...,
"parameters": {...}}, ...]<|END_ACTION|>``, after an optional ``<|START_THINKING|>`` plan.

Detected by ``<|START_ACTION|>`` in the template. The thinking and response markers are special tokens
that decoding drops, so a plan written before the calls is shown as the reply's text. The model's
``tool_call_id`` values (``"0"``, ``"1"``, ...) are not used as call ids; the template numbers calls itself.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["COMMAND_R"]

COMMAND_R = ToolFamily(
    "command_r",
    ToolMarkup("<|START_ACTION|>", "<|END_ACTION|>"),
    detect=lambda template: "<|START_ACTION|>" in template,
    arguments_key="parameters",
    name_key="tool_name",
    list_body=True,
    render_back=arguments_as_objects,
)

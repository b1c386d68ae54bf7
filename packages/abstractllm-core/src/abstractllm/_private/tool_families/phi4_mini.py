"""Phi-4-mini: ``<|tool_call|>{...}<|/tool_call|>`` per call (a JSON list inside is read as several calls).

Detected by both markers in the template.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["PHI4_MINI"]

OPEN = "<|tool_call|>"
CLOSE = "<|/tool_call|>"

PHI4_MINI = ToolFamily(
    "phi4_mini",
    ToolMarkup(OPEN, CLOSE),
    detect=lambda template: OPEN in template and CLOSE in template,
    render_back=arguments_as_objects,
)

"""Hermes (Qwen 2.5/3, Hermes 2/3, and core's prompted fallback): ``<tool_call>{...}</tool_call>`` per call."""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily
from abstractllm._private.tool_format import FALLBACK_MARKUP

__all__ = ["HERMES"]

HERMES = ToolFamily("hermes", FALLBACK_MARKUP, detect=lambda template: FALLBACK_MARKUP.open in template)

"""The names of the tool-call families (the ``tool_format`` option's values), importable without the families."""

from __future__ import annotations

__all__ = ["TOOL_FORMATS"]

#: In the order chat templates are matched (see :mod:`abstractllm._private.tool_families`).
TOOL_FORMATS: tuple[str, ...] = (
    "mistral_v11",
    "mistral",
    "deepseek_v3",
    "deepseek",
    "command_r",
    "phi4_mini",
    "granite",
    "functiongemma",
    "functionary_v32",
    "functionary",
    "llama3",
    "hermes",
)

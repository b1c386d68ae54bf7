"""DeepSeek V3.1 (and later; its markers written here with ASCII ``|`` and ``_`` for DeepSeek's fullwidth
bar U+FF5C and U+2581, see :func:`deepseek_token`):
``<|tool_calls_begin|><|tool_call_begin|>get_weather<|tool_sep|>{...}<|tool_call_end|>``, one
``<|tool_call_begin|>`` block per call inside ``<|tool_calls_begin|>`` ... ``<|tool_calls_end|>``.

Detected by ``<|tool_sep|>`` in a template that does not fence the arguments in a JSON code block
(DeepSeek V3 and R1 write ``function<|tool_sep|>name`` and a fenced JSON: not in the table yet).
DeepSeek's template writes ``arguments`` as the JSON text it is given, so earlier calls are handed
back unchanged.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["CALLS_BEGIN", "CALLS_END", "CALL_BEGIN", "CALL_END", "DEEPSEEK", "SEP", "deepseek_token"]


def deepseek_token(words: str) -> str:
    """DeepSeek's special token of ``words``: ``"tool sep"`` is ``<|tool_sep|>`` written with a fullwidth bar
    (U+FF5C) each side and U+2581 between words, spelled with escapes so no look-alike character hides in the code."""
    return "<\uff5c" + words.replace(" ", "\u2581") + "\uff5c>"


CALLS_BEGIN = deepseek_token("tool calls begin")
CALLS_END = deepseek_token("tool calls end")
CALL_BEGIN = deepseek_token("tool call begin")
CALL_END = deepseek_token("tool call end")
SEP = deepseek_token("tool sep")

DEEPSEEK = ToolFamily(
    "deepseek",
    ToolMarkup(CALLS_BEGIN, CALLS_END, name_marker=SEP, item_open=CALL_BEGIN, item_close=CALL_END),
    detect=lambda template: SEP in template and "```json" not in template,
    named_call=(CALLS_BEGIN + CALL_BEGIN + "{name}" + SEP, CALL_END + CALLS_END),
)

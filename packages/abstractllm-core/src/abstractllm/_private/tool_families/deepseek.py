"""DeepSeek V3.1 (and later; its markers written here with ASCII ``|`` and ``_`` for DeepSeek's fullwidth
bar U+FF5C and U+2581, see :func:`deepseek_token`):
``<|tool_calls_begin|><|tool_call_begin|>get_weather<|tool_sep|>{...}<|tool_call_end|>``, one
``<|tool_call_begin|>`` block per call inside ``<|tool_calls_begin|>`` ... ``<|tool_calls_end|>``.

Detected by ``<|tool_sep|>`` in a template that does not fence the arguments in a JSON code block.
``deepseek_v3`` (DeepSeek V3, R1): ``<|tool_call_begin|>function<|tool_sep|>get_weather`` then the
arguments in a fenced JSON block and ``<|tool_call_end|>``; detected by a template that fences them.
The V3.1 template writes ``arguments`` as the JSON text it is given, so earlier calls are handed back
unchanged; the V3 template writes them ``| tojson``, so they are handed back as JSON objects.
"""

from __future__ import annotations

from abstractllm._private.tool_families.family import ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["CALLS_BEGIN", "CALLS_END", "CALL_BEGIN", "CALL_END", "DEEPSEEK", "DEEPSEEK_V3", "SEP", "deepseek_token"]


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

FENCE_OPEN = "\n```json\n"
FENCE_CLOSE = "\n```"

DEEPSEEK_V3 = ToolFamily(
    "deepseek_v3",
    ToolMarkup(
        CALLS_BEGIN, CALLS_END, name_marker=FENCE_OPEN, item_open=CALL_BEGIN + "function" + SEP, item_close="```" + CALL_END
    ),
    detect=lambda template: SEP in template and "```json" in template,
    named_call=(CALLS_BEGIN + CALL_BEGIN + "function" + SEP + "{name}" + FENCE_OPEN, FENCE_CLOSE + CALL_END + CALLS_END),
    render_back=arguments_as_objects,
)

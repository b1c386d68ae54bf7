"""FunctionGemma (Google's Gemma-3-270M function-calling model):
``<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>``,
one block per call (several blocks for parallel calls), the arguments in FunctionGemma's own syntax
(:mod:`abstractllm._private.functiongemma_syntax`: bare keys, strings wrapped in the ``<escape>`` token).
After its calls the model may go on with ``<start_function_response>``, imagining their results: that
marker ends the reply.

Detected by ``<start_function_call>`` in the chat template. Its templates show the tools in the
system (developer) turn only: a conversation with tools and no system message gets the developer
prompt Google's documentation gives FunctionGemma. Earlier calls are handed back with their
``arguments`` as objects (the templates write each key and value), and each result names its tool
(``message.name``, from the call it answers when the result does not say).
"""

from __future__ import annotations

from abstractllm._private.functiongemma_syntax import ESCAPE, SYNTAX, read_calls, write_call
from abstractllm._private.tool_families.family import Messages, ToolFamily, arguments_as_objects
from abstractllm._private.tool_format import ToolMarkup

__all__ = ["DEVELOPER_PROMPT", "FUNCTIONGEMMA"]

OPEN = "<start_function_call>"
CLOSE = "<end_function_call>"
RESPONSE = "<start_function_response>"
#: The system message FunctionGemma's documentation gives it to turn function calling on.
DEVELOPER_PROMPT = "You are a model that can do function calling with the following functions"


def _render_back(messages: Messages, template: str) -> Messages:
    result = arguments_as_objects(messages)
    if not result or result[0].get("role") not in ("system", "developer"):
        result.insert(0, {"role": "system", "content": DEVELOPER_PROMPT})
    names: dict[str, str] = {}
    for index, message in enumerate(result):
        for call in message.get("tool_calls") or ():
            function = call.get("function", call)
            names[str(call.get("id", ""))] = str(function.get("name", ""))
        if message.get("role") == "tool" and not message.get("name"):
            name = names.get(str(message.get("tool_call_id", "")))
            if name:
                result[index] = {**message, "name": name}
    return result


FUNCTIONGEMMA = ToolFamily(
    "functiongemma",
    ToolMarkup(OPEN, CLOSE, read=read_calls, write=write_call, quote=ESCAPE, stop=RESPONSE),
    detect=lambda template: OPEN in template,
    named_call=(OPEN + "call:{name}", CLOSE),
    render_back=_render_back,
    syntax=SYNTAX,
)

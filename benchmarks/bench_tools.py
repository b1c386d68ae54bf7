"""Tool-call families: what reading tool calls costs per streamed chunk.

A streamed reply of 256 text chunks followed by one tool call (its markup split in 4-character
chunks, as tokens come) goes through core's reply assembler, the code every mode runs per chunk:
once per family (the family's markup and reader), once as Hermes, the one markup core read before
the family table, and once with no tools offered (nothing to look for), all in this run.
Target: each family costs at most 1.3x Hermes per chunk (a family's markup is read by the same
scanner, with a held-back start for Llama's bare JSON and close-less blocks). Hermes against no
tools is shown for information: about 1.2 µs against 0.1 µs per chunk, the scan for a marker in
every chunk, as before the table (main's assembler measured 1.23 µs per chunk on the same reply).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from common import finish, median_seconds, report, row

from abstractllm._private.reply import ReplyAssembler
from abstractllm._private.tool_families import FAMILIES, family_named
from abstractllm._private.tool_families.deepseek import CALL_BEGIN, CALL_END, CALLS_BEGIN, CALLS_END, SEP
from abstractllm._private.tool_format import ToolMarkup
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import ToolDefinition

TEXT_CHUNKS = 256
REPEATS = 41
WEATHER = ToolDefinition("get_weather", "Get the weather.", {"type": "object", "properties": {"city": {"type": "string"}}})
CALLS = {
    "hermes": '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
    "llama3": '<|python_tag|>{"name": "get_weather", "parameters": {"city": "Paris"}}',
    "mistral": '[TOOL_CALLS][{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    "mistral_v11": '[TOOL_CALLS]get_weather[ARGS]{"city": "Paris"}',
    "phi4_mini": '<|tool_call|>{"name": "get_weather", "arguments": {"city": "Paris"}}<|/tool_call|>',
    "granite": '<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}]',
    "command_r": '<|START_ACTION|>[{"tool_call_id": "0", "tool_name": "get_weather", "parameters": {"city": "Paris"}}]'
    "<|END_ACTION|>",
    "deepseek_v3": f'{CALLS_BEGIN}{CALL_BEGIN}function{SEP}get_weather\n```json\n{{"city": "Paris"}}\n```{CALL_END}{CALLS_END}',
    "deepseek": f'{CALLS_BEGIN}{CALL_BEGIN}get_weather{SEP}{{"city": "Paris"}}{CALL_END}{CALLS_END}',
    "functionary": '<function=get_weather>{"city": "Paris"}</function>',
    "functionary_v32": '>>>get_weather\n{"city": "Paris"}',  # after text written without its "all" line
    "functiongemma": "<start_function_call>call:get_weather{city:<escape>Paris<escape>}<end_function_call>",
}
WITH_TOOLS = GenerationRequest(messages=(), params=GenerationParams(max_tokens=512), tools=(WEATHER,), tool_choice="auto")
WITHOUT_TOOLS = GenerationRequest(messages=(), params=GenerationParams(max_tokens=512))


def _chunks(call: str) -> list[str]:
    words = [f" word{index % 10}" for index in range(TEXT_CHUNKS)]
    return words + [call[start : start + 4] for start in range(0, len(call), 4)]


def _per_chunk(request: GenerationRequest, markup: ToolMarkup, chunks: list[str], calls: int) -> float:
    def run() -> None:
        reply = ReplyAssembler(request, markup)
        for chunk in chunks:
            reply.feed(chunk)
        final = reply.finish("stop")
        assert len(final.tool_calls or []) == calls

    return median_seconds(run, REPEATS) / len(chunks)


def main() -> None:
    hermes_chunks = _chunks(CALLS["hermes"])
    plain = _per_chunk(WITHOUT_TOOLS, family_named("hermes").markup, hermes_chunks, 0)
    hermes = _per_chunk(WITH_TOOLS, family_named("hermes").markup, hermes_chunks, 1)
    rows = [
        row("no tools offered (reference), per chunk", plain * 1e6, "µs"),
        row("hermes (core's one markup before the table) / no tools", hermes * 1e6, "µs", ratio=hermes / plain),
    ]
    for family in FAMILIES:
        if family.name == "hermes":
            continue
        cost = _per_chunk(WITH_TOOLS, family.markup, _chunks(CALLS[family.name]), 1)
        hermes = _per_chunk(WITH_TOOLS, family_named("hermes").markup, hermes_chunks, 1)  # measured beside it: load drifts
        rows.append(
            row(
                f"{family.name} / hermes, per chunk",
                cost * 1e6,
                "µs",
                ratio=cost / hermes,
                target="<= 1.30",
                ok=cost / hermes <= 1.3,
            )
        )
    report("tools", rows, {"text_chunks": TEXT_CHUNKS, "repeats": REPEATS})


if __name__ == "__main__":
    main()
    finish()

"""Core's tool rule in the pipeline's prompts: tools go to a template that renders them, else into the prompt."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm._private.tool_format import tool_prompt
from abstractllm.backend.messages import Message
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import ToolDefinition
from abstractllm_hf_pipeline.prompts import encode_prompt, tool_rendering

WEATHER = ToolDefinition("get_weather", "Get the weather.", {"type": "object", "properties": {"city": {"type": "string"}}})


def _request(tool_choice: str = "auto") -> GenerationRequest:
    return GenerationRequest(
        messages=(Message(role="user", content="Weather in Oslo?"),),
        params=GenerationParams(max_tokens=8),
        tools=(WEATHER,),
        tool_choice=tool_choice,
    )


def _tokenizer(path: Any) -> Any:
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(path))


def test_a_template_that_renders_tools_gets_them(tiny_models: Any) -> None:
    tokenizer = _tokenizer(tiny_models.pipeline_dir)
    assert tool_rendering(tokenizer) == "native"
    text = encode_prompt(tokenizer, _request(), context_window=None, truncation=False).text
    assert "get_weather" in text and tool_prompt([WEATHER]) not in text


def test_no_template_gets_the_tools_in_the_fallback_format(tiny_models: Any) -> None:
    tokenizer = _tokenizer(tiny_models.pipeline_dir_no_template)
    assert tool_rendering(tokenizer) == "prompted"
    text = encode_prompt(tokenizer, _request(), context_window=None, truncation=False).text
    assert text.startswith("System: " + tool_prompt([WEATHER]).splitlines()[0])
    assert encode_prompt(tokenizer, _request("none"), context_window=None, truncation=False).text == "Weather in Oslo?"


@pytest.mark.real_model
def test_a_template_that_drops_tools_gets_them_in_its_system_turn(real_model: Any) -> None:
    tokenizer = _tokenizer(real_model.pipeline_dir)
    assert tool_rendering(tokenizer) == "prompted"
    text = encode_prompt(tokenizer, _request(), context_window=None, truncation=False).text
    assert text.startswith("<|im_start|>system\n" + tool_prompt([WEATHER]))

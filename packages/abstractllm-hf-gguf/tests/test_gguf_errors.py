"""Bad files and bad requests become clear AbstractLLM errors, never crashes or bare ValueErrors."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import ContextWindowExceededError, InvalidArgumentError, ModelLoadingError, ModelNotFoundError


def _broken(tmp_path: Path, source: Path, name: str, edit) -> Path:
    data = bytearray(source.read_bytes())
    target = tmp_path / name
    target.write_bytes(bytes(edit(data)))
    return target


def _first_string_length_offset() -> int:
    return 4 + 4 + 8 + 8  # magic, version, tensor count, metadata count: then the first key's length


@pytest.mark.parametrize(
    ("name", "edit", "reason"),
    [
        ("text.gguf", lambda data: b"this is not a model at all, just some text\n" * 4, "GGUF magic"),
        ("tiny.gguf", lambda data: data[:10], "too short"),
        ("truncated.gguf", lambda data: data[: len(data) // 2], "truncated"),
        ("version.gguf", lambda data: data[:4] + struct.pack("<I", 99) + data[8:], "version 99"),
        (
            "huge-string.gguf",
            lambda data: (
                data[: _first_string_length_offset()] + struct.pack("<Q", 2**40) + data[_first_string_length_offset() + 8 :]
            ),
            "runs past the end",
        ),
        (
            "tensor-count.gguf",
            lambda data: data[:8] + struct.pack("<Q", 2**60) + data[16:],
            "impossible",
        ),
        ("last-bytes-cut.gguf", lambda data: data[:-7], "truncated"),
    ],
)
def test_bad_files_are_load_errors_naming_the_file(tmp_path: Path, gguf_f32: Path, name: str, edit, reason: str) -> None:
    path = _broken(tmp_path, gguf_f32, name, edit)
    with pytest.raises(ModelLoadingError) as caught:
        create_llm("huggingface", model_path=str(path))
    assert not isinstance(caught.value, (ModelNotFoundError, ValueError))
    assert str(path) in str(caught.value) and reason in str(caught.value)


def test_garbage_metadata_type_is_a_load_error(tmp_path: Path, gguf_f32: Path) -> None:
    offset = _first_string_length_offset()
    (key_length,) = struct.unpack_from("<Q", gguf_f32.read_bytes(), offset)
    type_offset = offset + 8 + key_length
    path = _broken(
        tmp_path, gguf_f32, "bad-type.gguf", lambda data: data[:type_offset] + struct.pack("<I", 77) + data[type_offset + 4 :]
    )
    with pytest.raises(ModelLoadingError, match="unknown metadata value type 77"):
        create_llm("huggingface", model_path=str(path))


def test_missing_file_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError):
        create_llm("huggingface", model_path=str(tmp_path / "missing.gguf"))


def test_prompt_over_the_context_window_names_both_numbers(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), n_ctx=256) as llm:
        prompt = "The sky is blue. " * 200
        used = llm.count_tokens(prompt)
        assert used is not None and used > 256
        with pytest.raises(ContextWindowExceededError) as caught:
            llm.generate(prompt, max_tokens=4)
        assert isinstance(caught.value, InvalidArgumentError)
        assert caught.value.context_window == 256 and caught.value.content_length == used
        assert "256" in str(caught.value) and str(used) in str(caught.value)
        with pytest.raises(ContextWindowExceededError):
            llm.generate(prompt, raw=True, max_tokens=4)
        assert str(llm.generate("The sky is", raw=True, temperature=0)) == " blue."


def test_a_session_turn_that_alone_overflows_a_local_model_is_context_window_exceeded(gguf_f32: Path) -> None:
    """The session trims old turns by counting tokens; a refusal then means the newest turn
    alone is too long, and the session raises it rather than leaving anything else out."""
    from abstractllm.session import Session

    with create_llm("huggingface", model_path=str(gguf_f32), n_ctx=256) as llm:
        session = Session(system_prompt="Be brief.", provider=llm)
        session.generate("What is the capital of France?", temperature=0, max_tokens=8)
        with pytest.raises(ContextWindowExceededError):
            session.generate("The sky is blue. " * 200, max_tokens=4)
        assert [m.role for m in session.messages] == ["system", "user", "assistant"]  # the failed turn is not kept
        assert str(session.generate("What is the capital of France?", temperature=0, max_tokens=8))


def test_count_tokens_is_exact(llm: AbstractLLMInterface) -> None:
    response = llm.generate("What color is the sky?", temperature=0)
    assert llm.count_tokens("What color is the sky?") == response.usage.prompt_tokens


def test_generation_near_the_window_stops_with_length(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), n_ctx=256) as llm:
        prompt = "Functions and tools take " * 35
        response = llm.generate(prompt, raw=True, temperature=0, max_tokens=200)
        used = response.usage.prompt_tokens
        assert 200 < used < 256
        # generation ran up to the window, never past it: the window cut it ("length"), or, as with this
        # prompt, the model's end token took the last place ("stop"); max_tokens (200) never came near
        assert used + response.usage.completion_tokens == 256
        assert response.finish_reason in ("length", "stop")


def test_a_bad_grammar_is_an_invalid_argument(llm: AbstractLLMInterface) -> None:
    with pytest.raises(InvalidArgumentError, match="grammar"):
        llm.generate("Hello!", grammar="root ::= ( unclosed")
    with pytest.raises(InvalidArgumentError, match="grammar"):
        llm.generate("Hello!", grammar="no rules here")
    assert str(llm.generate("Hello!", temperature=0)) == "Hello! How can I help you today?"

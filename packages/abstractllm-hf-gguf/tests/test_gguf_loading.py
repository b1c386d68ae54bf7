"""Loading: sources, options, sharing, quiet llama.cpp, lazy imports and the offline hub cache."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import InvalidArgumentError, ModelNotFoundError
from abstractllm_hf_gguf import loading
from abstractllm_hf_gguf.loading import MODELS

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={
            **{key: value for key, value in os.environ.items() if key not in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE")},
            "PYTHONPATH": str(ROOT),
            **(env or {}),
        },
    )


def test_model_path_model_and_aliases_all_load(gguf_f32: Path) -> None:
    for config in (
        {"model_path": str(gguf_f32)},
        {"model_path": str(gguf_f32), "model_type": "gguf"},
        {"model": str(gguf_f32)},
        {"model_path": str(gguf_f32), "model_type": "llama.cpp"},
    ):
        with create_llm("huggingface", **config) as llm:
            assert llm.mode == "gguf"
            assert str(llm.generate("The sky is", raw=True, temperature=0)) == " blue."


def test_n_ctx_defaults_to_the_files_context_capped(gguf_f32: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32)) as llm:
        assert llm.backend.context_window() == 512  # the file's llama.context_length
    monkeypatch.setattr(loading, "DEFAULT_MAX_CONTEXT", 256)
    with create_llm("huggingface", model_path=str(gguf_f32)) as capped:
        assert capped.backend.context_window() == 256 == capped.backend.model.llama.n_ctx()
    with create_llm("huggingface", model_path=str(gguf_f32), n_ctx=1024) as explicit:
        assert explicit.get_capabilities()["max_tokens"] == 1024 == explicit.backend.model.llama.n_ctx()


def test_n_gpu_layers_follow_the_device(gguf_f32: Path) -> None:
    cases = [({"device": "cpu"}, 0), ({"device": "cuda"}, 0x7FFFFFFF), ({"device": "cuda", "n_gpu_layers": 1}, 1)]
    for options, expected in cases:
        with create_llm("huggingface", model_path=str(gguf_f32), **options) as llm:
            assert llm.backend.model.llama.model_params.n_gpu_layers == expected
            assert str(llm.generate("The sky is", raw=True, temperature=0)) == " blue."
    import llama_cpp

    with create_llm("huggingface", model_path=str(gguf_f32)) as default:
        expected_default = 0x7FFFFFFF if llama_cpp.llama_supports_gpu_offload() else 0
        assert default.backend.model.llama.model_params.n_gpu_layers == expected_default
    with pytest.raises(InvalidArgumentError, match="device"):
        create_llm("huggingface", model_path=str(gguf_f32), device="tpu")


def test_n_threads_and_model_kwargs_reach_llama(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), n_threads=1, model_kwargs={"n_batch": 64}) as llm:
        llama = llm.backend.model.llama
        assert llama.n_threads == 1 and llama.context_params.n_threads == 1
        assert llama.n_batch == 64
        assert str(llm.generate("The sky is", raw=True, temperature=0)) == " blue."
    with pytest.raises(InvalidArgumentError, match="Did you mean 'n_batch'"):
        create_llm("huggingface", model_path=str(gguf_f32), model_kwargs={"n_bach": 64})
    with pytest.raises(InvalidArgumentError, match="n_ctx"):
        create_llm("huggingface", model_path=str(gguf_f32), model_kwargs={"n_ctx": 64})


@pytest.mark.parametrize(
    ("model_kwargs", "says"),
    [
        ({"n_batch": "512"}, "model_kwargs['n_batch']='512' is a str; llama_cpp.Llama takes int"),
        ({"n_batch": True}, "model_kwargs['n_batch']=True is a bool"),
        ({"rope_freq_base": "1e4"}, "takes float"),
        ({"use_mmap": "no"}, "takes bool"),
        ({"tensor_split": [1.0, "a"]}, "takes Optional[List[float]]"),
        ({"kv_overrides": {"key": [1]}}, "takes Optional[Dict[str, Union[bool, int, float, str]]]"),
        ({"lora_path": 5}, "takes Optional[str]"),
    ],
    ids=["string-n_batch", "bool-n_batch", "string-float", "string-bool", "list-item", "dict-value", "number-path"],
)
def test_model_kwargs_of_the_wrong_type_fail_at_load_and_the_file_still_loads(
    gguf_f32: Path, model_kwargs: dict[str, object], says: str
) -> None:
    """Llama() checks no types: a wrong one used to load, then fail every generation as GenerationError."""
    users = len(MODELS)
    with pytest.raises(InvalidArgumentError, match="model_kwargs") as caught:
        create_llm("huggingface", model_path=str(gguf_f32), model_kwargs=model_kwargs)
    assert says in str(caught.value)
    assert len(MODELS) == users  # nothing was loaded or kept
    right = {"n_batch": 64, "rope_freq_base": 0.0, "use_mmap": True, "tensor_split": None, "kv_overrides": None}
    with create_llm("huggingface", model_path=str(gguf_f32), model_kwargs={**right, "numa": False}) as llm:
        assert str(llm.generate("The sky is", raw=True, temperature=0)) == " blue."


def _chatml_reply(llm: AbstractLLMInterface, text: str) -> str:
    """What llama.cpp's own chatml formatter makes the model say (it always renders a system block)."""
    from llama_cpp.llama_chat_format import format_chatml

    formatted = format_chatml(messages=[{"role": "user", "content": text}])
    raw = llm.backend.model.llama.create_completion(formatted.prompt, temperature=0, max_tokens=40, stop=formatted.stop)
    return raw["choices"][0]["text"]


def test_chat_format_names_another_format(gguf_f32: Path) -> None:
    with create_llm("huggingface", model_path=str(gguf_f32), chat_format="chatml") as llm:
        assert llm.get_capabilities()["chat_format"] == "chatml"
        assert llm.backend.chat_format.template is None  # llama.cpp's own chatml formatter, not the file's template
        reply = str(llm.generate("Hello!", temperature=0))
        assert reply == _chatml_reply(llm, "Hello!")
        with create_llm("huggingface", model_path=str(gguf_f32)) as default:
            assert str(default.generate("Hello!", temperature=0)) == "Hello! How can I help you today?" != reply


def test_unknown_chat_format_lists_the_valid_ones(gguf_f32: Path) -> None:
    loaded_before = len(MODELS)
    with pytest.raises(InvalidArgumentError) as caught:
        create_llm("huggingface", model_path=str(gguf_f32), chat_format="chatmlx")
    assert caught.value.parameter == "chat_format"
    for name in ("chat_template.default", "chatml", "llama-3"):
        assert name in str(caught.value)
    assert len(MODELS) == loaded_before  # checked before loading: nothing was left loaded


def test_loaded_models_are_shared_reference_counted_and_freed(gguf_f32: Path) -> None:
    first = create_llm("huggingface", model_path=str(gguf_f32))
    second = create_llm("huggingface", model_path=str(gguf_f32), chat_format="chatml")
    other = create_llm("huggingface", model_path=str(gguf_f32), n_ctx=256)
    shared = first.backend.model
    key = first.backend.cache_key
    assert second.backend.model is shared and other.backend.model is not shared
    assert MODELS.users(key) == 2
    first.unload()
    assert not shared.closed and MODELS.users(key) == 1
    assert str(second.generate("Hello!", temperature=0)) == _chatml_reply(second, "Hello!")
    second.unload()
    second.unload()
    assert shared.closed and MODELS.users(key) == 0
    other.unload()
    with create_llm("huggingface", model_path=str(gguf_f32)) as again:
        assert again.backend.model is not shared  # loaded afresh after the last user left


def test_llama_cpp_prints_nothing_unless_verbose(gguf_f32: Path) -> None:
    code = f"""
        from abstractllm import create_llm
        llm = create_llm("huggingface", model_path={str(gguf_f32)!r}{{verbose}})
        llm.generate("Hello!", temperature=0)
        list(llm.generate("Hello!", temperature=0, stream=True))
        llm.generate("Hi", response_format={{{{"type": "json_object"}}}}, max_tokens=4)
        llm.unload()
        print("done")
    """
    quiet = _run(code.format(verbose=""))
    assert quiet.returncode == 0, quiet.stderr
    assert quiet.stdout == "done\n" and quiet.stderr == ""
    loud = _run(code.format(verbose=", verbose=True"))
    assert loud.returncode == 0
    assert "llama" in loud.stderr  # llama.cpp's own log lines, because they were asked for


def test_plugin_discovery_imports_neither_llama_cpp_nor_huggingface_hub() -> None:
    result = _run(
        """
        import sys
        from abstractllm._private.plugins import get_plugins
        plugins = get_plugins()
        assert ("huggingface", "gguf") in plugins.backends, plugins.backends
        print(sorted(name for name in ("llama_cpp", "huggingface_hub", "numpy", "jinja2") if name in sys.modules))
        """
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_model_and_filename_resolve_offline_from_the_hub_cache(tmp_path: Path, gguf_f32: Path) -> None:
    from tinymodel import install_in_hub_cache

    install_in_hub_cache(gguf_f32.parent, tmp_path, "tiny/Tiny-Llama-GGUF")
    code = """
        import json
        from abstractllm import create_llm
        from abstractllm.errors import InvalidArgumentError, ModelNotFoundError
        out = {}
        with create_llm("huggingface", model="tiny/Tiny-Llama-GGUF", filename="*q8_0.gguf") as llm:
            reply = str(llm.generate("Hello!", temperature=0))
            out["glob"] = [llm.mode, llm.model, llm.get_capabilities()["quantization"], reply]
        with create_llm("huggingface", model="tiny/Tiny-Llama-GGUF", filename="tiny-llama-f32.gguf") as llm:
            out["exact"] = [llm.get_capabilities()["quantization"], str(llm.generate("The sky is", raw=True, temperature=0))]
        try:
            create_llm("huggingface", model="tiny/Tiny-Llama-GGUF", filename="*.gguf")
        except InvalidArgumentError as exc:
            out["ambiguous"] = str(exc)
        try:
            create_llm("huggingface", model="tiny/Missing-GGUF", filename="*.gguf")
        except ModelNotFoundError as exc:
            out["missing"] = str(exc)
        print(json.dumps(out))
    """
    result = _run(code, {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"})
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["glob"] == ["gguf", "tiny/Tiny-Llama-GGUF/tiny-llama-q8_0.gguf", "Q8_0", "Hello! How can I help you today?"]
    assert out["exact"] == ["F32", " blue."]
    assert "tiny-llama-f32.gguf" in out["ambiguous"] and "tiny-llama-q8_0.gguf" in out["ambiguous"]
    assert "tiny/Missing-GGUF" in out["missing"]


def test_missing_model_path_is_model_not_found(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match=r"nothing\.gguf"):
        create_llm("huggingface", model_path=str(tmp_path / "nothing.gguf"))
    with pytest.raises(ModelNotFoundError, match="folder"):
        create_llm("huggingface", model_path=str(tmp_path), model_type="gguf")

"""Loading: hub cache (offline), devices, dtypes, quantization, sharing, and every load error."""

from __future__ import annotations

import gc
import json
import os
import shutil
import subprocess
import sys
import textwrap
import weakref
from pathlib import Path

import pytest

from abstractllm import create_llm
from abstractllm.errors import (
    BackendNotInstalledError,
    InvalidArgumentError,
    ModelLoadingError,
    ModelNotFoundError,
    ResourceExhaustedError,
    UnsupportedModelError,
)
from tinymodel import install_in_hub_cache

ROOT = Path(__file__).resolve().parents[3]


def _run(code: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        env={**os.environ, **env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=str(ROOT),
    )


def test_hub_id_resolves_offline_through_the_hub_cache(chat_dir: Path, tmp_path: Path) -> None:
    install_in_hub_cache(chat_dir, tmp_path, "abstractllm/tiny-llama")
    result = _run(
        """
        from abstractllm import create_llm
        from abstractllm.errors import ModelNotFoundError
        llm = create_llm("huggingface", model="abstractllm/tiny-llama", revision="main")
        print("REPLY", repr(str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8))))
        print("FOLDER", llm.backend.loaded.spec.source)
        for model, revision in (("abstractllm/not-there", None), ("abstractllm/tiny-llama", "v9")):
            try:
                create_llm("huggingface", model=model, revision=revision)
            except ModelNotFoundError as error:
                print("MISSING", error)
        """,
        {"HF_HOME": str(tmp_path), "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr
    assert "REPLY ' Paris.'" in result.stdout
    missing = [line for line in result.stdout.splitlines() if line.startswith("MISSING")]
    assert len(missing) == 2
    assert all("not in the HuggingFace cache" in line and "offline mode is on" in line for line in missing)
    assert "abstractllm/not-there" in missing[0] and "'v9'" in missing[1]


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        create_llm("huggingface", model=str(tmp_path / "nothing-here"))


def _copy(chat_dir: Path, tmp_path: Path) -> Path:
    target = tmp_path / "model"
    shutil.copytree(chat_dir, target)
    return target


def test_missing_config_json(chat_dir: Path, tmp_path: Path) -> None:
    folder = _copy(chat_dir, tmp_path)
    (folder / "config.json").unlink()
    with pytest.raises(ModelLoadingError, match=r"config\.json"):
        create_llm("huggingface", model=str(folder))


def test_corrupt_safetensors(chat_dir: Path, tmp_path: Path) -> None:
    folder = _copy(chat_dir, tmp_path)
    data = (folder / "model.safetensors").read_bytes()
    (folder / "model.safetensors").write_bytes(data[:8] + b"{not json" + data[17:4000])
    with pytest.raises(ModelLoadingError, match=r"model\.safetensors") as caught:
        create_llm("huggingface", model=str(folder))
    assert caught.value.__cause__ is not None


def test_remote_code_needs_trust_remote_code(chat_dir: Path, tmp_path: Path) -> None:
    folder = _copy(chat_dir, tmp_path)
    config = json.loads((folder / "config.json").read_text())
    config.update(
        model_type="abstractllm-custom",
        architectures=["CustomForCausalLM"],
        auto_map={"AutoConfig": "custom.CustomConfig", "AutoModelForCausalLM": "custom.CustomForCausalLM"},
    )
    (folder / "config.json").write_text(json.dumps(config))
    (folder / "custom.py").write_text("raise RuntimeError('remote code must not run without trust_remote_code')\n")
    with pytest.raises(UnsupportedModelError, match="trust_remote_code"):
        create_llm("huggingface", model=str(folder))


@pytest.mark.parametrize(
    ("kwargs", "parameter"),
    [
        ({"device": "gpu"}, "device"),
        ({"device": "cuda"}, "device"),  # no CUDA on this machine
        ({"quantization": "3bit"}, "quantization"),
        ({"model_kwargs": {"torch_dtype": "float13"}}, "model_kwargs['torch_dtype']"),
        ({"model_kwargs": {"dtype": "int4"}}, "model_kwargs['dtype']"),
        ({"model_kwargs": {"trust_remote_code": "yes"}}, "model_kwargs['trust_remote_code']"),
        ({"model_kwargs": {"revison": "main"}}, "model_kwargs['revison']"),
        ({"device_map": 3}, "device_map"),
    ],
)
def test_bad_load_options_are_named(chat_dir: Path, kwargs: dict, parameter: str) -> None:
    with pytest.raises(InvalidArgumentError) as caught:
        create_llm("huggingface", model=str(chat_dir), **kwargs)
    assert caught.value.parameter == parameter
    assert parameter.split("[")[0] in str(caught.value)


def test_dtypes_without_deprecation_noise(
    chat_dir: Path, capfd: pytest.CaptureFixture[str], recwarn: pytest.WarningsRecorder
) -> None:
    import torch

    default = create_llm("huggingface", model=str(chat_dir), device="cpu")
    half = create_llm("huggingface", model=str(chat_dir), model_kwargs={"torch_dtype": "bfloat16"})
    other = create_llm("huggingface", model=str(chat_dir), model_kwargs={"dtype": torch.float16, "low_cpu_mem_usage": True})
    try:
        assert default.backend.loaded.model.dtype == torch.float32  # CPU default
        assert half.backend.loaded.model.dtype == torch.bfloat16
        assert other.backend.loaded.model.dtype == torch.float16
        assert half.generate("The sky is", raw=True, temperature=0, max_tokens=4).usage.completion_tokens > 0
    finally:
        for model in (default, half, other):
            model.unload()
    assert "torch_dtype" not in capfd.readouterr().err
    assert not [w for w in recwarn if "torch_dtype" in str(w.message)]


@pytest.mark.parametrize("where", ["top", "model_kwargs"])
def test_device_map_through_accelerate(chat_dir: Path, tmp_path: Path, where: str) -> None:
    auto = {"device_map": "auto"} if where == "top" else {"model_kwargs": {"device_map": "auto"}}
    llm = create_llm("huggingface", model=str(chat_dir), **auto)
    try:
        assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
    finally:
        llm.unload()
    # A map with disk offload makes accelerate dispatch the model: the map really reached it.
    offload = {"model": "cpu", "lm_head": "disk"}
    kwargs: dict = {"offload_folder": str(tmp_path)}
    if where == "top":
        llm = create_llm("huggingface", model=str(chat_dir), device_map=offload, model_kwargs=kwargs)
    else:
        llm = create_llm("huggingface", model=str(chat_dir), model_kwargs={**kwargs, "device_map": offload})
    try:
        assert llm.backend.loaded.model.hf_device_map == offload
        assert str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
    finally:
        llm.unload()


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_quantization(chat_dir: Path, bits: str) -> None:
    llm = create_llm("huggingface", model=str(chat_dir), quantization=bits)
    try:
        model = llm.backend.loaded.model
        assert getattr(model, f"is_loaded_in_{bits}")
        assert llm.get_capabilities()["quantization"] == bits
        assert str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8)) == " Paris."
    finally:
        llm.unload()


def test_quantization_without_bitsandbytes_names_the_extra(chat_dir: Path) -> None:
    result = _run(
        f"""
        import sys
        class Block:
            def find_spec(self, name, path=None, target=None):
                if name == "bitsandbytes" or name.startswith("bitsandbytes."):
                    raise ImportError("bitsandbytes is not installed")
        sys.meta_path.insert(0, Block())
        from abstractllm import create_llm
        from abstractllm.errors import BackendNotInstalledError
        try:
            create_llm("huggingface", model={str(chat_dir)!r}, quantization="4bit")
        except BackendNotInstalledError as error:
            print("ERROR", error)
        """,
        {},
    )
    assert "ERROR" in result.stdout, result.stderr
    assert "abstractllm-hf-pipeline[quantization]" in result.stdout
    assert BackendNotInstalledError.__name__  # the class the subprocess caught


def test_same_options_share_one_model_and_unload_frees_it(chat_dir: Path) -> None:
    first = create_llm("huggingface", model=str(chat_dir), device="cpu")
    second = create_llm("huggingface", model=str(chat_dir), device="cpu")
    different = create_llm("huggingface", model=str(chat_dir), device="cpu", model_kwargs={"torch_dtype": "bfloat16"})
    try:
        assert first.backend.loaded is second.backend.loaded
        assert different.backend.loaded is not first.backend.loaded
        weights = weakref.ref(first.backend.loaded.model)
        assert str(first.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
        thread = first.backend.loaded.batcher._thread
        first.unload()
        assert str(second.generate("The sky is", raw=True, temperature=0, max_tokens=8)) == " blue."
        second.unload()
        gc.collect()
        assert weights() is None  # the last user let go: the weights are gone
        assert thread is not None and not thread.is_alive()
    finally:
        for model in (first, second, different):
            model.unload()


def test_out_of_memory_is_resource_exhausted_and_the_model_keeps_working(chat_dir: Path) -> None:
    """A real allocation failure: the process's address space is capped just above what it
    uses (in a child process, so pytest is unaffected), then a batch of 128 sequences needs more."""
    result = _run(
        f"""
        import resource
        from abstractllm import create_llm
        from abstractllm.errors import ResourceExhaustedError

        llm = create_llm("huggingface", model={str(chat_dir)!r}, device="cpu")
        print("BEFORE", repr(str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8))))
        used = next(int(line.split()[1]) * 1024 for line in open("/proc/self/status") if line.startswith("VmSize"))
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (used + 8 * 2**20, hard))
        try:
            llm.generate("The sky is " * 40, raw=True, temperature=1.0, max_tokens=64, num_return_sequences=128)
        except ResourceExhaustedError as error:
            print("ERROR", type(error.__cause__).__name__, str(error).splitlines()[0])
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
        print("AFTER", repr(str(llm.generate("The sky is", raw=True, temperature=0, max_tokens=8))))
        """,
        {},
    )
    assert result.returncode == 0, result.stderr
    lines = dict(
        line.split(" ", 1) for line in result.stdout.splitlines() if line.split(" ", 1)[0] in ("BEFORE", "ERROR", "AFTER")
    )
    assert lines["BEFORE"] == lines["AFTER"] == "' blue.'"
    cause, message = lines["ERROR"].split(" ", 1)
    assert cause in ("RuntimeError", "MemoryError") and "out of memory" in message


def test_python_memory_error_maps_to_resource_exhausted() -> None:
    from abstractllm_hf_pipeline.errors import map_error

    try:
        bytearray(1 << 62)
    except MemoryError as error:
        assert isinstance(map_error(error), ResourceExhaustedError)
    else:  # pragma: no cover - a machine with 4 EiB
        pytest.skip("the allocation succeeded")


def test_plugin_import_is_light_and_aliases_work(chat_dir: Path) -> None:
    result = _run(
        """
        import sys, abstractllm
        from abstractllm._private.plugins import get_plugins
        plugins = get_plugins()
        print("MODES", sorted(plugins.modes("huggingface")))
        print("HEAVY", [m for m in ("torch", "transformers", "llguidance") if m in sys.modules])
        """,
        {},
    )
    assert "'pipeline'" in result.stdout and "HEAVY []" in result.stdout, result.stdout + result.stderr
    llm = create_llm("huggingface", model_path=str(chat_dir), model_type="transformers")
    try:
        assert llm.mode == "pipeline"
    finally:
        llm.unload()

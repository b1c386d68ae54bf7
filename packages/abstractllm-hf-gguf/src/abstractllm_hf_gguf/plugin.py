"""The gguf mode's hook implementations. Importing this module imports nothing heavy."""

from __future__ import annotations

from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.errors import AbstractLLMError
from abstractllm.plugins import hookimpl
from abstractllm.providers.huggingface import HF_MODES
from abstractllm_hf_gguf.errors import map_llama_error
from abstractllm_hf_gguf.options import GENERATION_OPTIONS, LOAD_OPTIONS

__all__ = ["INFO", "abstractllm_backends", "abstractllm_load_model", "abstractllm_map_error"]

INFO = BackendInfo(
    provider="huggingface",
    mode="gguf",
    description="Local GGUF models through llama.cpp (llama-cpp-python); files from a path or the HuggingFace hub cache.",
    install="pip install abstractllm-hf-gguf",
    load_options=LOAD_OPTIONS,
    generation_options=GENERATION_OPTIONS,
    aliases=HF_MODES["gguf"][1],
)


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [INFO]


@hookimpl
def abstractllm_load_model(info: BackendInfo, config: ConfigManager) -> Backend | None:
    if (info.provider, info.mode) != (INFO.provider, INFO.mode):
        return None
    from abstractllm_hf_gguf.loading import load_backend

    return load_backend(info, config)


@hookimpl
def abstractllm_map_error(error: BaseException, info: BackendInfo) -> AbstractLLMError | None:
    if (info.provider, info.mode) != (INFO.provider, INFO.mode):
        return None
    return map_llama_error(error)

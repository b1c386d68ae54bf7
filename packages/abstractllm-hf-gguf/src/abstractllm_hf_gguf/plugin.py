"""The gguf mode's plugin: what it serves and how to load it. Importing this module imports nothing heavy."""

from __future__ import annotations

from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.hookspecs import hookimpl
from abstractllm_hf_gguf.errors import map_llama_error
from abstractllm_hf_gguf.options import GENERATION_OPTIONS, LOAD_OPTIONS

__all__ = ["INFO", "abstractllm_backends"]


def load(info: BackendInfo, config: ConfigManager) -> Backend:
    from abstractllm_hf_gguf.loading import load_backend

    return load_backend(info, config)


INFO = BackendInfo(
    provider="huggingface",
    mode="gguf",
    description="Local GGUF models through llama.cpp (llama-cpp-python); files from a path or the HuggingFace hub cache.",
    install="pip install abstractllm-hf-gguf",
    load_options=LOAD_OPTIONS,
    generation_options=GENERATION_OPTIONS,
    aliases=("llama.cpp", "llamacpp", "llama_cpp"),
    load=load,
    map_error=map_llama_error,
)


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [INFO]

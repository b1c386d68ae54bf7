"""Plugin hooks of the pipeline mode. Importing this module imports no torch or transformers."""

from __future__ import annotations

import sys

from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.hookspecs import hookimpl
from abstractllm.providers.huggingface_modes import PROVIDER, hf_options
from abstractllm.speculative import SPECULATIVE_OPTION
from abstractllm_hf_pipeline.devices import DEVICE_MAP_OPTION
from abstractllm_hf_pipeline.errors import map_error
from abstractllm_hf_pipeline.options import PIPELINE_OPTIONS, load_spec, output_options

__all__ = ["INFO", "abstractllm_backends"]

MODE = "pipeline"


def load(info: BackendInfo, config: ConfigManager) -> Backend:
    spec = load_spec(config)
    output = output_options(config)
    token = config.get_param("api_key")
    if "torch" not in sys.modules:
        # A missing folder or an uncached hub id fails here, in a fraction of a second, rather
        # than after the backend's import of torch and transformers (5-9 s); once torch is
        # imported that saves nothing, and the load resolves the folder itself.
        from abstractllm_hf_pipeline.loading import resolve_folder

        resolve_folder(spec, token if isinstance(token, str) else None)
    from abstractllm_hf_pipeline.backend import PipelineBackend

    return PipelineBackend(
        info,
        spec,
        output,
        token=token if isinstance(token, str) else None,
        batch_window=float(config.get_param("batch_window_ms")) / 1000.0,
        max_batch_size=int(config.get_param("max_batch_size")),
        prefix_cache_bytes=int(config.get_param("prefix_cache_bytes")),
    )


INFO = BackendInfo(
    provider=PROVIDER,
    mode=MODE,
    description="HuggingFace transformers models run locally with torch: batched, streamed, constrained decoding.",
    install="pip install abstractllm-hf-pipeline",
    load_options={
        **hf_options("device"),
        DEVICE_MAP_OPTION.name: DEVICE_MAP_OPTION,
        **hf_options(
            "quantization",
            "model_kwargs",
            "pipeline_kwargs",
            "revision",
            "cache_dir",
            "trust_remote_code",
            "prefix_cache_bytes",
            "tool_format",
        ),
        **PIPELINE_OPTIONS,
    },
    generation_options={SPECULATIVE_OPTION.name: SPECULATIVE_OPTION},
    aliases=("transformers", "local"),
    load=load,
    map_error=map_error,
)


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [INFO]

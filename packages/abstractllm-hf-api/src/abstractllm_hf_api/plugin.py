"""The ``abstractllm`` plugin: the ``api`` and ``endpoint`` modes of the ``"huggingface"`` provider.

Importing this module imports neither httpx nor the transport: they load with the first model.
"""

from __future__ import annotations

from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.errors import AbstractLLMError
from abstractllm.hookspecs import hookimpl
from abstractllm_hf_api.options import API_LOAD_OPTIONS, ENDPOINT_LOAD_OPTIONS

__all__ = ["API_INFO", "ENDPOINT_INFO"]

PROVIDER = "huggingface"
INSTALL = "pip install abstractllm-hf-api"


def load_api(info: BackendInfo, config: ConfigManager) -> Backend:
    from abstractllm_hf_api.loading import load_api

    return load_api(info, config)


def load_endpoint(info: BackendInfo, config: ConfigManager) -> Backend:
    from abstractllm_hf_api.loading import load_endpoint

    return load_endpoint(info, config)


def map_error(error: BaseException) -> AbstractLLMError | None:
    """httpx's transport errors, named with the URL they concern; None for anything else."""
    import sys

    httpx = sys.modules.get("httpx")
    if httpx is None or not isinstance(error, httpx.HTTPError):
        return None
    from abstractllm_hf_api.errors import error_for_transport

    return error_for_transport(error, url=str(getattr(getattr(error, "request", None), "url", "")) if _has_request(error) else "")


def _has_request(error: BaseException) -> bool:
    try:
        return getattr(error, "request", None) is not None
    except RuntimeError:  # httpx raises when an error has no request attached
        return False


API_INFO = BackendInfo(
    provider=PROVIDER,
    mode="api",
    description="HuggingFace's hosted Inference API through its router (OpenAI-compatible chat route), over httpx.",
    install=INSTALL,
    load_options=API_LOAD_OPTIONS,
    aliases=("inference_api", "inference-api"),
    load=load_api,
    map_error=map_error,
)

ENDPOINT_INFO = BackendInfo(
    provider=PROVIDER,
    mode="endpoint",
    description="A custom endpoint (HF Inference Endpoint, TGI, vLLM, llama.cpp server): OpenAI-compatible or TGI routes.",
    install=INSTALL,
    load_options=ENDPOINT_LOAD_OPTIONS,
    aliases=("tgi", "vllm", "openai"),
    load=load_endpoint,
    map_error=map_error,
)


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [API_INFO, ENDPOINT_INFO]

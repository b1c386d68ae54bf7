"""AbstractLLM backend for HuggingFace's hosted Inference API and custom inference endpoints.

Two modes of the ``"huggingface"`` provider, both spoken over httpx only:

- ``api``: ``use_inference_api=True`` and a hub model id, sent through HuggingFace's router
  on its OpenAI-compatible chat route (``provider`` picks the inference provider).
- ``endpoint``: ``inference_api_url`` (or ``endpoint_url``) pointing at an HF Inference
  Endpoint or a TGI, vLLM or llama.cpp server, speaking the OpenAI-compatible routes or
  TGI's native ``/generate`` and ``/generate_stream``.

Importing this package (or its plugin module) imports neither httpx nor anything heavy;
the transport is imported when a model is created.
"""


def __getattr__(name: str) -> str:
    """``__version__``: the installed distribution's version, read on use (plugin discovery
    imports this package, and reading metadata would cost every start-up)."""
    if name == "__version__":
        from importlib.metadata import version

        return version("abstractllm-hf-api")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

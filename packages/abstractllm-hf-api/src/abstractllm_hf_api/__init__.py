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

from importlib.metadata import version

#: The installed distribution's version (core's, at build time: the packages release in lockstep).
__version__ = version("abstractllm-hf-api")

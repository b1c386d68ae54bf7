"""AbstractLLM backend for local GGUF models through llama.cpp (mode ``"gguf"``).

``create_llm("huggingface", model_path="/path/model.gguf")`` or
``create_llm("huggingface", model="owner/Repo-GGUF", filename="*Q4_K_M.gguf")`` (fetched
through huggingface_hub's cache, offline with ``HF_HUB_OFFLINE=1``). Importing this
package (or its plugin module) imports neither llama_cpp nor huggingface_hub; they are
imported when a model is created.
"""

from importlib.metadata import version

#: The installed distribution's version (core's, at build time: the packages release in lockstep).
__version__ = version("abstractllm-hf-gguf")

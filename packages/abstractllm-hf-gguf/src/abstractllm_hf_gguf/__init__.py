"""AbstractLLM backend for local GGUF models through llama.cpp (mode ``"gguf"``).

``create_llm("huggingface", model_path="/path/model.gguf")`` or
``create_llm("huggingface", model="owner/Repo-GGUF", filename="*Q4_K_M.gguf")`` (fetched
through huggingface_hub's cache, offline with ``HF_HUB_OFFLINE=1``). Importing this
package (or its plugin module) imports neither llama_cpp nor huggingface_hub; they are
imported when a model is created.
"""


def __getattr__(name: str) -> str:
    """``__version__``: the installed distribution's version, read on use (plugin discovery
    imports this package, and reading metadata would cost every start-up)."""
    if name == "__version__":
        from importlib.metadata import version

        return version("abstractllm-hf-gguf")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

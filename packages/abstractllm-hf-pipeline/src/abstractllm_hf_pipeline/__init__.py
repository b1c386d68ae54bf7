"""AbstractLLM's ``pipeline`` mode: HuggingFace transformers models run locally.

Use it through core: ``create_llm("huggingface", model="org/name" or "/a/folder")``.
Nothing heavy is imported until a model is created.
"""


def __getattr__(name: str) -> str:
    """``__version__``: the installed distribution's version, read on use (plugin discovery
    imports this package, and reading metadata would cost every start-up)."""
    if name == "__version__":
        from importlib.metadata import version

        return version("abstractllm-hf-pipeline")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

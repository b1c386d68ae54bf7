"""AbstractLLM's ``pipeline`` mode: HuggingFace transformers models run locally.

Use it through core: ``create_llm("huggingface", model="org/name" or "/a/folder")``.
Nothing heavy is imported until a model is created.
"""

from importlib.metadata import version

#: The installed distribution's version (core's, at build time: the packages release in lockstep).
__version__ = version("abstractllm-hf-pipeline")

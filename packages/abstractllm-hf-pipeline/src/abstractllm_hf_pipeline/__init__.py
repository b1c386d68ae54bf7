"""AbstractLLM's ``pipeline`` mode: HuggingFace transformers models run locally.

Use it through core: ``create_llm("huggingface", model="org/name" or "/a/folder")``.
Nothing heavy is imported until a model is created.
"""

__version__ = "0.1.0"

"""Alias module: the original library's import path ``abstractllm.interface.AbstractLLMInterface``.

The class is the model object ``create_llm`` returns; import it as
``from abstractllm import AbstractLLMInterface``. The interface a backend implements is
:class:`abstractllm.backend.Backend`.
"""

from abstractllm._private.llm import AbstractLLMInterface

__all__ = ["AbstractLLMInterface"]

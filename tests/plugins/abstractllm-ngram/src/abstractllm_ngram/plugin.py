"""The plugin registered under the ``abstractllm`` entry-point group: what it serves and how to load it."""

from __future__ import annotations

from abstractllm.backend import Backend, BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.hookspecs import hookimpl
from abstractllm.options import Option, check_optional_str


def load(info: BackendInfo, config: ConfigManager) -> Backend:
    from abstractllm_ngram.model import NgramBackend

    return NgramBackend(info, config.get_param("model") or config.get_param("corpus_name") or "bigram")


INFO = BackendInfo(
    provider="ngram",
    mode="bigram",
    description="A word bigram model over a built-in text.",
    install="pip install abstractllm-ngram",
    load_options={"corpus_name": Option("corpus_name", None, check_optional_str, "Name shown as the model.")},
    load=load,
)


@hookimpl
def abstractllm_backends() -> list[BackendInfo]:
    return [INFO]

"""Implements a hook with an argument the hookspec does not have."""

from abstractllm.hookspecs import hookimpl


@hookimpl
def abstractllm_generate(backend: object, request: object, surprise: object) -> None:
    return None

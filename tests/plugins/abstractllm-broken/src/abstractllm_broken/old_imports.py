"""A plugin written for abstractllm 0.1, which imported core modules that are now private."""

from abstractllm.plugins import hookimpl  # type: ignore[import-not-found]
from abstractllm.stops import StopSequenceFilter  # type: ignore[import-not-found]

__all__ = ["StopSequenceFilter", "hookimpl"]

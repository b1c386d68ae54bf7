from __future__ import annotations

import pytest

import abstractllm.errors as errors
import abstractllm.exceptions as exceptions


def test_both_import_paths_are_one_hierarchy() -> None:
    for name in exceptions.__all__:
        assert getattr(exceptions, name) is getattr(errors, name)
    assert errors.InvalidParameterError is errors.InvalidArgumentError
    assert issubclass(errors.RateLimitError, errors.QuotaExceededError)
    assert issubclass(errors.ModelNotFoundError, errors.ModelLoadingError)
    assert issubclass(errors.ContextWindowExceededError, errors.InvalidArgumentError)
    assert issubclass(errors.RequestTimeoutError, errors.ProviderAPIError)
    assert issubclass(errors.ProviderConnectionError, errors.ProviderAPIError)
    assert issubclass(errors.UnsupportedProviderError, ValueError)
    assert issubclass(errors.BackendNotInstalledError, ImportError)
    for name in errors.__all__:
        assert issubclass(getattr(errors, name), errors.AbstractLLMError)


def test_original_constructor_and_cause() -> None:
    original = KeyError("boom")
    error = errors.ProviderAPIError("failed", "huggingface", original)
    assert error.provider == "huggingface"
    assert error.original_exception is original
    assert error.__cause__ is original
    assert str(error) == "[huggingface] failed"
    assert error.retryable is False
    assert errors.RequestTimeoutError("slow").retryable is True


def test_context_and_details() -> None:
    error = errors.ContextWindowExceededError("too long", context_window=10, content_length=12)
    error.with_context(provider="huggingface", mode="gguf", model="m")
    assert (error.provider, error.mode, error.model) == ("huggingface", "gguf", "m")
    assert str(error).startswith("[huggingface/gguf] ")
    assert (error.context_window, error.content_length, error.parameter) == (10, 12, "prompt")
    with pytest.raises(errors.InvalidParameterError):
        raise error

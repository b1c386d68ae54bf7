"""Every exception AbstractLLM raises to users.

One hierarchy, two import paths: ``abstractllm.errors`` (the HuggingFace guide's names)
and ``abstractllm.exceptions`` (the original AbstractLLM names). Backends raise these
classes or let their mode's ``BackendInfo.map_error`` translate their own exceptions; the
backend's original exception is always kept as ``__cause__`` (and ``original_exception``).

Every error carries ``provider``, ``mode`` and ``model`` (``None`` where unknown) and
``retryable``: whether sending the same request again can succeed.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "AbstractLLMError",
    "AuthenticationError",
    "BackendNotInstalledError",
    "ContentFilterError",
    "ContextWindowExceededError",
    "GenerationError",
    "InvalidArgumentError",
    "InvalidParameterError",
    "InvalidRequestError",
    "ModelLoadingError",
    "ModelNotFoundError",
    "OutputParsingError",
    "ProviderAPIError",
    "ProviderConnectionError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestTimeoutError",
    "ResourceExhaustedError",
    "UnsupportedFeatureError",
    "UnsupportedModelError",
    "UnsupportedOperationError",
    "UnsupportedProviderError",
]


class AbstractLLMError(Exception):
    """Root of every AbstractLLM error.

    Accepts the original library's ``(message, provider=None, original_exception=None,
    details=None)``. ``str(error)`` is the message, prefixed with ``[provider/mode]``
    when those are known. ``original_exception`` also becomes ``__cause__``.
    """

    retryable_by_default: bool = False

    def __init__(
        self,
        message: str,
        provider: str | None = None,
        original_exception: BaseException | None = None,
        details: dict[str, Any] | None = None,
        *,
        mode: str | None = None,
        model: str | None = None,
        retryable: bool | None = None,
    ) -> None:
        self.message = message
        self.provider = provider
        self.mode = mode
        self.model = model
        self.original_exception = original_exception
        self.details: dict[str, Any] = dict(details or {})
        self.retryable = self.retryable_by_default if retryable is None else retryable
        if original_exception is not None:
            self.__cause__ = original_exception
        super().__init__(message)

    def __str__(self) -> str:
        where = "/".join(part for part in (self.provider, self.mode) if part)
        return f"[{where}] {self.message}" if where else self.message

    def with_context(self, *, provider: str | None = None, mode: str | None = None, model: str | None = None) -> AbstractLLMError:
        """Fill in provider, mode and model where they are still unknown; returns self."""
        self.provider = self.provider or provider
        self.mode = self.mode or mode
        self.model = self.model or model
        return self


class AuthenticationError(AbstractLLMError):
    """A token is missing, invalid, expired or not allowed to use this model."""


class QuotaExceededError(AbstractLLMError):
    """A usage quota or rate limit was exceeded."""


class RateLimitError(QuotaExceededError):
    """Too many requests; ``retry_after`` holds the server's hint in seconds, if any."""

    retryable_by_default = True

    def __init__(self, message: str, *args: Any, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.retry_after = retry_after


class UnsupportedProviderError(AbstractLLMError, ValueError):
    """No installed plugin serves the requested provider; ``available`` lists those that do."""

    def __init__(self, message: str, *args: Any, available: list[str] | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.available = list(available or [])


class BackendNotInstalledError(AbstractLLMError, ImportError):
    """The backend distribution serving a mode is not installed; ``install`` is the pip line."""

    def __init__(self, message: str, *args: Any, install: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.install = install


class UnsupportedModelError(AbstractLLMError):
    """The model exists but this backend cannot run it."""


class ModelLoadingError(AbstractLLMError):
    """A model could not be loaded (corrupt or incomplete files, incompatible format)."""


class ModelNotFoundError(ModelLoadingError):
    """The model id, folder, file or endpoint route does not exist (or is not in the offline cache)."""


class ResourceExhaustedError(AbstractLLMError):
    """Out of memory (CPU or GPU) or another resource while loading or generating."""


class InvalidRequestError(AbstractLLMError, ValueError):
    """The request is malformed (prompt, messages, parameters)."""


class InvalidArgumentError(InvalidRequestError):
    """A parameter has a wrong name, type or value.

    ``parameter`` names it, ``value`` is what was given (never a secret) and ``allowed``
    says what is accepted. ``InvalidParameterError`` is the same class.
    """

    def __init__(
        self,
        message: str,
        *args: Any,
        parameter: str | None = None,
        value: Any = None,
        allowed: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(message, *args, **kwargs)
        self.parameter = parameter
        self.value = value
        self.allowed = allowed


InvalidParameterError = InvalidArgumentError


class ContextWindowExceededError(InvalidArgumentError):
    """The prompt (plus the requested new tokens) does not fit the model's context window."""

    def __init__(
        self,
        message: str,
        *args: Any,
        context_window: int | None = None,
        content_length: int | None = None,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("parameter", "prompt")
        super().__init__(message, *args, **kwargs)
        self.context_window = context_window
        self.content_length = content_length


class ProviderAPIError(AbstractLLMError):
    """A server or runtime answered with an error that fits no narrower class."""


class ProviderConnectionError(ProviderAPIError):
    """The server could not be reached, or the connection broke."""

    retryable_by_default = True


class RequestTimeoutError(ProviderAPIError):
    """The request took longer than the configured timeout."""

    retryable_by_default = True


class GenerationError(AbstractLLMError):
    """Generation failed inside the backend after the request was accepted."""


class OutputParsingError(GenerationError):
    """The reply cannot be read as what was asked for (e.g. JSON cut off by ``max_tokens``)."""


class ContentFilterError(AbstractLLMError):
    """The provider refused the content."""


class UnsupportedFeatureError(AbstractLLMError):
    """The backend or model cannot do what was asked (``feature`` names it)."""

    def __init__(self, message: str, *args: Any, feature: str | None = None, **kwargs: Any) -> None:
        super().__init__(message, *args, **kwargs)
        self.feature = feature


class UnsupportedOperationError(AbstractLLMError):
    """The operation is not possible in the object's current state."""

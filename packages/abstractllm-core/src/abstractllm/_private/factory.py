"""``create_llm``: route a configuration to a backend, validate it, load the model."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from abstractllm._private.error_mapping import map_exception
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.backend import Backend
from abstractllm.config import ConfigManager, param_name
from abstractllm.errors import (
    AbstractLLMError,
    BackendNotInstalledError,
    InvalidArgumentError,
    UnsupportedProviderError,
)
from abstractllm.options import COMMON_OPTIONS, GENERATION_OPTIONS, suggest
from abstractllm.providers import huggingface

if TYPE_CHECKING:
    from abstractllm._private.plugins import InstalledBackend, Plugins

__all__ = ["create_llm", "get_llm_providers"]

logger = logging.getLogger(__name__)


def get_llm_providers() -> list[str]:
    """Names of the providers installed plugins serve."""
    from abstractllm._private.plugins import get_plugins

    return sorted({*get_plugins().providers(), huggingface.PROVIDER})


def create_llm(provider: str, /, **config: Any) -> AbstractLLMInterface:
    """Create a model of ``provider`` from keyword configuration.

    Keys may be ``ModelParameter`` members or strings. The mode is resolved (see
    :func:`abstractllm.providers.huggingface.resolve_mode` for ``"huggingface"``; plugins
    may claim configurations first), every value is validated against the mode's
    options, and then the backend loads the model. Raises ``UnsupportedProviderError``
    for an unknown provider, ``BackendNotInstalledError`` naming the pip line for a mode
    whose distribution is missing, ``InvalidArgumentError`` for bad options, and the
    backend's mapped errors for load failures.
    """
    if not isinstance(provider, str) or not provider.strip():
        raise UnsupportedProviderError(
            f"provider must be a provider name such as 'huggingface', got {provider!r}", available=get_llm_providers()
        )
    from abstractllm._private.plugins import get_plugins

    provider = provider.strip().lower()
    values = {param_name(key): value for key, value in config.items()}
    plugins = get_plugins()
    installed = _resolve(provider, values, plugins)
    info = installed.info
    options = {**COMMON_OPTIONS, **GENERATION_OPTIONS, **info.load_options, **info.generation_options}
    where = f"create_llm({provider!r}) in mode {info.mode!r}"
    _reject_foreign_options(values, options, provider, info.mode, plugins, where)
    config_manager = ConfigManager(options, values, where=where, provider=provider, mode=info.mode)
    assert info.load is not None  # Plugins refuses a BackendInfo without load
    try:
        backend: Backend | None = info.load(info, config_manager)
    except Exception as exc:
        error = map_exception(exc, info, _model_label(values))
        raise error from error.__cause__  # exc, or an abstractllm error's own cause
    if not isinstance(backend, Backend):
        raise AbstractLLMError(
            f"the plugin {installed.plugin} ({installed.distribution}) declared {provider}/{info.mode}"
            f" but its load returned {type(backend).__name__}, not a Backend",
            provider=provider,
            mode=info.mode,
        )
    cls = huggingface.HuggingFaceProvider if provider == huggingface.PROVIDER else AbstractLLMInterface
    llm = cls(backend, info, config_manager, plugins)
    logger.debug("created %r", llm)
    return llm


def _model_label(values: Mapping[str, Any]) -> str | None:
    for key in ("model_path", "model"):
        value = values.get(key)
        if isinstance(value, str):
            return value
    return None


def _resolve(provider: str, values: Mapping[str, Any], plugins: Plugins) -> InstalledBackend:
    modes = plugins.modes(provider)
    if not modes and provider != huggingface.PROVIDER:
        available = get_llm_providers()
        raise UnsupportedProviderError(
            f"Provider {provider!r} not supported.{suggest(provider, available)} Available providers: {', '.join(available)}",
            available=available,
        )
    mode = plugins.hook.abstractllm_resolve_mode(provider=provider, config=values)
    if mode is None:
        if len(modes) == 1:
            return next(iter(modes.values()))
        raise InvalidArgumentError(
            f"cannot tell which mode of {provider!r} to use; pass model_type= one of {sorted(modes)}",
            parameter="model_type",
            value=None,
            allowed=", ".join(sorted(modes)),
        )
    if mode in modes:
        return modes[mode]
    spelled = mode.strip().lower()
    aliases = {name: backend.info.aliases for name, backend in modes.items()}
    canonical = next((name for name, names in aliases.items() if spelled == name or spelled in names), None)
    if canonical is not None:
        return modes[canonical]
    if provider == huggingface.PROVIDER and spelled in huggingface.MODE_DISTRIBUTIONS:
        mode = spelled
        distribution = huggingface.MODE_DISTRIBUTIONS[mode]
        from abstractllm._private.install_hint import install_line  # on use: it reads pip's install records

        install = install_line(distribution)
        raise BackendNotInstalledError(
            f"the {mode!r} mode needs the {distribution} distribution, which is not installed; run: {install}",
            provider=provider,
            mode=mode,
            install=install,
        )
    known = sorted({*modes, *(huggingface.MODE_DISTRIBUTIONS if provider == huggingface.PROVIDER else ())})
    raise InvalidArgumentError(
        f"model_type={mode!r} is not a mode of {provider!r}.{suggest(mode, known)} Modes: {', '.join(known)}",
        provider=provider,
        parameter="model_type",
        value=mode,
        allowed=", ".join(known),
    )


def _reject_foreign_options(
    values: Mapping[str, Any], options: Mapping[str, Any], provider: str, mode: str, plugins: Plugins, where: str
) -> None:
    """Name the mode an option belongs to when it is given to another mode."""
    for name in values:
        if name in options:
            continue
        owners = sorted(
            other_mode
            for (other_provider, other_mode), backend in plugins.backends.items()
            if other_provider == provider and name in {**backend.info.load_options, **backend.info.generation_options}
        )
        if owners:
            raise InvalidArgumentError(
                f"{where}: {name!r} is an option of the {', '.join(owners)} mode(s), not of {mode!r};"
                f" drop it or pass model_type= one of {owners}",
                provider=provider,
                mode=mode,
                parameter=name,
                value=None,
                allowed=", ".join(sorted(options)),
            )

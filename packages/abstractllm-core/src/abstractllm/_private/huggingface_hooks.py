"""Core's routing of ``"huggingface"`` configurations, as a hook that plugins can pre-empt."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abstractllm.hookspecs import hookimpl
from abstractllm.providers.huggingface_modes import PROVIDER, resolve_mode


@hookimpl(trylast=True)
def abstractllm_resolve_mode(provider: str, config: Mapping[str, Any]) -> str | None:
    return resolve_mode(config) if provider == PROVIDER else None

"""Per-model configuration: validated values over declared defaults."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from abstractllm.options import Option, validate_options

__all__ = ["ConfigManager", "ConfigurationManager", "param_name"]

MASK = "***"


def param_name(name: Any) -> str:
    """The string name of a parameter given as a ``ModelParameter`` member or a string."""
    value = getattr(name, "value", name)
    return str(value)


class ConfigManager:
    """The configuration of one model.

    ``get_param(name)`` returns the value given to ``create_llm`` (or a later
    ``update_config``), else the option's default (an environment variable for
    options that declare one, e.g. ``api_key`` from ``HUGGINGFACE_API_KEY`` then
    ``HF_TOKEN``), else the ``default`` argument. Names may be ``ModelParameter``
    members or strings. Updates are validated like ``create_llm`` arguments.

    ``ConfigurationManager`` is an alias of this class (the original library's name).
    """

    def __init__(
        self,
        options: Mapping[str, Option],
        values: Mapping[str, Any] | None = None,
        *,
        defaults: Mapping[str, Any] | None = None,
        where: str = "config",
        provider: str | None = None,
        mode: str | None = None,
    ) -> None:
        self._options = dict(options)
        self._where = where
        self._provider = provider
        self._mode = mode
        self._defaults: dict[str, Any] = {name: option.default for name, option in self._options.items()}
        self._defaults.update(defaults or {})
        self._from_env: set[str] = set()
        for name, option in self._options.items():
            found = next((os.environ[var] for var in option.env if os.environ.get(var)), None)
            if found is not None:
                self._defaults[name] = found
                self._from_env.add(name)
        self._values: dict[str, Any] = {}
        self._version = 0
        if values:
            self.update_config(values)

    @property
    def options(self) -> Mapping[str, Option]:
        return self._options

    @property
    def version(self) -> int:
        """A number that changes whenever a value changes (for callers that cache derived values)."""
        return self._version

    def get_param(self, name: Any, default: Any = None) -> Any:
        key = param_name(name)
        if key in self._values:
            return self._values[key]
        value = self._defaults.get(key)
        return default if value is None else value

    def effective(self, names: Iterable[str]) -> dict[str, Any]:
        """The current value of each name (given value, else default; ``None`` when neither)."""
        values, defaults = self._values, self._defaults
        return {name: values[name] if name in values else defaults.get(name) for name in names}

    def is_explicit(self, name: Any) -> bool:
        """Whether the value was given by the caller (not a default or an environment variable)."""
        return param_name(name) in self._values

    def from_environment(self, name: Any) -> bool:
        """Whether the current value was read from an environment variable."""
        key = param_name(name)
        return key not in self._values and key in self._from_env

    def update_config(self, updates: Mapping[Any, Any]) -> None:
        """Validate and apply ``updates``; nothing changes if any value is invalid."""
        checked = validate_options(
            {param_name(key): value for key, value in updates.items()},
            self._options,
            where=self._where,
            provider=self._provider,
            mode=self._mode,
        )
        self._values.update(checked)
        self._version += 1

    def get_config(self, *, mask_secrets: bool = True) -> dict[str, Any]:
        """The effective configuration (defaults and given values); secrets masked."""
        merged = {**self._defaults, **self._values}
        if mask_secrets:
            for name, option in self._options.items():
                if option.secret and merged.get(name):
                    merged[name] = MASK
        return merged

    def __repr__(self) -> str:
        return f"ConfigManager({self.get_config()!r})"


#: Alias of :class:`ConfigManager`: the original library's name.
ConfigurationManager = ConfigManager

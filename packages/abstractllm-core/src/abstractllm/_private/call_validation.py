"""One call's arguments checked into a ``GenerationRequest``: :class:`CallValidator`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from abstractllm._private.structured import normalize_response_format
from abstractllm.backend import BackendInfo
from abstractllm.backend.messages import Message, check_text, normalize_messages
from abstractllm.config import ConfigManager
from abstractllm.enums import MessageRole
from abstractllm.errors import InvalidArgumentError
from abstractllm.options import GENERATION_OPTIONS, Option, validate_options
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.tools import normalize_tool_choice, normalize_tools

__all__ = ["CallValidator"]

_CORE_NAMES = frozenset(GENERATION_OPTIONS)
_PLAIN = frozenset({int, float, str, bool, type(None)})  # parameter values a call's params are remembered by
_PARAMS_SEEN = 64  # distinct parameter sets remembered per model
_USER = MessageRole.USER.value
_SYSTEM = MessageRole.SYSTEM.value


@dataclass(frozen=True)
class _CallDefaults:
    """A model's configured generation values at one configuration version."""

    version: int
    core: dict[str, Any]
    extra: dict[str, Any]
    system_prompt: str | None
    params: GenerationParams  # the values as they are, for calls that set none


class CallValidator:
    """Checks the arguments of one model's ``generate`` calls against its options and fills
    in its configured values (cached until the configuration changes).

    What depends on the loaded backend (capabilities, the context window) is checked by
    the model itself.
    """

    def __init__(self, info: BackendInfo, config_manager: ConfigManager) -> None:
        self._info = info
        self._config = config_manager
        self._defaults: _CallDefaults | None = None
        self._params_seen: dict[tuple[Any, ...], GenerationParams] = {}
        self.options: dict[str, Option] = {**GENERATION_OPTIONS, **info.generation_options}
        self.where = f"generate() on {info.provider}/{info.mode}"

    def request(
        self,
        prompt: Any,
        system_prompt: str | None,
        stream: bool,
        tools: Sequence[Any] | None,
        tool_choice: Any,
        response_format: Any,
        raw: bool,
        messages: Sequence[Any] | None,
        params: Mapping[str, Any],
    ) -> GenerationRequest:
        """The validated request of one call; ``InvalidArgumentError`` naming the parameter otherwise."""
        where = self.where
        defaults = self._call_defaults()
        params_obj = self._params(defaults, params) if params else defaults.params
        if stream is not True and stream is not False:
            raise _flag_error(where, "stream", stream)
        if raw is not True and raw is not False:
            raise _flag_error(where, "raw", raw)
        if system_prompt is not None:
            check_text(system_prompt, f"{where}: system_prompt", parameter="system_prompt")
        if stream and params_obj.num_return_sequences > 1:
            raise InvalidArgumentError(
                f"{where}: stream=True returns one sequence; set num_return_sequences=1 or stream=False",
                parameter="num_return_sequences",
                value=params_obj.num_return_sequences,
                allowed="1 when streaming",
            )
        if system_prompt is None and not raw:
            system_prompt = defaults.system_prompt
        conversation, plain_prompt = _conversation(prompt, system_prompt, messages, raw, where)
        tool_definitions = normalize_tools(tools)
        choice = normalize_tool_choice(tool_choice, tool_definitions)
        return GenerationRequest(
            messages=tuple(conversation),
            params=params_obj,
            prompt=plain_prompt,
            raw=raw,
            tools=tool_definitions,
            tool_choice=choice,
            response_format=normalize_response_format(response_format),
        )

    def _params(self, defaults: _CallDefaults, given: Mapping[str, Any]) -> GenerationParams:
        """The call's parameters over the configured ones. A params object is immutable, so
        calls giving the same plain values (numbers, strings, None) at the same configuration
        share one: checking them again would cost more than the rest of a call's validation."""
        key = None
        if all(type(value) in _PLAIN for value in given.values()):
            key = (defaults.version, *((name, type(value), value) for name, value in given.items()))
            if (seen := self._params_seen.get(key)) is not None:
                return seen
        checked = validate_options(given, self.options, where=self.where, provider=self._info.provider, mode=self._info.mode)
        core, extra = dict(defaults.core), dict(defaults.extra)
        for name, value in checked.items():
            if name in _CORE_NAMES:
                core[name] = value
            elif value is None:
                extra.pop(name, None)
            else:
                extra[name] = value
        params = GenerationParams(**core, extra=extra)
        if key is not None:
            if len(self._params_seen) >= _PARAMS_SEEN:
                self._params_seen.clear()
            self._params_seen[key] = params
        return params

    def _call_defaults(self) -> _CallDefaults:
        """The configured generation values, recomputed only after the configuration changed."""
        cached = self._defaults
        version = self._config.version
        if cached is None or cached.version != version:
            effective = self._config.effective(self.options)
            configured = self._config.get_param("system_prompt")
            core = {name: value for name, value in effective.items() if name in _CORE_NAMES}
            extra = {name: value for name, value in effective.items() if name not in _CORE_NAMES and value is not None}
            cached = _CallDefaults(
                version=version,
                core=core,
                extra=extra,
                system_prompt=configured if isinstance(configured, str) else None,
                params=GenerationParams(**core, extra=extra),
            )
            self._defaults = cached
        return cached


def _conversation(
    prompt: Any, system_prompt: str | None, messages: Sequence[Any] | None, raw: bool, where: str
) -> tuple[list[Message], str | None]:
    """The conversation to send (``system_prompt`` first) and the plain prompt, if the call is one."""
    history: list[Message] = normalize_messages(messages) if messages else []
    plain: str | None = None
    if isinstance(prompt, str):
        check_text(prompt, f"{where}: prompt", parameter="prompt")
        if not prompt.strip() and not history:
            raise InvalidArgumentError(
                f"{where}: prompt is empty; pass the text to complete",
                parameter="prompt",
                value=prompt,
                allowed="non-empty text",
            )
        plain = prompt
        if prompt:
            history.append(Message(role=_USER, content=prompt))
    elif prompt is None:
        if not history:
            raise InvalidArgumentError(
                f"{where}: prompt is missing", parameter="prompt", value=None, allowed="a string or a list of messages"
            )
    elif isinstance(prompt, Sequence) and not isinstance(prompt, (bytes, bytearray, memoryview)):
        history.extend(normalize_messages(prompt))
    else:
        fix = "; decode it first, e.g. prompt.decode('utf-8')" if isinstance(prompt, (bytes, bytearray, memoryview)) else ""
        raise InvalidArgumentError(
            f"{where}: prompt must be a string or a list of chat messages, got {type(prompt).__name__}{fix}",
            parameter="prompt",
            value=type(prompt).__name__,
            allowed="str or list of messages",
        )
    if raw and (plain is None or messages or system_prompt is not None):
        raise InvalidArgumentError(
            f"{where}: raw=True completes one plain string verbatim; drop messages and system_prompt, or drop raw",
            parameter="raw",
            value=True,
            allowed="raw=True with a plain string prompt only",
        )
    if system_prompt is not None:
        history = [message for message in history if message.role != _SYSTEM]
        history.insert(0, Message(role=_SYSTEM, content=system_prompt))
    if len(history) != 1 or history[0].role != _USER:
        plain = None if not raw else plain
    return history, plain


def _flag_error(where: str, name: str, value: Any) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"{where}: {name} must be True or False, got {value!r}", parameter=name, value=value, allowed="True or False"
    )

"""A conversation with history, tools and saving: ``Session`` (public as :mod:`abstractllm.session`)."""

from __future__ import annotations

import dataclasses
import itertools
import logging
import os
import uuid
from collections.abc import AsyncGenerator, Callable, Generator, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar, cast

from abstractllm._private.context_fit import ContextFit
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm._private.session_files import read_session_file, write_json_atomically
from abstractllm._private.tool_hooks import not_run_for_round_limit, run_tool_calls, run_tool_calls_async
from abstractllm._private.tool_loop_steps import Ask, RunTools, check_rounds, later_tool_choice
from abstractllm.backend.messages import Message, check_text, normalize_messages
from abstractllm.enums import MessageRole
from abstractllm.errors import InvalidArgumentError, UnsupportedOperationError
from abstractllm.response import GenerateResponse, StreamChunk
from abstractllm.tools import ToolDefinition, normalize_tools

__all__ = ["Session"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")


class _ClassOrInstanceMethod(Generic[T, R]):
    """``Session.load(path)`` makes a new session; ``session.load(path)`` loads into this one."""

    def __init__(self, on_class: Callable[..., R], on_instance: Callable[..., R]) -> None:
        self._on_class = on_class
        self._on_instance = on_instance

    def __get__(self, instance: T | None, owner: type[T]) -> Callable[..., R]:
        if instance is None:
            return self._on_class.__get__(owner, owner)
        return self._on_instance.__get__(instance, owner)


def _now() -> datetime:
    return datetime.now(timezone.utc)


class Session:
    """A conversation with one model.

    ``generate`` sends the history plus the new prompt and records both turns (a streamed
    reply enters the history when the stream ends). When the history outgrows the model's
    context window, the oldest turns are left out of the request (never the system prompt
    or the newest turn); the history itself keeps them. A backend that can count tokens
    gets a request that fits (counted with the tools and ``tool_choice`` it sends); with
    one that cannot (the API and endpoint modes), the server's ``ContextWindowExceededError``
    makes the session leave out old turns in proportion to the overflow it reports and send
    again, at most ``MAX_FIT_ATTEMPTS`` requests per call; later calls to that model start
    from the size it accepted.
    ``save``/``load`` use JSON written atomically; a file that fails to load changes nothing.
    """

    def __init__(
        self,
        system_prompt: str | None = None,
        provider: AbstractLLMInterface | str | None = None,
        provider_config: Mapping[Any, Any] | None = None,
        metadata: Mapping[str, Any] | None = None,
        tools: Sequence[Any] | None = None,
    ) -> None:
        if isinstance(provider, str):
            from abstractllm._private.factory import create_llm

            provider = create_llm(provider, **dict(provider_config or {}))
        elif provider is not None and not isinstance(provider, AbstractLLMInterface):
            raise InvalidArgumentError(
                f"provider must be a model from create_llm() or a provider name, got {type(provider).__name__}",
                parameter="provider",
                value=type(provider).__name__,
            )
        self.id = str(uuid.uuid4())
        self.created_at = _now()
        self.last_updated = self.created_at
        self.system_prompt = system_prompt
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.messages: list[Message] = []
        self.tools: list[ToolDefinition] = []
        self._tool_functions: dict[str, Callable[..., Any]] = {}
        self._provider: AbstractLLMInterface | None = provider
        self._fit = ContextFit()
        if system_prompt is not None:
            self.add_message(MessageRole.SYSTEM, check_text(system_prompt, "system_prompt", parameter="system_prompt"))
        for tool in tools or []:
            self.add_tool(tool)

    # -- history --------------------------------------------------------------------------

    @property
    def provider(self) -> AbstractLLMInterface | None:
        return self._provider

    def add_message(
        self,
        role: MessageRole | str,
        content: str | None,
        name: str | None = None,
        metadata: Mapping[str, Any] | None = None,
        **fields: Any,
    ) -> Message:
        """Append a message (``tool_calls`` and ``tool_call_id`` may be given as keywords)."""
        message = _new_message(role, content, name, metadata, **fields)
        self.messages.append(message)
        self.last_updated = _now()
        return message

    def _commit(self, turns: Sequence[Message]) -> None:
        """Append the turns of one completed call, all at once."""
        self.messages.extend(turns)
        self.last_updated = _now()

    def get_history(self, include_system: bool = True) -> list[Message]:
        return [m for m in self.messages if include_system or m.role != MessageRole.SYSTEM.value]

    def clear_history(self, keep_system_prompt: bool = True) -> None:
        """Forget the conversation; the system prompt stays unless ``keep_system_prompt=False``."""
        if keep_system_prompt and self.system_prompt is not None:
            self.messages = [m for m in self.messages if m.role == MessageRole.SYSTEM.value]
        else:
            self.messages = []
        self.last_updated = _now()

    def clear(self) -> None:
        """Forget the conversation, keeping the system prompt."""
        self.clear_history(keep_system_prompt=True)

    def add_tool(self, tool: Any) -> None:
        """Make a tool available to every generation of this session (functions can be run)."""
        (definition,) = normalize_tools([tool])
        self.tools = [t for t in self.tools if t.name != definition.name] + [definition]
        if callable(tool) and not isinstance(tool, ToolDefinition):
            self._tool_functions[definition.name] = tool

    # -- persistence ------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created_at": self.created_at.isoformat(),
            "last_updated": self.last_updated.isoformat(),
            "system_prompt": self.system_prompt,
            "metadata": self.metadata,
            "messages": [message.to_dict() for message in self.messages],
        }

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the session as JSON atomically (see :func:`write_json_atomically`): on any
        error (``InvalidArgumentError`` naming the path or the field) the previous file stays."""
        write_json_atomically(path, self.to_dict())

    def _load_into(self, path: str | os.PathLike[str]) -> Session:
        return self._load_into_state(read_session_file(path))

    @classmethod
    def _load_new(
        cls,
        path: str | os.PathLike[str],
        provider: AbstractLLMInterface | str | None = None,
        provider_config: Mapping[Any, Any] | None = None,
    ) -> Session:
        state = read_session_file(path)
        session = cls(provider=provider, provider_config=provider_config)
        return session._load_into_state(state)

    def _load_into_state(self, state: dict[str, Any]) -> Session:
        for key, value in state.items():
            setattr(self, key, value)
        return self

    load = _ClassOrInstanceMethod["Session", "Session"](_load_new, _load_into)

    # -- generation -------------------------------------------------------------------------

    def _model(self, provider: AbstractLLMInterface | None) -> AbstractLLMInterface:
        model = provider or self._provider
        if model is None:
            raise UnsupportedOperationError(
                "No provider specified. Either initialize the session with a provider or specify one when sending a message."
            )
        return model

    def _request_messages(
        self, model: AbstractLLMInterface, pending: Sequence[Message], params: Mapping[str, Any], system_prompt: str | None = None
    ) -> list[Message]:
        """The history and ``pending`` turns to send (``system_prompt``, if given, in place of the
        session's), trimmed to the context window as a request with ``params`` (its tools too) takes it."""
        system = [] if system_prompt is None else [Message(role=MessageRole.SYSTEM.value, content=system_prompt)]
        history = [m for m in self.messages if not system or m.role != MessageRole.SYSTEM.value]
        return self._fit.trim(model, [*system, *history, *pending], params)

    def _begin(
        self, prompt: str | None, model: AbstractLLMInterface, params: dict[str, Any]
    ) -> tuple[list[Message], list[Message]]:
        """The new user turn (not yet in the history) and the messages to send with ``params``
        (the request's keywords). A ``system_prompt`` in ``params`` replaces the session's for
        this request only (it is popped from ``params``)."""
        system_prompt = params.pop("system_prompt", None)
        pending: list[Message] = []
        if prompt is not None:
            if not check_text(prompt, "prompt", parameter="prompt").strip():
                raise InvalidArgumentError("prompt must be non-empty text", parameter="prompt", value=prompt)
            pending.append(_new_message(MessageRole.USER, prompt))
        if not self.messages and not pending:
            raise InvalidArgumentError("nothing to send: pass a prompt", parameter="prompt", value=None)
        return pending, self._request_messages(model, pending, params, system_prompt)

    def generate(
        self,
        prompt: str | None = None,
        provider: AbstractLLMInterface | None = None,
        *,
        stream: bool = False,
        tool_functions: Mapping[str, Callable[..., Any]] | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | Generator[StreamChunk, None, None]:
        """Send ``prompt`` with the history and record the reply (with ``tool_functions`` or
        session tools, runs the tool loop as :meth:`generate_with_tools`).

        Both turns enter the history only when the reply is complete: a call that fails, or
        a stream that is closed or abandoned before its end, leaves the history as it was.
        """
        if self._runs_tools(tool_functions, stream, "generate_with_tools"):
            return self.generate_with_tools(prompt, provider=provider, tool_functions=tool_functions, **kwargs)
        model = self._model(provider)
        pending, messages = self._begin(prompt, model, kwargs)
        if stream:  # the parameters are checked now, as the model's own stream does; nothing starts
            model.generate(messages=messages, stream=True, **kwargs).close()
            return self._stream(model, pending, messages, kwargs)
        reply = self._fit.send(model, messages, lambda fitted: model.generate(messages=fitted, **kwargs), kwargs)
        self._commit([*pending, _reply_message(reply)])
        return reply

    def _runs_tools(self, tool_functions: Mapping[str, Callable[..., Any]] | None, stream: bool, loop: str) -> bool:
        """Whether ``generate`` runs the tool loop instead; a streamed tool loop is refused."""
        if tool_functions and stream:
            raise InvalidArgumentError(
                f"stream=True cannot run a tool loop; call {loop}(...) or drop stream",
                parameter="stream",
                value=True,
                allowed="False when tool_functions are given",
            )
        return bool(tool_functions or (self._tool_functions and not stream))

    def send(self, message: str, provider: AbstractLLMInterface | None = None, stream: bool = False, **kwargs: Any) -> Any:
        """Alias of :meth:`generate`: the original library's name."""
        return self.generate(message, provider, stream=stream, **kwargs)

    def _stream(
        self, model: AbstractLLMInterface, pending: list[Message], messages: list[Message], kwargs: dict[str, Any]
    ) -> Generator[StreamChunk, None, None]:
        def open_stream(fitted: list[Message]) -> tuple[list[StreamChunk], Generator[StreamChunk, None, None]]:
            chunks = model.generate(messages=fitted, stream=True, **kwargs)
            first = next(chunks, None)  # the request is refused, if at all, by now
            return ([] if first is None else [first]), chunks

        first, rest = self._fit.send(model, messages, open_stream, kwargs)
        chunks: list[StreamChunk] = []
        try:
            for chunk in itertools.chain(first, rest):
                chunks.append(chunk)
                yield chunk
        finally:
            rest.close()
        self._commit([*pending, _streamed_message(chunks)])

    async def generate_async(
        self,
        prompt: str | None = None,
        provider: AbstractLLMInterface | None = None,
        *,
        stream: bool = False,
        tool_functions: Mapping[str, Callable[..., Any]] | None = None,
        **kwargs: Any,
    ) -> GenerateResponse | AsyncGenerator[StreamChunk, None]:
        """:meth:`generate` for asyncio; with ``stream=True`` awaiting gives an async generator.
        A cancelled call leaves the history as it was."""
        if self._runs_tools(tool_functions, stream, "generate_with_tools_async"):
            return await self.generate_with_tools_async(prompt, provider=provider, tool_functions=tool_functions, **kwargs)
        model = self._model(provider)
        pending, messages = self._begin(prompt, model, kwargs)
        if stream:
            await (await model.generate_async(messages=messages, stream=True, **kwargs)).aclose()
            return self._stream_async(model, pending, messages, kwargs)
        reply = await self._fit.send_async(model, messages, lambda sent: model.generate_async(messages=sent, **kwargs), kwargs)
        self._commit([*pending, _reply_message(reply)])
        return reply

    async def send_async(
        self, message: str, provider: AbstractLLMInterface | None = None, stream: bool = False, **kwargs: Any
    ) -> Any:
        return await self.generate_async(message, provider, stream=stream, **kwargs)

    async def _stream_async(
        self, model: AbstractLLMInterface, pending: list[Message], messages: list[Message], kwargs: dict[str, Any]
    ) -> AsyncGenerator[StreamChunk, None]:
        async def open_stream(fitted: list[Message]) -> tuple[list[StreamChunk], AsyncGenerator[StreamChunk, None]]:
            chunks = await model.generate_async(messages=fitted, stream=True, **kwargs)
            first = await anext(chunks, None)  # the request is refused, if at all, by now
            return ([] if first is None else [first]), chunks

        first, rest = await self._fit.send_async(model, messages, open_stream, kwargs)
        chunks: list[StreamChunk] = []
        try:
            for chunk in first:
                chunks.append(chunk)
                yield chunk
            async for chunk in rest:
                chunks.append(chunk)
                yield chunk
        finally:
            await rest.aclose()
        self._commit([*pending, _streamed_message(chunks)])

    # -- tools ------------------------------------------------------------------------------

    def _tool_setup(
        self, tools: Sequence[Any] | None, tool_functions: Mapping[str, Callable[..., Any]] | None
    ) -> tuple[list[Any], dict[str, Callable[..., Any]]]:
        functions = {**self._tool_functions, **dict(tool_functions or {})}
        definitions: list[Any] = list(self.tools)
        for tool in tools or []:
            (definition,) = normalize_tools([tool])
            definitions = [d for d in definitions if d.name != definition.name] + [definition]
            if callable(tool) and not isinstance(tool, ToolDefinition):
                functions[definition.name] = tool
        for name, function in (tool_functions or {}).items():
            if all(d.name != name for d in definitions):
                definitions.append(dataclasses.replace(ToolDefinition.from_function(function), name=name))
        if not definitions:
            raise InvalidArgumentError("no tools: pass tools=[...] or tool_functions={...}", parameter="tools", value=None)
        return definitions, functions

    def generate_with_tools(
        self,
        prompt: str | None = None,
        tools: Sequence[Any] | None = None,
        *,
        tool_functions: Mapping[str, Callable[..., Any]] | None = None,
        max_tool_rounds: int = 5,
        provider: AbstractLLMInterface | None = None,
        **kwargs: Any,
    ) -> GenerateResponse:
        """Model → tool calls → the caller's functions run → results fed back → … → final answer.

        At most ``max_tool_rounds`` (≥ 1) rounds of tool calls; the last request then asks
        for an answer without tools (calls it makes anyway get results saying they were not run).
        A forced ``tool_choice`` ("required" or a tool's name) applies to the first request
        only; later ones are "auto". Every step enters the
        history when the final answer arrives; a loop that fails or is interrupted on the
        way leaves the history as it was.
        """
        model, functions, loop = self._start_tool_loop(prompt, tools, tool_functions, max_tool_rounds, provider, kwargs)
        try:
            step = next(loop)
            while True:
                if isinstance(step, RunTools):
                    step = loop.send(run_tool_calls(step.calls, functions, model._plugins, round_=step.round, session_id=self.id))
                else:
                    step = loop.send(self._fit.send(model, step.messages, step.generate, step.params))
        except StopIteration as finished:
            return cast(GenerateResponse, finished.value)

    async def generate_with_tools_async(
        self,
        prompt: str | None = None,
        tools: Sequence[Any] | None = None,
        *,
        tool_functions: Mapping[str, Callable[..., Any]] | None = None,
        max_tool_rounds: int = 5,
        provider: AbstractLLMInterface | None = None,
        **kwargs: Any,
    ) -> GenerateResponse:
        """:meth:`generate_with_tools` for asyncio; async tool functions are awaited."""
        model, functions, loop = self._start_tool_loop(prompt, tools, tool_functions, max_tool_rounds, provider, kwargs)
        try:
            step = next(loop)
            while True:
                if isinstance(step, RunTools):
                    results = await run_tool_calls_async(
                        step.calls, functions, model._plugins, round_=step.round, session_id=self.id
                    )
                    step = loop.send(results)
                else:
                    step = loop.send(await self._fit.send_async(model, step.messages, step.generate_async, step.params))
        except StopIteration as finished:
            return cast(GenerateResponse, finished.value)

    def _start_tool_loop(
        self,
        prompt: str | None,
        tools: Sequence[Any] | None,
        tool_functions: Mapping[str, Callable[..., Any]] | None,
        max_tool_rounds: int,
        provider: AbstractLLMInterface | None,
        kwargs: dict[str, Any],
    ) -> tuple[AbstractLLMInterface, dict[str, Callable[..., Any]], Generator[Ask | RunTools, Any, GenerateResponse]]:
        """A tool loop's arguments checked: the model, the tools' functions, and the loop (not started)."""
        kwargs.pop("max_tool_calls", None)
        check_rounds(max_tool_rounds)
        definitions, functions = self._tool_setup(tools, tool_functions)
        model = self._model(provider)
        return model, functions, self._tool_loop(model, kwargs, prompt, max_tool_rounds, definitions)

    def _tool_loop(
        self, model: AbstractLLMInterface, kwargs: dict[str, Any], prompt: str | None, max_tool_rounds: int, tools: list[Any]
    ) -> Generator[Ask | RunTools, Any, GenerateResponse]:
        """One tool loop without its I/O (shared by the sync and async drivers): yields each
        request to send (answered with the reply) and each round of tool calls to run
        (answered with the result messages); records every turn and returns the final reply.
        Each request is fitted to the window with the tools and ``tool_choice`` it sends."""
        params = {**kwargs, "tools": tools}
        system_prompt = params.get("system_prompt")  # an override holds for every request of the loop
        turns, messages = self._begin(prompt, model, params)
        reply: GenerateResponse = yield Ask(model, messages, params)
        for round_ in range(1, max_tool_rounds + 1):
            if not reply.tool_calls:
                break
            turns.append(_reply_message(reply))
            turns.extend((yield RunTools(reply.tool_calls, round_)))
            params = {**params, "tool_choice": later_tool_choice(kwargs.get("tool_choice"), round_, max_tool_rounds)}
            reply = yield Ask(model, self._request_messages(model, turns, params, system_prompt), params)
        self._commit([*turns, _reply_message(reply), *not_run_for_round_limit(reply.tool_calls, max_tool_rounds)])
        return reply


def _new_message(
    role: MessageRole | str,
    content: str | None,
    name: str | None = None,
    metadata: Mapping[str, Any] | None = None,
    **fields: Any,
) -> Message:
    """A validated message (``tool_calls`` and ``tool_call_id`` may be given as keywords)."""
    return normalize_messages([{"role": role, "content": content, "name": name, "metadata": dict(metadata or {}), **fields}])[0]


def _reply_message(reply: GenerateResponse) -> Message:
    metadata = {"finish_reason": reply.finish_reason, "usage": reply.usage.to_dict(), "model": reply.model}
    return _new_message(MessageRole.ASSISTANT, str(reply), metadata=metadata, tool_calls=reply.tool_calls or None)


def _streamed_message(chunks: Sequence[StreamChunk]) -> Message:
    last = chunks[-1] if chunks else None
    metadata: dict[str, Any] = {}
    if last is not None:
        metadata = {"finish_reason": last.finish_reason, "usage": last.usage.to_dict() if last.usage else None}
    text = "".join(str(chunk) for chunk in chunks)
    return _new_message(MessageRole.ASSISTANT, text, metadata=metadata, tool_calls=(last.tool_calls if last else None) or None)

"""The OpenAI-compatible routes: ``/v1/chat/completions`` and ``/v1/completions``.

Spoken by vLLM, llama.cpp's servers, TGI's Messages API, HF Inference Endpoints and
HuggingFace's router. Streams ask for ``stream_options: {"include_usage": true}`` so the
server's own token counts arrive in the last chunk (servers that ignore it send none).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abstractllm.errors import ProviderAPIError
from abstractllm.request import GenerationParams, GenerationRequest, ResponseFormat
from abstractllm.response import Choice, Completion, Usage
from abstractllm_hf_api.errors import stream_error
from abstractllm_hf_api.protocol import Call, Protocol, StreamEnd, StreamState, finish_reason, load_json, usage_from
from abstractllm_hf_api.sse import SSEEvent
from abstractllm_hf_api.tool_calls import ToolCallAssembler, parse_tool_calls

__all__ = ["RESPONSE_FORMAT_DIALECTS", "OpenAIChat", "OpenAICompletions", "openai_sampling"]

#: How servers spell a JSON-schema constraint: OpenAI's ``json_schema``; llama.cpp's
#: ``json_object`` + ``schema``; TGI's ``json_object`` + ``value``. Tried in this order.
RESPONSE_FORMAT_DIALECTS = ("openai", "schema", "value")


def openai_sampling(params: GenerationParams, *, penalty_alias: bool) -> dict[str, Any]:
    """Sampling fields shared by both OpenAI routes. ``penalty_alias`` also sends
    ``repeat_penalty`` (llama.cpp's name) next to ``repetition_penalty`` (vLLM's, TGI's)."""
    body: dict[str, Any] = {"max_tokens": params.max_tokens}
    if params.greedy:
        body["temperature"] = 0.0
    else:
        body["temperature"] = params.temperature
        if params.top_p is not None:
            body["top_p"] = params.top_p
        if params.top_k is not None:
            body["top_k"] = params.top_k
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    if params.repetition_penalty is not None:
        body["repetition_penalty"] = params.repetition_penalty
        if penalty_alias:
            body["repeat_penalty"] = params.repetition_penalty
    return body


def response_format_body(response_format: ResponseFormat, dialect: str) -> dict[str, Any]:
    """``response_format`` spelled in ``dialect`` (one of :data:`RESPONSE_FORMAT_DIALECTS`)."""
    if response_format.kind == "json_object" and response_format.schema is None:
        return {"type": "json_object"}
    schema = response_format.json_schema()
    if dialect == "openai":
        return {"type": "json_schema", "json_schema": {"name": response_format.name, "schema": schema, "strict": True}}
    return {"type": "json_object", dialect: schema}


class _OpenAIRoute(Protocol):
    def __init__(self, base_url: str, *, model: str | None, extra_body: Mapping[str, Any], penalty_alias: bool) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.extra_body = dict(extra_body)
        self.penalty_alias = penalty_alias

    def _body(self, request: GenerationRequest, *, stream: bool, n: int) -> dict[str, Any]:
        body: dict[str, Any] = {}
        if self.model:
            body["model"] = self.model
        body.update(openai_sampling(request.params, penalty_alias=self.penalty_alias))
        if n > 1:
            body["n"] = n
        if stream:
            body["stream"] = True
            body["stream_options"] = {"include_usage": True}
        return body

    @staticmethod
    def _choices(body: Any, where: str) -> list[dict[str, Any]]:
        choices = body.get("choices") if isinstance(body, dict) else None
        if not isinstance(choices, list) or not choices or not all(isinstance(choice, dict) for choice in choices):
            raise ProviderAPIError(f"{where} answered without choices: {str(body)[:200]!r}")
        if len(choices) == 1:
            return choices
        return sorted(choices, key=lambda choice: choice.get("index", 0) if isinstance(choice.get("index"), int) else 0)


class OpenAIChat(_OpenAIRoute):
    """``/v1/chat/completions``: the server applies the model's chat template."""

    name = "openai"
    supports_tools = True
    supports_json = True
    chat_template = True

    def __init__(
        self,
        base_url: str,
        *,
        model: str | None,
        extra_body: Mapping[str, Any],
        penalty_alias: bool,
        path: str = "/v1/chat/completions",
    ) -> None:
        super().__init__(base_url, model=model, extra_body=extra_body, penalty_alias=penalty_alias)
        self.url = self.base_url + path
        self.dialect = RESPONSE_FORMAT_DIALECTS[0]

    def call(self, request: GenerationRequest, *, stream: bool, n: int) -> Call:
        body = self._body(request, stream=stream, n=n)
        body["messages"] = request.chat_dicts()
        features: list[str] = []
        if request.offers_tools:
            body["tools"] = [tool.to_openai() for tool in request.tools]
            choice = request.tool_choice
            if choice == "required" and len(request.tools) == 1:  # the same demand, in the form servers enforce
                choice = request.tools[0].name  # (llama.cpp's server ignores or fails on "required")
            body["tool_choice"] = choice if choice in ("auto", "required") else {"type": "function", "function": {"name": choice}}
            features.append("tools")
        if request.response_format is not None:
            body["response_format"] = response_format_body(request.response_format, self.dialect)
            features.append("response_format")
        body.update(self.extra_body)
        return Call(self.url, body, tuple(features))

    def completion(self, body: Any, headers: Mapping[str, str], request: GenerationRequest) -> Completion:
        choices = []
        for choice in self._choices(body, self.url):
            message = choice.get("message")
            message = message if isinstance(message, dict) else {}
            content = message.get("content")
            choices.append(
                Choice(
                    text=content if isinstance(content, str) else "",
                    finish_reason=finish_reason(choice.get("finish_reason")),
                    tool_calls=parse_tool_calls(message.get("tool_calls")),
                )
            )
        return Completion(choices=choices, usage=usage_from(body.get("usage")) or Usage(), model=body.get("model"))

    def stream_state(self, request: GenerationRequest) -> StreamState:
        return _OpenAIStream(self.url, chat=True)


class OpenAICompletions(_OpenAIRoute):
    """``/v1/completions``: the prompt is completed as given (no chat template)."""

    name = "openai-completions"

    def __init__(self, base_url: str, *, model: str | None, extra_body: Mapping[str, Any], penalty_alias: bool) -> None:
        super().__init__(base_url, model=model, extra_body=extra_body, penalty_alias=penalty_alias)
        self.url = self.base_url + "/v1/completions"

    def call(self, request: GenerationRequest, *, stream: bool, n: int) -> Call:
        body = self._body(request, stream=stream, n=n)
        body["prompt"] = request.text_without_template()
        body.update(self.extra_body)
        return Call(self.url, body)

    def completion(self, body: Any, headers: Mapping[str, str], request: GenerationRequest) -> Completion:
        choices = [
            Choice(
                text=str(choice.get("text") or ""),
                finish_reason=finish_reason(choice.get("finish_reason")),
            )
            for choice in self._choices(body, self.url)
        ]
        return Completion(choices=choices, usage=usage_from(body.get("usage")) or Usage(), model=body.get("model"))

    def stream_state(self, request: GenerationRequest) -> StreamState:
        return _OpenAIStream(self.url, chat=False)


class _OpenAIStream(StreamState):
    """Chunks until ``[DONE]``; the usage chunk (empty ``choices``) may follow the finish reason."""

    def __init__(self, url: str, *, chat: bool) -> None:
        self._url = url
        self._chat = chat
        self._finish: str | None = None
        self._usage: Usage | None = None
        self._tools = ToolCallAssembler()

    def feed(self, event: SSEEvent) -> str:
        data = event.data.strip()
        if data == "[DONE]":
            self.done = True
            return ""
        if not data:
            return ""
        chunk = load_json(data, self._url)
        if event.event == "error" or (isinstance(chunk, dict) and chunk.get("error")):
            raise stream_error(chunk, url=self._url)
        if not isinstance(chunk, dict):
            raise ProviderAPIError(f"{self._url} sent an unexpected stream chunk: {data[:200]!r}")
        self._usage = usage_from(chunk.get("usage")) or self._usage
        text = ""
        for choice in chunk.get("choices") or []:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue
            if self._chat:
                delta = choice.get("delta")
                delta = delta if isinstance(delta, dict) else {}
                piece = delta.get("content")
                self._tools.feed(delta.get("tool_calls"))
            else:
                piece = choice.get("text")
            if isinstance(piece, str):
                text += piece
            self._finish = finish_reason(choice.get("finish_reason")) or self._finish
        return text

    def end(self) -> StreamEnd:
        if not self.done and self._finish is None:
            raise ProviderAPIError(f"the stream from {self._url} ended before its last chunk (truncated)")
        return StreamEnd(self._finish, self._usage, self._tools.calls())  # no reason given: core's rule decides

"""TGI's native routes: ``/generate`` and ``/generate_stream`` (and HF's hosted text-generation route).

The prompt is completed as given: a chat is rendered with core's documented plain chat
format (``GenerationRequest.text_without_template``), since the template lives on the
server and only its OpenAI route applies it. Usage comes from the server: ``details``
(``generated_tokens``; ``input_length`` in streams) and the prompt's prefill tokens or the
``x-prompt-tokens`` header. Structured output uses TGI's ``grammar``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from abstractllm.errors import ProviderAPIError
from abstractllm.request import GenerationParams, GenerationRequest
from abstractllm.response import Choice, Completion, Usage
from abstractllm_hf_api.errors import stream_error
from abstractllm_hf_api.protocol import Call, Protocol, StreamEnd, StreamState, finish_reason, load_json
from abstractllm_hf_api.sse import SSEEvent

__all__ = ["TGI", "tgi_parameters"]


def tgi_parameters(params: GenerationParams, *, stream: bool) -> dict[str, Any]:
    """TGI's ``parameters``: greedy is ``do_sample: false`` (TGI rejects temperature 0),
    ``top_p`` only below 1 and ``top_k`` only above 0 (TGI's bounds)."""
    body: dict[str, Any] = {"max_new_tokens": params.max_tokens, "details": True, "return_full_text": False}
    if not stream:
        body["decoder_input_details"] = True
    if params.greedy:
        body["do_sample"] = False
    else:
        body["do_sample"] = True
        body["temperature"] = params.temperature
        if params.top_p is not None and params.top_p < 1.0:
            body["top_p"] = params.top_p
        if params.top_k:
            body["top_k"] = params.top_k
    if params.seed is not None:
        body["seed"] = params.seed
    if params.stop:
        body["stop"] = list(params.stop)
    if params.repetition_penalty is not None:
        body["repetition_penalty"] = params.repetition_penalty
    return body


class TGI(Protocol):
    """TGI's native protocol at ``base_url``.

    ``compat_route`` is HF's hosted form: one URL for both, with ``"stream"`` in the body.
    """

    name = "tgi"
    supports_json = True

    def __init__(self, base_url: str, *, extra_body: Mapping[str, Any], compat_route: bool = False) -> None:
        self.base_url = base_url.rstrip("/")
        self.extra_body = dict(extra_body)
        self.compat_route = compat_route

    def call(self, request: GenerationRequest, *, stream: bool, n: int) -> Call:
        if n != 1:
            raise ValueError("TGI generates one sequence per request")
        parameters = tgi_parameters(request.params, stream=stream)
        features: tuple[str, ...] = ()
        if request.response_format is not None:
            parameters["grammar"] = {"type": "json", "value": request.response_format.json_schema()}
            features = ("response_format",)
        parameters.update(self.extra_body)
        body: dict[str, Any] = {"inputs": request.text_without_template(), "parameters": parameters}
        if self.compat_route:
            body["stream"] = stream
            url = self.base_url
        else:
            url = self.base_url + ("/generate_stream" if stream else "/generate")
        return Call(url, body, features)

    def completion(self, body: Any, headers: Mapping[str, str], request: GenerationRequest) -> Completion:
        item = body[0] if isinstance(body, list) and body else body
        if not isinstance(item, Mapping) or not isinstance(item.get("generated_text"), str):
            raise ProviderAPIError(f"{self.base_url} answered without generated_text: {str(body)[:200]!r}")
        details = item.get("details")
        details = details if isinstance(details, Mapping) else {}
        generated = details.get("generated_tokens")
        prompt = _int(headers.get("x-prompt-tokens"))
        if prompt is None and isinstance(details.get("prefill"), list) and details["prefill"]:
            prompt = len(details["prefill"])
        usage = Usage(prompt_tokens=prompt or 0, completion_tokens=generated if isinstance(generated, int) else 0)
        choice = Choice(text=item["generated_text"], finish_reason=finish_reason(details.get("finish_reason")))
        return Completion(choices=[choice], usage=usage)

    def stream_state(self, request: GenerationRequest) -> StreamState:
        return _TGIStream(self.base_url)


def _int(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


class _TGIStream(StreamState):
    """One event per token; the last one carries ``generated_text`` and ``details``."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._end: StreamEnd | None = None

    def feed(self, event: SSEEvent) -> str:
        data = event.data.strip()
        if not data:
            return ""
        chunk = load_json(data, self._url)
        if event.event == "error" or not isinstance(chunk, Mapping) or chunk.get("error"):
            raise stream_error(chunk, url=self._url)
        token = chunk.get("token")
        text = ""
        if isinstance(token, Mapping) and not token.get("special") and isinstance(token.get("text"), str):
            text = token["text"]
        details = chunk.get("details")
        if isinstance(details, Mapping) or chunk.get("generated_text") is not None:
            details = details if isinstance(details, Mapping) else {}
            prompt, generated = details.get("input_length"), details.get("generated_tokens")
            usage = (
                Usage(prompt_tokens=prompt, completion_tokens=generated)
                if isinstance(prompt, int) and isinstance(generated, int)
                else None
            )
            self._end = StreamEnd(finish_reason(details.get("finish_reason")), usage)
            self.done = True
        return text

    def end(self) -> StreamEnd:
        if self._end is None:
            raise ProviderAPIError(f"the stream from {self._url} ended before its last event (truncated)")
        return self._end

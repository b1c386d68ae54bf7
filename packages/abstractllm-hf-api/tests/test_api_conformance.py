"""Core's conformance kit against the endpoint mode: the real llama.cpp server and the in-repo server."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import ProviderConnectionError
from abstractllm.testing import BackendConformance, RuntimeFailure


class HttpxRuntime(BackendConformance):
    def break_runtime(self, llm: AbstractLLMInterface, patch: pytest.MonkeyPatch) -> RuntimeFailure:
        """httpx's transports cannot connect (sync and async alike)."""
        import httpx

        def refuse(self: Any, request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("connection refused (the conformance kit)", request=request)

        async def refuse_async(self: Any, request: httpx.Request) -> httpx.Response:
            refuse(self, request)
            raise AssertionError("unreachable")

        patch.setattr(httpx.HTTPTransport, "handle_request", refuse)
        patch.setattr(httpx.AsyncHTTPTransport, "handle_async_request", refuse_async)
        return RuntimeFailure(raises=httpx.ConnectError, expect=ProviderConnectionError)


class TestLlamaCppServerConformance(HttpxRuntime):
    prompt = "What is the capital of France?"
    fixtures = ("llama_server",)

    def make_llm(self, llama_server: str) -> AbstractLLMInterface:
        return create_llm("huggingface", inference_api_url=llama_server, max_retries=0)

    @pytest.mark.xfail(
        strict=True,
        reason="llama-cpp-python's server ignores stream_options.include_usage, so its streams carry no usage to compare",
    )
    def test_stream_chunks_join_to_the_greedy_reply(self, llm: AbstractLLMInterface) -> None:
        super().test_stream_chunks_join_to_the_greedy_reply(llm)


class TestFakeOpenAIServerConformance(HttpxRuntime):
    prompt = "Tell me a story"
    fixtures = ("fake_server_session",)

    def make_llm(self, fake_server_session: Any) -> AbstractLLMInterface:
        return create_llm("huggingface", inference_api_url=fake_server_session.url, protocol="openai", max_retries=0)


class TestFakeTGIServerConformance(TestFakeOpenAIServerConformance):
    def make_llm(self, fake_server_session: Any) -> AbstractLLMInterface:
        return create_llm("huggingface", inference_api_url=fake_server_session.url, protocol="tgi", max_retries=0)

"""What goes on the wire for each protocol and route, and how replies come back."""

from __future__ import annotations

from typing import Any

import pytest

from abstractllm import create_llm
from abstractllm.errors import InvalidArgumentError, UnsupportedFeatureError, UnsupportedOperationError

TOKEN = "hf_test_token_for_the_router"


def endpoint(fake: Any, **options: Any) -> Any:
    return create_llm("huggingface", inference_api_url=fake.url, **options)


def router(fake: Any, **options: Any) -> Any:
    return create_llm(
        "huggingface", model="org/chat-model", use_inference_api=True, api_key=TOKEN, api_base_url=fake.url, **options
    )


# -- detection ----------------------------------------------------------------------------------


def test_auto_detection_probes_once(fake: Any) -> None:
    llm = endpoint(fake)
    assert llm.backend.protocol.name == "openai"
    assert llm.model == "fake/model"
    assert llm.get_capabilities()["max_tokens"] == 4096  # max_model_len from /v1/models
    for _ in range(3):
        llm.generate("hi", temperature=0, max_tokens=3)
    assert [entry["path"] for entry in fake.received if entry["method"] == "GET"] == ["/v1/models"]


def test_auto_detection_finds_tgi(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fake, "tgi_only", True, raising=False)
    llm = endpoint(fake)
    assert llm.backend.protocol.name == "tgi"
    assert llm.get_capabilities()["max_tokens"] == 2048
    assert llm.get_capabilities()["chat_template"] == "fallback"


@pytest.mark.parametrize(
    ("path", "protocol"),
    [
        ("/v1/chat/completions", "openai"),
        ("/v1", "openai"),
        ("/v1/completions", "openai-completions"),
        ("/generate", "tgi"),
        ("/generate_stream", "tgi"),
    ],
)
def test_the_url_path_names_the_protocol(fake: Any, path: str, protocol: str) -> None:
    llm = create_llm("huggingface", endpoint_url=fake.url + path)
    assert llm.backend.protocol.name == protocol
    assert fake.received == []  # no probe needed
    assert str(llm.generate("hi", temperature=0, max_tokens=3))


def test_endpoint_mode_needs_an_http_url() -> None:
    with pytest.raises(InvalidArgumentError, match="inference_api_url"):
        create_llm("huggingface", inference_api_url="ftp://x/y")
    with pytest.raises(InvalidArgumentError, match="protocol"):
        create_llm("huggingface", inference_api_url="http://127.0.0.1:1", protocol="grpc")


# -- OpenAI routes --------------------------------------------------------------------------------


def test_openai_chat_parameters(fake: Any) -> None:
    llm = endpoint(fake, protocol="openai", model="served-name")
    llm.generate(
        "hi",
        system_prompt="Be brief.",
        temperature=0.5,
        top_p=0.9,
        top_k=20,
        max_tokens=7,
        seed=4,
        stop=["x"],
        repetition_penalty=1.2,
    )
    body = fake.posts()[0]["body"]
    assert body["model"] == "served-name"
    assert body["messages"] == [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "hi"}]
    assert (body["temperature"], body["top_p"], body["top_k"], body["max_tokens"], body["seed"]) == (0.5, 0.9, 20, 7, 4)
    assert body["stop"] == ["x"]
    assert body["repetition_penalty"] == body["repeat_penalty"] == 1.2


@pytest.mark.parametrize("options", [{"temperature": 0}, {"do_sample": False, "temperature": 0.9}])
def test_greedy_is_temperature_zero(fake: Any, options: dict[str, Any]) -> None:
    endpoint(fake, protocol="openai").generate("hi", max_tokens=3, **options)
    body = fake.posts()[0]["body"]
    assert body["temperature"] == 0.0 and "top_p" not in body


def test_num_return_sequences_as_n(fake: Any) -> None:
    response = endpoint(fake, protocol="openai").generate("hi", num_return_sequences=3, temperature=1.0, seed=1, max_tokens=5)
    assert len(response.choices) == 3
    assert len(fake.posts()) == 1 and fake.posts()[0]["body"]["n"] == 3
    assert len({str(choice) for choice in response.choices}) > 1


def test_stream_asks_for_usage(fake: Any) -> None:
    chunks = list(endpoint(fake, protocol="openai").generate("hi", temperature=0, max_tokens=5, stream=True))
    assert fake.posts()[0]["body"]["stream_options"] == {"include_usage": True}
    assert chunks[-1].usage is not None and chunks[-1].usage.completion_tokens == 5


def test_server_stop_sequences_and_finish_reason(fake: Any) -> None:
    llm = endpoint(fake, protocol="openai")
    full = str(llm.generate("stops", temperature=0, max_tokens=12))
    stop = full.split()[2]
    cut = llm.generate("stops", temperature=0, max_tokens=12, stop=[stop])
    assert str(cut) == full[: full.find(stop)] and cut.finish_reason == "stop"
    assert "".join(llm.generate("stops", temperature=0, max_tokens=12, stop=[stop], stream=True)) == str(cut)


def test_completions_protocol_and_raw_route(fake: Any) -> None:
    llm = endpoint(fake, protocol="openai")
    llm.generate("Once upon", raw=True, temperature=0, max_tokens=4)
    post = fake.posts()[0]
    assert post["path"] == "/v1/completions" and post["body"]["prompt"] == "Once upon"
    plain = endpoint(fake, protocol="openai-completions")
    plain.generate("Hi", system_prompt="Sys", temperature=0, max_tokens=4)
    assert fake.posts()[1]["body"]["prompt"] == "System: Sys\nUser: Hi\nAssistant:"
    assert plain.get_capabilities()["supports_tool_use"] is False


def test_extra_body_is_merged(fake: Any) -> None:
    endpoint(fake, protocol="openai", extra_body={"min_p": 0.1}).generate("hi", max_tokens=2)
    assert fake.posts()[0]["body"]["min_p"] == 0.1


# -- TGI ------------------------------------------------------------------------------------------


def test_tgi_parameters_and_usage(fake: Any) -> None:
    llm = endpoint(fake, protocol="tgi")
    response = llm.generate("Hello there", temperature=0, max_tokens=5, seed=3, stop=["zz"], repetition_penalty=1.1)
    post = fake.posts()[0]
    assert post["path"] == "/generate"
    parameters = post["body"]["parameters"]
    assert parameters["do_sample"] is False and "temperature" not in parameters
    assert parameters["max_new_tokens"] == 5 and parameters["seed"] == 3 and parameters["stop"] == ["zz"]
    assert parameters["details"] and parameters["decoder_input_details"] and parameters["repetition_penalty"] == 1.1
    assert response.usage.prompt_tokens == 3 and response.usage.completion_tokens == 5
    streamed = list(llm.generate("Hello there", temperature=0, max_tokens=5, stream=True))
    assert fake.posts()[1]["path"] == "/generate_stream"
    assert "".join(streamed) == str(response) and streamed[-1].usage == response.usage


def test_tgi_sampling_bounds(fake: Any) -> None:
    endpoint(fake, protocol="tgi").generate("x", temperature=0.8, top_p=1.0, top_k=0, max_tokens=2)
    parameters = fake.posts()[0]["body"]["parameters"]
    assert parameters["do_sample"] is True and parameters["temperature"] == 0.8
    assert "top_p" not in parameters and "top_k" not in parameters


def test_tgi_keeps_stop_sequences_in_its_text_and_we_cut_them(fake: Any) -> None:
    llm = endpoint(fake, protocol="tgi")
    full = str(llm.generate("stop me", temperature=0, max_tokens=12))
    stop = full.split()[1]
    cut = llm.generate("stop me", temperature=0, max_tokens=12, stop=[stop])
    assert str(cut) == full[: full.find(stop)] and cut.finish_reason == "stop"
    streamed = list(llm.generate("stop me", temperature=0, max_tokens=12, stop=[stop], stream=True))
    assert "".join(streamed) == str(cut) and streamed[-1].finish_reason == "stop"


def test_tgi_num_return_sequences_makes_one_request_each(fake: Any) -> None:
    response = endpoint(fake, protocol="tgi").generate("x", num_return_sequences=3, temperature=1.0, seed=5, max_tokens=4)
    assert len(response.choices) == 3 and len(fake.posts()) == 3
    assert [post["body"]["parameters"]["seed"] for post in fake.posts()] == [5, 6, 7]
    assert response.usage.completion_tokens == 3 * 4  # every toy reply is longer than 4 tokens


async def test_tgi_num_return_sequences_async(fake: Any) -> None:
    response = await endpoint(fake, protocol="tgi").generate_async("x", num_return_sequences=2, temperature=1.0, max_tokens=4)
    assert len(response.choices) == 2 and len(fake.posts()) == 2


# -- the router -----------------------------------------------------------------------------------


def test_router_auto(fake: Any) -> None:
    llm = router(fake)
    response = llm.generate("hi", temperature=0, max_tokens=4)
    post = fake.posts()[0]
    assert post["path"] == "/v1/chat/completions"
    assert post["body"]["model"] == "org/chat-model" and post["body"]["messages"] == [{"role": "user", "content": "hi"}]
    assert post["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert "repeat_penalty" not in post["body"]
    assert response.usage.prompt_tokens > 0
    assert llm.get_capabilities()["supports_seed"] is False


def test_router_named_provider(fake: Any) -> None:
    router(fake, provider="together").generate("hi", max_tokens=2)
    assert fake.posts()[0]["body"]["model"] == "org/chat-model:together"


def test_router_hf_inference_routes(fake: Any) -> None:
    llm = router(fake, provider="hf-inference")
    llm.generate("hi", max_tokens=2)
    assert fake.posts()[0]["path"] == "/hf-inference/models/org/chat-model/v1/chat/completions"
    raw = llm.generate("Complete this", raw=True, temperature=0, max_tokens=3)
    post = fake.posts()[1]
    assert post["path"] == "/hf-inference/models/org/chat-model" and post["body"]["stream"] is False
    assert post["body"]["inputs"] == "Complete this" and raw.usage.completion_tokens == 3
    streamed = list(llm.generate("Complete this", raw=True, temperature=0, max_tokens=3, stream=True))
    assert fake.posts()[2]["body"]["stream"] is True and "".join(streamed) == str(raw)


def test_router_raw_needs_a_completion_route(fake: Any) -> None:
    with pytest.raises(UnsupportedFeatureError, match="raw=True"):
        router(fake).generate("x", raw=True)
    assert fake.received == []


def test_api_mode_needs_a_model() -> None:
    with pytest.raises(InvalidArgumentError, match="model"):
        create_llm("huggingface", use_inference_api=True, api_key=TOKEN)


# -- lifecycle ------------------------------------------------------------------------------------


async def test_unload_closes_every_pooled_connection(fake: Any) -> None:
    llm = endpoint(fake, protocol="openai")
    llm.generate("hi", max_tokens=2)
    await llm.generate_async("hi", max_tokens=2)
    assert llm.backend.transport.pools == 2  # one sync pool, one for this event loop
    assert len(fake.still_open(timeout=0)) == 2  # kept alive for the next request
    await llm.aunload()
    assert fake.still_open() == set()
    with pytest.raises(UnsupportedOperationError, match="unloaded"):
        llm.generate("hi")


async def test_async_context_manager_closes_its_connections(fake: Any) -> None:
    async with endpoint(fake, protocol="openai") as llm:
        await llm.generate_async("hi", max_tokens=2)
        assert len(fake.still_open(timeout=0)) == 1
    assert fake.still_open() == set()


def test_unload_from_another_thread_closes_the_connections_of_a_running_loop(fake: Any) -> None:
    import asyncio
    import threading

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        llm = endpoint(fake, protocol="openai")
        asyncio.run_coroutine_threadsafe(llm.generate_async("hi", max_tokens=2), loop).result(timeout=10)
        assert len(fake.still_open(timeout=0)) == 1
        llm.unload()  # from this thread, while the loop keeps running in its own
        assert fake.still_open() == set()
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
        loop.close()


def test_context_manager_unloads_and_timeouts_apply(fake: Any) -> None:
    with endpoint(fake, protocol="openai", timeout=5.0, connect_timeout=1.0) as llm:
        llm.generate("hi", max_tokens=2)
        assert llm.backend.transport.timeouts == {"connect": 1.0, "read": 5.0, "write": 5.0, "pool": 5.0}
        assert len(fake.still_open(timeout=0)) == 1
    assert fake.still_open() == set()


def test_a_configuration_change_applies_to_the_next_call(fake: Any) -> None:
    llm = endpoint(fake, protocol="openai", max_tokens=5, system_prompt="Be brief.")
    llm.generate("hi")
    llm.update_config({"max_tokens": 3, "system_prompt": "Be verbose.", "temperature": 0})
    llm.generate("hi")
    llm.generate("hi", max_tokens=2)  # a call's own value wins for that call only
    first, second, third = (post["body"] for post in fake.posts())
    assert (first["max_tokens"], first["messages"][0]["content"]) == (5, "Be brief.")
    assert (second["max_tokens"], second["messages"][0]["content"], second["temperature"]) == (3, "Be verbose.", 0.0)
    assert third["max_tokens"] == 2
    llm.unload()


def test_the_router_address_can_come_from_the_environment(fake: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ABSTRACTLLM_HF_ROUTER_URL", fake.url)
    llm = create_llm("huggingface", model="org/chat-model", use_inference_api=True, api_key=TOKEN)
    assert str(llm.generate("hi", max_tokens=2))
    assert [post["path"] for post in fake.posts()] == ["/v1/chat/completions"]
    assert fake.posts()[0]["body"]["model"] == "org/chat-model"
    llm.unload()


@pytest.mark.parametrize("protocol", ["openai", "tgi"])
async def test_streams_reuse_one_pooled_connection(fake: Any, protocol: str) -> None:
    """A finished stream is read to the end of its HTTP body, so the connection goes back to
    the pool (over TLS, a new connection per stream would cost a handshake each)."""
    llm = endpoint(fake, protocol=protocol)
    expected = str(llm.generate("hi", max_tokens=6, temperature=0))
    for _ in range(3):
        assert "".join(llm.generate("hi", max_tokens=6, temperature=0, stream=True)) == expected
    assert len(fake.connections_seen) == 1
    for _ in range(3):
        stream = await llm.generate_async("hi", max_tokens=6, temperature=0, stream=True)
        assert "".join([chunk async for chunk in stream]) == expected
    assert len(fake.connections_seen) == 2  # plus one for the event loop's pool
    await llm.aunload()


def test_a_closed_transport_refuses_to_send(fake: Any) -> None:
    from abstractllm.errors import ProviderAPIError

    llm = endpoint(fake, protocol="openai")
    llm.generate("hi", max_tokens=2)
    transport = llm.backend.transport
    llm.unload()
    with pytest.raises(ProviderAPIError, match="unloaded"):
        transport.post_json(fake.url + "/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]})
    assert len(fake.posts()) == 1

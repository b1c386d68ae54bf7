"""The options the ``api`` and ``endpoint`` modes accept beyond core's shared ones."""

from __future__ import annotations

from abstractllm.options import Option, check_bool, check_choice, check_dict, check_float, check_int, check_str
from abstractllm.providers.huggingface import hf_options

__all__ = [
    "API_LOAD_OPTIONS",
    "DEFAULT_ROUTER_URL",
    "ENDPOINT_LOAD_OPTIONS",
    "PROTOCOLS",
    "TRANSPORT_OPTIONS",
]

DEFAULT_ROUTER_URL = "https://router.huggingface.co"
PROTOCOLS = ("auto", "openai", "tgi", "openai-completions")

TRANSPORT_OPTIONS: dict[str, Option] = {
    option.name: option
    for option in (
        Option("connect_timeout", 10.0, check_float(0.0, exclusive_minimum=True), "Seconds to wait for a connection."),
        Option("max_retries", 3, check_int(0, 20, optional=False), "Retries after a connection error, 429, 502/503/504."),
        Option("retry_backoff", 0.5, check_float(0.0, optional=False), "First backoff in seconds; doubles per retry (jittered)."),
        Option(
            "max_retry_wait",
            30.0,
            check_float(0.0, optional=False),
            "Longest single wait between retries, also capping Retry-After and a loading model's estimated_time.",
        ),
        Option(
            "max_connections",
            64,
            check_int(1, optional=False),
            "Size of the connection pool of each client (more requests queue for a connection).",
        ),
        Option("extra_body", {}, check_dict, "Extra JSON fields merged into every request body (server-specific knobs)."),
        Option("context_window", None, check_int(1), "The model's context window in tokens, when the server does not tell."),
        Option("allow_insecure_token", False, check_bool, "Allow sending a token over plain http to a host other than loopback."),
    )
}

API_LOAD_OPTIONS: dict[str, Option] = {
    **hf_options("timeout"),
    **TRANSPORT_OPTIONS,
    **{
        option.name: option
        for option in (
            Option(
                "provider",
                "auto",
                check_str,
                "Inference provider on the router: 'auto' (the router picks) or a name such as 'hf-inference'.",
            ),
            Option(
                "api_base_url",
                DEFAULT_ROUTER_URL,
                check_str,
                "Base URL of HuggingFace's inference router (e.g. a proxy or a test server).",
                env=("ABSTRACTLLM_HF_ROUTER_URL",),
            ),
        )
    },
}

ENDPOINT_LOAD_OPTIONS: dict[str, Option] = {
    **hf_options("timeout"),
    **TRANSPORT_OPTIONS,
    **{
        option.name: option
        for option in (
            Option(
                "protocol",
                "auto",
                check_choice(*PROTOCOLS, optional=False),
                "'openai' (chat route), 'openai-completions', 'tgi' (native /generate), or 'auto' (detected).",
            ),
        )
    },
}

"""From a validated configuration to a ready backend: routes, tokens and protocol detection."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from abstractllm.backend import BackendInfo
from abstractllm.config import ConfigManager
from abstractllm.errors import AuthenticationError, InvalidArgumentError
from abstractllm.providers.huggingface import HF_TOKEN_ENV
from abstractllm_hf_api.backend import ApiBackend
from abstractllm_hf_api.openai_protocol import OpenAIChat, OpenAICompletions
from abstractllm_hf_api.protocol import Protocol
from abstractllm_hf_api.retry import RetryPolicy
from abstractllm_hf_api.security import Token, mask_credentials, token_for
from abstractllm_hf_api.stored_token import implicit_token_disabled, stored_token
from abstractllm_hf_api.tgi_protocol import TGI
from abstractllm_hf_api.transport import Transport

__all__ = ["ServerInfo", "detect_protocol", "load_api", "load_endpoint", "split_endpoint_url"]

logger = logging.getLogger(__name__)

#: URL path endings that name a protocol, and the base URL left when they are cut off.
_PATH_PROTOCOLS = (
    ("/v1/chat/completions", "openai"),
    ("/v1/completions", "openai-completions"),
    ("/generate_stream", "tgi"),
    ("/generate", "tgi"),
    ("/v1", "openai"),
)


@dataclass(frozen=True)
class ServerInfo:
    """What a probe learnt: the protocol, and the model id and context window when told."""

    protocol: str
    model_id: str | None = None
    context_window: int | None = None


def split_endpoint_url(url: str, parameter: str = "inference_api_url") -> tuple[str, str | None]:
    """The base URL and the protocol its path names (None when the path names none);
    ``parameter`` is the option the URL came from, named when it is not an http(s) URL.

    A URL carrying credentials (``http://user:password@host``) is refused: they would be
    shown wherever the URL is (the model's name, its configuration, logs) and httpx would not
    send them. The error shows the URL with its credentials masked."""
    shown = mask_credentials(url)
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unbalanced '[' in the host
        parts, valid = urlsplit(""), False
    if shown != url:
        raise InvalidArgumentError(
            f"{parameter}={shown!r} carries credentials (user:password@), which are never taken from a URL: remove them"
            " and pass the server's token as api_key=... (sent as 'Authorization: Bearer', over https or to loopback)",
            parameter=parameter,
            value=shown,
            allowed="an http(s) URL without user:password@",
        )
    if not valid:
        raise InvalidArgumentError(
            f"{parameter}={shown!r} is not an http(s) URL",
            parameter=parameter,
            value=shown,
            allowed="an http:// or https:// URL",
        )
    path = parts.path.rstrip("/")
    for suffix, protocol in _PATH_PROTOCOLS:
        if path.endswith(suffix):
            return urlunsplit((parts.scheme, parts.netloc, path[: -len(suffix)], "", "")), protocol
    return urlunsplit((parts.scheme, parts.netloc, path, "", "")), None


#: Seconds that probing a server for its protocol may take in all (both probes), at most.
PROBE_SECONDS = 5.0


def detect_protocol(base_url: str, transport: Transport) -> ServerInfo:
    """Ask the server once: ``GET /v1/models`` answers → OpenAI-compatible; else ``GET /info``
    with a ``model_id`` → TGI; no answer → OpenAI-compatible (the common case), logged.

    Both probes together take at most :data:`PROBE_SECONDS` (or ``timeout`` when shorter),
    so a silent server delays loading by seconds, not by two request timeouts."""
    with transport.within(min(PROBE_SECONDS, transport.timeouts["read"])):
        return _probe(base_url, transport)


def _probe(base_url: str, transport: Transport) -> ServerInfo:
    models = transport.get_json(base_url + "/v1/models")
    if models is not None and isinstance(models.body, dict) and isinstance(models.body.get("data"), list):
        first = models.body["data"][0] if models.body["data"] else {}
        first = first if isinstance(first, dict) else {}
        window = first.get("max_model_len")
        return ServerInfo("openai", first.get("id"), window if isinstance(window, int) else None)
    info = transport.get_json(base_url + "/info")
    if info is not None and isinstance(info.body, dict) and info.body.get("model_id"):
        window = info.body.get("max_total_tokens")
        return ServerInfo("tgi", str(info.body["model_id"]), window if isinstance(window, int) else None)
    logger.warning("could not tell which protocol %s speaks; using the OpenAI-compatible routes (pass protocol=...)", base_url)
    return ServerInfo("openai")


def _token(config: ConfigManager, url: str, *, required: bool) -> Token | None:
    """The token for ``url``: ``api_key=`` when given; else, as huggingface_hub would find one
    (``HUGGINGFACE_API_KEY`` / ``HF_TOKEN``, ``HUGGING_FACE_HUB_TOKEN``, the file of
    ``hf auth login``), sent only to HuggingFace's own hosts; none when
    ``HF_HUB_DISABLE_IMPLICIT_TOKEN`` is set and no ``api_key=`` was given."""
    explicit = config.is_explicit("api_key")
    value = config.get_param("api_key") if explicit else None
    source = "api_key=..." if explicit else None
    if not explicit:
        if implicit_token_disabled():
            if required:
                raise AuthenticationError(
                    "the Inference API needs a token, and HF_HUB_DISABLE_IMPLICIT_TOKEN forbids using one that was not"
                    " passed (from the environment or `hf auth login`): pass api_key=..., or unset that variable"
                )
        elif value := config.get_param("api_key"):
            source = next((name for name in HF_TOKEN_ENV if os.environ.get(name) == value), None)
        elif stored := stored_token():
            value, source = stored
    return token_for(
        url,
        value,
        explicit=explicit,
        from_environment=not explicit and value is not None,
        required=required,
        allow_insecure=bool(config.get_param("allow_insecure_token")),
        source=source,
    )


def _transport(config: ConfigManager, token: Token | None, base_url: str) -> Transport:
    return Transport(
        token=token,
        server=base_url,
        timeout=float(config.get_param("timeout")),
        connect_timeout=float(config.get_param("connect_timeout")),
        retry=RetryPolicy(
            max_retries=int(config.get_param("max_retries", 0)),
            backoff=float(config.get_param("retry_backoff")),
            max_wait=float(config.get_param("max_retry_wait")),
        ),
        max_connections=int(config.get_param("max_connections")),
    )


def _model_id(config: ConfigManager) -> str | None:
    value = config.get_param("model")
    return value if isinstance(value, str) and value.strip() else None


def load_api(info: BackendInfo, config: ConfigManager) -> ApiBackend:
    """The hosted Inference API: the router's OpenAI-compatible chat route for ``model``.

    ``provider="auto"`` lets the router choose (``/v1/chat/completions``, model as given);
    ``"hf-inference"`` uses HF's own route (``/hf-inference/models/<id>/v1/chat/completions``,
    whose text-generation route also serves ``raw=True``); any other provider name is
    appended to the model id (``<id>:<provider>``), the router's way of picking it.
    """
    model = _model_id(config)
    if model is None:
        raise InvalidArgumentError(
            "the Inference API needs a hub model id: create_llm('huggingface', model='org/name', use_inference_api=True)",
            parameter="model",
            value=None,
            allowed="a hub model id such as 'HuggingFaceTB/SmolLM2-1.7B-Instruct'",
        )
    base = str(config.get_param("api_base_url")).rstrip("/")
    split_endpoint_url(base, "api_base_url")
    token = _token(config, base, required=True)
    provider = str(config.get_param("provider")).strip()
    extra: dict[str, Any] = config.get_param("extra_body") or {}
    raw_protocol: Protocol | None = None
    if provider == "auto":
        chat = OpenAIChat(base, model=model, extra_body=extra, penalty_alias=False)
    elif provider == "hf-inference":
        route = f"{base}/hf-inference/models/{quote(model, safe='/')}"
        chat = OpenAIChat(route, model=model, extra_body=extra, penalty_alias=False)
        raw_protocol = TGI(route, extra_body=extra, compat_route=True)
    else:
        chat = OpenAIChat(base, model=f"{model}:{provider}", extra_body=extra, penalty_alias=False)
    return ApiBackend(
        info,
        model_name=model,
        transport=_transport(config, token, base),
        protocol=chat,
        raw_protocol=raw_protocol,
        context_window=config.get_param("context_window"),
        claims_seed=False,
        where=f"router {base} (provider {provider!r})",
    )


def load_endpoint(info: BackendInfo, config: ConfigManager) -> ApiBackend:
    """A custom endpoint: the protocol given, named by the URL's path, or probed once."""
    option = "inference_api_url" if config.get_param("inference_api_url") else "endpoint_url"
    url = config.get_param(option)
    if not isinstance(url, str):
        raise InvalidArgumentError(
            "the endpoint mode needs inference_api_url='http(s)://host[:port]' (or endpoint_url=...)",
            parameter="inference_api_url",
            value=None,
            allowed="an http(s) URL",
        )
    base, from_path = split_endpoint_url(url, option)
    token = _token(config, base, required=False)
    transport = _transport(config, token, base)
    wanted = str(config.get_param("protocol"))
    server = ServerInfo(wanted if wanted != "auto" else (from_path or ""))
    if not server.protocol:
        server = detect_protocol(base, transport)
        logger.info("%s speaks the %s protocol", base, server.protocol)
    model = _model_id(config) or server.model_id
    extra: dict[str, Any] = config.get_param("extra_body") or {}
    protocol: Protocol
    raw_protocol: Protocol | None = None
    if server.protocol == "tgi":
        protocol = TGI(base, extra_body=extra)
    elif server.protocol == "openai-completions":
        protocol = OpenAICompletions(base, model=model, extra_body=extra, penalty_alias=True)
    else:
        protocol = OpenAIChat(base, model=model, extra_body=extra, penalty_alias=True)
        raw_protocol = OpenAICompletions(base, model=model, extra_body=extra, penalty_alias=True)
    return ApiBackend(
        info,
        model_name=model or base,
        transport=transport,
        protocol=protocol,
        raw_protocol=raw_protocol,
        context_window=config.get_param("context_window") or server.context_window,
        claims_seed=True,
        where=base,
    )

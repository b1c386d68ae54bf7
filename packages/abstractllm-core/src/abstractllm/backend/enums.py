"""The original AbstractLLM enums: ``str`` enums, so members and their values are interchangeable."""

from __future__ import annotations

from enum import Enum

__all__ = ["MessageRole", "ModelCapability", "ModelParameter"]


class ModelParameter(str, Enum):
    """Names of configuration and generation parameters."""

    # The original AbstractLLM 0.5 members, in its order.
    TEMPERATURE = "temperature"
    MAX_TOKENS = "max_tokens"
    SYSTEM_PROMPT = "system_prompt"
    TOP_P = "top_p"
    FREQUENCY_PENALTY = "frequency_penalty"
    PRESENCE_PENALTY = "presence_penalty"
    STOP = "stop"
    MODEL = "model"
    API_KEY = "api_key"
    BASE_URL = "base_url"
    TIMEOUT = "timeout"
    RETRY_COUNT = "retry_count"
    LOGIT_BIAS = "logit_bias"
    SEED = "seed"
    TOP_K = "top_k"
    REPETITION_PENALTY = "repetition_penalty"
    MAX_INPUT_TOKENS = "max_input_tokens"
    MAX_OUTPUT_TOKENS = "max_output_tokens"
    CONTEXT_WINDOW = "context_window"
    TRUNCATION_STRATEGY = "truncation_strategy"
    DEVICE = "device"
    DEVICE_MAP = "device_map"
    LOAD_IN_8BIT = "load_in_8bit"
    LOAD_IN_4BIT = "load_in_4bit"
    CACHE_DIR = "cache_dir"
    ORGANIZATION = "organization"
    USER = "user"
    PROXY = "proxy"
    REQUEST_TIMEOUT = "request_timeout"
    MAX_RETRIES = "max_retries"
    IMAGE = "image"
    IMAGES = "images"
    IMAGE_DETAIL = "image_detail"
    TOOLS = "tools"
    TOOL_CHOICE = "tool_choice"
    CONTENT_FILTER = "content_filter"
    MODERATION = "moderation"
    LOGGING_ENABLED = "logging_enabled"
    # Added by this project for the HuggingFace modes.
    MODEL_PATH = "model_path"
    MODEL_TYPE = "model_type"
    QUANTIZATION = "quantization"
    TORCH_DTYPE = "torch_dtype"
    TRUST_REMOTE_CODE = "trust_remote_code"
    USE_INFERENCE_API = "use_inference_api"
    INFERENCE_API_URL = "inference_api_url"
    MODEL_KWARGS = "model_kwargs"
    PIPELINE_KWARGS = "pipeline_kwargs"
    DO_SAMPLE = "do_sample"
    NUM_RETURN_SEQUENCES = "num_return_sequences"
    RESPONSE_FORMAT = "response_format"

    def __str__(self) -> str:
        return self.value


class ModelCapability(str, Enum):
    """Keys of ``get_capabilities()``; ``MAX_TOKENS`` holds the context window.

    The typed record behind them is :class:`abstractllm.backend.Capabilities`, the same fields in
    every mode; ``FUNCTION_CALLING`` reads ``TOOL_USE`` and ``JSON_MODE`` reads ``STRUCTURED_OUTPUT``.
    """

    STREAMING = "streaming"
    MAX_TOKENS = "max_tokens"
    SYSTEM_PROMPT = "supports_system_prompt"
    ASYNC = "supports_async"
    FUNCTION_CALLING = "supports_function_calling"
    TOOL_USE = "supports_tool_use"
    TOOL_RENDERING = "tool_rendering"  # local modes: "native" (the chat template renders tools) or "prompted"
    TOOL_FORMAT = "tool_format"  # local modes: the tool-call family the model writes ("hermes", "llama3", "mistral", ...)
    VISION = "supports_vision"
    FINE_TUNING = "supports_fine_tuning"
    EMBEDDINGS = "supports_embeddings"
    MULTILINGUAL = "supports_multilingual"
    RAG = "supports_rag"
    MULTI_TURN = "supports_multi_turn"
    PARALLEL_INFERENCE = "supports_parallel_inference"
    IMAGE_GENERATION = "supports_image_generation"
    AUDIO_PROCESSING = "supports_audio_processing"
    JSON_MODE = "supports_json_mode"
    # Added by this project: what local and remote HuggingFace backends really differ in.
    STOP_SEQUENCES = "supports_stop_sequences"
    CHAT_TEMPLATE = "chat_template"
    CHAT_FORMAT = "chat_format"  # GGUF: the llama.cpp chat format in use
    QUANTIZATION = "quantization"
    SEED = "supports_seed"
    MULTIPLE_SEQUENCES = "supports_multiple_sequences"
    STRUCTURED_OUTPUT = "supports_structured_output"
    DYNAMIC_BATCHING = "supports_dynamic_batching"

    def __str__(self) -> str:
        return self.value


class MessageRole(str, Enum):
    """Roles of chat messages."""

    SYSTEM = "system"
    USER = "user"
    ASSISTANT = "assistant"
    TOOL = "tool"

    def __str__(self) -> str:
        return self.value

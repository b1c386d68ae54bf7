"""Faults of the fault suite: prompts, messages, tools and session files."""

from __future__ import annotations

import pytest

from abstractllm import errors as E
from tests.fault_world import (
    LONG,
    MODES,
    SESSION_FILES,
    TOOL,
    Case,
    World,
    check,
    gen,
    load_session,
    on,
    session_goes_on,
)

#: A schema 400 objects deep (core refuses more than 100), and one whose $ref chain never leaves its value.
DEEP_SCHEMA: dict[str, object] = {"type": "string"}
for _ in range(400):
    DEEP_SCHEMA = {"type": "object", "properties": {"a": DEEP_SCHEMA}}
REF_CYCLE = {"$defs": {"a": {"$ref": "#/$defs/b"}, "b": {"anyOf": [{"$ref": "#/$defs/a"}]}}, "$ref": "#/$defs/a"}

CASES: list[Case] = [
    # -- prompts and messages
    Case("empty-prompt", gen("pipeline", ""), E.InvalidArgumentError, "prompt", on("pipeline")),
    Case("blank-prompt", gen("api", "   \n"), E.InvalidArgumentError, "prompt is empty", on("api")),
    Case("missing-prompt", gen("gguf", None), E.InvalidArgumentError, "prompt", on("gguf")),
    Case("number-prompt", gen("endpoint", 42), E.InvalidArgumentError, "prompt", on("endpoint")),
    Case("dict-prompt", gen("pipeline", {"role": "user", "content": "x"}), E.InvalidArgumentError, "got dict", on("pipeline")),
    Case("bad-role", gen("pipeline", [{"role": "wizard", "content": "x"}]), E.InvalidArgumentError, "wizard", on("pipeline")),
    Case("bad-content", gen("gguf", [{"role": "user", "content": 5}]), E.InvalidArgumentError, "content", on("gguf")),
    Case("message-not-a-dict", gen("tgi", ["hello"]), E.InvalidArgumentError, "message 0 is a str", on("tgi")),
    Case("message-without-content", gen("gguf", [{"role": "user"}]), E.InvalidArgumentError, "has no content", on("gguf")),
    Case("no-messages", gen("endpoint", []), E.InvalidArgumentError, "messages", on("endpoint")),
    Case("system-prompt-number", gen("api", "Hi", system_prompt=5), E.InvalidArgumentError, "system_prompt", on("api")),
    Case("raw-with-system", gen("pipeline", "Hi", system_prompt="s", raw=True), E.InvalidArgumentError, "raw", on("pipeline")),
    Case(
        "raw-with-messages", gen("gguf", [{"role": "user", "content": "x"}], raw=True), E.InvalidArgumentError, "raw", on("gguf")
    ),
    Case(
        "stream-with-n",
        gen("gguf", "Hi", stream=True, num_return_sequences=2),
        E.InvalidArgumentError,
        "num_return_sequences",
        on("gguf"),
    ),
    Case(
        "oversized-pipeline", gen("pipeline", LONG, max_tokens=4), E.ContextWindowExceededError, "context window", on("pipeline")
    ),
    Case("oversized-gguf", gen("gguf", LONG, max_tokens=4), E.ContextWindowExceededError, "context window", on("gguf")),
    Case("oversized-stream", gen("pipeline", LONG, stream=True), E.ContextWindowExceededError, "context window", on("pipeline")),
    Case("bad-tools", gen("pipeline", "Hi", tools=[42]), E.InvalidArgumentError, "tools", on("pipeline")),
    Case("bad-tool-choice", gen("gguf", "Hi", tools=[TOOL], tool_choice="g"), E.InvalidArgumentError, "tool_choice", on("gguf")),
    Case(
        "bad-response-format",
        gen("pipeline", "Hi", response_format={"type": "xml"}),
        E.InvalidArgumentError,
        "response_format",
        on("pipeline"),
    ),
    Case(
        "unusable-json-schema",
        gen("pipeline", "Hi", response_format={"type": "json_schema", "json_schema": {"schema": {"type": "frobnicate"}}}),
        E.InvalidArgumentError,
        "frobnicate",
        on("pipeline"),
    ),
    # -- schemas that are not JSON Schemas, refused by core before any model runs, on every mode
    *[
        Case(
            f"{mode}-schema-type-not-a-name",
            gen(mode, "Hi", response_format={"type": "json_schema", "json_schema": {"schema": {"type": 5}}}),
            E.InvalidArgumentError,
            "$.type: 5 is not a JSON type",
            on(mode),
        )
        for mode in MODES
    ],
    *[
        Case(
            f"{mode}-tool-schema-required-not-a-list",
            gen(mode, "Hi", tools=[{"type": "function", "function": {"name": "f", "parameters": {"required": "x"}}}]),
            E.InvalidArgumentError,
            "$.required: must be a list",
            on(mode),
        )
        for mode in MODES
    ],
    # -- schemas no checker or grammar could follow, refused by core before any model runs or request is sent
    *[
        Case(
            f"{mode}-schema-nested-400-deep",
            gen(mode, "Hi", response_format={"type": "json_schema", "json_schema": {"schema": DEEP_SCHEMA}}),
            E.InvalidArgumentError,
            "nested more than 100 levels deep (the limit)",
            on(mode),
        )
        for mode in MODES
    ],
    *[
        Case(
            f"{mode}-schema-ref-cycle",
            gen(mode, "Hi", response_format={"type": "json_schema", "json_schema": {"schema": REF_CYCLE}}),
            E.InvalidArgumentError,
            "a $ref cycle applies this schema to the same value again",
            on(mode),
        )
        for mode in MODES
    ],
    # -- prompts of the wrong kind, on every mode
    *[Case(f"{mode}-bytes-prompt", gen(mode, b"hi"), E.InvalidArgumentError, "prompt", on(mode)) for mode in MODES],
    *[
        Case(f"{mode}-bytearray-prompt", gen(mode, bytearray(b"hi")), E.InvalidArgumentError, "prompt", on(mode))
        for mode in MODES
    ],
    *[Case(f"{mode}-lone-surrogate", gen(mode, "hi \ud800"), E.InvalidArgumentError, "prompt", on(mode)) for mode in MODES],
    *[Case(f"{mode}-set-prompt", gen(mode, {"hi"}), E.InvalidArgumentError, "prompt", on(mode)) for mode in MODES],
    *[
        Case(
            f"{mode}-message-metadata-list",
            gen(mode, [{"role": "user", "content": "x", "metadata": [1]}]),
            E.InvalidArgumentError,
            "metadata",
            on(mode),
        )
        for mode in MODES
    ],
    *[
        Case(
            f"{mode}-tool-calls-garbage",
            gen(mode, [{"role": "assistant", "content": "", "tool_calls": 5}, {"role": "user", "content": "x"}]),
            E.InvalidArgumentError,
            "tool_calls",
            on(mode),
        )
        for mode in MODES
    ],
    *[Case(f"{mode}-class-as-tool", gen(mode, "Hi", tools=[int]), E.InvalidArgumentError, "tools", on(mode)) for mode in MODES],
    *[Case(f"{mode}-string-as-tool", gen(mode, "Hi", tools=["f"]), E.InvalidArgumentError, "tools", on(mode)) for mode in MODES],
    *[
        Case(
            f"{mode}-surrogate-in-message",
            gen(mode, [{"role": "user", "content": "x\udfff"}]),
            E.InvalidArgumentError,
            "content",
            on(mode),
        )
        for mode in MODES
    ],
    # -- session files (each leaves the session as it was)
    *[load_session(name) for name in SESSION_FILES],
    Case(
        "session-missing-file",
        lambda w: w.session.load(w.files["sessions"] / "nope.json"),
        E.InvalidArgumentError,
        "nope.json",
        session_goes_on,
        where="",
    ),
    Case(
        "session-directory",
        lambda w: w.session.load(w.files["sessions"]),
        E.InvalidArgumentError,
        "sessions",
        session_goes_on,
        where="",
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[case.id for case in CASES])
def test_fault(case: Case, world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    check(case, world, monkeypatch)

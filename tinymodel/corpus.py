"""What the tiny model knows: its special tokens, chat template, and the texts it is trained to reproduce.

:mod:`tinymodel.build` trains on these; tests import them to know the exact replies to expect
(``EXPECTED_COMPLETIONS``, ``EXPECTED_CHATS``, ``EXPECTED_TOOL_CHATS``).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "BOS_TOKEN",
    "CHATML_TEMPLATE",
    "EOS_TOKEN",
    "EXPECTED_CHATS",
    "EXPECTED_COMPLETIONS",
    "EXPECTED_TOOL_CHATS",
    "IM_END_TOKEN",
    "IM_START_TOKEN",
    "PAD_TOKEN",
    "SPECIAL_TOKENS",
    "TOKENIZER_EXTRA_TEXT",
    "VOCAB_SIZE",
    "WEATHER_TOOL",
    "Message",
]

# --------------------------------------------------------------------------
# Tokens and template
# --------------------------------------------------------------------------

BOS_TOKEN = "<s>"
EOS_TOKEN = "</s>"
PAD_TOKEN = "<pad>"
IM_START_TOKEN = "<|im_start|>"
IM_END_TOKEN = "<|im_end|>"
#: Special tokens, in id order (ids 0..4).
SPECIAL_TOKENS: tuple[str, ...] = (BOS_TOKEN, EOS_TOKEN, PAD_TOKEN, IM_START_TOKEN, IM_END_TOKEN)

#: Exact tokenizer vocabulary size (a multiple of 64 so that ``lm_head`` can be
#: quantised by bitsandbytes, and equal to the model's ``vocab_size``).
VOCAB_SIZE = 576

#: ChatML chat template.  Messages render as
#: ``<|im_start|>{role}\n{content}<|im_end|>\n``; ``add_generation_prompt``
#: appends ``<|im_start|>assistant\n``.  When ``tools`` is given, a system block
#: lists every tool as one JSON line (the ``function`` object of OpenAI-style
#: tool specs) and asks for ``<tool_call>{json}</tool_call>``; a leading system
#: message is merged into that block.  Assistant ``tool_calls`` render as
#: ``<tool_call>{"name": ..., "arguments": ...}</tool_call>`` and ``tool``
#: messages as ordinary ``<|im_start|>tool`` turns.  Content may be a string or a
#: list of ``{"type": "text", "text": ...}`` parts.  Only ``{{- }}`` / ``{%- %}``
#: constructs emit text, so the output does not depend on Jinja whitespace
#: options.
CHATML_TEMPLATE = (
    "{%- macro content_text(content) -%}"
    "{%- if content is string -%}{{- content -}}"
    "{%- elif content is mapping -%}{{- content.get('text', '') -}}"
    "{%- elif content is iterable -%}"
    "{%- for part in content -%}"
    "{%- if part is string -%}{{- part -}}"
    "{%- elif part is mapping and part.get('type', 'text') == 'text' -%}{{- part.get('text', '') -}}"
    "{%- endif -%}"
    "{%- endfor -%}"
    "{%- elif content is not none and content is defined -%}{{- content | string -}}"
    "{%- endif -%}"
    "{%- endmacro -%}"
    "{%- if messages and messages[0]['role'] == 'system' -%}"
    "{%- set system_message = content_text(messages[0]['content']) -%}"
    "{%- set loop_messages = messages[1:] -%}"
    "{%- else -%}"
    "{%- set system_message = '' -%}"
    "{%- set loop_messages = messages -%}"
    "{%- endif -%}"
    "{%- if tools -%}"
    "{{- '<|im_start|>system\\n' -}}"
    "{%- if system_message -%}{{- system_message + '\\n\\n' -}}{%- endif -%}"
    "{{- 'You can call these tools:\\n' -}}"
    "{%- for tool in tools -%}"
    "{%- if tool['function'] is defined -%}{{- tool['function'] | tojson -}}"
    "{%- else -%}{{- tool | tojson -}}{%- endif -%}"
    "{{- '\\n' -}}"
    "{%- endfor -%}"
    '{{- \'To call a tool, reply with <tool_call>{"name": <tool name>, '
    '"arguments": <arguments as JSON>}</tool_call>.<|im_end|>\\n\' -}}'
    "{%- elif system_message -%}"
    "{{- '<|im_start|>system\\n' + system_message + '<|im_end|>\\n' -}}"
    "{%- endif -%}"
    "{%- for message in loop_messages -%}"
    "{{- '<|im_start|>' + message['role'] + '\\n' -}}"
    "{{- content_text(message['content']) -}}"
    "{%- if message['role'] == 'assistant' and message['tool_calls'] is defined "
    "and message['tool_calls'] -%}"
    "{%- for tool_call in message['tool_calls'] -%}"
    "{%- if tool_call['function'] is defined -%}{%- set call = tool_call['function'] -%}"
    "{%- else -%}{%- set call = tool_call -%}{%- endif -%}"
    "{{- '<tool_call>{\"name\": ' + (call['name'] | tojson) + ', \"arguments\": ' -}}"
    "{%- if call['arguments'] is string -%}{{- call['arguments'] -}}"
    "{%- else -%}{{- call['arguments'] | tojson -}}{%- endif -%}"
    "{{- '}</tool_call>' -}}"
    "{%- endfor -%}"
    "{%- endif -%}"
    "{{- '<|im_end|>\\n' -}}"
    "{%- endfor -%}"
    "{%- if add_generation_prompt -%}{{- '<|im_start|>assistant\\n' -}}{%- endif -%}"
)

# --------------------------------------------------------------------------
# Built-in corpus (also the test expectations)
# --------------------------------------------------------------------------

Message = dict[str, Any]

#: ``(prompt, greedy continuation)`` pairs.  The model is trained on
#: ``prompt + continuation + "</s>"``, so greedy decoding of ``prompt`` (tokenized
#: without BOS, as the tokenizer does by default) yields exactly the
#: continuation and then stops on ``</s>``.
EXPECTED_COMPLETIONS: list[tuple[str, str]] = [
    ("The capital of France is", " Paris."),
    ("The capital of Germany is", " Berlin."),
    ("The capital of Italy is", " Rome."),
    ("The capital of Japan is", " Tokyo."),
    ("The sky is", " blue."),
    ("Water boils at", " 100 degrees Celsius."),
    ("One plus one equals", " two."),
    ("The quick brown fox", " jumps over the lazy dog."),
]

#: ``(messages, assistant reply)`` pairs.  Rendering ``messages`` with the chat
#: template and ``add_generation_prompt=True`` and decoding greedily yields the
#: reply followed by ``<|im_end|>``.  Includes a system-prompt chat and short
#: JSON replies.
EXPECTED_CHATS: list[tuple[list[Message], str]] = [
    ([{"role": "user", "content": "What is the capital of France?"}], "The capital of France is Paris."),
    ([{"role": "user", "content": "What is the capital of Germany?"}], "The capital of Germany is Berlin."),
    ([{"role": "user", "content": "Hello!"}], "Hello! How can I help you today?"),
    ([{"role": "user", "content": "What color is the sky?"}], "The sky is blue."),
    (
        [
            {"role": "system", "content": "You are a pirate."},
            {"role": "user", "content": "Hello!"},
        ],
        "Ahoy, matey!",
    ),
    (
        [
            {"role": "system", "content": "Answer in JSON."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
        '{"city": "Paris", "country": "France"}',
    ),
    (
        [{"role": "user", "content": "Give me the capital of Italy as JSON."}],
        '{"city": "Rome", "country": "Italy"}',
    ),
    (
        [{"role": "user", "content": "Describe Alice as JSON."}],
        '{"name": "Alice", "age": 30}',
    ),
    # Two-turn conversations, so that sessions (the demo, the chat command) stay meaningful.
    (
        [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "What is the capital of Germany?"},
        ],
        "The capital of Germany is Berlin.",
    ),
    (
        [
            {"role": "user", "content": "What is the capital of France?"},
            {"role": "assistant", "content": "The capital of France is Paris."},
            {"role": "user", "content": "Hello!"},
        ],
        "Hello! How can I help you today?",
    ),
    (
        [
            {"role": "user", "content": "Hello!"},
            {"role": "assistant", "content": "Hello! How can I help you today?"},
            {"role": "user", "content": "What is the capital of Germany?"},
        ],
        "The capital of Germany is Berlin.",
    ),
]

#: An OpenAI-style tool spec used by :data:`EXPECTED_TOOL_CHATS`.
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}

#: ``(messages, tools, assistant reply)`` triples rendered with ``tools=``.
EXPECTED_TOOL_CHATS: list[tuple[list[Message], list[dict[str, Any]], str]] = [
    (
        [{"role": "user", "content": "What is the weather in Paris?"}],
        [WEATHER_TOOL],
        '<tool_call>{"name": "get_weather", "arguments": {"city": "Paris"}}</tool_call>',
    ),
    (
        [
            {"role": "user", "content": "What is the weather in Paris?"},
            {
                "role": "assistant",
                "content": "",
                "tool_calls": [
                    {
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": {"city": "Paris"}},
                    }
                ],
            },
            {"role": "tool", "content": '{"temperature": 22, "sky": "sunny"}'},
        ],
        [WEATHER_TOOL],
        "It is sunny and 22 degrees in Paris.",
    ),
]

#: Extra plain text used only to give the BPE trainer enough merges.
TOKENIZER_EXTRA_TEXT: tuple[str, ...] = (
    "The weather today is sunny with a light breeze from the west.",
    "Paris, Berlin, Rome, Tokyo, Madrid, London and Vienna are cities.",
    "France, Germany, Italy, Japan, Spain, England and Austria are countries.",
    "A helpful assistant answers questions about capitals, colors and numbers.",
    "Numbers: 0 1 2 3 4 5 6 7 8 9 10 20 22 30 42 100 1000.",
    "JSON objects use keys and values: name, age, city, country, answer, result.",
    "Functions and tools take arguments; the result is returned as JSON.",
    "How are you? I am fine, thank you. What would you like to know?",
)

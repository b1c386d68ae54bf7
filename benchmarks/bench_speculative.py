"""Speculative (prompt-lookup) decoding against plain decoding, in the same run, on the real SmolLM2-135M-Instruct.

    python benchmarks/bench_speculative.py [--rounds N] [--tasks rewrite,story,...]

Tasks (greedy, chat template):

- input-grounded: ``rewrite`` a ~400-token text with one name changed; ``extract`` fields of a text as JSON
  (``response_format`` with a schema: the drafts must pass the grammar); ``tool echo`` a forced tool call whose
  arguments repeat the user's note (the step of a tool loop that echoes its arguments);
- open generation: a ``story``.

Pipeline mode: each task runs plain and with ``speculative="prompt_lookup"`` on the same loaded model (prefix
cache off, so no round reuses another's work), in paired rounds whose order alternates; a task's speed-up is the
median of its rounds' ratios (plain seconds / speculative seconds), so the shared machine's drift hits both
sides alike. Replies must be identical (text, tool calls, finish reason, usage) or the row fails. Acceptance rate:
accepted / drafted tokens (``cache_info()``). Targets: >= 3.0x on the rewrite and the tool echo, >= 0.97x on the
story, and >= 1.0x on the extraction, whose reply cannot be drafted enough for 3x: in its 78 tokens the JSON layout
(``{ "``, ``": "``, ``", "``), the keys' first tokens, the values' first tokens (``Chief Engineer`` is capitalised, the
prompt's ``Northwind`` has a leading space the value's lacks) and the values' ends are in neither the prompt nor
the grammar's forced tokens, so even drafting the most any source offers at every step (the row "most any drafting
could gain", computed on raw transformers' reply) needs 44-46 passes, 1.7-1.8x at best with verification as cheap as
one step; raw transformers' own prompt lookup, run with the same grammar on the same task, is shown beside it.
For information, raw transformers' own prompt lookup (``prompt_lookup_num_tokens=10``) against its plain
``generate`` on the rewrite and the story, in the same rounds.

GGUF mode refuses the option (see ``abstractllm_hf_gguf.speculative``): for information, raw llama-cpp-python's
``LlamaPromptLookupDecoding`` against plain decoding on the rewrite and the story, and whether its replies are
plain greedy decoding's.
Writes ``benchmarks/results/speculative.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import finish, on_own_thread, real_model, report, row  # noqa: E402

from abstractllm import create_llm  # noqa: E402

TEXT = (
    "The old lighthouse stood on the northern cliff for more than a century. Its keeper, a quiet man named Elias,"
    " climbed the spiral stairs every evening to light the lamp. Ships passing through the narrow strait relied on its"
    " beam to avoid the jagged rocks below. In winter, storms battered the tower and salt crusted the windows, but the"
    " light never failed. The villagers said that Elias had not missed a single night in thirty years, not even when"
    " the fever came to the harbour and half the town stayed in bed. He kept a logbook of every ship he saw, written in"
    " a small careful hand, with the date, the weather and the name of the vessel when he could read it through his"
    " brass telescope. Children from the school sometimes walked up the cliff path on Sundays to visit him. He showed"
    " them the great lens, polished until it shone, and explained how it gathered the weak flame into a beam that"
    " reached twenty miles out to sea. When the government decided to replace the lamp with an automatic light, the"
    " whole village gathered at the foot of the tower. Elias climbed the stairs one last time, lit the lamp, and"
    " watched the beam sweep across the water until dawn. The next morning he packed his logbooks into a wooden chest,"
    " gave the key to the mayor, and moved into a small cottage by the harbour, where he could still see the light"
    " turning every night from his kitchen window."
)
PERSON = (
    "Dr. Margaret Okafor, 47, is the chief engineer of Northwind Energy in Aberdeen, Scotland. She joined the company"
    " in 2009 after twelve years at the Harbour Research Institute, and can be reached at m.okafor@northwind.example."
    " Her team of 38 engineers maintains the offshore turbines of the Grampian field."
)
EXTRACT_SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "age": {"type": "integer"},
        "title": {"type": "string"},
        "employer": {"type": "string"},
        "city": {"type": "string"},
        "email": {"type": "string"},
        "previous_employer": {"type": "string"},
        "team_size": {"type": "integer"},
    },
    "required": ["name", "age", "title", "employer", "city", "email", "previous_employer", "team_size"],
}
EXTRACT_FORMAT = {"type": "json_schema", "json_schema": {"name": "person", "schema": EXTRACT_SCHEMA}}
NOTE = TEXT.split(" Children")[0]


def save_note(title: str, text: str) -> str:
    """Save a note with a title and its full text."""
    return "saved"


TASKS: dict[str, tuple[str, dict[str, Any], float]] = {  # name: (prompt, arguments, target speed-up)
    "rewrite": (f"Rewrite the following text exactly, changing only the keeper's name from Elias to Tobias:\n\n{TEXT}",
                {"max_tokens": 512}, 3.0),
    "extract": (f"Extract the person's details from this text as JSON.\n\n{PERSON}",
                {"max_tokens": 160, "response_format": EXTRACT_FORMAT}, 1.0),
    "tool echo": (f"Save this note with the title 'Lighthouse':\n\n{NOTE}",
                  {"max_tokens": 400, "tools": [save_note], "tool_choice": "save_note"}, 3.0),
    "story": ("Write a story about a dragon who learns to bake bread.", {"max_tokens": 256}, 0.97),
}  # fmt: skip
CPU: list[float] = []  # CPU seconds of every timed call, in order


def _summary(reply: Any) -> tuple[Any, ...]:
    calls = [(call.name, call.arguments) for call in reply.tool_calls]
    return (reply.text, calls, reply.finish_reason, reply.usage.prompt_tokens, reply.usage.completion_tokens)


def _timed(function: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[float, Any]:
    """Wall seconds of ``function(*args, **kwargs)`` and its result; the process's CPU seconds go to ``CPU``."""
    started, cpu = time.perf_counter(), time.process_time()
    result = function(*args, **kwargs)
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - started, result


def _pipeline(model_dir: str, tasks: list[str], rounds: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    llm = create_llm("huggingface", model=model_dir, device="cpu", temperature=0, prefix_cache_bytes=0)
    details: dict[str, Any] = {}
    rows = []
    try:
        for name in tasks:
            prompt, arguments, target = TASKS[name]
            plain_reply = llm.generate(prompt, **arguments)  # warm-up, and the reply to match
            ratios, plain_times, spec_times, same, cpu_ratios = [], [], [], True, []
            before = llm.cache_info() or {}
            for number in range(rounds):
                order = ("plain", "spec") if number % 2 == 0 else ("spec", "plain")
                for side in order:
                    if side == "plain":
                        seconds, reply = _timed(llm.generate, prompt, **arguments)
                        plain_times.append(seconds)
                    else:
                        seconds, reply = _timed(llm.generate, prompt, speculative="prompt_lookup", **arguments)
                        spec_times.append(seconds)
                    same = same and _summary(reply) == _summary(plain_reply)
                ratios.append(plain_times[-1] / spec_times[-1])
                cpu_ratios.append(CPU[-2] / CPU[-1] if order[0] == "plain" else CPU[-1] / CPU[-2])
                print(
                    f"  {name} round {number + 1}: plain {plain_times[-1]:.2f} s, speculative {spec_times[-1]:.2f} s,"
                    f" CPU ratio {cpu_ratios[-1]:.2f}",
                    flush=True,
                )
            after = llm.cache_info() or {}
            drafted = after["drafted_tokens"] - before["drafted_tokens"]
            accepted = after["accepted_tokens"] - before["accepted_tokens"]
            speedup = statistics.median(ratios)
            tokens = plain_reply.usage.completion_tokens
            details[name] = {"ratios": ratios, "plain_s": plain_times, "speculative_s": spec_times, "tokens": tokens,
                             "drafted": drafted, "accepted": accepted, "identical": same, "cpu_ratios": cpu_ratios}  # fmt: skip
            rows.append(
                row(
                    f"pipeline {name}: plain / speculative time ({tokens} tokens)",
                    speedup,
                    "x",
                    ratio=speedup,
                    target=f">= {target}",
                    ok=same and speedup >= target,
                    note=f"acceptance {accepted}/{drafted} = {accepted / max(drafted, 1):.0%}; replies identical: {same};"
                    f" CPU-time ratio {statistics.median(cpu_ratios):.2f};"
                    f" rounds {', '.join(f'{ratio:.2f}' for ratio in ratios)}",
                )
            )
    finally:
        llm.unload()
    return rows, details


class _FollowingGrammar:
    """llguidance's mask of ``schema`` as a logits processor for raw ``generate``, assisted or not: it follows the
    reply in ``input_ids`` and rolls back the tokens of a rejected draft (transformers' prompt lookup calls the
    processors on the candidate tokens before it knows which are accepted)."""

    def __init__(self, tokenizer: Any, vocab_size: int, schema: dict[str, Any], width: int) -> None:
        import llguidance.hf
        from llguidance import LLMatcher

        from abstractllm._private.token_constraint import json_grammar

        eos = [tokenizer.eos_token_id]
        self._matcher = LLMatcher(
            llguidance.hf.from_tokenizer(tokenizer, n_vocab=vocab_size, eos_token=eos), json_grammar(schema)
        )
        self._width = width
        self._followed: list[int] = []

    def __call__(self, input_ids: Any, scores: Any) -> Any:
        from llguidance.torch import allocate_token_bitmask, apply_token_bitmask_inplace, fill_next_token_bitmask

        reply = input_ids[0, self._width :].tolist()
        same = 0
        while same < min(len(reply), len(self._followed)) and reply[same] == self._followed[same]:
            same += 1
        if same < len(self._followed):
            self._matcher.rollback(len(self._followed) - same)
            del self._followed[same:]
        for token in reply[same:]:
            self._matcher.consume_token(token)
            self._followed.append(token)
        mask = allocate_token_bitmask(1, scores.shape[-1])
        fill_next_token_bitmask(self._matcher, mask)
        apply_token_bitmask_inplace(scores, mask.to(scores.device))
        return scores

    def copy(self) -> Any:
        """A fresh matcher of the same grammar (for :func:`_drafting_bound`)."""
        return self._matcher.deep_copy()


def _drafting_bound(prompt: list[int], reply: list[int], matcher: Any) -> int:
    """The forward passes greedy decoding of ``reply`` would take if every step drafted (no pausing) the most any of
    our draft sources offers: the n-gram draft of 10 tokens cut at the grammar, else the grammar's forced tokens
    continued by the n-gram draft. ``len(reply) / passes`` is the most any prompt-lookup drafting could gain
    with verification as cheap as one step."""
    from abstractllm.speculative import NgramIndex

    index, passes, done = NgramIndex(prompt, 3), 0, 0
    while done < len(reply):
        index.extend(reply[done : done + 1])
        matcher.consume_token(reply[done])
        done += 1
        passes += 1
        draft = index.draft(10)
        draft = draft[: matcher.validate_tokens(draft)]
        if not draft:
            forced = matcher.compute_ff_tokens()[:10]
            more = index.draft(10 - len(forced), after=forced) if forced else []
            if forced and matcher.try_consume_tokens(forced) == len(forced):
                more = more[: matcher.validate_tokens(more)]
                matcher.rollback(len(forced))
                draft = [*forced, *more]
        accepted = 0
        while accepted < len(draft) and done + accepted < len(reply) and draft[accepted] == reply[done + accepted]:
            accepted += 1
        index.extend(reply[done : done + accepted])
        for token in reply[done : done + accepted]:
            matcher.consume_token(token)
        done += accepted
    return passes


def _raw_transformers(model_dir: str, tasks: list[str], rounds: int) -> list[dict[str, Any]]:
    """Raw transformers' prompt lookup against its own plain generate (information); on the extraction, both with
    the schema's grammar as a logits processor."""

    def work() -> list[dict[str, Any]]:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer, LogitsProcessorList

        tokenizer = AutoTokenizer.from_pretrained(model_dir)
        model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32)
        vocab_size = int(model.get_output_embeddings().weight.shape[0])
        rows = []
        for name in [task for task in tasks if task in ("rewrite", "extract", "story")]:
            prompt, arguments, _ = TASKS[name]
            chat = [{"role": "user", "content": prompt}]
            ids = tokenizer.apply_chat_template(chat, add_generation_prompt=True, return_tensors="pt", return_dict=True)
            common = {**ids, "max_new_tokens": arguments["max_tokens"], "do_sample": False}
            width = ids["input_ids"].shape[1]

            def processors(name: str = name, width: int = width) -> dict[str, Any]:
                if name != "extract":
                    return {}
                grammar = _FollowingGrammar(tokenizer, vocab_size, EXTRACT_SCHEMA, width)
                return {"logits_processor": LogitsProcessorList([grammar])}  # type: ignore[list-item]

            ratios, same = [], True
            with torch.inference_mode():
                for _ in range(rounds):
                    plain_s, plain = _timed(model.generate, **common, **processors())
                    lookup_s, lookup = _timed(model.generate, **common, **processors(), prompt_lookup_num_tokens=10)
                    ratios.append(plain_s / lookup_s)
                    same = same and torch.equal(plain, lookup)
                    print(f"  raw transformers {name}: plain {plain_s:.2f} s, prompt lookup {lookup_s:.2f} s", flush=True)
            speedup = statistics.median(ratios)
            tokens = plain.shape[1] - width
            if name == "extract":
                grammar = processors()["logits_processor"][0]
                reply = [token for token in plain[0, width:].tolist() if token != tokenizer.eos_token_id]
                passes = _drafting_bound(ids["input_ids"][0].tolist(), reply, grammar.copy())
                rows.append(row("extract: most any drafting could gain (reply tokens / fewest passes)", len(reply) / passes,
                                "x", note=f"{len(reply)} tokens in {passes} passes at best: the JSON keys' layout, the"
                                " values' first tokens and their ends are not in the prompt"))  # fmt: skip
            shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
            rows.append(row(f"raw transformers {name}: plain / prompt_lookup_num_tokens=10 ({tokens} tokens)", speedup, "x",
                            ratio=speedup, note=f"identical: {same}; rounds {shown}"))  # fmt: skip
        return rows

    return on_own_thread(work)


def _raw_gguf(gguf: str, tasks: list[str], rounds: int) -> list[dict[str, Any]]:
    """Raw llama-cpp-python's LlamaPromptLookupDecoding against plain decoding (information: why gguf refuses)."""
    import llama_cpp
    from llama_cpp.llama_speculative import LlamaPromptLookupDecoding

    plain = llama_cpp.Llama(model_path=gguf, n_ctx=2048, verbose=False)
    lookup = llama_cpp.Llama(
        model_path=gguf, n_ctx=2048, verbose=False, draft_model=LlamaPromptLookupDecoding(num_pred_tokens=10), logits_all=True
    )
    rows = []
    for name in [task for task in tasks if task in ("rewrite", "story")]:
        prompt, arguments, _ = TASKS[name]
        messages = [{"role": "user", "content": prompt}]
        ratios, same = [], True
        for _ in range(rounds):
            plain_s, first = _timed(plain.create_chat_completion, messages, temperature=0, max_tokens=arguments["max_tokens"])
            lookup_s, second = _timed(lookup.create_chat_completion, messages, temperature=0, max_tokens=arguments["max_tokens"])
            ratios.append(plain_s / lookup_s)
            print(f"  raw llama-cpp-python {name}: plain {plain_s:.2f} s, prompt lookup {lookup_s:.2f} s", flush=True)
            same = same and first["choices"][0]["message"]["content"] == second["choices"][0]["message"]["content"]
        speedup = statistics.median(ratios)
        shown = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        measure = f"raw llama-cpp-python {name}: plain / LlamaPromptLookupDecoding(10)"
        rows.append(row(measure, speedup, "x", ratio=speedup, note=f"identical to plain greedy: {same}; rounds {shown}"))
    rows.append(row("gguf mode: speculative refused (llama.cpp's batched logits differ from single steps)", "refused",
                    note="see abstractllm_hf_gguf.speculative and docs/gguf.md"))  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tasks", default=",".join(TASKS))
    parser.add_argument("--no-raw", action="store_true", help="skip the raw libraries' own speculative paths")
    parser.add_argument("--raw-only", action="store_true", help="only the raw libraries' own speculative paths")
    options = parser.parse_args()
    tasks = [task.strip() for task in options.tasks.split(",") if task.strip()]
    model, why = real_model()
    if model is None:
        report("speculative", [row("real model unavailable: section skipped", "skipped", note=why)])
        return
    rows, details = ([], {}) if options.raw_only else _pipeline(str(model.pipeline_dir), tasks, options.rounds)
    if not options.no_raw:
        rows += _raw_transformers(str(model.pipeline_dir), tasks, options.rounds)
        rows += _raw_gguf(str(model.gguf), tasks, options.rounds)
    report("speculative", rows, details)


if __name__ == "__main__":
    main()
    finish()

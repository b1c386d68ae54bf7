"""Session benchmark: later turns should cost only their new tokens (prefix reuse on the local backends).

A ``Session`` with a long system prompt (about 1,500 tokens, or what fits the model's context
with room for the turns) runs five turns of 8 new tokens each (greedy). Measured: the median
time of turns 2-5 over the time of turn 1,

- pipeline, one session (target <= 0.2): the median of three sessions run one after the other, each
  with its own system prompt (so each turn 1 prefills it all). One turn 1 is a single timing, and
  this machine's speed drifts by several percent between seconds;
- GGUF, two sessions with different system prompts interleaved on the same loaded model
  (target <= 0.1; the worse of the two sessions counts);
- for information, the pipeline's ratio over raw transformers' on the same conversations,
  measured in the same run, each turn generating on the previous turn's cache cut in place to
  the shared prefix: the floor of prefix reuse on this machine;

the last reply of the (last) session against a freshly loaded model given the same history
(greedy: they must be equal), and the memory: process RSS growth while the sessions run stays
within the prefix cache's budget, and after ``unload()`` RSS is within 5 % of the level before
loading. The cache counters (``cache_info()``, where the backend has one) are shown.

Runs on the tiny models (turn ratios for information: their ~300-token prompt costs little next
to the 8 decoded tokens), and on the real model (SmolLM2-135M-Instruct, ``tinymodel.realmodel``)
when it can be had, where the ratio targets apply; otherwise that part is skipped with a note.
``--tiny-only`` skips it.
Writes ``benchmarks/results/session.json``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from common import finish, on_own_thread, real_model, report, row, rss, trim  # noqa: E402

from abstractllm import Session, create_llm  # noqa: E402
from tinymodel import ensure_tiny_models  # noqa: E402

TURNS = 5
NEW_TOKENS = 8
SYSTEM_TOKENS = 1500
ROOM_FOR_TURNS = 160  # context kept free for five short questions and their replies
QUESTIONS = ["What is the capital of France?", "And of Italy?", "Which one is larger?", "Name a river there.",
             "Thank you. One more fact?"]  # fmt: skip
PERSONAS = (
    "You are a careful assistant for a travel agency.",
    "You are a terse assistant for a weather service.",
    "You are a patient assistant for a city museum.",
)
PIPELINE_ROUNDS = 3  # one session at a time, each with its own persona
FILLER = " Always answer in one short sentence, name your sources when you can, and never invent facts about places."


def system_prompt(llm: Any, persona: str, tokens: int) -> str:
    """``persona`` followed by rules until the prompt has about ``tokens`` tokens for ``llm``."""
    text = persona
    while True:
        longer = text + FILLER
        if llm.count_tokens(longer) > tokens:
            return text
        text = longer


def system_tokens(llm: Any, context: int | None) -> int:
    """About SYSTEM_TOKENS, or less when the model's context would not hold it and the turns."""
    return SYSTEM_TOKENS if context is None else min(SYSTEM_TOKENS, context - ROOM_FOR_TURNS)


def cache_info(llm: Any) -> dict[str, Any] | None:
    """The model's prefix-cache counters, from whichever of the object and its backend offers them."""
    for owner in (llm, getattr(llm, "backend", None)):
        method = getattr(owner, "cache_info", None)
        if callable(method):
            return dict(method())
    return None


def run_turns(label: str, sessions: list[Session]) -> list[list[float]]:
    """TURNS turns of every session, interleaved (each session's turn k, then turn k + 1); seconds per turn.

    Progress goes to stderr (turn 1 on a real model takes seconds)."""
    seconds: list[list[float]] = [[] for _ in sessions]
    for turn in range(TURNS):
        for index, session in enumerate(sessions):
            started = time.perf_counter()
            session.generate(QUESTIONS[turn], temperature=0, max_tokens=NEW_TOKENS)
            seconds[index].append(time.perf_counter() - started)
            print(f"{label}: session {index + 1}, turn {turn + 1}: {seconds[index][-1]:.3f} s", file=sys.stderr)
    return seconds


def raw_floor(model_dir: str, histories: list[list[Any]]) -> list[list[float]]:
    """Raw transformers on each session's conversation (a history, the system prompt first): seconds per turn when
    each turn's ``generate`` starts from the previous turn's cache, cut in place to the prefix the new prompt shares
    with it. No copy and no bookkeeping: the floor of prefix reuse on this machine, measured in the same run."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir)
    with torch.inference_mode():
        model.generate(**tokenizer("Hello", return_tensors="pt"), max_new_tokens=1)  # first-call work outside turn 1
        return [_raw_turns(model, tokenizer, history) for history in histories]


def _raw_turns(model: Any, tokenizer: Any, history: list[Any]) -> list[float]:
    """Seconds per turn of one conversation (see ``raw_floor``)."""
    import torch

    from abstractllm_hf_pipeline.engine import CACHE_FIELD  # transformers' name for the cache, by version

    messages = [{"role": message.role, "content": message.content} for message in history]
    seconds: list[float] = []
    cache: Any = None
    held: list[int] = []
    for turn in range(TURNS):
        text = tokenizer.apply_chat_template(messages[: 2 + 2 * turn], tokenize=False, add_generation_prompt=True)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        kwargs: dict[str, Any] = {}
        if cache is not None:
            shared = next((index for index, (a, b) in enumerate(zip(held, ids, strict=False)) if a != b), len(held))
            shared = min(shared, len(ids) - 1)
            cache.crop(shared - cache.get_seq_length())
            kwargs[CACHE_FIELD] = cache
        started = time.perf_counter()
        output = model.generate(
            input_ids=torch.tensor([ids]), max_new_tokens=NEW_TOKENS, do_sample=False, return_dict_in_generate=True, **kwargs
        )
        seconds.append(time.perf_counter() - started)
        cache = getattr(output, CACHE_FIELD)
        held = [*ids, *output.sequences[0, len(ids) : -1].tolist()]
    return seconds


def later_over_first(seconds: list[float]) -> float:
    return statistics.median(seconds[1:]) / seconds[0]


def measure(label: str, config: dict[str, Any], sessions: int, *, rounds: int = 1, raw_floor_too: bool = False) -> dict[str, Any]:
    """Load, run the sessions (``rounds`` times, one round after the other, each round's sessions with
    system prompts of their own), unload; turn times, the median round's ratio, RSS and cache counters
    (and, with ``raw_floor_too``, raw transformers' turn times on the same conversations)."""
    trim()
    before = rss()
    llm = create_llm("huggingface", **config)
    window = llm.backend.context_window()
    llm.generate("Hello", temperature=0, max_tokens=1)  # first-call work (kernels, buffers) outside turn 1
    trim()
    loaded = rss()
    seconds: list[list[float]] = []
    histories: list[list[Any]] = []
    prompts: list[str] = []
    for round_ in range(rounds):
        personas = PERSONAS[round_ * sessions : (round_ + 1) * sessions]
        prompts = [system_prompt(llm, persona, system_tokens(llm, window)) for persona in personas]
        conversation = [Session(system_prompt=prompt, provider=llm) for prompt in prompts]
        seconds += run_turns(label, conversation)
        histories += [session.get_history(include_system=True) for session in conversation]
        del conversation
    trim()
    used = rss()
    info = cache_info(llm)
    system = llm.count_tokens(prompts[0])
    history = histories[-1]
    llm.unload()
    del llm
    trim()
    after = rss()
    fresh = create_llm("huggingface", **config)  # nothing else holds the model: a new load, with no cached prefix
    again = fresh.generate(messages=history[:-1], temperature=0, max_tokens=NEW_TOKENS)
    fresh.unload()
    floor = on_own_thread(lambda: raw_floor(config["model"], histories)) if raw_floor_too else None
    round_ratios = [
        max(later_over_first(per_session) for per_session in seconds[index : index + sessions])
        for index in range(0, len(seconds), sessions)
    ]
    return {
        "label": label,
        "system_prompt_tokens": system,
        "turn_seconds": seconds,
        "round_ratios": round_ratios,
        "ratio": statistics.median(round_ratios),
        "rss_before_mb": before / 2**20,
        "rss_loaded_mb": loaded / 2**20,
        "rss_after_turns_mb": used / 2**20,
        "rss_after_unload_mb": after / 2**20,
        "cache_info": info,
        "last_reply": history[-1].content,
        "fresh_model_reply": str(again),
        "raw_floor_turn_seconds": floor,
    }


def rows_for(measured: dict[str, Any], target: float | None) -> list[dict[str, Any]]:
    """The rows of one measurement; ``target`` (the turn ratio's) is None where the ratio is shown for information."""
    label, ratio = measured["label"], measured["ratio"]
    firsts = ", ".join(f"{per_session[0] * 1e3:.0f}" for per_session in measured["turn_seconds"])
    rounds = measured["round_ratios"]
    each = f"median of {len(rounds)} sessions: {', '.join(f'{value:.3f}' for value in rounds)}; " if len(rounds) > 1 else ""
    rows = [
        row(
            f"{label}: turns 2-5 / turn 1",
            ratio,
            ratio=ratio,
            target=None if target is None else f"<= {target}",
            ok=None if target is None else ratio <= target,
            note=f"{each}system prompt {measured['system_prompt_tokens']} tokens; turn 1 {firsts} ms; "
            f"cache {measured['cache_info'] if measured['cache_info'] is not None else 'counters not offered'}",
        )
    ]
    floor_seconds = measured["raw_floor_turn_seconds"]
    if floor_seconds is not None:
        floors = [later_over_first(per_session) for per_session in floor_seconds]
        floor = statistics.median(floors)
        turns = "; ".join(", ".join(f"{seconds * 1e3:.0f}" for seconds in per_session) for per_session in floor_seconds)
        note = f"turns {turns} ms" + (f"; sessions {', '.join(f'{value:.3f}' for value in floors)}" if len(floors) > 1 else "")
        rows.append(row(f"{label}: raw transformers' floor, turns 2-5 / turn 1", floor, ratio=floor, note=note))
        rows.append(
            row(
                f"{label}: our ratio / raw transformers' floor",
                ratio / floor,
                ratio=ratio / floor,
                note="measured one after the other: this machine's drift between the two runs is part of it",
            )
        )
    same = measured["last_reply"] == measured["fresh_model_reply"]
    rows.append(
        row(
            f"{label}: last reply = a fresh model's, same history",
            "same" if same else "different",
            target="same",
            ok=same,
            note="" if same else f"session {measured['last_reply']!r}, fresh {measured['fresh_model_reply']!r}",
        )
    )
    growth = (measured["rss_after_turns_mb"] - measured["rss_loaded_mb"]) * 2**20
    info = measured["cache_info"] or {}
    budget = info.get("budget_bytes")
    if budget is not None:
        slack = 16 * 2**20  # allocator and interpreter noise beside the cache
        rows.append(
            row(
                f"{label}: RSS growth over the turns vs cache budget",
                growth / 2**20,
                "MB",
                target=f"<= {budget / 2**20:.0f} MB",
                ok=growth <= budget + slack,
                note=f"cache holds {info.get('bytes', 0) / 2**20:.1f} MB",
            )
        )
    else:
        rows.append(row(f"{label}: RSS growth over the turns", growth / 2**20, "MB", note="no cache budget reported"))
    change = (measured["rss_after_unload_mb"] - measured["rss_before_mb"]) / measured["rss_before_mb"]
    rows.append(
        row(
            f"{label}: RSS after unload vs before loading",
            f"{change:+.2%}",
            target="within 5%",
            ok=abs(change) <= 0.05,
            note=f"loaded {measured['rss_loaded_mb'] - measured['rss_before_mb']:+.0f} MB",
        )
    )
    return rows


def warm_up(pipeline_dir: str, gguf: str) -> None:
    """Import torch / transformers / llama.cpp and run each once, so the RSS baselines include the libraries
    (the GGUF run on a thread of its own, see ``main``)."""
    _once({"model": pipeline_dir})
    on_own_thread(lambda: _once({"model_path": gguf}))


def _once(config: dict[str, Any]) -> None:
    llm = create_llm("huggingface", **config)
    llm.generate("Hello", temperature=0, max_tokens=1)
    llm.unload()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny-only", action="store_true", help="skip the real model")
    args = parser.parse_args()
    tiny = ensure_tiny_models(ROOT / ".cache" / "tiny-models")
    warm_up(str(tiny.pipeline_dir), str(tiny.gguf_f32))
    rows: list[dict[str, Any]] = []
    details: dict[str, Any] = {}
    models: list[tuple[str, dict[str, Any], dict[str, Any]]] = [
        ("tiny", {"model": str(tiny.pipeline_dir)}, {"model_path": str(tiny.gguf_f32)})
    ]
    real, skipped = (None, "--tiny-only") if args.tiny_only else real_model()
    if real is not None:
        models.append(("SmolLM2-135M", {"model": str(real.pipeline_dir)}, {"model_path": str(real.gguf), "n_ctx": 2048}))
    for name, pipeline_config, gguf_config in models:
        pipeline = measure(f"{name} pipeline, 1 session", pipeline_config, 1, rounds=PIPELINE_ROUNDS, raw_floor_too=True)
        # The ratio targets hold on the real model: the tiny models' prompt fits their 512-token context,
        # so a turn there is mostly the 8 decoded tokens, whatever is reused.
        real_targets = name != "tiny"
        rows += rows_for(pipeline, 0.2 if real_targets else None)
        # GGUF generations run llama.cpp's OpenMP on the calling thread, whose team then outlives them: on the main
        # thread it made the next pipeline measurement's decoding on our worker thread 5-20 % slower.
        label = f"{name} GGUF, 2 interleaved sessions"
        gguf_run = on_own_thread(lambda label=label, config=gguf_config: measure(label, config, 2))
        rows += rows_for(gguf_run, 0.1 if real_targets else None)
        details[name] = {"pipeline": pipeline, "gguf": gguf_run}
    if real is None:
        rows.append(row("real model (SmolLM2-135M-Instruct)", "skipped", note=skipped))
    report("session", rows, details)


if __name__ == "__main__":
    main()
    finish()

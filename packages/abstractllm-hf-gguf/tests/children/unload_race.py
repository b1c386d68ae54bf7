"""Child process: unload GGUF models while other threads generate on them, many times.

argv: model path, mode ("sync" | "stream" | "shared" | "paused"), repetitions.
Every generation must either complete with the sequential greedy reply or raise a
documented ``abstractllm`` error; anything else exits 3. A crash kills the process (a
negative return code for the parent).
"""

from __future__ import annotations

import random
import sys
import threading
import time
from collections import Counter

from abstractllm import create_llm
from abstractllm._private.llm import AbstractLLMInterface
from abstractllm.errors import AbstractLLMError, UnsupportedOperationError

PROMPT = "Hello!"


def reply(llm: AbstractLLMInterface, streamed: bool) -> str:
    if streamed:
        return "".join(llm.generate(PROMPT, temperature=0, stream=True, max_tokens=64))
    return str(llm.generate(PROMPT, temperature=0, max_tokens=64))


def main() -> int:
    path, mode, repetitions = sys.argv[1], sys.argv[2], int(sys.argv[3])
    rng = random.Random(1234)
    with create_llm("huggingface", model_path=path) as reference:
        expected = reply(reference, streamed=False)
    outcomes: Counter[str] = Counter()
    problems: list[str] = []

    def work(llm: AbstractLLMInterface, streamed: bool) -> None:
        try:
            text = reply(llm, streamed)
        except AbstractLLMError as exc:
            outcomes[type(exc).__name__] += 1
            return
        except BaseException as exc:
            problems.append(f"raw {type(exc).__name__}: {exc}")
            return
        outcomes["completed"] += 1
        if text != expected:
            problems.append(f"reply {text!r} != {expected!r}")

    for index in range(repetitions):
        if mode == "paused":
            llm = create_llm("huggingface", model_path=path)
            stream = llm.generate(PROMPT, temperature=0, stream=True, max_tokens=64)
            next(stream)
            closer = threading.Thread(target=llm.unload)
            closer.start()
            closer.join(30)
            if closer.is_alive():
                problems.append("unload hung behind a paused stream")
                break
            try:
                "".join(stream)
                problems.append("a stream resumed after its model was freed")
            except UnsupportedOperationError:
                outcomes["UnsupportedOperationError"] += 1
            continue
        first = create_llm("huggingface", model_path=path)
        second = create_llm("huggingface", model_path=path) if mode == "shared" else None
        streamed = mode == "stream" or (mode == "shared" and index % 2 == 1)
        workers = [threading.Thread(target=work, args=(first, streamed))]
        if second is not None:
            workers.append(threading.Thread(target=work, args=(second, not streamed)))
        for worker in workers:
            worker.start()
        time.sleep(rng.uniform(0, 0.03))
        first.unload()
        if second is not None:
            time.sleep(rng.uniform(0, 0.01))
            second.unload()
        for worker in workers:
            worker.join(30)
            if worker.is_alive():
                problems.append("a generation hung after unload")
        if problems:
            break
    print(dict(outcomes))
    for problem in problems[:5]:
        print(problem)
    return 3 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

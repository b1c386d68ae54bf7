"""The main job: a real generation through the local transformers pipeline backend.

Without ``--model`` it builds (once: ``tinymodel.BUILD_TIME``) the project's tiny Llama, trained on a
small text, and runs it: a completion, a streamed completion and a two-turn Session.
With internet access, ``--model`` takes any hub id (e.g. ``--model Qwen/Qwen2.5-0.5B-Instruct``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def main() -> int:
    """Run the demo; a model that cannot be loaded is one line on stderr and status 2."""
    from abstractllm.errors import AbstractLLMError

    try:
        demo()
    except AbstractLLMError as exc:
        sys.stderr.write(f"demo: error: {exc}\n")
        return 2
    return 0


def demo() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", help="hub id or local folder (default: the project's tiny model)")
    parser.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda when available)")
    parser.add_argument("--max-tokens", type=int, default=24)
    args = parser.parse_args()

    from abstractllm import create_llm
    from abstractllm.session import Session

    model = args.model
    if model is None:
        from tinymodel import BUILD_TIME, ensure_tiny_models

        print(f"the project's tiny Llama: built on first use ({BUILD_TIME}, one core), then reused", flush=True)
        model = str(ensure_tiny_models(REPO / ".cache" / "tiny-models").pipeline_dir)
        print(f"model: the project's tiny Llama at {model}")

    with create_llm("huggingface", model=model, device=args.device, max_tokens=args.max_tokens, temperature=0) as llm:
        print(f"mode: {llm.mode}; capabilities: streaming={llm.get_capabilities().get('streaming')}")

        prompt = "The capital of France is"
        response = llm.generate(prompt, raw=True)
        print(f"\n[completion] {prompt!r} ->{response}")
        print(f"  finish_reason={response.finish_reason} usage={response.usage.to_dict()} in {response.timing.total:.3f}s")

        print("\n[streamed chat] What is the capital of France? -> ", end="", flush=True)
        for chunk in llm.generate("What is the capital of France?", stream=True):
            print(chunk, end="", flush=True)
        print()

        session = Session(provider=llm)
        for question in ("What is the capital of France?", "What is the capital of Germany?"):
            print(f"\n[session] user: {question}\n[session] assistant: {session.generate(question)}")
        print(f"\nsession history: {len(session.messages)} messages")


if __name__ == "__main__":
    sys.exit(main())

"""What ``abstractllm generate`` and ``chat`` spend beside the generation itself, with a pipeline model
(issue 26): llguidance is imported only for a constrained reply; unloading frees the model without a
full garbage collection when nothing holds it in a cycle; the command ends the process without the
interpreter's teardown of torch, and still runs the exit handlers and keeps its exit status.

Each case runs in a fresh interpreter with a deadline; none times anything (the figures are in the
commit messages and benchmarks are ratios).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("torch")
pytest.importorskip("abstractllm_hf_pipeline")

REPO = Path(__file__).resolve().parents[1]


def _python(code: str, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "HF_HUB_OFFLINE": "1"}
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
        cwd=REPO,
    )


def test_a_free_reply_does_not_import_llguidance_and_a_constrained_one_does(tiny_models: Any) -> None:
    result = _python(
        """
        import json, sys
        from abstractllm import create_llm
        llm = create_llm("huggingface", model=sys.argv[1], device="cpu")
        free = str(llm.generate("The capital of France is", raw=True, temperature=0, max_tokens=8))
        before = "llguidance" in sys.modules
        reply = llm.generate("Reply in JSON", response_format={"type": "json_object"}, temperature=0, max_tokens=24)
        print(json.dumps([free, before, "llguidance" in sys.modules, str(reply)]))
        llm.unload()
        """,
        str(tiny_models.pipeline_dir),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    free, before, after, constrained = __import__("json").loads(result.stdout.strip().splitlines()[-1])
    assert free == " Paris."
    assert before is False and after is True
    assert constrained.lstrip().startswith("{")


def test_unload_frees_the_model_without_a_full_collection(tiny_models: Any) -> None:
    result = _python(
        """
        import gc, sys, weakref
        from abstractllm import create_llm
        llm = create_llm("huggingface", model=sys.argv[1], device="cpu")
        for _ in llm.generate("What is the capital of France?", stream=True, temperature=0):
            pass
        model = weakref.ref(llm.backend.loaded.model)
        collections = []
        gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
        gc.disable()  # only an explicit gc.collect() can run now
        llm.unload()
        print(model() is None, collections)
        """,
        str(tiny_models.pipeline_dir),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip().splitlines()[-1] == "True []"


CLI = """
    import atexit, sys
    atexit.register(lambda: print("exit handler ran", flush=True))
    class Teardown:  # freed only by the interpreter's teardown, which the command skips once torch is loaded
        def __del__(self):
            print("teardown ran", flush=True)
    kept = Teardown()
    from abstractllm.cli import main
    sys.argv = ["abstractllm", *sys.argv[1:]]
    sys.exit(main())
"""


def test_chat_quit_runs_the_exit_handlers_and_keeps_the_output(tiny_models: Any) -> None:
    result = _python(CLI, "chat", "--model", str(tiny_models.pipeline_dir), "-o", "temperature", "0", stdin="Hello\n/quit\n")
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()
    assert lines[0].startswith("Chatting with") and lines[1] == "Hello! How can I help you today?"
    assert lines[-1] == "exit handler ran"  # and not "teardown ran": the process ended after the handlers


def test_a_command_that_fails_after_loading_keeps_status_2(tiny_models: Any) -> None:
    result = _python(CLI, "generate", "--model", str(tiny_models.pipeline_dir), "--raw", "word " * 2000)
    assert result.returncode == 2, result.stderr[-3000:]
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("abstractllm: error:") and "context window" in last
    assert result.stdout.splitlines() == ["exit handler ran"]


def test_a_command_without_torch_exits_normally() -> None:
    result = _python(CLI, "plugins")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.splitlines()[-2:] == ["exit handler ran", "teardown ran"]


def test_in_process_callers_get_the_status_back(tiny_models: Any) -> None:
    """``main(argv)`` called by a program (here, with argv) returns instead of ending the process."""
    result = _python(
        """
        import io, sys
        from abstractllm.cli import main
        out = io.StringIO()
        status = main(["generate", "--model", sys.argv[1], "--raw", "The capital of France is"], out=out)
        print("returned", status, repr(out.getvalue()))
        """,
        str(tiny_models.pipeline_dir),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "returned 0 ' Paris.\\n'"

"""Every code example of the HuggingFace guide (shared/seed/huggingface-provider.md) runs as written.

The ```python blocks are extracted from the guide at test time and each runs in a fresh
Python process with ``HF_HOME`` pointing at a temporary hub cache holding the project's
tiny model and ``HF_HUB_OFFLINE=1``. The code is the guide's, changed only by the rows of
:data:`SUBSTITUTIONS` (pattern, replacement, when it applies, why). The environment also
sets ``HUGGINGFACE_API_KEY`` (the Authentication example tells the reader to) and never
``ABSTRACTLLM_HF_ROUTER_URL``: the Inference API example is pointed at the test server by
the api mode's ``api_base_url`` option, listed in the table.

After the example's own code, the process reports what it made: every model created
(``abstractllm.create_llm`` is wrapped to remember them — the real function runs), what
the loaded weights look like (quantization, dtype, memory footprint, device, the folder
they came from), a greedy reply from each, and the responses, sessions and capability
dicts the example left in its variables. Each example then has its own checks
(:data:`CHECKS`). The tests after those check that the options the examples show have
their observable effect.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
#: The guide lies beside the checkout (``../shared/seed/``), as in the project's workspace and CI.
#: A clone without it still runs every test that does not read the guide; those that do skip.
GUIDE = REPO.parent / "shared" / "seed" / "huggingface-provider.md"
needs_guide = pytest.mark.skipif(
    not GUIDE.is_file(), reason=f"the HuggingFace guide is not beside this checkout (../shared/seed/{GUIDE.name})"
)
TINY_REPO = "abstractllm-test/tiny-llama"
ENV_TOKEN = "hf_seed_parity_env_token"
GUIDE_TOKEN = "your-huggingface-api-token-here"
HUB_IDS = (
    "google/gemma-2b",
    "mistralai/Mistral-7B-v0.1",
    "meta-llama/Llama-2-7b-hf",
    "meta-llama/Llama-2-70b-hf",
    "microsoft/phi-2",
)


def _local(code: str, cuda: bool) -> bool:
    return "use_inference_api=True" not in code


@dataclass(frozen=True)
class Substitution:
    pattern: str
    replacement: str
    applies: Callable[[str, bool], bool]  # (example code, CUDA available) -> apply?
    reason: str


#: The only changes made to the guide's code. ``{gguf}`` and ``{router}`` are filled in at run time.
SUBSTITUTIONS: list[Substitution] = [
    Substitution(
        r'"(' + "|".join(re.escape(hub_id) for hub_id in HUB_IDS) + r')"',
        f'"{TINY_REPO}"',
        _local,
        "models run locally: nothing can be downloaded here, so the hub id becomes the tiny test model's repo id,"
        " installed in a temporary HF_HOME hub cache (offline)",
    ),
    Substitution(r'"/path/to/model\.gguf"', '"{gguf}"', lambda code, cuda: True, "the tiny test model's GGUF file"),
    Substitution(
        r"use_inference_api=True,",
        'use_inference_api=True, api_base_url="{router}",',
        lambda code, cuda: True,
        "the Inference API example talks to the in-repo test server on loopback (no internet here) through the api"
        " mode's api_base_url option; its model id stays, since the request carries it to the router",
    ),
    Substitution(r'device="cuda"', 'device="cpu"', lambda code, cuda: not cuda, "this machine has no CUDA device"),
    Substitution(
        r"(\n([ \t]*)# Use streaming\.\.\.)",
        r"\1\n\2pass",
        lambda code, cuda: True,
        "the capability example's if-body is only a comment, which is a syntax error",
    ),
    Substitution(
        r"(\n([ \t]*)# Use non-streaming alternative\.\.\.)",
        r"\1\n\2pass",
        lambda code, cuda: True,
        "the capability example's else-body is only a comment, which is a syntax error",
    ),
]

RUNNER = textwrap.dedent(
    """
    import json, sys
    import abstractllm
    from abstractllm._private.llm import AbstractLLMInterface
    from abstractllm.response import GenerateResponse
    from abstractllm.session import Session

    created = []
    real_create_llm = abstractllm.create_llm

    def create_llm(*args, **kwargs):  # the real function; the model is remembered for the report
        llm = real_create_llm(*args, **kwargs)
        created.append(llm)
        return llm

    abstractllm.create_llm = create_llm
    namespace = {"__name__": "__main__"}
    exec(compile(sys.stdin.read(), "<guide example>", "exec"), namespace)

    def weights(llm):
        if llm.mode != "pipeline":
            return {}
        model = llm.backend.loaded.model
        return {
            "footprint": int(model.get_memory_footprint()),
            "dtype": str(next(model.parameters()).dtype),
            "device": str(model.device),
            "in_4bit": bool(getattr(model, "is_loaded_in_4bit", False)),
            "in_8bit": bool(getattr(model, "is_loaded_in_8bit", False)),
            "folder": str(model.name_or_path),
        }

    report = {"models": [], "responses": {}, "sessions": {}, "dicts": {}}
    for llm in created:
        reply = llm.generate("What is the capital of France?", temperature=0, max_tokens=16)
        report["models"].append(
            {
                "mode": llm.mode,
                "reply": str(reply),
                "max_tokens": llm.config_manager.get_param("max_tokens"),
                **weights(llm),
            }
        )
    for name, value in namespace.items():
        if isinstance(value, GenerateResponse):
            report["responses"][name] = {
                "text": str(value),
                "completion_tokens": value.usage.completion_tokens,
                "choices": len(value.choices),
            }
        elif isinstance(value, Session):
            report["sessions"][name] = [str(m.role) for m in value.messages]
        elif isinstance(value, dict) and not name.startswith("__"):
            report["dicts"][name] = {str(k): v for k, v in value.items()}
    print("@@report@@" + json.dumps(report, default=str))
    """
)


def guide_text() -> str:
    """The guide's text, or "" when it is not beside the checkout."""
    return GUIDE.read_text() if GUIDE.is_file() else ""


def examples() -> list[tuple[str, str]]:
    """(section heading, code) of every python block in the guide, in order."""
    text = guide_text()
    found: list[tuple[str, str]] = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.DOTALL):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)[-1]
        found.append((heading, match.group(1)))
    return found


EXAMPLES = examples()
#: Without the guide, one case stands for its examples, skipped with ``needs_guide``'s reason.
EXAMPLE_CASES = EXAMPLES or [("guide-examples", "")]


def prepare(code: str, *, gguf: Path, router: str, cuda: bool) -> tuple[str, list[Substitution]]:
    """The example with the substitutions that apply to it, and which ones changed it."""
    used: list[Substitution] = []
    for row in SUBSTITUTIONS:
        if not row.applies(code, cuda):
            continue
        changed = re.sub(row.pattern, row.replacement.replace("{gguf}", str(gguf)).replace("{router}", router), code)
        if changed != code:
            used.append(row)
        code = changed
    return code, used


def example_env(hf_home: Path) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("ABSTRACTLLM_HF_ROUTER_URL", "HF_TOKEN")}
    env.update({"HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "HUGGINGFACE_API_KEY": ENV_TOKEN, "PYTHONPATH": str(REPO)})
    return env


def run_python(code: str, hf_home: Path, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], input=stdin, capture_output=True, text=True, env=example_env(hf_home), timeout=300
    )


def run_example(code: str, hf_home: Path) -> tuple[str, dict[str, Any]]:
    result = run_python(RUNNER, hf_home, stdin=code)
    assert result.returncode == 0, f"example failed:\n{code}\n--- stderr ---\n{result.stderr[-3000:]}"
    printed, marker, report = result.stdout.rpartition("@@report@@")
    assert marker, result.stdout
    return printed, json.loads(report)


@pytest.fixture(scope="module")
def hf_home(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A hub cache with the tiny model as ``TINY_REPO``: ``main`` has the chat template, the
    ``no-template`` ref points at a snapshot of the same weights without one."""
    from tinymodel.hub_cache import install_in_hub_cache, repo_cache_dir

    home = tmp_path_factory.mktemp("hf_home")
    install_in_hub_cache(tiny_models.pipeline_dir_no_template, home, TINY_REPO)
    refs = repo_cache_dir(home, TINY_REPO) / "refs"
    (refs / "no-template").write_text((refs / "main").read_text())
    install_in_hub_cache(tiny_models.pipeline_dir, home, TINY_REPO)
    return home


# -- the examples, each with its own checks ------------------------------------------------


@dataclass
class Run:
    printed: str
    report: dict[str, Any]
    router: Any
    hf_home: Path
    full_footprint: int
    cuda: bool

    @property
    def models(self) -> list[dict[str, Any]]:
        return self.report["models"]

    def from_hub_cache(self, model: dict[str, Any]) -> bool:
        return Path(model["folder"]).is_relative_to(self.hf_home / "hub" / ("models--" + TINY_REPO.replace("/", "--")))


PARIS = "The capital of France is Paris."


def check_authentication(run: Run) -> None:
    assert [m["mode"] for m in run.models] == ["pipeline", "pipeline"]
    assert all(run.from_hub_cache(m) and m["reply"] == PARIS for m in run.models)


def check_local_model(run: Run) -> None:
    (model,) = run.models
    assert model["mode"] == "pipeline" and model["device"] == ("cuda:0" if run.cuda else "cpu")
    assert run.from_hub_cache(model) and model["reply"] == PARIS
    assert run.printed.strip() == run.report["responses"]["response"]["text"].strip() != ""


def check_inference_api(run: Run) -> None:
    (model,) = run.models
    assert model["mode"] == "api"
    posts = run.router.posts("/v1/chat/completions")
    assert len(posts) == 2  # the example's request, then the report's
    first = posts[0]
    assert first["headers"]["Authorization"] == f"Bearer {GUIDE_TOKEN}"
    assert first["body"]["model"] == "microsoft/phi-2"
    assert first["body"]["messages"][-1]["content"] == "Write a short poem about the ocean."
    words = run.printed.split()
    assert words and set(words) <= set(sys.modules[type(run.router).__module__].WORDS)  # the server's vocabulary


def check_gguf(run: Run) -> None:
    (model,) = run.models
    assert model["mode"] == "gguf" and model["reply"] == PARIS
    assert run.printed.strip() == run.report["responses"]["response"]["text"].strip() != ""


def check_loading_options(run: Run) -> None:
    quantized, typed = run.models
    assert quantized["in_4bit"] and quantized["footprint"] < run.full_footprint
    assert typed["dtype"] == "torch.bfloat16" and typed["footprint"] < run.full_footprint
    assert run.from_hub_cache(quantized) and run.from_hub_cache(typed)  # revision "main" of the hub cache
    assert all(m["reply"] for m in run.models)


def check_generation_parameters(run: Run) -> None:
    (model,) = run.models
    assert model["reply"] == PARIS
    response = run.report["responses"]["response"]
    assert response["text"].strip() and response["choices"] == 1 and 0 < response["completion_tokens"] <= 500


def check_pipeline_configuration(run: Run) -> None:
    (model,) = run.models
    assert model["reply"] == PARIS  # the prompt is not echoed (return_full_text=False)


def check_session(run: Run) -> None:
    assert run.report["sessions"]["session"] == ["user", "assistant", "user", "assistant"]
    first, second = run.report["responses"]["response1"]["text"], run.report["responses"]["response2"]["text"]
    assert first.strip() and second.strip()
    assert run.printed == f"{first}\n{second}\n"


def check_async(run: Run) -> None:
    (model,) = run.models
    assert model["mode"] == "pipeline"
    assert "Paris" in run.printed and "Result 1" not in run.printed  # a local model: no concurrent part


def check_error_handling(run: Run) -> None:
    (model,) = run.models
    assert run.printed == ""  # nothing went wrong, so no handler printed
    assert run.report["responses"]["response"]["text"].strip() and model["reply"] == PARIS


def check_memory_management(run: Run) -> None:
    (model,) = run.models
    assert model["in_8bit"] and model["footprint"] < run.full_footprint and model["reply"]


def check_cpu_gpu(run: Run) -> None:
    cpu, gpu = run.models
    assert cpu["device"] == "cpu" and cpu["dtype"] == "torch.float32" and cpu["reply"] == PARIS
    assert gpu["device"] == ("cuda:0" if run.cuda else "cpu") and gpu["dtype"] == "torch.float16"


def check_out_of_memory(run: Run) -> None:
    (model,) = run.models
    assert model["in_4bit"] and model["footprint"] < run.full_footprint
    assert model["max_tokens"] == 256 and model["reply"]


def check_slow_performance(run: Run) -> None:
    (model,) = run.models
    assert model["dtype"] == "torch.float16" and run.from_hub_cache(model) and model["reply"]


def check_compatibility(run: Run) -> None:
    capabilities = run.report["dicts"]["capabilities"]
    assert capabilities["streaming"] is True and capabilities["max_tokens"] == 512


CHECKS: dict[str, Callable[[Run], None]] = {
    "Authentication": check_authentication,
    "Local Model Usage": check_local_model,
    "Inference API Usage": check_inference_api,
    "GGUF Model Usage": check_gguf,
    "Model Loading Options": check_loading_options,
    "Generation Parameters": check_generation_parameters,
    "Pipeline Configuration": check_pipeline_configuration,
    "Session Management": check_session,
    "Asynchronous Usage": check_async,
    "Error Handling": check_error_handling,
    "Memory Management": check_memory_management,
    "CPU vs. GPU Performance": check_cpu_gpu,
    "Out of Memory Errors": check_out_of_memory,
    "Slow Performance": check_slow_performance,
    "Model Compatibility": check_compatibility,
}


def cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


@needs_guide
def test_every_guide_example_has_checks(tiny_models: Any) -> None:
    assert [heading for heading, _ in EXAMPLES] == list(CHECKS)
    used = set()
    for _, code in EXAMPLES:
        _, rows = prepare(code, gguf=tiny_models.gguf_f32, router="http://127.0.0.1:1", cuda=False)
        used.update(row.pattern for row in rows)
    assert used == {row.pattern for row in SUBSTITUTIONS}, "a substitution that no example needs"


@needs_guide
@pytest.mark.parametrize(("heading", "code"), EXAMPLE_CASES, ids=[f"{i:02d}-{h}" for i, (h, _) in enumerate(EXAMPLE_CASES)])
def test_guide_example_runs_as_written(
    heading: str, code: str, tiny_models: Any, hf_home: Path, router: Any, full_footprint: int
) -> None:
    router.reset()
    cuda = cuda_available()
    prepared, _ = prepare(code, gguf=tiny_models.gguf_f32, router=router.url, cuda=cuda)
    printed, report = run_example(prepared, hf_home)
    CHECKS[heading](Run(printed, report, router, hf_home, full_footprint, cuda))


@needs_guide
def test_error_handling_example_catches_model_not_found(hf_home: Path) -> None:
    """The same example, its model id swapped for one that is not in the (offline) cache."""
    code = next(c for _, c in EXAMPLES if "except ModelNotFoundError" in c)
    missing = code.replace('"mistralai/Mistral-7B-v0.1"', '"abstractllm-test/not-in-the-cache"')
    result = run_python(missing, hf_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "The specified model could not be found. Check the model ID or path."


def test_revision_resolves_through_the_hub_cache(hf_home: Path) -> None:
    script = textwrap.dedent(
        f"""
        import json
        from abstractllm import create_llm
        from abstractllm.errors import ModelNotFoundError
        seen = {{}}
        for revision in ("main", "no-template"):
            llm = create_llm("huggingface", model="{TINY_REPO}", model_kwargs={{"revision": revision}})
            seen[revision] = [str(llm.backend.loaded.model.name_or_path), llm.get_capabilities()["chat_template"]]
        try:
            create_llm("huggingface", model="{TINY_REPO}", revision="v9")
        except ModelNotFoundError as error:
            seen["v9"] = str(error)
        print(json.dumps(seen))
        """
    )
    result = run_python(script, hf_home)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    snapshots = hf_home / "hub" / ("models--" + TINY_REPO.replace("/", "--")) / "snapshots"
    main_ref = (snapshots.parent / "refs" / "main").read_text()
    other_ref = (snapshots.parent / "refs" / "no-template").read_text()
    assert seen["main"] == [str(snapshots / main_ref), True]
    assert seen["no-template"] == [str(snapshots / other_ref), "fallback"]  # the snapshot without a template
    assert "v9" in seen["v9"]

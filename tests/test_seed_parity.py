"""Every code example of the HuggingFace guide (shared/seed/huggingface-provider.md) runs as written.

The examples are extracted from the guide at test time and run in fresh processes. The only
changes are the substitutions below, each with its reason; the guide's own text is
otherwise untouched. Further tests check that the options the examples show have their
observable effect.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
GUIDE_CANDIDATES = (
    REPO.parent / "shared" / "seed" / "huggingface-provider.md",
    Path("/work/shared/seed/huggingface-provider.md"),
)
TINY_REPO = "abstractllm-test/tiny-llama"
TOKEN = "hf_seed_parity_token_123"

#: (pattern, replacement, reason) applied to every example that loads a local model.
SUBSTITUTIONS: list[tuple[str, str, str]] = [
    (
        r'"(google/gemma-2b|mistralai/Mistral-7B-v0\.1|meta-llama/Llama-2-7b-hf|meta-llama/Llama-2-70b-hf|microsoft/phi-2)"',
        f'"{TINY_REPO}"',
        "no model can be downloaded here: the tiny test model, installed in an offline hub cache",
    ),
    (r'"/path/to/model\.gguf"', '"{gguf}"', "the tiny model's GGUF file"),
    (r'device="cuda"', 'device="cpu"', "no GPU on this machine (only when CUDA is unavailable)"),
    (r"(\n(\s*)# Use streaming\.\.\.)", r"\1\n\2pass", "the guide's if/else bodies are only comments, which is not valid Python"),
    (r"(\n(\s*)# Use non-streaming alternative\.\.\.)", r"\1\n\2pass", "same"),
]
#: Examples that call the hosted Inference API keep their model id; the router is the in-repo
#: test server, set through ABSTRACTLLM_HF_ROUTER_URL (the api mode's documented override).

RUNNER = textwrap.dedent(
    """
    import json, sys
    from abstractllm.interface import AbstractLLMInterface
    namespace = {"__name__": "__main__"}
    exec(compile(sys.stdin.read(), "<guide example>", "exec"), namespace)
    models = []
    for name, value in namespace.items():
        if isinstance(value, AbstractLLMInterface):
            reply = value.generate("What is the capital of France?", temperature=0, max_tokens=16)
            models.append({"name": name, "mode": value.mode, "reply": str(reply)})
    print("@@models@@" + json.dumps(models))
    """
)


def guide_text() -> str:
    for path in GUIDE_CANDIDATES:
        if path.exists():
            return path.read_text()
    return ""


def examples() -> list[tuple[str, str]]:
    """(section heading, code) of every python block in the guide, in order."""
    text = guide_text()
    found: list[tuple[str, str]] = []
    for match in re.finditer(r"```python\n(.*?)```", text, re.DOTALL):
        heading = re.findall(r"^#+ (.+)$", text[: match.start()], re.MULTILINE)[-1]
        found.append((heading, match.group(1)))
    return found


def prepare(code: str, gguf: Path, cuda: bool) -> str:
    if "use_inference_api=True" in code:
        return code
    for pattern, replacement, _ in SUBSTITUTIONS:
        if pattern == 'device="cuda"' and cuda:
            continue
        code = re.sub(pattern, replacement.replace("{gguf}", str(gguf)), code)
    return code


@pytest.fixture(scope="module")
def hf_home(tiny_models: Any, tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tinymodel.hub_cache import install_in_hub_cache

    home = tmp_path_factory.mktemp("hf_home")
    install_in_hub_cache(tiny_models.pipeline_dir, home, TINY_REPO)
    return home


def run_example(code: str, hf_home: Path, router_url: str) -> tuple[str, list[dict[str, Any]]]:
    env = {
        **os.environ,
        "HF_HOME": str(hf_home),
        "HF_HUB_OFFLINE": "1",
        "HUGGINGFACE_API_KEY": TOKEN,
        "ABSTRACTLLM_HF_ROUTER_URL": router_url,
        "PYTHONPATH": str(REPO),
    }
    result = subprocess.run([sys.executable, "-c", RUNNER], input=code, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, f"example failed:\n{code}\n--- stderr ---\n{result.stderr[-3000:]}"
    printed, _, models = result.stdout.rpartition("@@models@@")
    return printed, json.loads(models)


EXAMPLES = examples()


def test_the_guide_is_beside_the_checkout_with_its_examples() -> None:
    assert guide_text(), f"the HuggingFace guide was not found at {GUIDE_CANDIDATES[0]}"
    assert len(EXAMPLES) == 15


@pytest.mark.parametrize(("heading", "code"), EXAMPLES, ids=[f"{i:02d}-{h}" for i, (h, _) in enumerate(EXAMPLES)])
def test_guide_example_runs_as_written(heading: str, code: str, tiny_models: Any, hf_home: Path, router: Any) -> None:
    import torch

    router.reset()
    printed, models = run_example(prepare(code, tiny_models.gguf_f32, torch.cuda.is_available()), hf_home, router.url)
    assert models or printed.strip(), f"{heading}: the example created no model and printed nothing"
    for model in models:
        assert model["reply"], f"{heading}: {model['name']} gave an empty reply"
    if "print(" in code and "except" not in code:
        assert printed.strip(), f"{heading}: the example printed nothing"
    if "use_inference_api=True" in code:
        posts = router.posts("/chat/completions")
        assert posts, "the Inference API example sent nothing to the router"
        assert {post["headers"].get("Authorization") for post in posts} == {"Bearer your-huggingface-api-token-here"}
        assert posts[0]["body"]["model"].startswith("microsoft/phi-2")
        assert [m["mode"] for m in models] == ["api"]
    elif 'model_type="gguf"' in code:
        assert [m["mode"] for m in models] == ["gguf"]
    elif models:
        assert {m["mode"] for m in models} == {"pipeline"}
    if "What is the capital of France?" in code:
        assert "Paris" in printed


def test_error_handling_example_catches_the_documented_class(hf_home: Path, router: Any) -> None:
    code = next(c for _, c in EXAMPLES if "except ModelNotFoundError" in c)
    missing = code.replace('"mistralai/Mistral-7B-v0.1"', '"abstractllm-test/not-in-the-cache"')
    env = {**os.environ, "HF_HOME": str(hf_home), "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-c", missing], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "The specified model could not be found. Check the model ID or path."


# -- the options the examples show have their effect --------------------------------------


def footprint(llm: Any) -> int:
    return int(llm.backend.loaded.model.get_memory_footprint())


@pytest.mark.parametrize("bits", ["4bit", "8bit"])
def test_quantization_lowers_the_memory_footprint(tiny_models: Any, bits: str) -> None:
    from abstractllm import create_llm

    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), device="cpu") as full:
        full_size = footprint(full)
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), quantization=bits, device_map="auto") as small:
        assert footprint(small) < full_size
        assert str(small.generate("What is the capital of France?", temperature=0))


def test_return_full_text_controls_the_prompt_echo(tiny_models: Any) -> None:
    from abstractllm import create_llm

    prompt = "The capital of France is"
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), pipeline_kwargs={"return_full_text": False}) as quiet:
        assert not str(quiet.generate(prompt, raw=True, temperature=0)).startswith(prompt)
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), pipeline_kwargs={"return_full_text": True}) as echo:
        assert str(echo.generate(prompt, raw=True, temperature=0)).startswith(prompt + " Paris.")


def test_device_map_auto_goes_through_accelerate(tiny_models: Any, tmp_path: Path) -> None:
    from abstractllm import create_llm

    for config in ({"device_map": "auto"}, {"model_kwargs": {"device_map": "auto"}}):
        with create_llm("huggingface", model=str(tiny_models.pipeline_dir), **config) as llm:
            assert str(llm.generate("What is the capital of France?", temperature=0)) == "The capital of France is Paris."
    # With too little memory for the weights, accelerate's planner offloads them to disk: "auto" really reached it.
    kwargs = {"device_map": "auto", "max_memory": {"cpu": 300_000}, "offload_folder": str(tmp_path)}
    with create_llm("huggingface", model=str(tiny_models.pipeline_dir), model_kwargs=kwargs) as offloaded:
        assert set(offloaded.backend.loaded.model.hf_device_map.values()) == {"disk"}
        assert str(offloaded.generate("What is the capital of France?", temperature=0)) == "The capital of France is Paris."


@pytest.mark.parametrize(("name", "dtype"), [("bfloat16", "torch.bfloat16"), ("float16", "torch.float16")])
def test_torch_dtype_strings_change_the_weights(tiny_models: Any, name: str, dtype: str) -> None:
    from abstractllm import create_llm

    with create_llm(
        "huggingface", model=str(tiny_models.pipeline_dir), model_kwargs={"torch_dtype": name, "revision": "main"}
    ) as llm:
        assert str(next(llm.backend.loaded.model.parameters()).dtype) == dtype


def test_sampling_parameters_change_the_output_and_seeds_reproduce(tiny_models: Any) -> None:
    from abstractllm import create_llm

    with create_llm("huggingface", model=str(tiny_models.pipeline_dir)) as llm:
        greedy = {str(llm.generate("Numbers:", raw=True, temperature=0, max_tokens=24)) for _ in range(2)}
        sampled = {str(llm.generate("Numbers:", raw=True, temperature=1.5, top_k=0, seed=s, max_tokens=24)) for s in range(4)}
        again = str(llm.generate("Numbers:", raw=True, temperature=1.5, top_k=0, seed=2, max_tokens=24))
    assert len(greedy) == 1
    assert len(sampled) > 1
    assert again in sampled

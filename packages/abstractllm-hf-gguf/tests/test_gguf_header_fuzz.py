"""Damaged GGUF files are load errors, never crashes: the header check runs before llama.cpp.

The tiny GGUF is rewritten with every metadata field mutated (deleted, retyped, extreme
values, strings, nested arrays), the header counts changed, and the file cut at every
section boundary. Child processes (with a deadline) load each variant: the outcome must
be a clean load or a documented ``abstractllm`` error, never a signal or a raw exception.
"""

from __future__ import annotations

import json
import math
import os
import struct
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from abstractllm.errors import ModelLoadingError
from abstractllm_hf_gguf.gguf_file import BLOCK_SIZES, inspect_gguf
from abstractllm_hf_gguf.gguf_hparams import MAX_LAYERS

CHILD = Path(__file__).parent / "children" / "load_many.py"
ROOT = Path(__file__).resolve().parents[3]

U8, I8, U16, I16, U32, I32, F32, BOOL, STRING, ARRAY, U64, I64, F64 = range(13)
_FORMATS = {U8: "B", I8: "b", U16: "H", I16: "h", U32: "I", I32: "i", F32: "f", BOOL: "?", U64: "Q", I64: "q", F64: "d"}
_INT_RANGES = {
    U8: (0, 2**8 - 1),
    I8: (-(2**7), 2**7 - 1),
    U16: (0, 2**16 - 1),
    I16: (-(2**15), 2**15 - 1),
    U32: (0, 2**32 - 1),
    I32: (-(2**31), 2**31 - 1),
    U64: (0, 2**64 - 1),
    I64: (-(2**63), 2**63 - 1),
}


# -- a minimal GGUF reader/writer that keeps every section's bytes ----------------------------


def _string(text: str | bytes) -> bytes:
    raw = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<Q", len(raw)) + raw


def _scalar(kind: int, value: object) -> bytes:
    return struct.pack("<I", kind) + struct.pack("<" + _FORMATS[kind], value)


def _array(item_kind: int, items: list[object]) -> bytes:
    body = b"".join(_string(item) if item_kind == STRING else struct.pack("<" + _FORMATS[item_kind], item) for item in items)  # type: ignore[arg-type]
    return struct.pack("<IIQ", ARRAY, item_kind, len(items)) + body


def _nested(depth: int) -> bytes:
    """An array of arrays ``depth`` deep (the innermost is an empty u32 array)."""
    inner = struct.pack("<IQ", U32, 0)
    for _ in range(depth - 1):
        inner = struct.pack("<IQ", ARRAY, 1) + inner
    return struct.pack("<I", ARRAY) + inner


@dataclass(frozen=True)
class Gguf:
    """A GGUF file split into its sections; ``kvs`` are (key, encoded type + value)."""

    version: int
    kvs: tuple[tuple[str, bytes], ...]
    tensor_infos: tuple[bytes, ...]
    data: bytes
    alignment: int
    n_tensors: int | None = None
    n_kv: int | None = None

    def header(self) -> bytes:
        n_tensors = len(self.tensor_infos) if self.n_tensors is None else self.n_tensors
        n_kv = len(self.kvs) if self.n_kv is None else self.n_kv
        return b"GGUF" + struct.pack("<IQQ", self.version, n_tensors, n_kv)

    def sections(self) -> list[bytes]:
        """Every piece in file order: header, each kv, each tensor info, padding, data."""
        pieces = [self.header(), *(_string(key) + value for key, value in self.kvs), *self.tensor_infos]
        used = sum(map(len, pieces))
        return [*pieces, b"\0" * (-used % self.alignment), self.data]

    def to_bytes(self) -> bytes:
        return b"".join(self.sections())


def read_gguf(raw: bytes) -> Gguf:
    pos = 24
    version, n_tensors, n_kv = struct.unpack_from("<IQQ", raw, 4)

    def take(fmt: str) -> object:
        nonlocal pos
        (value,) = struct.unpack_from("<" + fmt, raw, pos)
        pos += struct.calcsize("<" + fmt)
        return value

    def skip_value(kind: int) -> None:
        nonlocal pos
        if kind == STRING:
            length = int(take("Q"))  # type: ignore[call-overload]
            pos += length
        elif kind == ARRAY:
            item_kind, count = int(take("I")), int(take("Q"))  # type: ignore[call-overload]
            for _ in range(count):
                skip_value(item_kind)
        else:
            pos += struct.calcsize("<" + _FORMATS[kind])

    kvs = []
    alignment = 32
    for _ in range(n_kv):
        length = int(take("Q"))  # type: ignore[call-overload]
        key = raw[pos : pos + length].decode()
        pos += length
        start = pos
        kind = int(take("I"))  # type: ignore[call-overload]
        skip_value(kind)
        kvs.append((key, raw[start:pos]))
        if key == "general.alignment":
            alignment = struct.unpack_from("<I", raw, start + 4)[0]
    infos = []
    for _ in range(n_tensors):
        start = pos
        length = int(take("Q"))  # type: ignore[call-overload]
        pos += length
        n_dims = int(take("I"))  # type: ignore[call-overload]
        pos += 8 * n_dims + 4 + 8
        infos.append(raw[start:pos])
    data_start = -(-pos // alignment) * alignment
    return Gguf(version, tuple(kvs), tuple(infos), raw[data_start:], alignment)


# -- the mutations -----------------------------------------------------------------------------


def _retyped_values(key: str, encoded: bytes) -> Iterator[tuple[str, bytes]]:
    """The same key with other types and with extreme values of its own type."""
    kind = struct.unpack_from("<I", encoded)[0]
    if kind in _INT_RANGES:
        low, high = _INT_RANGES[kind]
        value = struct.unpack_from("<" + _FORMATS[kind], encoded, 4)[0]
        for extreme in {low, high, 0, 1, min(high, value * 2), min(high, value * 1000), max(low, value - 1)}:
            yield f"{key}={extreme}", _scalar(kind, extreme)
    elif kind in (F32, F64):
        for extreme in (0.0, -1.0, math.nan, math.inf, -math.inf, 1e30):
            yield f"{key}={extreme}", _scalar(kind, extreme)
    elif kind == STRING:
        yield f"{key}=''", struct.pack("<I", STRING) + _string("")
        yield f"{key}=long", struct.pack("<I", STRING) + _string("x" * 5000)
        yield f"{key}=not-utf8", struct.pack("<I", STRING) + _string(b"\xff\xfe\xfd")
        yield f"{key}='bogus'", struct.pack("<I", STRING) + _string("bogus")
    elif kind == ARRAY:
        item_kind = struct.unpack_from("<I", encoded, 4)[0]
        yield f"{key}=[]", struct.pack("<IIQ", ARRAY, item_kind, 0)
        yield f"{key}=[one]", _array(STRING, ["a"]) if item_kind == STRING else _array(U32, [0])
        yield f"{key}=claims-2**40-items", struct.pack("<IIQ", ARRAY, item_kind, 2**40)
    yield f"{key}:u32=2**32-1", _scalar(U32, 2**32 - 1)
    yield f"{key}:i32=-1", _scalar(I32, -1)
    yield f"{key}:u64=2**64-1", _scalar(U64, 2**64 - 1)
    yield f"{key}:f32=nan", _scalar(F32, math.nan)
    yield f"{key}:bool", _scalar(BOOL, True)
    yield f"{key}:string", struct.pack("<I", STRING) + _string("7")
    yield f"{key}:u32-array", _array(U32, [1, 2, 3])
    yield f"{key}:string-array", _array(STRING, ["a", "b"])
    yield f"{key}:nested-array", _nested(2)
    yield f"{key}:unknown-type", struct.pack("<II", 99, 0)


#: Values llama.cpp's loader asserts on, and neighbours of them (added or replacing the field).
TARGETED = [
    ("llama.block_count", _scalar(U32, 0)),
    ("llama.block_count", _scalar(U32, MAX_LAYERS + 1)),
    ("llama.block_count", _scalar(U32, MAX_LAYERS)),
    ("llama.context_length", _scalar(U32, 2**32 - 1)),
    ("llama.context_length", _scalar(U32, 2**31)),
    ("llama.nextn_predict_layers", _scalar(U32, 99)),
    ("llama.expert_count", _scalar(U32, 4)),
    ("llama.expert_count", _scalar(U32, 5000)),
    ("llama.expert_used_count", _scalar(U32, 2)),
    ("llama.expert_group_count", _scalar(U32, 2)),
    ("llama.rope.scaling.type", struct.pack("<I", STRING) + _string("bogus")),
    ("llama.rope.scaling.type", struct.pack("<I", STRING) + _string("yarn")),
    ("llama.rope.dimension_count", _scalar(U32, 0)),
    ("llama.rope.dimension_count", _scalar(U32, 4096)),
    ("llama.attention.head_count_kv", _scalar(U32, 0)),
    ("llama.attention.head_count_kv", _scalar(U32, 3)),
    ("llama.attention.key_length", _scalar(U32, 0)),
    ("llama.attention.value_length", _scalar(U32, 7)),
    ("llama.attention.head_count", _array(U32, [0, 0])),
    ("llama.feed_forward_length", _array(U32, [1])),
    ("llama.embedding_length", _scalar(U32, 0)),
    ("llama.vocab_size", _scalar(U32, 1)),
    ("tokenizer.ggml.add_bos_token", _scalar(BOOL, True)),
    ("tokenizer.ggml.add_eos_token", _scalar(BOOL, True)),
    ("tokenizer.ggml.bos_token_id", _scalar(U32, 10**6)),
    ("tokenizer.ggml.eos_token_id", _scalar(U32, 2**32 - 1)),
    ("tokenizer.ggml.model", struct.pack("<I", STRING) + _string("rwkv")),
    ("tokenizer.ggml.model", struct.pack("<I", STRING) + _string("none")),
    ("tokenizer.ggml.pre", struct.pack("<I", STRING) + _string("bogus")),
    ("general.architecture", struct.pack("<I", STRING) + _string("clip")),
    ("general.architecture", struct.pack("<I", STRING) + _string("gpt2")),
    ("general.alignment", _scalar(U32, 1)),
    ("general.alignment", _scalar(U32, 2**31)),
    ("general.deep", _nested(100_000)),
]


def _with(base: Gguf, key: str, encoded: bytes | None) -> Gguf:
    """``base`` with ``key`` set to ``encoded`` (added when absent, removed for None)."""
    kvs = [(name, value) for name, value in base.kvs if name != key]
    if encoded is not None:
        kvs.append((key, encoded))
    return replace(base, kvs=tuple(kvs))


def mutations(base: Gguf) -> Iterator[tuple[str, bytes]]:
    """(label, file bytes) for every mutation of ``base``."""
    for key, encoded in base.kvs:
        yield f"delete {key}", _with(base, key, None).to_bytes()
        for label, value in _retyped_values(key, encoded):
            yield label, _with(base, key, value).to_bytes()
    for index, (key, value) in enumerate(TARGETED):
        yield f"targeted[{index}] {key}", _with(base, key, value).to_bytes()
    for label, variant in (
        ("n_kv+1", replace(base, n_kv=len(base.kvs) + 1)),
        ("n_kv-1", replace(base, n_kv=len(base.kvs) - 1)),
        ("n_kv=2**63", replace(base, n_kv=2**63)),
        ("n_tensors+1", replace(base, n_tensors=len(base.tensor_infos) + 1)),
        ("n_tensors-1", replace(base, n_tensors=len(base.tensor_infos) - 1)),
        ("n_tensors=0", replace(base, n_tensors=0)),
        ("version 1", replace(base, version=1)),
        ("version 4", replace(base, version=4)),
    ):
        yield label, variant.to_bytes()
    whole = base.to_bytes()
    offset = 0
    cuts = {0, 3, 4, 8, 16, 23, len(whole) - 1}
    for piece in base.sections():
        offset += len(piece)
        cuts.update((offset - 1, offset, offset + 1))
    for cut in sorted(cut for cut in cuts if 0 <= cut < len(whole)):
        yield f"truncated at {cut}", whole[:cut]


# -- running the children ----------------------------------------------------------------------


def _load_in_child(paths: list[Path], timeout: float) -> tuple[int, dict[str, str], str]:
    result = subprocess.run(
        [sys.executable, str(CHILD)],
        input="\n".join(map(str, paths)) + "\n",
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    outcomes = {}
    for line in result.stdout.splitlines():
        if not line.startswith('{"path"'):
            continue  # ggml prints a backtrace to stdout when it aborts
        record = json.loads(line)
        outcomes[record["path"]] = record["outcome"]
    return result.returncode, outcomes, result.stderr[-2000:]


def _run_batch(paths: list[Path]) -> dict[str, str]:
    """Outcomes of ``paths``; after a crash, the rest are loaded one per child to name the culprit."""
    code, outcomes, _ = _load_in_child(paths, timeout=300)
    if code == 0:
        return outcomes
    for path in paths:
        if str(path) not in outcomes:
            single_code, single, stderr = _load_in_child([path], timeout=120)
            outcomes[str(path)] = single.get(str(path)) or f"crash: exit {single_code}: {stderr[-300:]}"
    return outcomes


@pytest.mark.slow
def test_every_mutation_of_the_header_loads_or_fails_cleanly(gguf_f32: Path, tmp_path: Path) -> None:
    base = read_gguf(gguf_f32.read_bytes())
    assert base.to_bytes() == gguf_f32.read_bytes()  # the rewriter is faithful
    labels: dict[str, str] = {}
    paths = []
    for index, (label, content) in enumerate(mutations(base)):
        path = tmp_path / f"m{index:04d}.gguf"
        path.write_bytes(content)
        labels[str(path)] = label
        paths.append(path)
    assert len(paths) > 300
    batches = [paths[start : start + 60] for start in range(0, len(paths), 60)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        outcomes = {path: outcome for batch in pool.map(_run_batch, batches) for path, outcome in batch.items()}
    bad = {labels[path]: outcome for path, outcome in outcomes.items() if outcome.startswith(("raw:", "crash"))}
    missing = [labels[str(path)] for path in paths if str(path) not in outcomes]
    assert not bad and not missing, f"{len(bad)} bad outcomes: {bad}; missing: {missing}"
    rejected = {labels[path] for path, outcome in outcomes.items() if outcome == "ModelLoadingError"}
    assert {"targeted[0] llama.block_count", "targeted[1] llama.block_count", "targeted[3] llama.context_length"} <= rejected


# -- direct checks of the header reader (pure Python, no llama.cpp) ---------------------------


def _variant(gguf_f32: Path, tmp_path: Path, key: str, encoded: bytes) -> Path:
    path = tmp_path / "variant.gguf"
    path.write_bytes(_with(read_gguf(gguf_f32.read_bytes()), key, encoded).to_bytes())
    return path


@pytest.mark.parametrize(
    ("key", "encoded", "field"),
    [
        ("llama.block_count", _scalar(U32, 0), "llama.block_count"),
        ("llama.block_count", _scalar(U32, MAX_LAYERS + 1), "llama.block_count"),
        ("llama.context_length", _scalar(U32, 2**32 - 1), "llama.context_length"),
        ("llama.expert_used_count", _scalar(U32, 2), "llama.expert_used_count"),
        ("llama.rope.scaling.type", struct.pack("<I", STRING) + _string("bogus"), "llama.rope.scaling.type"),
        ("general.deep", _nested(100_000), "general.deep"),
        ("llama.attention.layer_norm_rms_epsilon", _scalar(F32, -1.0), "llama.attention.layer_norm_rms_epsilon"),
        ("tokenizer.ggml.model", struct.pack("<I", STRING) + _string("none"), "tokenizer.ggml.model"),
        ("general.alignment", _scalar(U32, 1), "general.alignment"),
    ],
)
def test_values_llama_cpp_asserts_on_are_load_errors_naming_file_and_field(
    gguf_f32: Path, tmp_path: Path, key: str, encoded: bytes, field: str
) -> None:
    path = _variant(gguf_f32, tmp_path, key, encoded)
    with pytest.raises(ModelLoadingError) as caught:
        inspect_gguf(path)
    assert str(path) in str(caught.value) and field in str(caught.value)
    assert inspect_gguf(gguf_f32).metadata["llama.block_count"] > 0  # the reader still works


def test_block_size_table_matches_ggml_and_the_gguf_package() -> None:
    import ctypes

    import llama_cpp
    from gguf.constants import GGML_QUANT_SIZES

    ggml = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib" / "libggml-base.so"))
    ggml.ggml_blck_size.restype = ctypes.c_int64
    ggml.ggml_type_size.restype = ctypes.c_size_t
    from_ggml = {kind: (ggml.ggml_blck_size(kind), ggml.ggml_type_size(kind)) for kind in range(llama_cpp.GGML_TYPE_COUNT)}
    assert BLOCK_SIZES == {kind: sizes for kind, sizes in from_ggml.items() if sizes[0] > 0}
    from_gguf = {int(kind): tuple(sizes) for kind, sizes in GGML_QUANT_SIZES.items()}
    # the gguf package still describes Q8_1 with float scales (40 bytes); ggml's block has half scales
    differ = {kind for kind in from_gguf if from_gguf[kind] != BLOCK_SIZES.get(kind)}
    assert differ <= {9}, {kind: (from_gguf[kind], BLOCK_SIZES.get(kind)) for kind in differ}

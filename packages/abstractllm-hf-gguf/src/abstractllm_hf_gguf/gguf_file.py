"""Checks a GGUF file before llama.cpp sees it, so a bad file is an error, never a crash.

:func:`inspect_gguf` reads the header (magic, version, metadata, tensor table) with
bounds checks on every length, refuses what llama.cpp's own reader refuses (nested
arrays, empty or repeated keys, bad tensor names, shapes and types), verifies that
each tensor's data lies inside the file, and checks the hyperparameters llama.cpp
asserts on (:mod:`abstractllm_hf_gguf.gguf_hparams`). It returns the scalar metadata
and the arrays' types and lengths (small numeric arrays with their values).
"""

from __future__ import annotations

import math
import mmap
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from abstractllm.errors import ModelLoadingError, ModelNotFoundError
from abstractllm_hf_gguf.gguf_hparams import HparamError, check_hparams

__all__ = ["BLOCK_SIZES", "GGUFArray", "GGUFInfo", "inspect_gguf"]

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_MAX_DIMS = 4
_MAX_NAME = 64  # GGML_MAX_NAME: tensor names are shorter
_DEFAULT_ALIGNMENT = 32
_MMAP_ALIGNMENT = 32  # ggml's TENSOR_ALIGNMENT: a mapped tensor's address must be a multiple of it
_INT64_MAX = 2**63 - 1
#: Numeric arrays up to this length keep their values (per-layer hyperparameters).
_KEPT_ARRAY_ITEMS = 4096

#: Fixed-size metadata value types: type id -> struct format.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9

#: ggml tensor types: id -> (elements per block, bytes per block), as ggml defines them
#: (checked against the ``gguf`` package by the tests). Other ids are refused, as llama.cpp does.
BLOCK_SIZES = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 36),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17), 40: (64, 36), 41: (128, 18), 42: (64, 18),
}  # fmt: skip

_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass(frozen=True)
class GGUFArray:
    """An array value: its item type id, its length, and its items when numeric and short."""

    item_type: int
    count: int
    values: tuple[Any, ...] | None


@dataclass(frozen=True)
class GGUFInfo:
    """What the header says: ``version``, ``n_tensors``, scalar ``metadata`` and ``arrays``."""

    path: Path
    version: int
    n_tensors: int
    metadata: dict[str, Any]
    arrays: dict[str, GGUFArray] = field(default_factory=dict)

    @property
    def architecture(self) -> str | None:
        value = self.metadata.get("general.architecture")
        return value if isinstance(value, str) else None

    @property
    def context_length(self) -> int | None:
        """The training context length (``<arch>.context_length``), when present."""
        value = self.metadata.get(f"{self.architecture}.context_length")
        return int(value) if isinstance(value, int) and value > 0 else None


class _Corrupt(Exception):
    """A structural problem; the message says what."""


class _Reader:
    def __init__(self, data: mmap.mmap | bytes, size: int) -> None:
        self.data = data
        self.size = size
        self.pos = 0

    def take(self, fmt: str) -> Any:
        width = struct.calcsize("<" + fmt)
        if self.pos + width > self.size:
            raise _Corrupt(f"the file ends inside its header (at byte {self.pos} of {self.size})")
        (value,) = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += width
        return value

    def skip(self, count: int) -> None:
        if count < 0 or self.pos + count > self.size:
            raise _Corrupt(f"a length of {count} bytes at byte {self.pos} runs past the end of the file ({self.size} bytes)")
        self.pos += count

    def string(self) -> str:
        length = self.take("Q")
        start = self.pos
        self.skip(length)
        try:
            return bytes(self.data[start : self.pos]).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise _Corrupt(f"a string at byte {start} is not UTF-8") from exc

    def value(self, kind: int) -> Any:
        """A scalar or string value, or a :class:`GGUFArray` (arrays of arrays are refused, as llama.cpp does)."""
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            return self.string()
        if kind != _ARRAY:
            raise _Corrupt(f"unknown metadata value type {kind} at byte {self.pos}")
        item_kind = self.take("I")
        count = self.take("Q")
        if count > self.size:
            raise _Corrupt(f"an array claims {count} items, more than the file has bytes")
        if item_kind in _SCALARS:
            fmt = _SCALARS[item_kind]
            start = self.pos
            self.skip(count * struct.calcsize("<" + fmt))
            values = struct.unpack_from(f"<{count}{fmt}", self.data, start) if count <= _KEPT_ARRAY_ITEMS else None
            return GGUFArray(item_kind, count, values)
        if item_kind == _STRING:
            for _ in range(count):
                self.skip(self.take("Q"))
            return GGUFArray(item_kind, count, None)
        if item_kind == _ARRAY:
            raise _Corrupt("an array of arrays (nested arrays are not supported by llama.cpp)")
        raise _Corrupt(f"unknown array item type {item_kind}")


def inspect_gguf(path: Path) -> GGUFInfo:
    """Check ``path`` and the other shards of a split model; return the header's facts.

    Raises ``ModelNotFoundError`` when a file is missing and ``ModelLoadingError``
    naming the file when it is not GGUF, is an unsupported version, is truncated or
    its tables are inconsistent.
    """
    info = _inspect_one(path)
    count = info.metadata.get("split.count")
    match = _SPLIT_NAME.match(path.name)
    if isinstance(count, int) and count > 1 and match:
        for index in range(1, count + 1):
            shard = path.with_name(f"{match['prefix']}-{index:05d}-of-{count:05d}.gguf")
            if shard != path:
                _inspect_one(shard)
    return info


def _inspect_one(path: Path) -> GGUFInfo:
    if not path.is_file():
        raise ModelNotFoundError(f"GGUF file not found: {path}")
    size = path.stat().st_size
    try:
        with path.open("rb") as handle:
            if size < 24:
                raise _Corrupt(f"it is only {size} bytes long, too short for a GGUF header")
            with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
                info = _parse(path, data, size)
        check_hparams(info.metadata, info.arrays)
        return info
    except _Corrupt as exc:
        raise ModelLoadingError(f"{path} is not a usable GGUF file: {exc}") from exc
    except HparamError as exc:
        raise ModelLoadingError(f"{path} is not a usable GGUF file: metadata field {exc}") from exc
    except OSError as exc:
        raise ModelLoadingError(f"cannot read {path}: {exc}") from exc


def _parse(path: Path, data: mmap.mmap, size: int) -> GGUFInfo:
    reader = _Reader(data, size)
    if bytes(data[:4]) != _MAGIC:
        raise _Corrupt(f"it does not start with the GGUF magic (found {bytes(data[:4])!r})")
    reader.pos = 4
    version = reader.take("I")
    if version not in _SUPPORTED_VERSIONS:
        raise _Corrupt(f"GGUF version {version} is not supported (supported: {', '.join(map(str, _SUPPORTED_VERSIONS))})")
    n_tensors = reader.take("Q")
    n_kv = reader.take("Q")
    if n_tensors > size or n_kv > size:
        raise _Corrupt(f"the header claims {n_tensors} tensors and {n_kv} metadata entries, impossible in {size} bytes")
    metadata: dict[str, Any] = {}
    arrays: dict[str, GGUFArray] = {}
    for index in range(n_kv):
        key = reader.string()
        if not key:
            raise _Corrupt(f"metadata entry {index} has an empty key")
        if key in metadata or key in arrays:
            raise _Corrupt(f"metadata key {key!r} appears twice")
        try:
            value = reader.value(reader.take("I"))
        except _Corrupt as exc:
            raise _Corrupt(f"metadata {key!r}: {exc}") from exc
        if isinstance(value, GGUFArray):
            arrays[key] = value
        else:
            metadata[key] = value
    tensors: list[tuple[str, list[int], int, int]] = []
    names: set[str] = set()
    for _ in range(n_tensors):
        name = reader.string()
        if len(name.encode("utf-8")) >= _MAX_NAME or name in names:
            raise _Corrupt(f"tensor name {name[:80]!r} is too long or repeated")
        names.add(name)
        n_dims = reader.take("I")
        if not 1 <= n_dims <= _MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} has {n_dims} dimensions")
        shape = [reader.take("q") for _ in range(n_dims)]
        tensors.append((name, shape, reader.take("I"), reader.take("Q")))
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if "general.alignment" in arrays or not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Corrupt(f"general.alignment={alignment!r} is not a power of two")
    data_start = -(-reader.pos // alignment) * alignment
    for name, shape, kind, offset in tensors:
        _check_tensor(name, shape, kind)
        if offset % alignment or (data_start + offset) % _MMAP_ALIGNMENT:
            raise _Corrupt(
                f"tensor {name!r} starts at byte {data_start + offset}, not aligned to {alignment} bytes"
                f" (general.alignment) and to the {_MMAP_ALIGNMENT} bytes ggml needs to map it"
            )
        per_block, block_bytes = BLOCK_SIZES[kind]
        end = data_start + offset + math.prod(shape) // per_block * block_bytes
        if end > size:
            raise _Corrupt(f"tensor {name!r} needs bytes up to {end} but the file has {size} bytes (truncated?)")
    return GGUFInfo(path=path, version=version, n_tensors=n_tensors, metadata=metadata, arrays=arrays)


def _check_tensor(name: str, shape: list[int], kind: int) -> None:
    """Refuse what llama.cpp's GGUF reader refuses: negative or overflowing shapes, unknown types, partial blocks."""
    if any(extent < 0 for extent in shape):
        raise _Corrupt(f"tensor {name!r} has a negative dimension {shape}")
    if math.prod(shape) > _INT64_MAX:
        raise _Corrupt(f"tensor {name!r} has {shape} elements, more than llama.cpp can count")
    if kind not in BLOCK_SIZES:
        raise _Corrupt(f"tensor {name!r} has unknown ggml type {kind}")
    per_block = BLOCK_SIZES[kind][0]
    if shape[0] % per_block:
        raise _Corrupt(f"tensor {name!r} has rows of {shape[0]} elements, not a multiple of its block size {per_block}")

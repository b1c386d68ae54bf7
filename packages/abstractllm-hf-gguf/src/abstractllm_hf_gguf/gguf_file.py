"""Checks a GGUF file before llama.cpp sees it, so a bad file is an error, never a crash.

:func:`inspect_gguf` reads the header (magic, version, metadata, tensor table) with
bounds checks on every length and verifies that each tensor's data lies inside the
file. It returns the scalar metadata (arrays are skipped), which is enough to pick a
context window before loading.
"""

from __future__ import annotations

import mmap
import re
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from abstractllm.errors import ModelLoadingError, ModelNotFoundError

__all__ = ["GGUFInfo", "inspect_gguf"]

_MAGIC = b"GGUF"
_SUPPORTED_VERSIONS = (2, 3)
_MAX_DIMS = 4
_DEFAULT_ALIGNMENT = 32

#: Fixed-size metadata value types: type id -> struct format.
_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}
_STRING, _ARRAY = 8, 9

#: ggml tensor types: id -> (elements per block, bytes per block). Types missing here are
#: only checked for lying inside the file.
_BLOCKS = {
    0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24), 8: (32, 34), 9: (32, 40),
    10: (256, 84), 11: (256, 110), 12: (256, 144), 13: (256, 176), 14: (256, 210), 15: (256, 292),
    16: (256, 66), 17: (256, 74), 18: (256, 98), 19: (256, 50), 20: (32, 18), 21: (256, 110), 22: (256, 82),
    23: (256, 136), 24: (1, 1), 25: (1, 2), 26: (1, 4), 27: (1, 8), 28: (1, 8), 29: (256, 56), 30: (1, 2),
    34: (256, 54), 35: (256, 66), 39: (32, 17),
}  # fmt: skip

_SPLIT_NAME = re.compile(r"^(?P<prefix>.+)-(?P<index>\d{5})-of-(?P<count>\d{5})\.gguf$")


@dataclass(frozen=True)
class GGUFInfo:
    """What the header says: ``version``, ``n_tensors`` and scalar ``metadata``."""

    path: Path
    version: int
    n_tensors: int
    metadata: dict[str, Any]

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

    def value(self, kind: int, *, keep: bool) -> Any:
        if kind in _SCALARS:
            return self.take(_SCALARS[kind])
        if kind == _STRING:
            if keep:
                return self.string()
            self.skip(self.take("Q"))
            return None
        if kind == _ARRAY:
            item_kind = self.take("I")
            count = self.take("Q")
            if count > self.size:
                raise _Corrupt(f"an array claims {count} items, more than the file has bytes")
            if item_kind in _SCALARS:
                self.skip(count * struct.calcsize("<" + _SCALARS[item_kind]))
            elif item_kind in (_STRING, _ARRAY):
                for _ in range(count):
                    self.value(item_kind, keep=False)
            else:
                raise _Corrupt(f"unknown array item type {item_kind}")
            return None
        raise _Corrupt(f"unknown metadata value type {kind} at byte {self.pos}")


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
                return _parse(path, data, size)
    except _Corrupt as exc:
        raise ModelLoadingError(f"{path} is not a usable GGUF file: {exc}") from exc
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
    for _ in range(n_kv):
        key = reader.string()
        value = reader.value(reader.take("I"), keep=True)
        if value is not None:
            metadata[key] = value
    tensors: list[tuple[str, int, int, int]] = []
    for _ in range(n_tensors):
        name = reader.string()
        n_dims = reader.take("I")
        if not 1 <= n_dims <= _MAX_DIMS:
            raise _Corrupt(f"tensor {name!r} has {n_dims} dimensions")
        elements = 1
        for _ in range(n_dims):
            elements *= reader.take("Q")
        tensors.append((name, elements, reader.take("I"), reader.take("Q")))
    alignment = metadata.get("general.alignment", _DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or alignment <= 0 or alignment & (alignment - 1):
        raise _Corrupt(f"general.alignment={alignment!r} is not a power of two")
    data_start = -(-reader.pos // alignment) * alignment
    for name, elements, kind, offset in tensors:
        if offset % alignment:
            raise _Corrupt(f"tensor {name!r} is not aligned to {alignment} bytes")
        nbytes = 0
        if kind in _BLOCKS:
            per_block, block_bytes = _BLOCKS[kind]
            if elements % per_block:
                raise _Corrupt(f"tensor {name!r} has {elements} elements, not a multiple of its block size {per_block}")
            nbytes = elements // per_block * block_bytes
        end = data_start + offset + nbytes
        if end > size:
            raise _Corrupt(f"tensor {name!r} needs bytes up to {end} but the file has {size} bytes (truncated?)")
    return GGUFInfo(path=path, version=version, n_tensors=n_tensors, metadata=metadata)

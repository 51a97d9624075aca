"""Checkpoints: safetensors weights with the preset and the vocabulary inside, written atomically.

Weights load without pickle (safetensors), so a checkpoint from a stranger cannot run code. The
optimizer state for `--resume` lives beside it in `train_state.pt`, loaded with
`torch.load(weights_only=True)`, which also refuses arbitrary objects.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save

from .atomic import atomic_write

FORMAT = "privobf-checkpoint"
FORMAT_VERSION = 1


class CheckpointError(ValueError):
    """A checkpoint that cannot be used; str() names the file and the reason."""


@dataclass
class Checkpoint:
    state: dict[str, torch.Tensor]
    metadata: dict[str, Any]
    path: Path | None = None

    @property
    def attribute_ids(self) -> list[str]:
        return list(self.metadata["attribute_ids"])

    @property
    def kind(self) -> str:
        return self.metadata.get("kind", "full")


def save_checkpoint(path: str | os.PathLike, state: dict[str, torch.Tensor], metadata: dict[str, Any]) -> Path:
    path = Path(path)
    meta = {"format": FORMAT, "version": FORMAT_VERSION, **metadata}
    tensors = {name: tensor.detach().to("cpu").contiguous() for name, tensor in state.items()}
    # Serialised in memory and written into atomic_write's temp file: safetensors' own save_file replaces
    # the file it is given with one readable by its owner only.
    data = save(tensors, metadata={"privobf": json.dumps(meta)})
    atomic_write(path, lambda temp: temp.write_bytes(data))
    return path


def load_checkpoint(path: str | os.PathLike, expected_attribute_ids: list[str] | None = None) -> Checkpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as error:
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({str(error).splitlines()[0]})") from None
    if "privobf" not in header:
        raise CheckpointError(f"{path}: safetensors file without privobf metadata (not a privobf checkpoint)")
    try:
        metadata = json.loads(header["privobf"])
    except json.JSONDecodeError:
        raise CheckpointError(f"{path}: corrupt privobf metadata") from None
    if metadata.get("format") != FORMAT or int(metadata.get("version", 0)) > FORMAT_VERSION:
        raise CheckpointError(f"{path}: unsupported checkpoint format {metadata.get('format')} v{metadata.get('version')}")
    checkpoint = Checkpoint(state, metadata, path)
    if expected_attribute_ids is not None and checkpoint.attribute_ids != list(expected_attribute_ids):
        raise CheckpointError(
            f"{path}: checkpoint vocabulary ({len(checkpoint.attribute_ids)} attributes) differs from the expected "
            f"one ({len(expected_attribute_ids)} attributes)"
        )
    return checkpoint


def file_digest(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]

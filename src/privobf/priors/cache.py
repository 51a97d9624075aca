"""Prior masks computed once per image and provider, stored compressed, reused across epochs and runs.

Key: sha256 of the decoded pixels (shape included) + provider name + provider version, so a changed
image, another provider or a new provider version never hits an old entry. An entry that cannot be
read back whole (truncated, corrupt, wrong shape) is deleted and recomputed, never trusted.
Masks are stored as uint8 (1/255 steps): priors are soft weights, and this keeps a COCO-sized mask
to a few kilobytes.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

from ..cachedir import NpzStore
from .base import PriorResult


def image_key(image: np.ndarray) -> str:
    digest = hashlib.sha256()
    digest.update(repr((image.shape, str(image.dtype))).encode())
    digest.update(np.ascontiguousarray(image).data)
    return digest.hexdigest()


def _safe(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in text)


class PriorCache(NpzStore):
    """A folder of `<provider>/<version>/<key[:2]>/<key>.npz` files."""

    def __init__(self, folder: str | Path):
        super().__init__("prior")
        self.folder = Path(folder)

    def path(self, key: str, provider: str, version: str) -> Path:
        return self.folder / _safe(provider) / _safe(version) / key[:2] / f"{key}.npz"

    def get(self, key: str, provider: str, version: str, shape: tuple[int, int]) -> PriorResult | None:
        def decode(stored) -> PriorResult:
            mask = stored["mask"]
            meta = json.loads(bytes(stored["meta"]).decode("utf-8"))
            if mask.dtype != np.uint8 or mask.shape != tuple(shape):
                raise ValueError(f"mask {mask.dtype} {mask.shape}, expected uint8 {tuple(shape)}")
            return PriorResult(
                mask.astype(np.float32) / 255.0,
                [tuple(map(float, b)) for b in meta["boxes"]],
                [float(s) for s in meta["scores"]],
                [str(t) for t in meta["texts"]],
                [np.asarray(q, dtype=np.float64).reshape(-1, 2) for q in meta.get("quads", [])],
            )

        return self.read(self.path(key, provider, version), decode)

    def put(self, key: str, provider: str, version: str, result: PriorResult) -> PriorResult:
        """Store `result`; returns it as a later `get` will (mask quantised), so cached and fresh runs agree.

        A result that carries recognised text (a reading provider's) is not stored: the words privobf hides
        must not be left on disk in a cache folder (issue 18). Such a provider reads again on every run."""
        if result.texts or result.words:
            return result
        mask = np.clip(np.rint(result.mask * 255.0), 0, 255).astype(np.uint8)
        meta = {"boxes": [list(map(float, b)) for b in result.boxes], "scores": list(map(float, result.scores)),
                "texts": list(result.texts), "quads": [np.asarray(q, dtype=float).tolist() for q in result.quads]}
        self.write(self.path(key, provider, version), mask=mask,
                   meta=np.frombuffer(json.dumps(meta).encode("utf-8"), dtype=np.uint8))
        quads = [np.asarray(q, dtype=np.float64).reshape(-1, 2) for q in result.quads]
        return PriorResult(mask.astype(np.float32) / 255.0, list(result.boxes), list(result.scores), list(result.texts), quads)

"""Resumable per-image outputs of the pipeline stages: one folder per stage, one file per image.

A stage folder holds `manifest.json` (the stage, its configuration and what it read) and one
compressed `.npz` per image. Resuming a stage continues where it stopped, but only with the same
manifest: a folder made with other settings is refused with the differing keys named, so a chain
never mixes outputs of two configurations. Every file is written atomically.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
from pathlib import Path
from typing import Any, Iterator, Mapping

import numpy as np

from ..atomic import atomic_write
from .localisation import Localisation

FORMAT = 1
MANIFEST = "manifest.json"
EXTRA_ARRAY = "extra."  # npz key prefix of array-valued Localisation.extra entries


class StageStoreError(ValueError):
    """A stage folder that cannot be used as asked (exists with other settings, missing, damaged)."""


def file_name(image_id: str) -> str:
    """A file-system-safe, collision-free name for an image id (ids may hold '/', spaces, ...)."""
    safe = re.sub(r"[^A-Za-z0-9._-]+", "_", image_id).strip("._") or "image"
    if safe != image_id:
        safe = f"{safe[:80]}-{hashlib.sha1(image_id.encode()).hexdigest()[:10]}"
    return safe + ".npz"


class StageStore:
    """One stage's folder. `create` for writing (fresh or resumed), `open` for reading."""

    def __init__(self, directory: Path, manifest: dict[str, Any]):
        self.directory = directory
        self.manifest = manifest

    @property
    def stage(self) -> str:
        return str(self.manifest.get("stage"))

    @classmethod
    def create(cls, directory: str | Path, manifest: Mapping[str, Any], resume: bool = False) -> "StageStore":
        directory = Path(directory)
        manifest = json.loads(json.dumps({"format": FORMAT, **manifest}, sort_keys=True, default=str))
        existing = directory / MANIFEST
        if existing.exists():
            if not resume:
                raise StageStoreError(f"{directory} already holds a {_read_manifest(existing).get('stage')} stage; "
                                      "pass --resume to continue it or choose another folder")
            old, new = _flatten(_read_manifest(existing)), _flatten(manifest)
            differing = sorted(k for k in set(old) | set(new) if old.get(k) != new.get(k))
            if differing:
                detail = "; ".join(f"{k}: {old.get(k)!r} there, {new.get(k)!r} now" for k in differing[:4])
                raise StageStoreError(f"{existing}: made with other settings, cannot resume ({detail})")
            return cls(directory, manifest)
        if directory.exists() and any(directory.iterdir()):
            raise StageStoreError(f"{directory} is not empty and holds no {MANIFEST}; choose an empty or new folder")
        directory.mkdir(parents=True, exist_ok=True)
        text = json.dumps(manifest, indent=2, sort_keys=True)
        atomic_write(existing, lambda path: path.write_text(text))
        return cls(directory, manifest)

    @classmethod
    def open(cls, directory: str | Path, stage: str | tuple[str, ...] | None = None) -> "StageStore":
        directory = Path(directory)
        path = directory / MANIFEST
        if not path.is_file():
            raise StageStoreError(f"{directory}: no {MANIFEST}; not the output folder of a privobf stage")
        manifest = _read_manifest(path)
        wanted = (stage,) if isinstance(stage, str) else stage
        if wanted and manifest.get("stage") not in wanted:
            raise StageStoreError(f"{directory} holds a {manifest.get('stage')!r} stage, expected {' or '.join(wanted)}")
        return cls(directory, manifest)

    def path(self, image_id: str) -> Path:
        return self.directory / file_name(image_id)

    def has(self, image_id: str) -> bool:
        return self.path(image_id).is_file()

    def save_arrays(self, image_id: str, arrays: Mapping[str, np.ndarray], meta: Mapping[str, Any]) -> Path:
        buffer = io.BytesIO()
        payload = {k: np.asarray(v) for k, v in arrays.items()}
        payload["meta"] = np.frombuffer(json.dumps({"image_id": image_id, **meta}, default=str).encode(), dtype=np.uint8)
        np.savez_compressed(buffer, **payload)
        target = self.path(image_id)
        atomic_write(target, lambda path: path.write_bytes(buffer.getvalue()))
        return target

    def load_arrays(self, image_id: str) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        path = self.path(image_id)
        if not path.is_file():
            raise StageStoreError(f"{path}: no output for image {image_id!r} in this stage (run the stage on it first)")
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files if k != "meta"}
                meta = json.loads(bytes(data["meta"]).decode())
        except (OSError, ValueError, KeyError) as error:
            raise StageStoreError(f"{path}: unreadable stage output ({error}); delete it and rerun with --resume") from None
        return arrays, meta

    def save(self, image_id: str, localisation: Localisation) -> Path:
        """Maps (and background) as float16: 3 significant digits are far below any threshold's effect.
        Arrays in `extra` (IRN's boundary map) are stored beside them, the rest as JSON."""
        arrays = {"maps": localisation.maps.astype(np.float16)}
        if localisation.background is not None:
            arrays["background"] = localisation.background.astype(np.float16)
        extra = {}
        for key, value in localisation.extra.items():
            if isinstance(value, np.ndarray):
                arrays[EXTRA_ARRAY + key] = value.astype(np.float16) if value.dtype.kind == "f" else value
            else:
                extra[key] = value
        meta = {"classes": localisation.classes, "image_size": list(localisation.image_size), "extra": extra}
        return self.save_arrays(image_id, arrays, meta)

    def load(self, image_id: str) -> Localisation:
        arrays, meta = self.load_arrays(image_id)
        extra = dict(meta.get("extra", {}))
        extra.update({k[len(EXTRA_ARRAY):]: v for k, v in arrays.items() if k.startswith(EXTRA_ARRAY)})
        return Localisation(
            list(meta["classes"]), arrays["maps"].astype(np.float32), tuple(meta["image_size"]),
            background=arrays["background"].astype(np.float32) if "background" in arrays else None,
            extra=extra,
        )

    def metadata(self) -> Iterator[dict[str, Any]]:
        """Every output's metadata (image id, classes, seconds, ...), in file-name order; reads each file,
        so for listings and reports, not hot loops."""
        for path in sorted(self.directory.glob("*.npz")):
            with np.load(path, allow_pickle=False) as data:
                yield json.loads(bytes(data["meta"]).decode())

    def image_ids(self) -> Iterator[str]:
        """Ids of the images with an output."""
        return (meta["image_id"] for meta in self.metadata())


def _read_manifest(path: Path) -> dict[str, Any]:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise StageStoreError(f"{path}: unreadable manifest ({error})") from None


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """{"config": {"method": "cam"}} -> {"config.method": "cam"}, so a refusal names the setting that differs."""
    if not isinstance(value, dict):
        return {prefix: value}
    flat: dict[str, Any] = {}
    for key, item in value.items():
        flat.update(_flatten(item, f"{prefix}.{key}" if prefix else str(key)))
    return flat

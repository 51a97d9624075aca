"""Building PrivObfNet from a preset, and loading trained models for inference."""

from __future__ import annotations

import os
from importlib import resources
from pathlib import Path

from ..attributes import Vocabulary, vocabulary_from_ids
from ..checkpoint import Checkpoint, CheckpointError, file_digest, load_checkpoint
from .config import Preset
from .privobfnet import PRIOR_CHANNELS, ImageModel, PrivObfBranch, PrivObfNet

DEFAULT_MODEL_NAME = "default.safetensors"


def build_model(preset: Preset, vocabulary: Vocabulary, pretrained: bool | str | None = None) -> PrivObfNet:
    return PrivObfNet(preset.model, vocabulary, pretrained)


def embedded_model_path() -> Path:
    """The `default`-preset model shipped inside the package (`privobf/weights/default.safetensors`)."""
    return Path(str(resources.files("privobf").joinpath("weights", DEFAULT_MODEL_NAME)))


def image_model_from_checkpoint(checkpoint: Checkpoint) -> ImageModel:
    preset = Preset.from_dict(checkpoint.metadata["preset"])
    vocabulary = vocabulary_from_ids(checkpoint.attribute_ids, checkpoint.metadata.get("vocabulary_name", "checkpoint"))
    prior_channel = [PRIOR_CHANNELS.get(a.mask_type, -1) for a in vocabulary]
    branch = PrivObfBranch(preset.model, len(vocabulary), prior_channel, pretrained=False)
    state = checkpoint.state
    if checkpoint.kind == "full":
        state = {k[len("image.") :]: v for k, v in state.items() if k.startswith("image.")}
    state = {k: v.float() if v.is_floating_point() else v for k, v in state.items()}
    try:
        result = branch.load_state_dict(state, strict=False)
    except RuntimeError as error:  # shape mismatches: another vocabulary or backbone than the metadata says
        detail = next((line.strip() for line in str(error).splitlines() if "size mismatch" in line), str(error)[:200])
        raise CheckpointError(f"{checkpoint.path}: weights do not fit the {preset.model.backbone} model ({detail})") from None
    if result.missing_keys or result.unexpected_keys:
        raise CheckpointError(
            f"{checkpoint.path}: weights do not fit the {preset.model.backbone} model "
            f"({len(result.missing_keys)} missing, e.g. {result.missing_keys[:2]}; "
            f"{len(result.unexpected_keys)} unexpected, e.g. {result.unexpected_keys[:2]})"
        )
    model = ImageModel(preset.model, checkpoint.attribute_ids, branch)
    model.preset = preset
    model.eval()
    return model


def load_image_model(path: str | os.PathLike | None = None) -> ImageModel:
    """Model-Image of a checkpoint (full or inference-only); None loads the embedded default."""
    path = Path(path) if path is not None else embedded_model_path()
    if not path.is_file():
        shipped = path == embedded_model_path()
        raise CheckpointError(f"{path}: no such model file" + (" (this installation ships no default model)" if shipped else ""))
    checkpoint = load_checkpoint(path)
    model = image_model_from_checkpoint(checkpoint)
    model.source = {"path": str(path), "sha256": file_digest(path), "preset": model.preset.name,
                    "backbone": model.preset.model.backbone, "trained": checkpoint.metadata.get("trained", {})}
    return model

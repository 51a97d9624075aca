"""`privobf refine --method irn | affinitynet`: train the relation network on confident labels made
from the seeds, then random-walk every image's seeds with it.

The network is trained once per seeds folder and saved in the output folder (`irn.safetensors` /
`affinitynet.safetensors`), so `--resume` after an interruption goes straight back to refining.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

from ..checkpoint import file_digest
from .attribution import config_from_options
from .cam_model import CamModel
from .localisation import Localisation
from .pipeline import StageSummary, manifest_for, pipeline_items, run_stage
from .pseudo_labels import PseudoLabelConfig, confident_labels, default_label_crf, resize_image, resize_labels
from .stages import model_inputs
from .store import StageStore

# Which official thresholds make the relation network's training labels from which seeds [C].
LABEL_PRESET_OF_SEED = {"advcam": "advcam", "rib": "rib"}


@dataclasses.dataclass
class WalkMethod:
    config_type: type
    train: Callable
    save: Callable
    load: Callable
    refiner: Callable
    threshold: Callable[[Any], float]  # the decision threshold of the refined maps


def walk_method(name: str) -> WalkMethod:
    if name == "irn":
        from . import irn

        return WalkMethod(irn.IrnConfig, irn.train_irn, irn.save_irn, irn.load_irn, irn.IrnRefiner,
                          lambda config: config.sem_seg_bg_threshold)
    if name == "affinitynet":
        from . import affinitynet

        return WalkMethod(affinitynet.AffinityNetConfig, affinitynet.train_affinitynet, affinitynet.save_affinitynet,
                          affinitynet.load_affinitynet, affinitynet.AffinityRefiner, lambda config: 0.5)
    raise ValueError(f"unknown random-walk method {name!r}; choose irn or affinitynet")


def relation_samples(
    model: CamModel, dataset: Sequence[Any], seeds: StageStore, config: PseudoLabelConfig
) -> list[tuple]:
    """(photo at the model's scale-1 input size, confident labels on the working grid, classes) per image."""
    crf = default_label_crf() if config.crf else None
    samples = []
    for item in pipeline_items(dataset, model.attribute_ids, use_priors=False):
        if not seeds.has(item.image_id):
            continue
        localisation = seeds.load(item.image_id)
        labels = confident_labels(item.pixels, localisation, config, crf)
        pixels = resize_image(item.pixels, model.input_size(*item.pixels.shape[:2]))
        samples.append((pixels, resize_labels(labels, localisation.grid).astype("int64"), localisation.classes))
    return samples


def walk_stage(
    method: str, model: CamModel, dataset: Sequence[Any], seeds: str, out: str, *, data: str,
    options: Mapping[str, str] | None = None, label_preset: str | None = None, resume: bool = False,
    progress: Callable[[str], None] | None = None, trained_head: str | None = None,
) -> StageSummary:
    """`trained_head`: a relation network trained before (e.g. by another `refine` run on more photos) to walk
    with instead of training one on these seeds; its file and digest go into the manifest."""
    chosen = walk_method(method)
    config = config_from_options(chosen.config_type, options or {})
    source = StageStore.open(seeds, "seeds")
    preset = label_preset or LABEL_PRESET_OF_SEED.get(source.manifest["config"]["method"], "irn")
    label_config = PseudoLabelConfig.preset(preset, kind="exclusive")
    settings = {"method": method, "options": _plain(dataclasses.asdict(config)), "labels": dataclasses.asdict(label_config),
                "threshold": chosen.threshold(config)}
    if trained_head is not None:
        settings["head"] = {"path": str(trained_head), "sha256": file_digest(trained_head)}
    store = StageStore.create(out, manifest_for("refined", settings, {"seeds": source.manifest, "data": data,
                                                                      **model_inputs(model)}), resume)
    head_path = Path(trained_head) if trained_head is not None else Path(out) / f"{method}.safetensors"
    if head_path.is_file():
        head = chosen.load(head_path)
    else:
        samples = relation_samples(model, dataset, source, label_config)
        if not samples:
            raise ValueError(f"{seeds}: no seeds for any image of this data set (wrong --data or --split?)")

        def report(step: int, total: int, loss: float) -> None:
            if progress is not None and (step % 10 == 0 or step == total):
                print(f"privobf refine {method}: step {step}/{total} loss {loss:.4f}", file=sys.stderr)

        head = chosen.train(model, samples, config, report)
        chosen.save(head, head_path, {"trained_on": data, "images": len(samples), "label_preset": preset})
    refiner = chosen.refiner(model, head, config)
    failures: list = []

    def work(item) -> Localisation:
        return refiner.refine(item.pixels, source.load(item.image_id))

    items = (item for item in pipeline_items(dataset, model.attribute_ids, use_priors=False, failures=failures)
             if source.has(item.image_id))
    return run_stage(items, store, work, failures=failures, progress=progress)


def _plain(values: dict[str, Any]) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple) else v for k, v in values.items()}

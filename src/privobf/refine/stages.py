"""The stages as functions over stage folders: what `privobf cam / refine / pseudo-labels` run.

Each function takes a data set, its inputs (a model, an earlier stage's folder) and an output
folder, and returns the stage summary. The CLI (`privobf.refine.commands`) and the chained
`privobf wsss` both call these, so a chain and a step-by-step run produce identical folders.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Sequence

import numpy as np

from .attribution import AttributionConfig, SeedContext, seed_method
from .cam_model import CamModel
from .localisation import Localisation
from .pipeline import StageSummary, manifest_for, pipeline_items, run_stage, truth_stack, vocabulary_labels
from .pseudo_labels import IGNORE, PseudoLabelConfig, argmax_labels, confident_labels, label_size, resize_image, resize_labels
from .store import StageStore

Progress = Callable[[str], None] | None


def model_inputs(model: CamModel) -> dict[str, Any]:
    source = getattr(model.image_model, "source", {}) or {}
    return {"model": source.get("sha256") or source.get("path") or "in-memory"}


def seed_stage(
    model: CamModel, dataset: Sequence[Any], method: str, config: Any, attribution: AttributionConfig,
    out: str, *, data: str, resume: bool = False, use_priors: bool = True, threshold: float | None = None,
    seed: int = 0, progress: Progress = None,
) -> StageSummary:
    """Attribution maps (seeds) of every image for its image-level classes."""
    registered = seed_method(method)
    threshold = model.image_model.preset.inference.mask_threshold if threshold is None else threshold
    store = StageStore.create(out, manifest_for("seeds", {
        "method": method, "options": dataclasses.asdict(config), "scales": list(attribution.scales),
        "flip": attribution.flip, "priors": use_priors, "threshold": threshold, "seed": seed,
    }, {**model_inputs(model), "data": data}), resume)
    context = SeedContext(dataset=dataset, seed=seed)
    failures: list = []

    def work(item) -> Localisation:
        return registered.function(model, item.pixels, item.classes, item.priors, config, attribution, context)

    items = pipeline_items(dataset, model.attribute_ids, use_priors=use_priors, failures=failures)
    return run_stage(items, store, work, failures=failures, progress=progress)


def stage_threshold(store: StageStore) -> float:
    """The fixed decision threshold a stage folder records (seeds: the model's mask threshold)."""
    return float(store.manifest["config"]["threshold"])


def crf_stage(
    dataset: Sequence[Any], seeds: str, out: str, attribute_ids: Sequence[str], *, data: str, resume: bool = False,
    max_side: int = 512, progress: Progress = None,
) -> StageSummary:
    """Dense CRF on the seeds, the way the lineages report "seed + CRF": the class maps and a background
    plane at the seed's fixed threshold, normalised to probabilities, through the DeepLab-preset CRF;
    the marginals become the maps, the background marginal the background map."""
    from .crf import DEEPLAB, dense_crf

    source = StageStore.open(seeds)
    threshold = stage_threshold(source)
    store = StageStore.create(out, manifest_for("refined", {
        "method": "crf", "crf": dataclasses.asdict(DEEPLAB), "max_side": max_side, "threshold": 0.5,
    }, {"seeds": source.manifest, "data": data}), resume)
    failures: list = []

    def work(item) -> Localisation:
        seed = source.load(item.image_id)
        size = label_size(seed.image_size, max_side)
        maps = seed.upsampled(size)
        stacked = np.concatenate([np.full((1, *size), threshold, np.float32), maps])
        probabilities = stacked / np.maximum(stacked.sum(0, keepdims=True), 1e-6)
        marginals = dense_crf(resize_image(item.pixels, size), probabilities, DEEPLAB)
        return Localisation(seed.classes, marginals[1:], seed.image_size, background=marginals[0])

    items = pipeline_items(dataset, attribute_ids, use_priors=False, failures=failures)
    return run_stage(items, store, work, failures=failures, progress=progress)


def pseudo_label_stage(
    dataset: Sequence[Any], maps: str, out: str, attribute_ids: Sequence[str], config: PseudoLabelConfig, *,
    data: str, mode: str = "band", resume: bool = False, progress: Progress = None,
) -> StageSummary:
    """Pseudo labels from a seeds or refined folder: "band" (confident regions + ignore band) or
    "argmax" (one plane at the folder's own threshold, IRN's final rule, exclusive only)."""
    if mode not in ("band", "argmax"):
        raise ValueError(f"mode must be band or argmax, got {mode!r}")
    if mode == "argmax" and config.kind != "exclusive":
        raise ValueError("argmax pseudo labels are exclusive; use --mode band for multi-label data")
    source = StageStore.open(maps, ("seeds", "refined"))
    threshold = stage_threshold(source)
    store = StageStore.create(out, manifest_for("pseudo-labels", {
        **dataclasses.asdict(config), "mode": mode, "threshold": threshold,
    }, {"maps": source.manifest, "data": data}), resume)
    crf = None
    if config.crf and mode == "band":
        from .pseudo_labels import default_label_crf

        crf = default_label_crf()
    failures: list = []

    def work(item):
        localisation = source.load(item.image_id)
        if mode == "argmax":
            labels = argmax_labels(localisation, threshold, config.max_side)
        else:
            labels = confident_labels(item.pixels, localisation, config, crf)
        return {"labels": labels}, {"classes": localisation.classes, "kind": config.kind,
                                    "image_size": list(localisation.image_size)}

    items = pipeline_items(dataset, attribute_ids, use_priors=False, failures=failures)
    return run_stage(items, store, work, failures=failures, progress=progress)


def evaluate_pseudo_labels(store: StageStore, dataset: Sequence[Any], attribute_ids: Sequence[str]) -> dict[str, Any]:
    """Quality of pseudo labels on labelled data: mIoU over the pixels they label, and the share they
    leave ignored (a wide band labels fewer pixels, more precisely)."""
    from ..evaluate import metrics
    from ..evaluate.run import class_index_map

    ids = list(attribute_ids)
    exclusive = bool(getattr(dataset, "exclusive_masks", False))
    confusion = np.zeros((len(ids) + 1,) * 2, np.int64)
    per_class = metrics.MultiLabelMaskIoU(len(ids))
    ignored = total = images = 0
    for item in pipeline_items(dataset, ids, use_priors=False):
        if not store.has(item.image_id):
            continue
        arrays, meta = store.load_arrays(item.image_id)
        labels, classes = arrays["labels"], meta["classes"]
        size = item.pixels.shape[:2]
        labels = resize_labels(labels, size)
        if meta["kind"] == "exclusive":
            valid = labels != IGNORE
            global_labels = vocabulary_labels(labels, classes, ids)
            ignored += int((~valid).sum())
            total += valid.size
            if exclusive:
                truth = class_index_map(item.sample, ids).astype(np.int64)
                truth = np.where(valid, truth, 255)
                confusion += metrics.confusion_matrix(global_labels, truth, len(ids) + 1)
            else:
                predicted, truth, keep = _multilabel_pairs(global_labels, valid, item.sample, ids)
                per_class.update(predicted & keep, truth & keep)
        else:
            predicted = np.zeros((len(ids), *size), bool)
            keep = np.ones((len(ids), *size), bool)
            for row, class_id in enumerate(classes):
                predicted[ids.index(class_id)] = labels[row] == 1
                keep[ids.index(class_id)] = labels[row] != 255
            truth = truth_stack(item.sample, ids, size)
            ignored += int((~keep[[ids.index(c) for c in classes]]).sum()) if classes else 0
            total += len(classes) * labels.shape[-1] * labels.shape[-2]
            per_class.update(predicted & keep, truth & keep)
        images += 1
    miou = metrics.mean_iou(confusion) if exclusive else per_class.mean_iou()
    return {"miou_on_labelled_pixels": miou, "ignored_share": ignored / max(total, 1), "n_images": images,
            "rule": "pixels a pseudo label ignores are left out of the IoU; ignored_share says how many"}


def _multilabel_pairs(global_labels, valid, sample, ids):
    size = global_labels.shape
    predicted = np.stack([global_labels == k + 1 for k in range(len(ids))])
    keep = np.broadcast_to(valid, (len(ids), *size))
    return predicted, truth_stack(sample, ids, size), keep


# -------------------------------------------------------------------------- second-stage network


def segmentation_vocabulary(attribute_ids: Sequence[str]) -> list[str]:
    """The classes a segmentation network outputs: the model's, less the region-less "safe" label."""
    from .pipeline import SAFE_LABEL

    return [i for i in attribute_ids if i != SAFE_LABEL]


def segmentation_samples(dataset: Sequence[Any], labels: str, attribute_ids: Sequence[str]) -> tuple[list, str]:
    """SegSamples from a pseudo-labels folder: targets in the network's vocabulary, the photo resized to
    the labels' size. Multi-label targets mark the classes an image does not have as 0 (its image-level
    labels say they are absent), and keep the folder's 0 / 1 / 255 for the ones it has."""
    from ..segmentation import SegSample

    store = StageStore.open(labels, "pseudo-labels")
    vocabulary = segmentation_vocabulary(attribute_ids)
    kind = store.manifest["config"]["kind"]
    samples = []
    for item in pipeline_items(dataset, attribute_ids, use_priors=False):
        if not store.has(item.image_id):
            continue
        arrays, meta = store.load_arrays(item.image_id)
        local, classes = arrays["labels"], list(meta["classes"])
        rows = [vocabulary.index(c) for c in classes]
        image = resize_image(item.pixels, local.shape[-2:])
        if kind == "exclusive":
            target = vocabulary_labels(local, classes, vocabulary).astype(np.uint8)
        else:
            target = np.zeros((len(vocabulary), *local.shape[-2:]), np.uint8)
            target[rows] = local
        samples.append(SegSample(image=image, target=target, image_id=item.image_id, present=rows))
    if not samples:
        raise ValueError(f"{labels}: no pseudo labels for any image of this data set (wrong --data or --split?)")
    return samples, kind


def train_seg_stage(
    dataset: Sequence[Any], labels: str, out: str, attribute_ids: Sequence[str], config: Any, *,
    resume: bool = False, progress: Callable[[dict], None] | None = None,
):
    """Train the DeepLab-v2-style network on a pseudo-labels folder; returns the checkpoint path."""
    from ..segmentation import train_segmentation

    samples, kind = segmentation_samples(dataset, labels, attribute_ids)
    return train_segmentation(samples, segmentation_vocabulary(attribute_ids), kind, config, out, resume=resume,
                              progress=progress)

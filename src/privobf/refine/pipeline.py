"""Stage runners: a data set in, one stage folder out, resumable, going on past bad images.

Each runner walks a data set, skips images whose output exists (resume), records failures by image
id with the reason instead of stopping, and writes `summary.json` (counts, failures, seconds per
image) beside the outputs. The per-image work is the stage modules' (attribution, refinement,
pseudo labels); nothing here knows a method's internals.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from ..atomic import atomic_write
from .localisation import Localisation
from .pseudo_labels import IGNORE
from .store import StageStore

SAFE_LABEL = "a0_safe"  # VISPR's "nothing private": an image label without a region


@dataclass
class PipelineItem:
    """One image as the stages see it: id, pixels, the image-level classes, priors, the data item."""

    image_id: str
    pixels: np.ndarray
    classes: list[str]
    priors: dict[str, np.ndarray | None] | None
    sample: Any


def item_id(sample: Any, index: int) -> str:
    return str(getattr(sample, "image_id", None) or f"{index:06d}")


def pipeline_items(
    dataset: Sequence[Any], attribute_ids: Sequence[str], *, use_priors: bool = True, failures: list | None = None
) -> Iterator[PipelineItem]:
    """The data set's items with the classes a model of `attribute_ids` has maps for.

    An item that cannot be read is appended to `failures` as (index, reason) and skipped; a label the
    model does not know is an error (pseudo labels for it would silently be missing)."""
    known = set(attribute_ids)
    for index in range(len(dataset)):
        try:
            sample = dataset[index]
        except Exception as error:  # a damaged file in a real data set: report it, go on
            if failures is None:
                raise
            failures.append((f"#{index}", f"{type(error).__name__}: {error}"))
            continue
        labels = [label for label in sample.labels if label != SAFE_LABEL]
        unknown = sorted(set(labels) - known)
        if unknown:
            raise ValueError(f"image {item_id(sample, index)} has labels {unknown} the model has no maps for")
        priors = None
        human, text = getattr(sample, "human_prior", None), getattr(sample, "text_prior", None)
        if use_priors and (human is not None or text is not None):
            priors = {"human": human, "text": text}
        yield PipelineItem(item_id(sample, index), sample.image, labels, priors, sample)


@dataclass
class StageSummary:
    stage: str
    done: int = 0
    resumed: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds_per_image(self) -> float | None:
        return self.seconds / self.done if self.done else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "stage": self.stage, "done": self.done, "resumed": self.resumed,
            "failed": [{"image": image, "reason": reason} for image, reason in self.failed],
            "seconds_per_image": self.seconds_per_image, **self.extra,
        }

    def write(self, store: StageStore) -> None:
        text = json.dumps(self.to_dict(), indent=2, sort_keys=True)
        atomic_write(store.directory / "summary.json", lambda path: path.write_text(text))


def run_stage(
    items: Iterator[PipelineItem],
    store: StageStore,
    work: Callable[[PipelineItem], Localisation | tuple[dict[str, np.ndarray], dict[str, Any]]],
    *,
    failures: list | None = None,
    progress: Callable[[str], None] | None = None,
) -> StageSummary:
    """Apply `work` to every item without an output in `store`; a failing image is recorded, not fatal."""
    summary = StageSummary(store.stage)
    failures = failures if failures is not None else []
    for item in items:
        if store.has(item.image_id):
            summary.resumed += 1
            continue
        started = time.perf_counter()
        try:
            result = work(item)
        except (ValueError, RuntimeError, OSError) as error:
            summary.failed.append((item.image_id, f"{type(error).__name__}: {error}"))
            continue
        seconds = time.perf_counter() - started
        if isinstance(result, Localisation):
            result.extra["seconds"] = round(seconds, 4)
            store.save(item.image_id, result)
        else:
            arrays, meta = result
            store.save_arrays(item.image_id, arrays, {**meta, "seconds": round(seconds, 4)})
        summary.done += 1
        summary.seconds += seconds
        if progress is not None:
            progress(item.image_id)
    summary.failed = [*failures, *summary.failed]
    summary.write(store)
    return summary


# ------------------------------------------------------------------------------------ evaluation


def evaluate_localisations(
    store: StageStore, dataset: Sequence[Any], attribute_ids: Sequence[str], threshold: float,
    sweep: Sequence[float] = (),
) -> dict[str, Any]:
    """Seed / mask quality of a stage's maps against the data set's ground-truth masks.

    Exclusive data (VOC, COCO: `dataset.exclusive_masks`) is scored the WSSS way, one confusion matrix
    of label maps over the split (mIoU over background + classes); privacy data, whose masks overlap,
    per attribute (foreground IoU pooled over the split, mean over attributes that occur). `threshold`
    is fixed; `sweep` adds the best mIoU over those thresholds, marked as tuned on ground truth (the
    papers' seed numbers are such oracle figures)."""
    from ..evaluate import metrics
    from ..evaluate.run import class_index_map

    exclusive = bool(getattr(dataset, "exclusive_masks", False))
    thresholds = [float(threshold), *[float(t) for t in sweep if float(t) != float(threshold)]]
    ids = list(attribute_ids)
    confusions = [np.zeros((len(ids) + 1,) * 2, np.int64) for _ in thresholds]
    per_class = [metrics.MultiLabelMaskIoU(len(ids)) for _ in thresholds]
    n_images, missing = 0, 0
    for item in pipeline_items(dataset, ids, use_priors=False):
        if not store.has(item.image_id):
            missing += 1
            continue
        localisation = store.load(item.image_id)
        size = item.pixels.shape[:2]
        if exclusive:
            truth = class_index_map(item.sample, ids)
            for position, value in enumerate(thresholds):
                labels = vocabulary_labels(localisation.label_map(value, size), localisation.classes, ids)
                confusions[position] += metrics.confusion_matrix(labels, truth, len(ids) + 1)
        else:
            truth = truth_stack(item.sample, ids, size)
            for position, value in enumerate(thresholds):
                predicted = np.zeros_like(truth)
                rows = [ids.index(c) for c in localisation.classes]
                predicted[rows] = localisation.masks(value, size)
                per_class[position].update(predicted, truth)
        n_images += 1
    if exclusive:
        scores = [metrics.mean_iou(c) for c in confusions]
        ious = [metrics.iou_from_confusion(c) for c in confusions]
        names = ["background", *ids]
    else:
        scores = [m.mean_iou() for m in per_class]
        ious = [m.iou() for m in per_class]
        names = ids
    result: dict[str, Any] = {
        "rule": "label-map confusion matrix over the split" if exclusive else "per-attribute foreground IoU pooled over the split",
        "threshold": thresholds[0], "threshold_source": "fixed", "miou": scores[0],
        "iou": {name: _finite(v) for name, v in zip(names, ious[0])},
        "n_images": n_images, "missing_outputs": missing,
    }
    if len(thresholds) > 1:
        best = int(np.nanargmax(scores))
        result["oracle"] = {"tuned_on_ground_truth": True, "best_threshold": thresholds[best], "best_miou": scores[best],
                            "thresholds": thresholds, "miou": [_finite(v) for v in scores]}
    return result


def vocabulary_labels(local: np.ndarray, classes: Sequence[str], vocabulary: Sequence[str]) -> np.ndarray:
    """An image's own labels (0 background, k + 1 = classes[k], 255 ignore) renumbered in a vocabulary
    (0 background, v + 1 = vocabulary[v], 255 ignore): what evaluators and the segmentation network read."""
    lookup = np.full(256, IGNORE, dtype=np.int64)
    lookup[0] = 0
    lookup[1:len(classes) + 1] = [list(vocabulary).index(c) + 1 for c in classes]
    return lookup[np.asarray(local, dtype=np.int64)]


def truth_stack(sample: Any, ids: Sequence[str], size: tuple[int, int]) -> np.ndarray:
    """bool [len(ids), H, W] ground-truth masks of a data item (overlapping attributes each their own)."""
    truth = np.zeros((len(ids), *size), dtype=bool)
    for attribute_id, mask in sample.masks.items():
        truth[list(ids).index(attribute_id)] = mask
    return truth


def _finite(value: float) -> float | None:
    return None if value is None or not np.isfinite(value) else float(value)


def manifest_for(stage: str, config: Mapping[str, Any], inputs: Mapping[str, Any]) -> dict[str, Any]:
    """What a stage folder records, and what --resume compares."""
    return {"stage": stage, "config": dict(config), "inputs": dict(inputs)}

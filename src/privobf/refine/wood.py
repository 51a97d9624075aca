"""W-OoD: fine-tuning Model-Image's CAM classifier with hard out-of-distribution images (digest §10, §14.9).

A CAM classifier learns the context of an attribute as much as the attribute: street signs and menus
look like names and addresses, a car whose plate is hidden looks like a licence plate, a poster of a
face looks like a face. W-OoD (Lee, dissertation ch. 4) collects such photos, *hard OoDs* (photos
without an attribute that the classifier nevertheless scores >= 0.5 for it), has a person confirm
them, and fine-tunes the classifier with

    L = L_cls + λ·L_d                                                                    (eq. 4.4)

where L_cls gives the OoD photos an all-zero target (eq. 4.3) and L_d pulls an in-distribution
feature towards the centres of its classes and pushes it from the nearest τ of K OoD clusters
(eq. 4.2). The steps, each usable on its own:

    score_candidates -> mine_hard_ood -> write_review_file / (user says yes/no) / read_review_file
                                       -> or verify_with_labels where labels already prove it
    pooled_features, kmeans, class_centres (once, with the initial model)   -> centres
    train_wood (distance_loss + classification_loss)                        -> an inference checkpoint

The dissertation's yes/no check matters: unverified hard OoDs do worse than random OoDs (Table 4.6),
so :func:`train_wood` takes the photos the caller has verified and nothing else. The official code's
checkpoint selection (CAM mIoU against ground-truth masks in the last quarter of training) is
deliberately not reproduced: a label-free system has no masks to select with, so the last step's
weights are saved.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..atomic import atomic_write
from ..attributes import vocabulary_from_ids
from ..checkpoint import save_checkpoint
from ..data.batching import image_to_tensor
from ..models.config import Preset, TrainConfig
from ..models.privobfnet import ImageModel
from .cam_model import CamModel

SAFE_ID = "a0_safe"  # "nothing private": never a class to mine, never given a zero OoD target
WOOD_CHECKPOINT = "model-image-wood.safetensors"
WOOD_METRICS = "wood-metrics.jsonl"
REVIEW_COLUMNS = ("candidate_id", "class_id", "probability", "verified", "verified_by")


@dataclass
class WoodConfig:
    """W-OoD's settings: [D] dissertation §4.3-4.4, [C] official code (w-ood/step/train_cam_clustering.py).

    lr: [C] uses 0.1 (×10 on the classifier) because it starts from an IRN classifier trained with the
    same rate. Ours starts from a trained privobf checkpoint (privobf trains with 0.002-0.01). Measured
    on tiny-backbone models and synthetic scenes (5 epochs, batches of 8, OoD = safe scenes): 0.1
    diverged to a NaN loss from one base model and *raised* the mean hard-OoD score of another from
    0.46 to 0.90; 0.01 lowered it to 0.15 (and 0.52 -> 0.19 on a third), 0.001 barely moved it
    (0.46 -> 0.39). So 0.01 is the default; set 0.1 (and momentum 1e-4) to run [C]'s recipe.
    """

    distance_weight: float = 0.007  # λ of eq. 4.4 [D §4.4.1] (code `distance_lambda`)
    nearest_fraction: float = 0.2  # τ: share of OoD clusters a feature is pushed from [D] (code `ood_dist_topk`)
    n_clusters: int = 50  # K of the OoD K-means [D] (code `cluster_K`); clamped to the number of OoD images
    hard_threshold: float = 0.5  # a candidate is a hard OoD of class c when p(c) >= this [D §4.3.1]
    epochs: int = 5  # [C]
    batch_in: int = 16  # in-distribution images per step [C]
    batch_ood: int = 16  # OoD images per step [C]
    lr: float = 0.01  # [C] 0.1; lowered for fine-tuning a trained privobf model (see the class docstring)
    classifier_lr_multiplier: float = 10.0  # the CAM classifier learns 10x faster [C]
    weight_decay: float = 1e-4  # [C]
    # IRN's PolyOptimizer passes weight_decay positionally into SGD's momentum slot, so the "momentum" of
    # [C] is 1e-4 (§14.14); the rate decays as (1 - step/steps)^0.9 [C].
    momentum: float = 1e-4  # [C]
    poly_power: float = 0.9  # [C]
    trained_stages: int = 2  # the last two backbone stages (+ the CAM classifier) are optimised [C: stage3, stage4]
    ood_bce_weight: float = 1.0  # weight of the OoD half of eq. 4.3 [D]; the code uses 0.25 [C `ood_coeff`]
    kmeans_iterations: int = 10  # Lloyd iterations, first-K-points initialisation [C]
    hflip: bool = True  # random horizontal flips of both batches [C: IRN's augmentation, flips only here]
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 < self.nearest_fraction <= 1.0:
            raise ValueError(f"nearest_fraction must be in (0, 1], got {self.nearest_fraction}")
        if self.n_clusters < 1 or self.batch_in < 1 or self.batch_ood < 1 or self.epochs < 1:
            raise ValueError("n_clusters, batch_in, batch_ood and epochs must be positive")
        if self.trained_stages < 0:
            raise ValueError(f"trained_stages must be >= 0, got {self.trained_stages}")


# --- scoring and mining --------------------------------------------------------------------------


@dataclass
class HardOod:
    """A photo scored high for a class it may not show. verified: None until someone (or labels) decides;
    True means "confirmed: the photo does not show class_id" (a genuine hard OoD)."""

    candidate_id: str
    class_id: str
    probability: float
    verified: bool | None = None
    verified_by: str = ""  # "human" (the review file) or "labels" (verify_with_labels)


def _image_of(item: Any) -> np.ndarray | torch.Tensor:
    return item.image if hasattr(item, "image") else item


def _image_batches(
    images_or_items: torch.Tensor | Sequence[Any], image_size: int, batch_size: int
) -> Iterator[torch.Tensor]:
    """Float [b, 3, S, S] batches in [0, 1]: a tensor is used as given; uint8 photos (or items with
    `.image`) are resized to the model's square training input, as privobf's training collator does."""
    if isinstance(images_or_items, torch.Tensor):
        for start in range(0, images_or_items.shape[0], batch_size):
            yield images_or_items[start : start + batch_size].float()
        return
    for start in range(0, len(images_or_items), batch_size):
        chunk = [images_or_items[i] for i in range(start, min(start + batch_size, len(images_or_items)))]
        yield torch.stack([_to_input(_image_of(item), image_size) for item in chunk])


def _to_input(image: np.ndarray | torch.Tensor, image_size: int) -> torch.Tensor:
    if isinstance(image, torch.Tensor):
        return F.interpolate(image[None].float(), size=(image_size, image_size), mode="bilinear",
                             antialias=True, align_corners=False)[0]
    return image_to_tensor(image, image_size)


def _cam_model(image_model: ImageModel | CamModel) -> CamModel:
    return image_model if isinstance(image_model, CamModel) else CamModel(image_model)


def _logits_and_features(model: CamModel, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Class scores (GAP of the prior-free class maps, the logits W-OoD trains) and z = GAP(features)."""
    features = model.features(images)
    return model.class_maps(features).mean(dim=(2, 3)), features.mean(dim=(2, 3))


def score_candidates(
    image_model: ImageModel | CamModel, images_or_items: torch.Tensor | Sequence[Any], batch_size: int = 16
) -> torch.Tensor:
    """p(c) = sigmoid(GAP(CAM_c)) of every candidate: float [N, K] in the model's attribute order.

    No priors: W-OoD trains the CAM classifier itself, and a hard OoD is a photo that *classifier*
    mistakes (a prior would hide, e.g., text-like signs that the text detector misses)."""
    model = _cam_model(image_model)
    return _rows_in_eval_mode(model, images_or_items, batch_size, len(model.attribute_ids),
                              lambda batch: torch.sigmoid(_logits_and_features(model, batch)[0]))


def _rows_in_eval_mode(
    model: CamModel, images: torch.Tensor | Sequence[Any], batch_size: int, width: int,
    compute: Callable[[torch.Tensor], torch.Tensor],
) -> torch.Tensor:
    """`compute` on batches of the images without gradients and in eval mode (the model's mode is
    restored after), stacked to [N, width]."""
    was_training = model.training
    model.eval()
    rows = []
    with torch.no_grad():
        for batch in _image_batches(images, model.image_size, batch_size):
            rows.append(compute(batch))
    model.train(was_training)
    return torch.cat(rows) if rows else torch.zeros(0, width)


def mine_hard_ood(
    probabilities: torch.Tensor | np.ndarray,
    candidate_ids: Sequence[str],
    class_ids: Sequence[str],
    threshold: float = 0.5,
    classes: Sequence[str] | None = None,
) -> list[HardOod]:
    """Candidates with p(c) >= threshold, per class (in `class_ids` order), most confident first.

    class_ids name the K columns of `probabilities`; `classes` restricts which are mined (default: all
    but `a0_safe`, whose high score on a safe photo is correct, not a mistake). Ties keep candidate order."""
    scores = torch.as_tensor(probabilities, dtype=torch.float64)
    if scores.dim() != 2 or scores.shape != (len(candidate_ids), len(class_ids)):
        raise ValueError(f"probabilities {list(scores.shape)} do not match {len(candidate_ids)} candidates "
                         f"x {len(class_ids)} classes")
    wanted = [c for c in class_ids if c != SAFE_ID] if classes is None else list(classes)
    unknown = [c for c in wanted if c not in class_ids]
    if unknown:
        raise ValueError(f"classes {unknown} are not among the scored classes")
    mined: list[HardOod] = []
    for class_id in wanted:
        column = scores[:, list(class_ids).index(class_id)].numpy()
        order = np.argsort(-column, kind="stable")
        mined += [HardOod(str(candidate_ids[i]), class_id, float(column[i])) for i in order if column[i] >= threshold]
    return mined


def write_review_file(path: str | os.PathLike, hard_oods: Sequence[HardOod]) -> Path:
    """A CSV for the yes/no check: `verified` = yes when the photo does NOT show class_id (a genuine hard
    OoD), no when it does; left empty = not reviewed. Written atomically, so a reader never sees half."""
    path = Path(path)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REVIEW_COLUMNS)
    for hard in hard_oods:
        verified = "" if hard.verified is None else ("yes" if hard.verified else "no")
        writer.writerow([hard.candidate_id, hard.class_id, f"{hard.probability:.6f}", verified, hard.verified_by])
    text = buffer.getvalue()
    atomic_write(path, lambda temp: Path(temp).write_text(text, encoding="utf-8"))
    return path


_ANSWERS = {"yes": True, "y": True, "no": False, "n": False, "": None}


def read_review_file(path: str | os.PathLike) -> list[HardOod]:
    """The review file back, with the user's answers; errors name the file and the row (line number)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ValueError(f"{path}: cannot read the review file ({error.strerror or error})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in REVIEW_COLUMNS[:4] if c not in (reader.fieldnames or [])]
    if missing:
        raise ValueError(f"{path}: the review file lacks the column(s) {missing} (expected {list(REVIEW_COLUMNS)})")
    hard_oods = []
    for row in reader:
        line = reader.line_num
        if None in row or any(row[c] is None for c in REVIEW_COLUMNS[:4]):
            extra = "more" if None in row else "fewer"
            raise ValueError(f"{path}: row {line} has {extra} fields than the header's {len(reader.fieldnames)}")
        candidate, class_id = row["candidate_id"].strip(), row["class_id"].strip()
        if not candidate or not class_id:
            raise ValueError(f"{path}: row {line} has an empty candidate_id or class_id")
        try:
            probability = float(row["probability"])
        except ValueError:
            raise ValueError(f"{path}: row {line}: probability {row['probability']!r} is not a number") from None
        answer = row["verified"].strip().lower()
        if answer not in _ANSWERS:
            raise ValueError(f"{path}: row {line}: verified must be yes, no or empty, got {row['verified']!r}")
        verified = _ANSWERS[answer]
        verified_by = (row.get("verified_by") or "").strip() or ("human" if verified is not None else "")
        hard_oods.append(HardOod(candidate, class_id, probability, verified, verified_by))
    return hard_oods


def verify_with_labels(
    hard_oods: Iterable[HardOod],
    labels_by_id: Mapping[str, Iterable[str]],
    unknown_by_id: Mapping[str, Iterable[str]] | None = None,
) -> list[HardOod]:
    """The hard OoDs whose own labels prove they lack the class, marked verified by labels.

    labels_by_id: a candidate's annotated attribute ids (a safe synthetic scene: ["a0_safe"]; a COCO
    photo without people lacks the person classes). A candidate without labels, or whose source does not
    annotate the class (`unknown_by_id`), is not proof and is left out (it needs the human check)."""
    unknown_by_id = unknown_by_id or {}
    verified = []
    for hard in hard_oods:
        if hard.candidate_id not in labels_by_id:
            continue
        known_present = set(labels_by_id[hard.candidate_id]) | set(unknown_by_id.get(hard.candidate_id, ()))
        if hard.class_id in known_present:
            continue
        verified.append(HardOod(hard.candidate_id, hard.class_id, hard.probability, True, "labels"))
    return verified


def verified_candidate_ids(hard_oods: Iterable[HardOod]) -> list[str]:
    """Ids of the photos confirmed as hard OoDs (any class), once each, in first-seen order."""
    return list(dict.fromkeys(h.candidate_id for h in hard_oods if h.verified))


# --- centres -------------------------------------------------------------------------------------


def pooled_features(
    image_model: ImageModel | CamModel, images: torch.Tensor | Sequence[Any], batch_size: int = 16
) -> torch.Tensor:
    """z = GAP of the last feature map (the input of the CAM classifier): float [N, D], eval mode."""
    model = _cam_model(image_model)
    return _rows_in_eval_mode(model, images, batch_size, model.branch.backbone.out_channels,
                              lambda batch: model.features(batch).mean(dim=(2, 3)))


def kmeans(features: torch.Tensor, k: int, iterations: int = 10, seed: int = 0) -> torch.Tensor:
    """Euclidean K-means (Lloyd), initialised with the first k points [C]: centres [min(k, N), D].

    k is clamped to the number of points (with k = N every point is its own centre). A cluster left
    empty (duplicated photos among the first k) is re-seeded with a point drawn with probability
    proportional to its squared distance to the nearest centre (the k-means++ rule), from a generator
    seeded with `seed`, so the result is the same on every run."""
    points = features.detach().double()
    if points.dim() != 2 or points.shape[0] == 0:
        raise ValueError(f"kmeans needs features [N, D] with N >= 1, got {list(points.shape)}")
    k = max(1, min(int(k), points.shape[0]))
    centres = points[:k].clone()
    generator = torch.Generator().manual_seed(seed)
    for _ in range(iterations):
        distances = torch.cdist(points, centres)
        assignment = distances.argmin(dim=1)
        counts = torch.bincount(assignment, minlength=k)
        sums = torch.zeros_like(centres).index_add_(0, assignment, points)
        filled = counts > 0
        centres[filled] = sums[filled] / counts[filled, None].double()
        for empty in torch.nonzero(~filled).flatten().tolist():
            nearest = torch.cdist(points, centres).min(dim=1).values.pow(2)
            if float(nearest.sum()) <= 0.0:
                break  # fewer distinct points than clusters: nothing to re-seed with
            centres[empty] = points[torch.multinomial(nearest / nearest.sum(), 1, generator=generator)[0]]
    return centres.to(features.dtype)


def class_centres(features: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """p_c: mean feature of the images labelled with class c, [K, D]; NaN rows for classes no image has
    (the distance loss skips them)."""
    labels = labels.to(features.dtype)
    counts = labels.sum(dim=0)  # [K]
    sums = labels.t() @ features  # [K, D]
    centres = sums / counts.clamp(min=1.0)[:, None]
    centres[counts == 0] = float("nan")
    return centres


# --- losses --------------------------------------------------------------------------------------


def nearest_count(n_clusters: int, nearest_fraction: float) -> int:
    """|𝒦|: the nearest τ of K clusters, rounded, at least one (τ = 0.2, K = 50 -> 10)."""
    return max(1, min(n_clusters, int(round(nearest_fraction * n_clusters))))


def distance_loss(
    z_in: torch.Tensor,
    labels: torch.Tensor,
    in_centres: torch.Tensor,
    ood_centres: torch.Tensor,
    nearest_fraction: float = 0.2,
) -> torch.Tensor:
    """Eq. 4.2 averaged over the batch: Σ_{c: y_c=1} ‖z − p_c‖ − Σ_{k ∈ 𝒦} ‖z − p_k‖.

    𝒦 is chosen per sample, as [D] writes: the round(τ·K) OoD centres nearest to that z. (The official
    code instead keeps the nearest τ of all (sample, cluster) pairs of the batch, and rescales the two
    terms; see the digest §10.3.) Classes whose centre is NaN (no image had them) are skipped."""
    usable = ~torch.isnan(in_centres).any(dim=1)  # [K]
    positives = labels.to(z_in.dtype) * usable[None, :].to(z_in.dtype)
    safe_centres = torch.nan_to_num(in_centres, nan=0.0)
    attraction = (_distances(z_in, safe_centres) * positives).sum(dim=1)
    ood_distances = _distances(z_in, ood_centres)  # [B, K_ood]
    nearest = nearest_count(ood_centres.shape[0], nearest_fraction)
    repulsion = ood_distances.topk(nearest, dim=1, largest=False).values.sum(dim=1)
    return (attraction - repulsion).mean()


def _distances(points: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """Euclidean distances [B, K] with a finite gradient at zero distance (cdist's is NaN there)."""
    squared = (points[:, None, :] - centres[None, :, :]).pow(2).sum(dim=-1)
    return torch.sqrt(squared + 1e-12)


def classification_loss(
    logits_in: torch.Tensor,
    labels: torch.Tensor,
    logits_ood: torch.Tensor,
    ood_weight: float = 1.0,
    label_known: torch.Tensor | None = None,
    ood_targets_known: torch.Tensor | None = None,
) -> torch.Tensor:
    """Eq. 4.3: (1/|C|) Σ_c [BCE(F_c(x_in), y_c) + w·BCE(F_c(x_ood), 0)], each half a batch mean.

    label_known [B_in, K]: 1 where an in-distribution label is annotated (partly labelled sources).
    ood_targets_known [B_ood, K]: 1 where the OoD photo is known to lack the class (its zero target is
    trusted); None means every class. BCE(f, 0) = softplus(f): a clearly negative OoD logit costs ~0."""
    n_classes = labels.shape[1]
    total = logits_in.new_zeros(())
    if logits_in.shape[0]:
        per_label = F.binary_cross_entropy_with_logits(logits_in, labels.to(logits_in.dtype), reduction="none")
        if label_known is None:
            total = total + per_label.mean()
        else:
            total = total + (per_label * label_known).sum() / label_known.sum().clamp(min=1.0)
    if logits_ood.shape[0]:
        per_ood = F.softplus(logits_ood)
        if ood_targets_known is not None:
            per_ood = per_ood * ood_targets_known.to(per_ood.dtype)
        total = total + ood_weight * per_ood.sum() / (logits_ood.shape[0] * n_classes)
    return total


# --- training ------------------------------------------------------------------------------------


def trained_parameters(model: CamModel, trained_stages: int = 2) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """(backbone parameters of the last `trained_stages` stages, CAM classifier parameters) [C].

    Which parameters make up a stage differs per backbone (ResNet layer3/4, EfficientNet blocks, ResNet-38
    b6/b7), so it is found by the graph: a parameter belongs to the last stages when the output of the
    stage before them does not depend on it. Parameters frozen by the preset stay frozen."""
    branch = model.branch
    backbone = branch.backbone
    candidates = [p for p in backbone.parameters() if p.requires_grad]
    n_stages = len(backbone.stage_channels)
    if trained_stages >= n_stages:
        stage_params = candidates
    elif trained_stages == 0:
        stage_params = []
    else:
        side = 4 * backbone.output_stride
        was_training = backbone.training
        backbone.eval()
        with torch.enable_grad():
            probe = torch.rand(1, 3, side, side, generator=torch.Generator().manual_seed(0))
            probe = probe.to(next(backbone.parameters()).device)
            earlier = backbone.forward_stages(probe)[n_stages - trained_stages - 1]
            # No graph when the preset froze everything before the last stages: all candidates are in them.
            grads = (torch.autograd.grad(earlier.sum(), candidates, allow_unused=True) if earlier.requires_grad
                     else [None] * len(candidates))
        backbone.train(was_training)
        stage_params = [p for p, g in zip(candidates, grads) if g is None]
    head = [p for p in list(branch.feature_refiner.parameters()) + list(branch.classifier.parameters()) if p.requires_grad]
    return stage_params, head


def _encode(attribute_ids: list[str], ids: Iterable[str], where: str) -> np.ndarray:
    vector = np.zeros(len(attribute_ids), dtype=np.float32)
    for attribute_id in ids:
        if attribute_id not in attribute_ids:
            raise ValueError(f"{where}: label {attribute_id!r} is not an attribute of the model")
        vector[attribute_ids.index(attribute_id)] = 1.0
    return vector


def item_labels(items: Sequence[Any], attribute_ids: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Multi-hot labels [N, K] and the annotated mask [N, K] (0 for a source's `unknown` ids)."""
    labels, known = [], []
    for index in range(len(items)):
        item = items[index]
        labels.append(_encode(attribute_ids, getattr(item, "labels", ()) or (), f"item {index}"))
        known.append(1.0 - _encode(attribute_ids, getattr(item, "unknown", None) or (), f"item {index}"))
    return torch.from_numpy(np.stack(labels)), torch.from_numpy(np.stack(known))


def ood_zero_targets(items: Sequence[Any], attribute_ids: list[str]) -> torch.Tensor:
    """[N, K]: 1 where an OoD photo may be given the zero target of eq. 4.3.

    An unlabelled OoD photo (the dissertation's case) gets it for every class; a labelled one (a VISPR
    photo with a face that is a hard OoD for `address`) not for the classes it has or whose labels its
    source lacks. `a0_safe` never gets it: a photo without private attributes *is* safe."""
    labels, known = item_labels(items, attribute_ids)
    targets = (1.0 - labels) * known
    if SAFE_ID in attribute_ids:
        targets[:, attribute_ids.index(SAFE_ID)] = 0.0
    return targets


def _vocabulary_name(image_model: ImageModel) -> str:
    source = getattr(image_model, "source", None) or {}
    path = source.get("path")
    if path and Path(path).is_file():
        try:
            from safetensors import safe_open

            with safe_open(str(path), framework="pt") as handle:
                return json.loads((handle.metadata() or {}).get("privobf", "{}")).get("vocabulary_name", "custom")
        except Exception:  # an unreadable base checkpoint only costs the vocabulary's display name
            return "custom"
    return "custom"


@dataclass
class _Batches:
    """Index batches of one epoch: the in-distribution set in shuffled order, the OoD set cycled."""

    n_in: int
    n_ood: int
    config: WoodConfig
    generator: torch.Generator
    _ood_order: list[int] = field(default_factory=list)

    def steps_per_epoch(self) -> int:
        batch = min(self.config.batch_in, self.n_in)
        return self.n_in // batch  # drop the last partial batch [C: IRN's drop_last]

    def epoch(self) -> Iterator[tuple[list[int], list[int]]]:
        batch_in = min(self.config.batch_in, self.n_in)
        order = torch.randperm(self.n_in, generator=self.generator).tolist()
        for step in range(self.steps_per_epoch()):
            yield order[step * batch_in : (step + 1) * batch_in], self._next_ood()

    def _next_ood(self) -> list[int]:
        picked = []
        while len(picked) < min(self.config.batch_ood, self.n_ood):
            if not self._ood_order:
                self._ood_order = torch.randperm(self.n_ood, generator=self.generator).tolist()
            picked.append(self._ood_order.pop(0))
        return picked


def _load_batch(items: Sequence[Any], indices: list[int], image_size: int, flips: torch.Tensor) -> torch.Tensor:
    images = torch.stack([_to_input(_image_of(items[i]), image_size) for i in indices])
    return torch.where(flips[:, None, None, None], images.flip(-1), images)


def train_wood(
    image_model: ImageModel,
    in_items: Sequence[Any],
    ood_items: Sequence[Any],
    config: WoodConfig | None = None,
    out_dir: str | os.PathLike = ".",
    progress: Callable[[dict[str, Any]], None] | None = None,
) -> Path:
    """Fine-tune a copy of Model-Image with L = L_cls + λ·L_d and save it as an inference checkpoint.

    in_items: labelled in-distribution photos (`.image`, `.labels`, optional `.unknown`); ood_items:
    the verified hard OoDs (`.image`; labels optional, see :func:`ood_zero_targets`). The centres are
    computed once, before training, with the initial model [C]. The model runs in eval mode throughout
    (frozen BatchNorm statistics, as IRN's FixedBatchNorm [C]) and without priors (the classifier W-OoD
    trains). `progress` receives each epoch's record. Returns the checkpoint path, which
    :func:`privobf.models.loading.load_image_model` reads."""
    config = config or WoodConfig()
    if len(in_items) == 0 or len(ood_items) == 0:
        raise ValueError(f"W-OoD needs in-distribution and OoD photos (got {len(in_items)} and {len(ood_items)})")
    out_dir = Path(out_dir)
    torch.manual_seed(config.seed)
    model = CamModel(copy.deepcopy(image_model))
    model.eval()
    device = next(model.parameters()).device
    attribute_ids = model.attribute_ids
    size = model.image_size

    labels, label_known = item_labels(in_items, attribute_ids)
    ood_targets = ood_zero_targets(ood_items, attribute_ids)
    in_centres = class_centres(pooled_features(model, in_items, config.batch_in).cpu(), labels).to(device)
    n_clusters = min(config.n_clusters, len(ood_items))
    ood_centres = kmeans(pooled_features(model, ood_items, config.batch_ood).cpu(), n_clusters,
                         config.kmeans_iterations, config.seed).to(device)

    stage_params, head_params = trained_parameters(model, config.trained_stages)
    trained = {id(p) for p in stage_params + head_params}
    for parameter in model.parameters():
        parameter.requires_grad_(id(parameter) in trained)
    groups = [
        {"params": stage_params, "lr": config.lr, "base_lr": config.lr},
        {"params": head_params, "lr": config.lr * config.classifier_lr_multiplier,
         "base_lr": config.lr * config.classifier_lr_multiplier},
    ]
    optimizer = torch.optim.SGD([g for g in groups if g["params"]], lr=config.lr, momentum=config.momentum,
                                weight_decay=config.weight_decay)

    generator = torch.Generator().manual_seed(config.seed)
    batches = _Batches(len(in_items), len(ood_items), config, generator)
    total_steps = config.epochs * batches.steps_per_epoch()
    history: list[dict[str, Any]] = []
    step = 0
    for epoch in range(1, config.epochs + 1):
        sums = {"loss": 0.0, "loss_cls": 0.0, "loss_distance": 0.0}
        for in_indices, ood_indices in batches.epoch():
            for group in optimizer.param_groups:
                group["lr"] = group["base_lr"] * (1.0 - step / total_steps) ** config.poly_power
            flips = torch.rand(len(in_indices) + len(ood_indices), generator=generator) < (0.5 if config.hflip else 0.0)
            images_in = _load_batch(in_items, in_indices, size, flips[: len(in_indices)]).to(device)
            images_ood = _load_batch(ood_items, ood_indices, size, flips[len(in_indices) :]).to(device)
            logits, z = _logits_and_features(model, torch.cat([images_in, images_ood]))
            batch_in = len(in_indices)
            loss_cls = classification_loss(
                logits[:batch_in], labels[in_indices].to(device), logits[batch_in:], config.ood_bce_weight,
                label_known[in_indices].to(device), ood_targets[ood_indices].to(device),
            )
            loss_distance = distance_loss(z[:batch_in], labels[in_indices].to(device), in_centres, ood_centres,
                                          config.nearest_fraction)
            loss = loss_cls + config.distance_weight * loss_distance
            if not torch.isfinite(loss):
                raise FloatingPointError(f"W-OoD epoch {epoch} step {step}: loss is {loss.item()}; lower the learning rate")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            for name, value in (("loss", loss), ("loss_cls", loss_cls), ("loss_distance", loss_distance)):
                sums[name] += float(value.detach())
        steps = batches.steps_per_epoch()
        record = {name: value / steps for name, value in sums.items()} | {"epoch": epoch, "steps": steps}
        history.append(record)
        if progress is not None:
            progress(record)

    return _save(model.image_model, image_model, config, out_dir, history,
                 n_in=len(in_items), n_ood=len(ood_items), n_clusters=int(ood_centres.shape[0]))


def _save(trained: ImageModel, original: ImageModel, config: WoodConfig, out_dir: Path,
          history: list[dict[str, Any]], n_in: int, n_ood: int, n_clusters: int) -> Path:
    """The `kind: image` checkpoint `Trainer._finish` writes, with W-OoD's provenance in `trained`."""
    from ..train.engine import checkpoint_metadata

    preset = getattr(original, "preset", None) or Preset("custom", trained.config, TrainConfig())
    vocabulary = vocabulary_from_ids(trained.attribute_ids, _vocabulary_name(original))
    source = getattr(original, "source", None) or {}
    provenance = {
        **dict(source.get("trained") or {}),
        "wood": {
            "method": "W-OoD fine-tuning (Lee, dissertation ch. 4)",
            "config": asdict(config),
            "n_in_distribution_images": n_in,
            "n_ood_images": n_ood,
            "n_ood_clusters": n_clusters,
            "base_model": {k: source[k] for k in ("path", "sha256") if k in source},
            "checkpoint_selection": "last step (the official code's GT-mask selection is not used)",
            "final_losses": history[-1] if history else {},
        },
    }
    metadata = checkpoint_metadata(preset, vocabulary, "image", config.epochs, provenance)
    path = save_checkpoint(out_dir / WOOD_CHECKPOINT, trained.branch.state_dict(), metadata)
    lines = "".join(json.dumps(record, sort_keys=True) + "\n" for record in history)
    atomic_write(out_dir / WOOD_METRICS, lambda temp: Path(temp).write_text(lines))
    return path

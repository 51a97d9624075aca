"""Teach a trained model new attributes without touching what it knows: train a small head for them on the
frozen network's feature maps (issue 19).

Why this and not retraining: the embedded model's ten attributes are measured on the faces / people /
plates / text benchmarks, and retraining it takes over an hour of CPU. With the network frozen, the new
attributes get their own maps from `privobfnet.ExtensionHead` (a per-location two-layer network on the
features, scored by the maps' smooth maximum), trained in minutes on cached feature maps, and the old
attributes' outputs stay bit-identical: their classifier, attribute head and privacy head are not touched
(the new attributes enter the privacy score through the report's pooled score, `report.py`). A linear
probe (one row of the 1x1 classifier and of the attribute head per attribute, the cheapest extension) is
fitted on the same features as the baseline the report shows next to it.

What the new head learns from: `document_scenes.DocumentScenes` (synthetic photos of documents and screens,
seed 0, train-split backgrounds), PrivMini's train photos as negatives, and its train SROIE receipts as real
positives of `a37_receipt`. Held out, never fitted on: DocumentScenes seed 1 on val-split backgrounds and
PrivMini val. The number of epochs is chosen on the last fifth of the training scenes, then the head is
trained again on all of them.

    python -m privobf.train.extend --model BASE --out EXTENDED [--scenes 3200] [--heldout 800] [--report FILE]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..checkpoint import file_digest, load_checkpoint, save_checkpoint
from ..data.batching import image_to_tensor
from ..evaluate.metrics import average_precision
from ..models.loading import embedded_model_path, image_model_from_checkpoint
from ..models.privobfnet import ExtensionHead, ImageModel

RECEIPT = "a37_receipt"
LINEAR_L2 = 1e-3  # the linear probe's L2 strength (best of 1e-4..1e-1 on the validation fifth, measured once)
BATCH = 32
CHUNK = 400  # scenes rendered at once


@torch.inference_mode()
def feature_maps(model: ImageModel, images: Iterable[np.ndarray]) -> list[torch.Tensor]:
    """Per image, the frozen network's features [2, C, h, w] (the image and its mirror) in float16, at the
    input size the scanner uses for that photo."""
    from ..scanning import model_input_size

    config, stride = model.config, model.branch.backbone.output_stride
    maps = []
    for image in images:
        size = model_input_size(*image.shape[:2], config.image_size, stride)
        tensor = image_to_tensor(image, size)[None]
        features = model.branch.feature_refiner(model.branch.backbone(torch.cat([tensor, tensor.flip(-1)])))
        maps.append(features.half())
    return maps


def train_head(maps: Sequence[torch.Tensor], targets: torch.Tensor, hidden: int, epochs: int, seed: int = 0,
               watch: tuple[Sequence[torch.Tensor], torch.Tensor] | None = None) -> tuple[ExtensionHead, list[float]]:
    """An `ExtensionHead` trained with AdamW on the cached maps (a random one of each image's two views per
    step, images of one map size batched together), positives weighted by the negatives per positive (at
    most 20) so rare types count. Features are scaled per channel while training; the scale is folded into
    the first layer. `watch`: held-apart maps and targets whose mean AP is recorded after every epoch."""
    generator = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    channels = maps[0].shape[1]
    scale = torch.cat([m.float().mean((2, 3)) for m in maps]).std(0).clamp_min(1e-3)
    head = ExtensionHead(channels, hidden, targets.shape[1])
    optimiser = torch.optim.AdamW(head.parameters(), lr=1e-3, weight_decay=1e-2)
    positives = targets.sum(0).clamp_min(1.0)
    balance = ((len(targets) - positives) / positives).clamp(max=20.0)
    groups: dict[tuple[int, int], list[int]] = defaultdict(list)
    for index, features in enumerate(maps):
        groups[tuple(features.shape[-2:])].append(index)
    history = []
    for _ in range(epochs):
        head.train()
        for members in groups.values():
            order = torch.randperm(len(members), generator=generator).tolist()
            for start in range(0, len(order), BATCH):
                chosen = [members[k] for k in order[start:start + BATCH]]
                views = torch.randint(0, 2, (len(chosen),), generator=generator).tolist()
                batch = torch.stack([maps[k][v].float() for k, v in zip(chosen, views)]) / scale[None, :, None, None]
                loss = F.binary_cross_entropy_with_logits(head.scores(head(batch)), targets[chosen], pos_weight=balance)
                optimiser.zero_grad()
                loss.backward()
                optimiser.step()
        if watch is not None:
            folded = _folded(head, scale)
            history.append(mean_ap(head_probabilities(folded, watch[0]), watch[1]))
    return _folded(head, scale), history


def _folded(head: ExtensionHead, scale: torch.Tensor) -> ExtensionHead:
    """A copy of `head` that takes raw features: the per-channel scale moved into its first layer."""
    folded = ExtensionHead(head.reduce.in_channels, head.reduce.out_channels, head.maps.out_channels)
    folded.load_state_dict(head.state_dict())
    with torch.no_grad():
        folded.reduce.weight /= scale[None, :, None, None]
    return folded.eval()


@torch.inference_mode()
def head_probabilities(head: ExtensionHead, maps: Sequence[torch.Tensor]) -> torch.Tensor:
    """[N, K]: each image's probabilities, the mean over it and its mirror (as the scanner averages)."""
    return torch.stack([torch.sigmoid(head.scores(head(m.float()))).mean(0) for m in maps])


def mean_ap(scores: torch.Tensor, targets: torch.Tensor) -> float:
    values = [average_precision(scores[:, k].numpy(), targets[:, k].numpy() > 0.5) for k in range(targets.shape[1])
              if 0 < targets[:, k].sum() < len(targets)]
    return float(np.mean(values)) if values else float("nan")


def fit_linear_probe(maps: Sequence[torch.Tensor], targets: torch.Tensor, l2: float = LINEAR_L2) -> tuple[torch.Tensor, torch.Tensor]:
    """The baseline: L2-regularised logistic regressions on the pooled features (both views of each image),
    by L-BFGS on standardised features, folded back to raw ones: weights [K, C] and biases [K]."""
    features = torch.cat([m.float().mean((2, 3)) for m in maps])
    labels = targets.repeat_interleave(2, 0)
    scale, shift = features.std(0).clamp_min(1e-6), features.mean(0)
    x = (features - shift) / scale
    weight = torch.zeros(labels.shape[1], x.shape[1], requires_grad=True)
    offset = torch.zeros(labels.shape[1], requires_grad=True)
    positives = labels.sum(0).clamp_min(1.0)
    balance = ((len(labels) - positives) / positives).clamp(max=20.0)
    optimiser = torch.optim.LBFGS([weight, offset], max_iter=200, line_search_fn="strong_wolfe")

    def closure():
        optimiser.zero_grad()
        loss = F.binary_cross_entropy_with_logits(x @ weight.T + offset, labels, pos_weight=balance) + l2 * weight.pow(2).sum() / 2
        loss.backward()
        return loss

    optimiser.step(closure)
    with torch.no_grad():
        raw = weight / scale
        return raw.detach(), (offset - raw @ shift).detach()


def _targets(labels: Sequence[Sequence[str]], ids: Sequence[str]) -> torch.Tensor:
    return torch.tensor([[float(a in set(found)) for a in ids] for found in labels])


def privmini_examples(split: str, root: Path | None) -> tuple[list[np.ndarray], list[list[str]], list[str]]:
    """PrivMini photos of `split`: SROIE receipts are `a37_receipt`, the rest show none of the new types."""
    from ..data.privmini import PrivMini

    dataset = PrivMini(root, split=split)
    images, labels, sources = [], [], []
    for index in range(len(dataset)):
        item = dataset[index]
        images.append(item.image)
        labels.append([RECEIPT] if item.extra["source"] == "sroie" else [])
        sources.append(item.extra["source"])
    return images, labels, sources


def f1_thresholds(probabilities: torch.Tensor, targets: torch.Tensor) -> list[float]:
    """Per attribute, the probability threshold with the best F1 (ties: the higher threshold), in [0.05, 0.95]."""
    chosen = []
    for k in range(targets.shape[1]):
        best = (-1.0, 0.5)
        for threshold in np.round(np.arange(0.05, 0.951, 0.025), 3):
            predicted = probabilities[:, k] >= threshold
            truth = targets[:, k] > 0.5
            tp = float((predicted & truth).sum())
            f1 = 2 * tp / max(float(predicted.sum() + truth.sum()), 1.0)
            if f1 >= best[0]:
                best = (f1, float(threshold))
        chosen.append(best[1])
    return chosen


def scene_examples(scenes, indices: Iterable[int] | None = None) -> tuple[list[np.ndarray], list[list[str]]]:
    images, labels = [], []
    for index in (range(len(scenes)) if indices is None else indices):
        scene = scenes[index]
        images.append(scene.image)
        labels.append(scene.labels)
    return images, labels


def extended_checkpoint(checkpoint, head: ExtensionHead, new_ids: Sequence[str], hidden: int) -> tuple[dict, dict]:
    """The inference checkpoint's tensors and metadata with the head added for `new_ids`."""
    state = checkpoint.state
    if checkpoint.kind == "full":
        state = {k[len("image."):]: v for k, v in state.items() if k.startswith("image.")}
    state = {**state, **{f"extension.{k}": v.detach().clone() for k, v in head.state_dict().items()}}
    metadata = {k: v for k, v in checkpoint.metadata.items() if k not in ("format", "version")}
    metadata["kind"] = "image"
    metadata["attribute_ids"] = list(checkpoint.attribute_ids) + list(new_ids)
    preset = json.loads(json.dumps(metadata["preset"]))
    preset["model"]["extension_attributes"] = len(new_ids)
    preset["model"]["extension_hidden"] = hidden
    metadata["preset"] = preset
    return state, metadata


def _fixed_mmap_threshold(size: int = 1 << 20) -> None:
    """Serve every allocation of `size` bytes or more by mmap, returned to the system when freed. glibc raises
    its threshold as large blocks are freed, and the feature cache's steady stream of few-megabyte
    temporaries then fragmented its heap: a run of 6,400 scenes (about 10 GB of features) grew past 24 GB and
    was killed for memory; with the threshold fixed at 1 MiB, 3,200 scenes stayed near 7 GB (resident size
    sampled every few minutes). No-op off glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-3, size)  # M_MMAP_THRESHOLD
    except (OSError, AttributeError):
        pass


def main(argv: Sequence[str] | None = None) -> int:
    from ..data.document_scenes import DocumentScenes
    from ..data.synthetic_parts.documents import DOCUMENT_IDS

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, default=embedded_model_path(), help="the trained model to extend")
    parser.add_argument("--out", type=Path, required=True, help="where to write the extended model")
    parser.add_argument("--scenes", type=int, default=3200, help="training scenes (seed 0, train backgrounds)")
    parser.add_argument("--heldout", type=int, default=800, help="held-out scenes (seed 1, val backgrounds)")
    parser.add_argument("--hidden", type=int, default=128, help="the head's hidden channels")
    parser.add_argument("--max-epochs", type=int, default=12)
    parser.add_argument("--data-root", type=Path, default=None)
    parser.add_argument("--report", type=Path, default=None, help="also write the measurements as JSON here")
    args = parser.parse_args(argv)
    started = time.time()
    _fixed_mmap_threshold()
    checkpoint = load_checkpoint(args.model)
    model = image_model_from_checkpoint(checkpoint)
    if model.config.extension_attributes:
        print(f"{args.model}: already extended ({model.config.extension_attributes} attributes); extend its base model", file=sys.stderr)
        return 1
    new_ids = [a for a in DOCUMENT_IDS if a not in model.attribute_ids]
    backgrounds = str(args.data_root / "coco128") if args.data_root is not None else "auto"
    scenes = DocumentScenes(args.scenes, seed=0, split="train", backgrounds=backgrounds)
    maps, labels = [], []
    for start in range(0, len(scenes), CHUNK):  # rendered and encoded a chunk at a time: only features are kept
        images, found = scene_examples(scenes, range(start, min(start + CHUNK, len(scenes))))
        maps += feature_maps(model, images)
        labels += found
    real_images, real_labels, _ = privmini_examples("train", args.data_root)
    maps += feature_maps(model, real_images)
    cut = int(0.8 * len(labels))
    targets = _targets(labels + real_labels, new_ids)
    fit = list(range(cut)) + list(range(len(labels), len(maps)))
    check = list(range(cut, len(labels)))
    validation_head, history = train_head([maps[k] for k in fit], targets[fit], args.hidden, args.max_epochs,
                                          watch=([maps[k] for k in check], targets[check]))
    epochs = int(np.argmax(history)) + 1
    if epochs < args.max_epochs:
        validation_head, _ = train_head([maps[k] for k in fit], targets[fit], args.hidden, epochs)
    thresholds = f1_thresholds(head_probabilities(validation_head, [maps[k] for k in check]), targets[check])
    head, _ = train_head(maps, targets, args.hidden, epochs)
    with torch.no_grad():  # each type's F1-best threshold on the validation fifth becomes the scanner's 0.5
        head.bias -= torch.logit(torch.tensor(thresholds))
    linear = fit_linear_probe(maps, targets)
    del maps
    state, metadata = extended_checkpoint(checkpoint, head, new_ids, args.hidden)
    command = "python -m privobf.train.extend " + " ".join(sys.argv[1:] if argv is None else argv)
    metadata["extended"] = {
        "attributes": new_ids,
        "how": "privobfnet.ExtensionHead trained on the frozen network's feature maps (privobf.train.extend)",
        "data": f"DocumentScenes seed 0 ({args.scenes} scenes, train backgrounds) + PrivMini train "
                f"({len(real_images)} photos, SROIE = a37_receipt)",
        "epochs": epochs, "hidden": args.hidden, "thresholds_moved_to_0.5": dict(zip(new_ids, thresholds)), "command": command, "base_model_sha256": file_digest(args.model),
    }
    save_checkpoint(args.out, state, metadata)
    report = {"command": command, "attributes": new_ids, "train_scenes": args.scenes,
              "privmini_train_photos": len(real_images),
              "validation_mean_ap_by_epoch": [round(v, 4) for v in history], "epochs": epochs,
              "f1_thresholds_on_validation": dict(zip(new_ids, thresholds))}
    report.update(evaluate_extension(args.out, DocumentScenes(args.heldout, seed=1, split="val", backgrounds=backgrounds), new_ids,
                                     args.data_root, linear))
    report["seconds"] = round(time.time() - started, 1)
    print(json.dumps(report, indent=1))
    if args.report is not None:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return 0


def evaluate_extension(path: Path, heldout, new_ids: Sequence[str], data_root: Path | None,
                       linear: tuple[torch.Tensor, torch.Tensor] | None = None) -> dict:
    """On held-out scenes: AP per new attribute from the saved model's probabilities (the mean over each
    photo and its mirror, as the scanner computes them), the share of one-document scenes whose most
    probable type is right, and the linear probe's AP for comparison; on PrivMini val: the receipts' AP
    and how often a photo without any document gets some type at >= 0.5."""
    model = image_model_from_checkpoint(load_checkpoint(path))
    index = [model.attribute_ids.index(a) for a in new_ids]
    images, labels = scene_examples(heldout)
    probabilities = _probabilities(model, images)[:, index]
    targets = _targets(labels, new_ids)
    result: dict = {"heldout": _scores(probabilities, targets, labels, new_ids)}
    if linear is not None:
        pooled = [m.float().mean((2, 3)) for m in feature_maps(model, images)]
        linear_probabilities = torch.stack([torch.sigmoid(p @ linear[0].T + linear[1]).mean(0) for p in pooled])
        result["heldout_linear_probe"] = _scores(linear_probabilities, targets, labels, new_ids)
    real_images, _, sources = privmini_examples("val", data_root)
    real = _probabilities(model, real_images)[:, index]
    others = [k for k, source in enumerate(sources) if source != "sroie"]
    result["privmini_val"] = {
        "photos": len(real_images), "sources": {s: sources.count(s) for s in sorted(set(sources))},
        "receipt_ap": (round(average_precision(real[:, new_ids.index(RECEIPT)].numpy(), np.array([s == "sroie" for s in sources])), 4)
                       if RECEIPT in new_ids else None),
        "receipts_above_0.5": round(float((real[[k for k, s in enumerate(sources) if s == "sroie"], new_ids.index(RECEIPT)] >= 0.5).float().mean()), 4)
        if RECEIPT in new_ids and "sroie" in sources else None,
        "other_photos_with_any_type_above_0.5": round(float((real[others] >= 0.5).any(1).float().mean()), 4) if others else None,
    }
    return result


def _scores(probabilities: torch.Tensor, targets: torch.Tensor, labels, new_ids) -> dict:
    ap = {a: round(average_precision(probabilities[:, k].numpy(), targets[:, k].numpy() > 0.5), 4) for k, a in enumerate(new_ids)}
    single = [k for k, found in enumerate(labels) if len(found) == 1]
    right = float(np.mean([new_ids[int(probabilities[k].argmax())] == labels[k][0] for k in single])) if single else float("nan")
    return {"scenes": len(labels), "positives": {a: int(targets[:, k].sum()) for k, a in enumerate(new_ids)},
            "ap": ap, "mean_ap": round(float(np.mean(list(ap.values()))), 4), "min_ap": round(min(ap.values()), 4),
            "top_type_right_single_document": round(right, 4), "single_document_scenes": len(single)}


def _probabilities(model: ImageModel, images: Sequence[np.ndarray]) -> torch.Tensor:
    """Attribute probabilities [N, K] as the scanner computes them (the mean over each image and its mirror)."""
    from ..scanning import Scanner

    scanner = Scanner(model)
    return torch.from_numpy(np.stack([scanner.predict(image)["probabilities"] for image in images]))


if __name__ == "__main__":
    sys.exit(main())

"""VISPR (Orekondy et al., ICCV 2017): image-level privacy attributes, and what they say about privacy scores.

Two on-disk layouts exist and both are read: the original release (`ROOT/annotations/{split}2017/{id}.json`,
one file per image) and the redistributed one (`ROOT/annotations_{split}2017.jsonl`, one JSON per line).
The images are distributed separately (Flickr / OpenImages), so annotations are routinely present without
them; the dataset therefore checks for images up front and says how many are missing instead of failing on
the first `__getitem__` of a multi-hour training run.

Every annotation problem is counted in a :class:`SkipReport` rather than raised, because one bad line in
ten thousand should not stop training, but it must not vanish silently either.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Literal, Sequence

import numpy as np
from torch.utils.data import Dataset

from ..attributes.profiles import SAFE_ID, Pooling, UserProfiles, vispr_profiles
from ..attributes.vocabulary import Vocabulary, vispr_vocabulary
from ..imageio import load_image
from .records import LabelledImage, SkipReport
from .roots import default_data_root

SPLITS = ("train", "val", "test")
QUANTILES = (0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0)


@dataclass(frozen=True)
class VisprRecord:
    """One image's annotation; `image_path` is as written in the annotation (relative to the data root)."""

    id: str
    image_path: str
    labels: tuple[str, ...]


def default_root() -> Path:
    """`$PRIVOBF_DATA/vispr`, else `<repo>/../shared/data/vispr` (see `privobf.data.roots`)."""
    return default_data_root() / "vispr"


def _split_name(split: str) -> str:
    """Accept `train` and `train2017` alike: users copy either spelling from the file names."""
    name = split[:-4] if split.endswith("2017") else split
    if name not in SPLITS:
        raise ValueError(f"unknown VISPR split {split!r}; use one of {', '.join(SPLITS)}")
    return name


# ----------------------------------------------------------------------------------------------- annotations


def _iter_jsonl(path: Path, report: SkipReport) -> Iterator[tuple[Any, str]]:
    """Parsed objects with a `file:line` label; unparseable lines are counted, not raised."""
    with path.open("r", encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            where = f"{path.name}:{line_number}"
            if not line.strip():
                continue
            try:
                yield json.loads(line), where
            except json.JSONDecodeError:
                report.add("malformed JSON line", where)


def _iter_folder(folder: Path, report: SkipReport) -> Iterator[tuple[Any, str]]:
    """Parsed per-image JSON files of the original layout, in a stable (sorted) order."""
    for path in sorted(folder.glob("*.json")):
        try:
            yield json.loads(path.read_text(encoding="utf-8", errors="replace")), path.name
        except (json.JSONDecodeError, OSError):
            report.add("malformed JSON file", path.name)


def _clean_labels(raw: list, where: str, vocabulary: Vocabulary, report: SkipReport) -> tuple[str, ...]:
    """Known, deduplicated labels in first-seen order; unknown ids are dropped (and counted) one by one."""
    kept: list[str] = []
    for label in raw:
        if not isinstance(label, str) or label not in vocabulary:
            report.add("unknown attribute id (label dropped)", f"{where} {label!r}")
        elif label in kept:
            report.add("duplicated label within an image (deduplicated)", f"{where} {label}")
        else:
            kept.append(label)
    return tuple(kept)


def _parse_entry(
    entry: Any, where: str, split: str, vocabulary: Vocabulary, report: SkipReport
) -> VisprRecord | None:
    """A record, or None (counted) when the entry cannot give one usable training example."""
    if not isinstance(entry, dict) or not isinstance(entry.get("id"), (str, int)):
        report.add("entry without an id", where)
        return None
    image_id = str(entry["id"])
    raw_labels = entry.get("labels")
    if not isinstance(raw_labels, list):
        report.add("entry without a labels list", f"{where} {image_id}")
        return None
    labels = _clean_labels(raw_labels, f"{where} {image_id}", vocabulary, report)
    if not labels:
        # VISPR marks safe images with a0_safe, so an empty list is a broken annotation, not a safe image.
        report.add("empty label list", f"{where} {image_id}")
        return None
    image_path = entry.get("image_path")
    if not isinstance(image_path, str) or not image_path:
        image_path = f"images/{split}2017/{image_id}.jpg"
    return VisprRecord(image_id, image_path, labels)


def read_vispr_annotations(
    root: str | Path | None, split: str, vocabulary: Vocabulary | None = None
) -> tuple[list[VisprRecord], SkipReport]:
    """All usable records of `split` under `root` (either layout) and a report of what was skipped.

    The JSON Lines file wins when both layouts are present, because it is the newer redistribution.
    Duplicated image ids keep their first record: later copies are usually re-exports of the same image.
    """
    root = Path(root) if root is not None else default_root()
    split = _split_name(split)
    vocabulary = vocabulary or vispr_vocabulary()
    report = SkipReport()
    jsonl = root / f"annotations_{split}2017.jsonl"
    folder = root / "annotations" / f"{split}2017"
    if jsonl.is_file():
        entries = _iter_jsonl(jsonl, report)
    elif folder.is_dir():
        entries = _iter_folder(folder, report)
    else:
        raise FileNotFoundError(f"no VISPR annotations for split {split!r} under {root} (looked for {jsonl} and {folder}/)")
    records: list[VisprRecord] = []
    seen: set[str] = set()
    for entry, where in entries:
        record = _parse_entry(entry, where, split, vocabulary, report)
        if record is None:
            continue
        if record.id in seen:
            report.add("duplicated image id (first kept)", f"{where} {record.id}")
            continue
        seen.add(record.id)
        records.append(record)
    return records, report


# ----------------------------------------------------------------------------------------------- dataset


def _resolve_image(image_root: Path, image_path: str) -> Path | None:
    """The file for an annotation path: as written, or by file name alone for flat image folders."""
    for candidate in (image_root / image_path, image_root / Path(image_path).name):
        if candidate.is_file():
            return candidate
    return None


class VisprDataset(Dataset):
    """Map-style VISPR dataset of :class:`LabelledImage` (image-level labels only: VISPR has no masks)."""

    def __init__(
        self,
        root: str | Path | None = None,
        split: str = "train",
        image_root: str | Path | None = None,
        missing: Literal["error", "skip"] = "error",
    ) -> None:
        if missing not in ("error", "skip"):
            raise ValueError(f"missing must be 'error' or 'skip', got {missing!r}")
        self.root = Path(root) if root is not None else default_root()
        self.split = _split_name(split)
        self.image_root = Path(image_root) if image_root is not None else self.root
        self.vocabulary = vispr_vocabulary()
        self.vocabulary_ids = self.vocabulary.ids
        records, self.skips = read_vispr_annotations(self.root, self.split, self.vocabulary)
        self.records, self.paths = self._attach_images(records, missing)

    def _attach_images(self, records: list[VisprRecord], missing: str) -> tuple[list[VisprRecord], list[Path]]:
        """Check every image now, so a missing download is reported once, up front, with numbers."""
        kept: list[VisprRecord] = []
        paths: list[Path] = []
        absent: list[VisprRecord] = []
        for record in records:
            path = _resolve_image(self.image_root, record.image_path)
            if path is None:
                absent.append(record)
            else:
                kept.append(record)
                paths.append(path)
        if absent and missing == "error":
            raise FileNotFoundError(
                f"{len(absent)} of {len(records)} images of split {self.split} are missing under {self.image_root} "
                f"(first: {absent[0].image_path}); download them, pass image_root=..., or missing='skip'"
            )
        for record in absent:
            self.skips.add("image file missing", record.image_path)
        return kept, paths

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, index: int) -> LabelledImage:
        """Decode on access; a corrupt file raises ImageLoadError naming it rather than yielding garbage."""
        record = self.records[index]
        path = self.paths[index]
        pixels = load_image(path).pixels
        return LabelledImage(image_id=record.id, path=path, image=pixels, labels=list(record.labels))


# ----------------------------------------------------------------------------------------------- statistics


def _label_matrix(records: Sequence[VisprRecord], vocabulary: Vocabulary) -> np.ndarray:
    """Multi-hot [N, K] labels, the input `UserProfiles` scores."""
    matrix = np.zeros((len(records), len(vocabulary)), dtype=np.float32)
    for row, record in enumerate(records):
        matrix[row] = vocabulary.encode(record.labels)
    return matrix


def privacy_score_statistics(
    records: Sequence[VisprRecord], profiles: UserProfiles | None = None, pooling: Pooling = "max"
) -> dict[str, Any]:
    """Distribution of the overall [0, 1] privacy score over `records`, to describe a split in the docs.

    `share_safe` counts images labelled only a0_safe *or* scoring 0, since both mean "nothing a user
    minds"; `attributes_per_image` excludes a0_safe, which is a marker, not an attribute.
    """
    if not records:
        raise ValueError("privacy_score_statistics needs at least one record")
    profiles = profiles or vispr_profiles()
    scores = profiles.overall(_label_matrix(records, profiles.vocabulary), pooling).astype(np.float64)
    safe = [tuple(r.labels) == (SAFE_ID,) or s == 0.0 for r, s in zip(records, scores)]
    private_counts = [sum(1 for label in r.labels if label != SAFE_ID) for r in records]
    return {
        "n": len(records),
        "mean": float(scores.mean()),
        "std": float(scores.std()),
        "quantiles": {q: float(v) for q, v in zip(QUANTILES, np.quantile(scores, QUANTILES))},
        "share_safe": float(np.mean(safe)),
        "attributes_per_image": float(np.mean(private_counts)),
    }


def statistics_table(root: str | Path | None = None, splits: Sequence[str] = SPLITS) -> str:
    """A markdown table of :func:`privacy_score_statistics` per split, for pasting into the docs."""
    lines = [
        "| split | n | mean | median | q10 | q90 | share safe | attributes/image |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for split in splits:
        records, _ = read_vispr_annotations(root, split)
        s = privacy_score_statistics(records)
        q = s["quantiles"]
        lines.append(
            f"| {split} | {s['n']} | {s['mean']:.3f} | {q[0.5]:.3f} | {q[0.1]:.3f} | {q[0.9]:.3f} "
            f"| {s['share_safe']:.3f} | {s['attributes_per_image']:.2f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":  # python -m privobf.data.vispr [ROOT]
    print(statistics_table(sys.argv[1] if len(sys.argv) > 1 else None))

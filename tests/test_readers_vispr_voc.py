"""VISPR and VOC readers: every kind of bad annotation is counted, never crashes, never vanishes."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf.attributes.profiles import UserProfiles, vispr_profiles
from privobf.attributes.vocabulary import vispr_vocabulary
from privobf.data.sources import build_source
from privobf.data.vispr import (
    VisprDataset,
    VisprRecord,
    privacy_score_statistics,
    read_vispr_annotations,
    statistics_table,
)
from privobf.data.voc import VOC_CLASSES, VocDataset, parse_split_line
from privobf.imageio import ImageLoadError

from .conftest import data_root

# ----------------------------------------------------------------------------------------------- VISPR helpers


def _line(image_id: str, labels: list, split: str = "train") -> str:
    return json.dumps({"id": image_id, "image_path": f"images/{split}2017/{image_id}.jpg", "labels": labels})


def _write_jpeg(path: Path, size: int = 32) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((size, size, 3), 120, dtype=np.uint8)).save(path)


@pytest.fixture
def jsonl_root(tmp_path: Path) -> Path:
    lines = [
        _line("img1", ["a9_face_complete", "a19_name_full"]),
        "{not json",
        _line("img2", ["a0_safe"]),
        _line("img3", ["a9_face_complete", "a9_face_complete"]),
        _line("img4", []),
        _line("img5", ["a999_bogus", "a17_color"]),
        _line("img1", ["a0_safe"]),
        "",
        _line("img6", ["a999_bogus"]),
    ]
    (tmp_path / "annotations_train2017.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


# ----------------------------------------------------------------------------------------------- VISPR annotations


def test_jsonl_layout_skips_and_counts_every_problem(jsonl_root: Path) -> None:
    records, report = read_vispr_annotations(jsonl_root, "train")
    assert [r.id for r in records] == ["img1", "img2", "img3", "img5"]
    assert records[0].labels == ("a9_face_complete", "a19_name_full")  # first copy of img1 kept
    assert records[2].labels == ("a9_face_complete",)
    assert records[3].labels == ("a17_color",)
    assert report.counts["malformed JSON line"] == 1
    assert report.examples["malformed JSON line"] == ["annotations_train2017.jsonl:2"]
    assert report.counts["duplicated label within an image (deduplicated)"] == 1
    assert report.counts["empty label list"] == 2  # img4, and img6 once its only (unknown) label is dropped
    assert report.counts["unknown attribute id (label dropped)"] == 2
    assert report.counts["duplicated image id (first kept)"] == 1
    assert report.total == 7


def test_original_folder_layout_and_split_spelling(tmp_path: Path) -> None:
    folder = tmp_path / "annotations" / "val2017"
    folder.mkdir(parents=True)
    (folder / "b.json").write_text(_line("b", ["a0_safe"], "val"), encoding="utf-8")
    (folder / "a.json").write_text(_line("a", ["a17_color"], "val"), encoding="utf-8")
    (folder / "broken.json").write_text("{", encoding="utf-8")
    records, report = read_vispr_annotations(tmp_path, "val2017")
    assert [r.id for r in records] == ["a", "b"]
    assert records[0].image_path == "images/val2017/a.jpg"
    assert report.counts == {"malformed JSON file": 1}


def test_missing_annotations_and_bad_split_are_clear(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no VISPR annotations for split 'test'"):
        read_vispr_annotations(tmp_path, "test")
    with pytest.raises(ValueError, match="unknown VISPR split"):
        read_vispr_annotations(tmp_path, "dev")


# ----------------------------------------------------------------------------------------------- VISPR dataset


def test_dataset_refuses_missing_images_with_numbers(jsonl_root: Path) -> None:
    _write_jpeg(jsonl_root / "images" / "train2017" / "img1.jpg")
    with pytest.raises(FileNotFoundError) as caught:
        VisprDataset(jsonl_root, "train")
    assert "3 of 4 images of split train are missing under" in str(caught.value)
    assert "(first: images/train2017/img2.jpg)" in str(caught.value)


def test_dataset_skips_missing_images_when_asked(jsonl_root: Path) -> None:
    _write_jpeg(jsonl_root / "images" / "train2017" / "img1.jpg")
    _write_jpeg(jsonl_root / "images" / "train2017" / "img3.jpg")
    dataset = build_source("vispr", root=jsonl_root, split="train", missing="skip")
    assert isinstance(dataset, VisprDataset)
    assert len(dataset) == 2
    assert dataset.skips.counts["image file missing"] == 2
    assert dataset.vocabulary_ids == vispr_vocabulary().ids and len(dataset.vocabulary_ids) == 68
    item = dataset[1]
    assert item.image_id == "img3" and item.labels == ["a9_face_complete"]
    assert item.image.shape == (32, 32, 3) and item.image.dtype == np.uint8
    assert item.masks == {}


def test_dataset_with_separate_flat_image_root(jsonl_root: Path, tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    for image_id in ("img1", "img2", "img3", "img5"):
        _write_jpeg(flat / f"{image_id}.jpg")
    dataset = VisprDataset(jsonl_root, "train", image_root=flat)
    assert len(dataset) == 4 and dataset[0].path == flat / "img1.jpg"


def test_corrupt_image_raises_naming_the_file(jsonl_root: Path) -> None:
    images = jsonl_root / "images" / "train2017"
    for image_id in ("img1", "img2", "img3", "img5"):
        _write_jpeg(images / f"{image_id}.jpg")
    (images / "img2.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated")
    dataset = VisprDataset(jsonl_root, "train")
    with pytest.raises(ImageLoadError, match="img2.jpg"):
        dataset[1]


# ----------------------------------------------------------------------------------------------- VISPR statistics


@pytest.fixture
def tiny_profiles() -> UserProfiles:
    """Two profiles over four attributes, sensitivities chosen to make the scores easy to work out by hand."""
    vocabulary = vispr_vocabulary().subset(["a0_safe", "a9_face_complete", "a19_name_full", "a17_color"], "tiny")
    sensitivity = np.array([[0, 4, 2, 0], [0, 2, 5, 0]], dtype=np.float32)
    return UserProfiles(vocabulary, sensitivity, ("p0", "p1"))


def _records(*label_sets: tuple[str, ...]) -> list[VisprRecord]:
    return [VisprRecord(f"r{k}", f"r{k}.jpg", labels) for k, labels in enumerate(label_sets)]


def test_statistics_match_hand_computed_scores(tiny_profiles: UserProfiles) -> None:
    # overall scores: safe 0; face (4/5+2/5)/2 = .6; face+name max -> (4/5+5/5)/2 = .9; name (2/5+5/5)/2 = .7
    records = _records(("a0_safe",), ("a9_face_complete",), ("a9_face_complete", "a19_name_full"), ("a19_name_full",))
    stats = privacy_score_statistics(records, tiny_profiles)
    assert stats["n"] == 4
    assert stats["mean"] == pytest.approx(0.55)
    assert stats["std"] == pytest.approx(np.sqrt(0.45 / 4))
    assert stats["quantiles"][0.0] == pytest.approx(0.0)
    assert stats["quantiles"][0.5] == pytest.approx(0.65)
    assert stats["quantiles"][1.0] == pytest.approx(0.9)
    assert stats["quantiles"][0.25] == pytest.approx(0.45)  # linear: 0 + 0.75 * (0.6 - 0)
    assert stats["share_safe"] == pytest.approx(0.25)
    assert stats["attributes_per_image"] == pytest.approx(1.0)


def test_zero_sensitivity_attribute_counts_as_safe_but_as_an_attribute(tiny_profiles: UserProfiles) -> None:
    stats = privacy_score_statistics(_records(("a17_color",), ("a19_name_full",)), tiny_profiles)
    assert stats["share_safe"] == pytest.approx(0.5)
    assert stats["attributes_per_image"] == pytest.approx(1.0)
    assert stats["mean"] == pytest.approx(0.35)


def test_statistics_with_real_profiles_agree_with_single_image_score() -> None:
    profiles = vispr_profiles()
    labels = ("a9_face_complete", "a19_name_full")
    expected = float(profiles.overall(profiles.vocabulary.encode(labels)))
    stats = privacy_score_statistics(_records(labels), profiles)
    assert 0.0 < expected <= 1.0 and stats["mean"] == pytest.approx(expected)
    with pytest.raises(ValueError):
        privacy_score_statistics([], profiles)


VISPR_SIZES = {"train": 10_000, "val": 4_167, "test": 8_000}


def test_real_vispr_annotations_are_sane() -> None:
    root = data_root() / "vispr"
    if not all((root / f"annotations_{s}2017.jsonl").is_file() for s in VISPR_SIZES):
        pytest.skip(f"real VISPR annotations not found under {root}")
    for split, size in VISPR_SIZES.items():
        records, report = read_vispr_annotations(root, split)
        assert len(records) == size, report.summary()
        stats = privacy_score_statistics(records)
        assert 0.0 < stats["share_safe"] < 1.0
        assert 0.0 <= stats["quantiles"][0.0] <= stats["mean"] <= stats["quantiles"][1.0] <= 1.0
        assert stats["attributes_per_image"] > 1.0
    table = statistics_table(root, splits=("val",))
    assert table.splitlines()[2].startswith("| val | 4167 |")


# ----------------------------------------------------------------------------------------------- VOC fixture

PALETTE = [0, 0, 0, 128, 0, 0, 0, 128, 0] + [64] * (256 * 3 - 9)


def _palette_png(path: Path, indices: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(indices.astype(np.uint8), mode="P")
    image.putpalette(PALETTE)
    image.save(path)


def _xml(path: Path, names: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    objects = "".join(f"<object><name>{n}</name></object>" for n in names)
    path.write_text(f"<annotation><filename>x.jpg</filename>{objects}</annotation>", encoding="utf-8")


PERSON, CAT, DOG = VOC_CLASSES.index("person"), VOC_CLASSES.index("cat"), VOC_CLASSES.index("dog")


@pytest.fixture
def voc_root(tmp_path: Path) -> Path:
    """Three images: a person+cat with 255 borders, a background-only image, and one without a mask."""
    root = tmp_path / "VOC2012"
    mask_a = np.zeros((20, 24), dtype=np.uint8)
    mask_a[2:8, 2:8] = PERSON
    mask_a[1, 1:9] = 255
    mask_a[10:18, 12:20] = CAT
    mask_b = np.zeros((20, 24), dtype=np.uint8)
    mask_b[0, :] = 255
    for image_id in ("a", "b", "c"):
        _write_jpeg_rect(root / "JPEGImages" / f"{image_id}.jpg")
    _palette_png(root / "SegmentationClass" / "a.png", mask_a)
    _palette_png(root / "SegmentationClassAug" / "b.png", mask_b)
    _xml(root / "Annotations" / "a.xml", ["person", "cat", "dog", "unicorn"])
    (root / "Annotations" / "b.xml").write_text("<annotation><object>", encoding="utf-8")
    seg = root / "ImageSets" / "Segmentation"
    seg.mkdir(parents=True)
    (seg / "train.txt").write_text("a\nb\nc\na\n\n", encoding="utf-8")
    aug = root / "ImageSets" / "SegmentationAug"
    aug.mkdir(parents=True)
    (aug / "train_aug.txt").write_text(
        "/JPEGImages/b.jpg /SegmentationClassAug/b.png\n/JPEGImages/a.jpg /SegmentationClass/a.png\n", encoding="utf-8"
    )
    return root


def _write_jpeg_rect(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((20, 24, 3), 90, dtype=np.uint8)).save(path)


# ----------------------------------------------------------------------------------------------- VOC tests


def test_voc_labels_masks_ignore_and_skips(voc_root: Path) -> None:
    dataset = VocDataset(voc_root, "train")
    assert [e.id for e in dataset.entries] == ["a", "b"]
    assert dataset.skips.counts == {"segmentation mask missing": 1, "duplicated id in split list": 1}
    assert dataset.vocabulary_ids == list(VOC_CLASSES[1:]) and len(dataset.vocabulary_ids) == 20
    item = dataset[0]
    assert item.labels == ["cat", "person"]
    assert item.image.shape == (20, 24, 3)
    assert int(item.masks["person"].sum()) == 36 and item.masks["person"][3, 3]
    assert int(item.masks["cat"].sum()) == 64 and not item.masks["cat"][3, 3]
    assert item.ignore is not None and int(item.ignore.sum()) == 8 and item.ignore[1, 4]
    background = dataset[1]
    assert background.labels == [] and background.masks == {} and int(background.ignore.sum()) == 24


def test_voc_xml_labels_and_unreadable_xml(voc_root: Path) -> None:
    dataset = VocDataset(voc_root, "train", image_level_from="xml")
    assert [e.id for e in dataset.entries] == ["a"]
    assert dataset.skips.counts["unreadable or missing XML annotation"] == 1
    assert dataset.skips.counts["unknown class name in XML (object ignored)"] == 1
    item = dataset[0]
    assert item.labels == ["cat", "dog", "person"]
    assert not item.masks["dog"].any()  # listed in XML but not painted


def test_voc_train_aug_list(voc_root: Path) -> None:
    dataset = build_source("voc", root=voc_root, split="train_aug")
    assert [e.id for e in dataset.entries] == ["b", "a"]
    assert dataset.entries[0].mask_path == voc_root / "SegmentationClassAug" / "b.png"
    assert dataset.skips.total == 0
    assert parse_split_line("2007_000032") == ("2007_000032", None)
    assert parse_split_line("  ") is None


def test_voc_rgb_mask_is_refused_by_name(voc_root: Path) -> None:
    Image.new("RGB", (24, 20)).save(voc_root / "SegmentationClass" / "a.png")
    with pytest.raises(ImageLoadError, match="a.png.*mode RGB"):
        VocDataset(voc_root, "train")[0]


def test_voc_missing_split_list(voc_root: Path) -> None:
    with pytest.raises(FileNotFoundError, match="val.txt"):
        VocDataset(voc_root, "val")

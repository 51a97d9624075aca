"""COCO JSON and YOLO-folder readers: decoders against hand-made data, readers on fake trees and real COCO128."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from privobf.data.coco import (
    CocoDataset,
    decode_rle_string,
    encode_rle_string,
    mask_to_rle_counts,
    polygon_to_mask,
    rle_to_mask,
)
from privobf.data.sources import build_source
from privobf.data.yolo import YoloDataset, parse_class_names, split_loops

from .conftest import data_root

COCO128 = data_root() / "coco128"
needs_coco128 = pytest.mark.skipif(
    not (COCO128 / "object_detection").is_dir(), reason=f"COCO128 not found at {COCO128} (set PRIVOBF_DATA)"
)


def _save_image(path: Path, height: int, width: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 128, dtype=np.uint8)).save(path)


# --- RLE and polygon decoders ---------------------------------------------------------------------------


def test_compressed_rle_known_strings():
    # Worked by hand: small counts are one char (48 + n); 40 needs two groups; the 5th count is stored as
    # 3 - 10 = -7, one group with the sign bit; the 4th as 5 - 1 = 4.
    assert decode_rle_string("325") == [3, 2, 5]
    assert decode_rle_string("0X1") == [0, 40]
    assert decode_rle_string("1114") == [1, 1, 1, 5]
    assert decode_rle_string("11:0I") == [1, 1, 10, 1, 3]
    assert encode_rle_string([1, 1, 10, 1, 3]) == "11:0I"


def test_rle_is_column_major():
    # 2x3 image, counts 0,2,4: the first column (2 pixels) is on, which is row-major's first row only if wrong.
    mask = rle_to_mask({"counts": [0, 2, 4], "size": [2, 3]}, 2, 3)
    assert mask.tolist() == [[True, False, False], [True, False, False]]
    assert rle_to_mask({"counts": encode_rle_string([0, 2, 4]), "size": [2, 3]}, 2, 3).tolist() == mask.tolist()


def test_rle_with_wrong_total_raises():
    with pytest.raises(ValueError):
        rle_to_mask({"counts": [1, 2], "size": [2, 3]}, 2, 3)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 12),
    st.integers(1, 12),
    st.integers(0, 2**32 - 1),
    st.sampled_from([0.05, 0.5, 0.95]),
)
def test_compressed_rle_round_trips_random_masks(height, width, seed, density):
    mask = np.random.default_rng(seed).random((height, width)) < density
    counts = mask_to_rle_counts(mask)
    assert decode_rle_string(encode_rle_string(counts)) == counts
    rle = {"counts": encode_rle_string(counts), "size": [height, width]}
    np.testing.assert_array_equal(rle_to_mask(rle, height, width), mask)
    np.testing.assert_array_equal(rle_to_mask({"counts": counts, "size": [height, width]}, height, width), mask)


def test_rle_round_trips_large_runs():
    mask = np.zeros((300, 400), dtype=bool)
    mask[50:250, 100:390] = True
    counts = mask_to_rle_counts(mask)
    np.testing.assert_array_equal(rle_to_mask({"counts": encode_rle_string(counts)}, 300, 400), mask)


def test_polygon_to_mask_fills_square_and_unions_pieces():
    square = [2, 2, 8, 2, 8, 6, 2, 6]  # outline pixels included: x 2..8, y 2..6
    other = [10, 0, 12, 0, 12, 2, 10, 2]
    mask = polygon_to_mask([square, other], 10, 14)
    expected = np.zeros((10, 14), dtype=bool)
    expected[2:7, 2:9] = True
    expected[0:3, 10:13] = True
    np.testing.assert_array_equal(mask, expected)


# --- COCO JSON reader -----------------------------------------------------------------------------------


def _ring(x0: int, y0: int, x1: int, y1: int) -> list[float]:
    return [x0, y0, x1, y0, x1, y1, x0, y1]


@pytest.fixture
def coco_tree(tmp_path: Path) -> Path:
    """3 listed images (one missing on disk), polygon, list RLE, string RLE, crowd and broken annotations."""
    height, width = 20, 30
    for name in ("a.jpg", "b.jpg"):
        _save_image(tmp_path / "val2017" / name, height, width)
    car = np.zeros((height, width), dtype=bool)
    car[5:15, 10:20] = True
    crowd = np.zeros((height, width), dtype=bool)
    crowd[0:4, 0:30] = True
    annotations = [
        {"id": 1, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [2, 3, 8, 5], "segmentation": [_ring(2, 3, 10, 8)]},
        {"id": 2, "image_id": 1, "category_id": 1, "iscrowd": 0, "bbox": [20, 10, 50, 50],
         "segmentation": [_ring(20, 10, 30, 20)]},
        {"id": 3, "image_id": 1, "category_id": 3, "iscrowd": 0, "bbox": [10, 5, 10, 10],
         "segmentation": {"counts": encode_rle_string(mask_to_rle_counts(car)), "size": [height, width]}},
        {"id": 4, "image_id": 2, "category_id": 1, "iscrowd": 1, "bbox": [0, 0, 30, 4],
         "segmentation": {"counts": mask_to_rle_counts(crowd), "size": [height, width]}},
        {"id": 5, "image_id": 3, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 1, 1], "segmentation": []},
        {"id": 6, "image_id": 99, "category_id": 1, "iscrowd": 0, "bbox": [0, 0, 1, 1], "segmentation": []},
        {"id": 7, "image_id": 2, "category_id": 42, "iscrowd": 0, "bbox": [0, 0, 1, 1], "segmentation": []},
        {"id": 8, "image_id": 2, "category_id": 3, "iscrowd": 0, "bbox": [0, 0, 1, 1],
         "segmentation": {"counts": [5, 5], "size": [2, 5]}},
    ]
    document = {
        "images": [
            {"id": 1, "file_name": "a.jpg", "height": height, "width": width},
            {"id": 2, "file_name": "b.jpg", "height": height, "width": width},
            {"id": 3, "file_name": "gone.jpg", "height": height, "width": width},
        ],
        "categories": [{"id": 1, "name": "person"}, {"id": 3, "name": "car"}],
        "annotations": annotations,
    }
    (tmp_path / "annotations").mkdir()
    (tmp_path / "annotations" / "instances_val2017.json").write_text(json.dumps(document))
    return tmp_path


def test_coco_reader_masks_boxes_labels(coco_tree):
    dataset = CocoDataset(coco_tree, "val2017")
    assert len(dataset) == 2 and dataset.vocabulary_ids == ["person", "car"]
    first = dataset[0]
    assert first.image_id == "1" and first.labels == ["car", "person"]
    person = np.zeros((20, 30), dtype=bool)
    person[3:9, 2:11] = True  # outline pixels included
    person[10:20, 20:30] = True  # reaches the image edge
    np.testing.assert_array_equal(first.masks["person"], person)
    assert first.masks["car"].sum() == 100 and first.masks["car"][5:15, 10:20].all()
    assert first.boxes["person"] == [(2.0, 3.0, 10.0, 8.0), (20.0, 10.0, 30.0, 20.0)]  # second clipped
    assert not first.ignore.any()


def test_coco_reader_crowd_goes_to_ignore(coco_tree):
    second = CocoDataset(coco_tree, "val2017")[1]
    assert second.labels == ["car", "person"]
    assert "person" not in second.masks and "person" not in second.boxes
    assert second.ignore.sum() == 4 * 30 and second.ignore[0:4].all()
    assert second.extra["crowd_boxes"] == {"person": [(0.0, 0.0, 30.0, 4.0)]}
    assert "car" not in second.masks  # its RLE is for a 2x5 image


def test_coco_reader_skip_report(coco_tree):
    dataset = CocoDataset(coco_tree, "val2017", class_map={"person": "x1_person_body"})
    assert dataset.skips.counts == {
        "image file missing": 1,
        "annotation for unknown or missing image": 2,  # image 3 is missing, image 99 never existed
        "unknown category id": 1,
        "category not in class_map": 2,
    }
    assert dataset.vocabulary_ids == ["x1_person_body"]
    assert dataset[0].labels == ["x1_person_body"] and set(dataset[0].masks) == {"x1_person_body"}
    full = CocoDataset(coco_tree, "val2017")
    full[1]
    assert full.skips.counts["RLE size differs from image"] == 1


# --- YOLO reader: fake tree -----------------------------------------------------------------------------


@pytest.fixture
def yolo_tree(tmp_path: Path) -> Path:
    for stem in ("img1", "img2", "img3"):
        _save_image(tmp_path / "images" / "train" / f"{stem}.jpg", 40, 80)
    det = tmp_path / "object_detection"
    (det / "labels" / "train").mkdir(parents=True)
    (det / "config.yaml").write_text("path: .\nnames:\n  0: person\n  1: 'car'  # comment\nother: 1\n")
    (det / "labels" / "train" / "img1.txt").write_text(
        "0 0.5 0.5 0.5 0.5\n"  # inside
        "0 0.95 0.1 0.2 0.4\n"  # crosses right and top edges: clipped
        "1 1.5 0.5 0.2 0.2\n"  # entirely outside: degenerate
        "7 0.5 0.5 0.1 0.1\n"  # unknown class
        "0 0.5 0.5\n"  # malformed
    )
    (det / "labels" / "train" / "img2.txt").write_text("1 0.25 0.25 0.5 0.5\n")
    (det / "labels" / "train" / "orphan.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    seg = tmp_path / "instance_segmentation"
    (seg / "labels" / "train").mkdir(parents=True)
    (seg / "config.yaml").write_text("names:\n  1: person\n  3: car\n")
    # One person row with two loops: an outer square and a hole inside it (closed by repeating start points).
    outer = "0.1 0.1 0.5 0.1 0.5 0.9 0.1 0.9 0.1 0.1"
    hole = "0.2 0.3 0.4 0.3 0.4 0.7 0.2 0.7 0.2 0.3"
    (seg / "labels" / "train" / "img1.txt").write_text(f"1 {outer} {hole}\n3 0.6 0.1 0.9 0.1 0.9 0.5\n")
    sem = tmp_path / "semantic_segmentation"
    (sem / "masks" / "train").mkdir(parents=True)
    (sem / "config.yaml").write_text("train:\n  masks: masks/train\nclasses:\n  0: unlabeled\n  1: person\n  5: sky\n")
    index_map = np.zeros((40, 80), dtype=np.uint8)
    index_map[0:10] = 5
    index_map[20:30, 10:20] = 1
    index_map[35:, :] = 9
    Image.fromarray(index_map).save(sem / "masks" / "train" / "img2.png")
    return tmp_path


def test_parse_class_names_reads_only_the_named_block(yolo_tree):
    assert parse_class_names(yolo_tree / "object_detection" / "config.yaml", "names") == {0: "person", 1: "car"}
    with pytest.raises(ValueError):
        parse_class_names(yolo_tree / "object_detection" / "config.yaml", "classes")


def test_yolo_detect_clips_counts_and_keeps_unlabelled_images(yolo_tree):
    dataset = YoloDataset(yolo_tree, "train", "detect")
    assert len(dataset) == 3 and dataset.vocabulary_ids == ["person", "car"]
    first = dataset[0]
    assert first.labels == ["person"]
    expected = [(20.0, 10.0, 60.0, 30.0), (68.0, 0.0, 80.0, 12.0)]  # second clipped at right and top
    assert np.allclose(first.boxes["person"], expected)
    assert dataset[1].boxes == {"car": [(0.0, 0.0, 40.0, 20.0)]}
    third = dataset[2]
    assert third.labels == [] and third.extra["has_labels"] is False
    assert dataset.skips.counts == {
        "degenerate box": 1,
        "unknown class id": 1,
        "malformed row": 1,
        "no label file": 1,
        "label file without image": 1,
    }


def test_yolo_class_map_drops_and_counts_unmapped(yolo_tree):
    dataset = YoloDataset(yolo_tree, "train", "detect", class_map={"person": "x1_person_body"})
    assert dataset.vocabulary_ids == ["x1_person_body"]
    assert dataset[0].labels == ["x1_person_body"] and dataset[1].labels == []
    assert dataset.skips.counts["class not in class_map"] == 1  # img2's car; img1's car was degenerate first


def test_split_loops_cuts_at_repeated_start():
    points = np.array([[0, 0], [1, 0], [1, 1], [0, 0], [5, 5], [6, 5], [6, 6]], dtype=float)
    loops = split_loops(points)
    assert [len(loop) for loop in loops] == [4, 3]


def test_yolo_segment_even_odd_hole_and_own_names(yolo_tree):
    dataset = YoloDataset(yolo_tree, "train", "segment")
    item = dataset[0]
    assert item.labels == ["car", "person"]
    person = item.masks["person"]
    assert person[20, 10] and person[5, 35]  # inside the outer square, outside the hole
    assert not person[20, 24]  # inside the hole (x 16..32, y 12..28)
    assert not person[20, 60]
    outer_only = np.zeros((40, 80), dtype=bool)
    outer_only[4:37, 8:41] = True
    hole = np.zeros((40, 80), dtype=bool)
    hole[12:29, 16:33] = True  # both outlines painted, so the hole's outline XORs away
    np.testing.assert_array_equal(person, outer_only & ~hole)
    assert item.masks["car"][5, 70] and not item.masks["car"][30, 70]
    assert dataset.skips.counts == {"no label file": 2}


def test_yolo_semantic_masks_skip_unlabelled_and_unknown(yolo_tree):
    dataset = YoloDataset(yolo_tree, "train", "semantic")
    assert dataset.vocabulary_ids == ["person", "sky"]
    item = dataset[1]
    assert item.labels == ["person", "sky"]
    assert item.masks["person"].sum() == 100 and item.masks["sky"].sum() == 800
    assert dataset.skips.counts == {"no label file": 2, "unknown class id": 1}


def test_sources_registry_builds_both(yolo_tree, coco_tree):
    assert len(build_source("yolo", root=yolo_tree, split="train", task="segment")) == 3
    assert len(build_source("coco", root=coco_tree, split="val2017")) == 2


# --- YOLO reader: real COCO128 --------------------------------------------------------------------------


def _person_stems(dataset: YoloDataset) -> set[str]:
    return {entry.image_path.stem for entry in dataset._entries if any(name == "person" for name, _ in entry.shapes)}


@needs_coco128
def test_coco128_person_count_and_boxes_in_bounds():
    dataset = YoloDataset(COCO128, "train2017", "detect")
    assert len(dataset) == 128
    # The README says 62 images contain a person: that counts label files, one of which (000000000659,
    # 7 persons) has no image; 61 of the 128 images that exist contain a person.
    assert len(_person_stems(dataset)) == 61
    assert dataset.skips.counts["label file without image"] == 2
    assert dataset.skips.counts["no label file"] == 2
    orphan = COCO128 / "object_detection" / "labels" / "train2017" / "000000000659.txt"
    assert any(line.startswith("0 ") for line in orphan.read_text().splitlines())
    for index in range(0, 128, 16):
        item = dataset[index]
        height, width = item.image.shape[:2]
        for x0, y0, x1, y1 in item.boxes.get("person", []):
            assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height


@needs_coco128
def test_coco128_person_polygons_lie_in_person_boxes_and_match_semantic_masks():
    detect = YoloDataset(COCO128, "train2017", "detect")
    segment = YoloDataset(COCO128, "train2017", "segment")
    semantic = YoloDataset(COCO128, "train2017", "semantic")
    assert len(_person_stems(segment)) == 51  # of the 100 images with masks
    assert _person_stems(segment) <= _person_stems(detect)
    checked = 0
    for index in range(len(segment)):
        seg_item = segment[index]
        if "person" not in seg_item.masks or checked >= 6:
            continue
        checked += 1
        mask = seg_item.masks["person"]
        in_boxes = np.zeros_like(mask)
        for x0, y0, x1, y1 in detect[index].boxes["person"]:
            in_boxes[int(y0) : int(np.ceil(y1)), int(x0) : int(np.ceil(x1))] = True
        assert (mask & in_boxes).sum() >= 0.95 * mask.sum()
        semantic_person = semantic[index].masks["person"]
        iou = (mask & semantic_person).sum() / (mask | semantic_person).sum()
        assert iou > 0.7, (seg_item.image_id, iou)
    assert checked == 6

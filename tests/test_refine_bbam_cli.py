"""`privobf train-detector` and `privobf bbam` end to end: checkpoint, stage folder, resume, failures, refusals."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from privobf.cli import main
from privobf.refine.bbam import IGNORE, box_region
from privobf.refine.bbam_commands import anchor_boxes, annotation_boxes, mask_boxes, non_maximum_suppression
from privobf.refine.detector import load_detector

SCENES = ["--size", "6", "--image-size", "64", "--data-seed", "3", "--no-progress"]
DETECTOR_OPTIONS = ["backbone=tiny", "pretrained=false", "output_stride=8", "image_long_side=64", "hidden=32",
                    "proposals_per_image=32", "batch_size=2", "max_steps=6", "lr=0.003", "backbone_lr_scale=1"]
# Published BBAM settings are for ~500 px photos and 300 iterations; a few steps on 64 px scenes exercise every part.
BBAM_OPTIONS = ["iterations=3", "proposal_samples=64", "max_positives=8", "stride_base=4", "stride_scale=12"]


def _options(flag: str, pairs: list[str]) -> list[str]:
    return [part for pair in pairs for part in (flag, pair)]


@pytest.fixture(autouse=True)
def one_thread():
    torch.set_num_threads(1)


@pytest.fixture(scope="module")
def detector(tmp_path_factory, tiny_model):
    path = tmp_path_factory.mktemp("detector") / "det.safetensors"
    code = main(["train-detector", "--model", str(tiny_model), "--out", str(path), *SCENES,
                 *_options("--option", DETECTOR_OPTIONS)])
    assert code == 0
    return path


def _scenes_with_boxes(tiny_model) -> dict[str, dict]:
    """Image id -> mask-derived boxes of the six scenes, computed here from the data set itself."""
    from privobf.data.sources import build_source
    from privobf.models.loading import load_image_model

    ids = load_image_model(tiny_model).attribute_ids
    scenes = build_source("synthetic", n=6, image_size=64, seed=3, split="train")
    expected = {}
    for index in range(len(scenes)):
        scene = scenes[index]
        boxes, source = annotation_boxes(scene, [c for c in scene.labels if c in ids and c != "a0_safe"])
        assert source == "mask-derived"
        if boxes:
            expected[f"{index:06d}"] = boxes
    return expected


def _bbam(out, detector, tiny_model, *extra) -> list[str]:
    return ["bbam", "--detector", str(detector), "--model", str(tiny_model), "--out", str(out), *SCENES,
            *_options("--option", BBAM_OPTIONS), *extra]


def _folder_outputs(folder) -> dict[str, tuple[np.ndarray, dict]]:
    outputs = {}
    for path in sorted(folder.glob("*.npz")):
        with np.load(path) as data:
            meta = json.loads(bytes(data["meta"]).decode())
            outputs[meta["image_id"]] = (data["labels"], meta)
    return outputs


def test_train_detector_writes_a_loadable_checkpoint_and_its_summary(detector, tiny_model):
    restored = load_detector(detector)
    expected = _scenes_with_boxes(tiny_model)
    present = {c for boxes in expected.values() for c in boxes}
    assert set(restored.classes) == present and restored.config.image_long_side == 64
    summary = json.loads(detector.with_name("det.summary.json").read_text())
    assert summary["images_used"] == len(expected)
    assert summary["skipped_without_boxes"] == 6 - len(expected)
    assert summary["boxes"] == sum(len(b) for boxes in expected.values() for b in boxes.values())
    assert summary["box_source"] == {"mask-derived": len(expected)}
    assert summary["steps"] == 6 and summary["failed"] == []


def test_bbam_folder_has_one_entry_per_boxed_image_with_masks_inside_boxes(tmp_path, detector, tiny_model, capsys):
    out = tmp_path / "bbam"
    assert main(_bbam(out, detector, tiny_model)) == 0
    result = json.loads(capsys.readouterr().out)["bbam"]
    expected = _scenes_with_boxes(tiny_model)
    outputs = _folder_outputs(out)
    assert set(outputs) == set(expected)
    assert result["done"] == len(expected) and result["skipped_without_boxes"] == 6 - len(expected)
    for image_id, (labels, meta) in outputs.items():
        assert meta["kind"] == "exclusive" and meta["box_source"] == "mask-derived"
        assert labels.shape == (64, 64) and labels.dtype == np.uint8
        inside = np.zeros((64, 64), bool)
        for class_boxes in expected[image_id].values():
            for box in class_boxes:
                inside |= box_region(box, (64, 64))
        assert (labels[~inside] == 0).all()  # BBAM labels nothing outside the boxes
        assert set(np.unique(labels[inside])) <= {0, IGNORE, *range(1, len(meta["classes"]) + 1)}
        assert sorted(meta["boxes"]) == sorted(expected[image_id])
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["stage"] == "pseudo-labels" and manifest["config"]["method"] == "bbam"

    assert main(["evaluate-maps", "--maps", str(out), "--model", str(tiny_model), *SCENES]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["n_images"] == len(expected) and 0.0 <= report["ignored_share"] <= 1.0

    # --resume finishes nothing twice: same files, same bytes.
    before = {path.name: path.stat().st_mtime_ns for path in out.glob("*.npz")}
    assert main([*_bbam(out, detector, tiny_model), "--resume"]) == 0
    again = json.loads(capsys.readouterr().out)["bbam"]
    assert again["done"] == 0 and again["resumed"] == len(expected)
    assert {path.name: path.stat().st_mtime_ns for path in out.glob("*.npz")} == before
    # ... and refuses to continue with other settings, naming the one that differs.
    assert main([*_bbam(out, detector, tiny_model), "--resume", "--option", "sparsity=0.01"]) == 2
    assert "config.bbam.sparsity" in capsys.readouterr().err


def test_train_seg_trains_on_a_bbam_folder(tmp_path, detector, tiny_model, capsys):
    labels = tmp_path / "bbam"
    assert main(_bbam(labels, detector, tiny_model, "--kind", "multilabel", "--option", "crf=false")) == 0
    stored = _folder_outputs(labels)
    assert all(meta["kind"] == "multilabel" and values.shape == (len(meta["classes"]), 64, 64)
               for values, meta in stored.values())
    seg = ["train-seg", "--labels", str(labels), "--model", str(tiny_model), "--out", str(tmp_path / "seg"), *SCENES,
           *_options("--option", ["epochs=1", "batch_size=2", "crop_size=48", "backbone=tiny", "pretrained=false"])]
    assert main(seg) == 0
    assert (tmp_path / "seg" / "segmentation.safetensors").is_file()


def test_detections_mode_keeps_the_detectors_boxes_of_labelled_classes(tmp_path, detector, tiny_model, capsys):
    out = tmp_path / "detected"
    # A detector trained for six steps scores low: a low threshold makes sure the path is exercised.
    code = main(_bbam(out, detector, tiny_model, "--boxes", "detections", "--kind", "multilabel",
                      "--detect-option", "score_threshold=0.05", "--detect-option", "max_detections=2"))
    assert code == 0
    outputs = _folder_outputs(out)
    assert outputs
    for labels, meta in outputs.values():
        assert meta["box_source"] == "detections"
        for row, class_id in enumerate(meta["classes"]):
            boxes = meta["boxes"].get(class_id, [])
            assert len(boxes) <= 2 and len(meta["scores"][class_id]) == len(boxes)
            assert all(score >= 0.05 for score in meta["scores"][class_id])
            inside = np.zeros((64, 64), bool)
            for box in boxes:
                inside |= box_region(box, (64, 64))
            assert (labels[row][~inside] == 0).all()


def _plate_folder(root, count: int, broken: int) -> dict[str, list[int]]:
    """An OpenALPR-layout folder of 64 px 'cars' with one bright plate each (photo `broken` is a truncated
    JPEG); returns each photo's plate box (x0, y0, x1, y1)."""
    root.mkdir()
    rng = np.random.default_rng(0)
    plates = {}
    for index in range(count):
        pixels = rng.integers(0, 90, (64, 64, 3)).astype(np.uint8)
        width, height = int(rng.integers(18, 30)), int(rng.integers(10, 16))
        x0, y0 = int(rng.integers(4, 60 - width)), int(rng.integers(4, 60 - height))
        pixels[y0 : y0 + height, x0 : x0 + width] = 230
        name = f"car{index}.jpg" if index == broken else f"car{index}.png"
        Image.fromarray(pixels).save(root / name)
        (root / f"car{index}.txt").write_text(f"{name}\t{x0}\t{y0}\t{width}\t{height}\tAB{index}CD\n")
        plates[f"car{index}"] = [x0, y0, x0 + width, y0 + height]
    path = root / f"car{broken}.jpg"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])  # the JPEG header survives (the reader indexes it), the pixels do not
    return plates


def test_plate_photos_give_bbam_masks_and_a_corrupt_photo_is_reported(tmp_path, tiny_model, capsys):
    """Annotated boxes (the OpenALPR reader's) through both commands: a detector that learned the plates
    has positive proposals, so BBAM's optimisation runs; the truncated photo is named, exit 1."""
    root = tmp_path / "plates"
    plates = _plate_folder(root, count=9, broken=2)
    data = ["--data", "openalpr", "--data-root", str(root), "--model", str(tiny_model), "--no-progress"]
    checkpoint = tmp_path / "plates.safetensors"
    options = [*DETECTOR_OPTIONS, "hidden=64", "proposals_per_image=48", "max_steps=50", "epochs=100", "lr=0.001"]
    assert main(["train-detector", "--out", str(checkpoint), *data, *_options("--option", options)]) == 1
    assert "#2" in capsys.readouterr().err
    summary = json.loads((tmp_path / "plates.summary.json").read_text())
    assert summary["images_used"] == 8 and [f["image"] for f in summary["failed"]] == ["#2"]
    assert summary["box_source"] == {"annotations": 8} and summary["steps"] == 50
    assert load_detector(checkpoint).classes == ["a103_license_plate_complete"]

    out = tmp_path / "bbam"
    bbam_options = ["iterations=10", "proposal_samples=300", "stride_base=4", "stride_scale=12", "crf=false"]
    assert main(["bbam", "--detector", str(checkpoint), "--out", str(out), *data, *_options("--option", bbam_options)]) == 1
    written = json.loads((out / "summary.json").read_text())
    assert [f["image"] for f in written["failed"]] == ["#2"] and written["done"] == 8
    outputs = _folder_outputs(out)
    assert sorted(outputs) == sorted(name for name in plates if name != "car2")
    optimised = 0
    for image_id, (labels, meta) in outputs.items():
        assert meta["box_source"] == "annotations"
        assert meta["boxes"] == {"a103_license_plate_complete": [plates[image_id]]}
        inside = box_region(tuple(plates[image_id]), (64, 64))
        assert (labels[~inside] == 0).all()
        optimised += meta["positives"]["a103_license_plate_complete"][0] > 0
    assert optimised >= 4  # most plates are explained by BBAM itself, not by the box fallback
    with np.load(out / "car0.npz") as stored:
        attribution = stored["attribution"].astype(np.float32)
    assert attribution.shape == (1, 64, 64) and attribution[0][~box_region(tuple(plates["car0"]), (64, 64))].max() == 0


def test_usage_mistakes_exit_2(tmp_path, detector, tiny_model, capsys):
    train = ["train-detector", "--model", str(tiny_model), *SCENES]
    assert main([*train, "--out", str(tmp_path / "d.safetensors"), "--option", "nonsense=1"]) == 2
    assert "DetectorConfig has no option 'nonsense'" in capsys.readouterr().err
    assert main([*train, "--out", str(tmp_path / "d.pt")]) == 2
    assert main(_bbam(tmp_path / "a", detector, tiny_model, "--option", "iterations=many")) == 2
    assert "iterations='many' is not a int" in capsys.readouterr().err
    assert main(_bbam(tmp_path / "b", detector, tiny_model, "--detect-option", "nms_iou=0.3")) == 2
    assert "only applies with --boxes detections" in capsys.readouterr().err
    assert main(["bbam", "--detector", str(tmp_path / "missing.safetensors"), "--out", str(tmp_path / "c"), *SCENES]) == 2
    with pytest.raises(SystemExit) as raised:
        main(_bbam(tmp_path / "d", detector, tiny_model, "--boxes", "guesses"))
    assert raised.value.code == 2
    assert not any((tmp_path / name).exists() for name in ("a", "b", "c", "d"))


# --- the pure parts ---------------------------------------------------------------------------------


def test_mask_boxes_one_box_per_part_and_small_fragments_dropped():
    mask = np.zeros((20, 30), bool)
    mask[2:6, 3:13] = True  # 40 px
    mask[10:18, 20:25] = True  # 40 px
    mask[0:3, 27:30] = True  # 9 px: a fragment
    assert mask_boxes(mask) == [(3.0, 2.0, 13.0, 6.0), (20.0, 10.0, 25.0, 18.0)]
    assert len(mask_boxes(mask, min_pixels=1)) == 3


def test_non_maximum_suppression_and_anchors():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [1.0, 1.0, 10.0, 10.0], [20.0, 20.0, 30.0, 30.0], [0.0, 0.0, 9.0, 10.0]])
    scores = torch.tensor([0.6, 0.9, 0.5, 0.1])
    assert non_maximum_suppression(boxes, scores, 0.5) == [1, 2]
    assert non_maximum_suppression(boxes, scores, 0.95) == [1, 0, 2, 3]
    from privobf.refine.bbam_commands import DetectionConfig

    anchors = anchor_boxes(48, 64, DetectionConfig(anchor_fractions=(0.25,), aspect_ratios=(1.0, 0.25)))
    assert anchors[:, 0].min() >= 0 and anchors[:, 2].max() <= 64 and anchors[:, 3].max() <= 48
    widths, heights = anchors[:, 2] - anchors[:, 0], anchors[:, 3] - anchors[:, 1]
    assert torch.isclose(widths.max(), torch.tensor(32.0)) and torch.isclose(heights.max(), torch.tensor(16.0))

"""Reproduction recipes on miniature trees in each original layout: `privobf train --data X --data-root DIR`."""

import json

import numpy as np
import pytest
from PIL import Image

from privobf.checkpoint import load_checkpoint
from privobf.cli import main


def _jpeg(path, seed):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(seed).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(path)


@pytest.fixture
def voc_root(tmp_path):
    root = tmp_path / "VOC2012"
    (root / "SegmentationClass").mkdir(parents=True)
    (root / "ImageSets" / "Segmentation").mkdir(parents=True)
    ids = [f"2007_00000{k}" for k in range(4)]
    for k, image_id in enumerate(ids):
        _jpeg(root / "JPEGImages" / f"{image_id}.jpg", k)
        mask = np.zeros((64, 64), np.uint8)
        mask[10:40, 10:40] = 15 if k % 2 else 7  # person or car
        mask[9, 9:41] = 255  # a boundary band, ignored
        png = Image.fromarray(mask, mode="P")
        png.putpalette([v for i in range(256) for v in (i, i, i)])
        png.save(root / "SegmentationClass" / f"{image_id}.png")
    (root / "ImageSets" / "Segmentation" / "train.txt").write_text("\n".join(ids) + "\n")
    return root


@pytest.fixture
def vispr_root(tmp_path):
    root = tmp_path / "vispr"
    rows = []
    for k, labels in enumerate([["a9_face_complete", "a4_gender"], ["a0_safe"], ["a30_credit_card"], ["a19_name_full"]]):
        image_id = f"2017_{k:08d}"
        _jpeg(root / "images" / "train2017" / f"{image_id}.jpg", k)
        rows.append(json.dumps({"id": image_id, "image_path": f"images/train2017/{image_id}.jpg", "labels": labels}))
    (root / "annotations_train2017.jsonl").write_text("\n".join(rows) + "\n")
    return root


def _train(data, root, out, *extra):
    return main(["train", "--preset", "tiny", "--data", data, "--data-root", str(root), "--epochs", "1",
                 "--out", str(out), "--no-progress", *extra])


def test_voc_recipe_trains_without_the_privacy_task(voc_root, tmp_path, capsys):
    assert _train("voc", voc_root, tmp_path / "run") == 0
    checkpoint = load_checkpoint(tmp_path / "run" / "model-image.safetensors")
    assert checkpoint.attribute_ids[:2] == ["aeroplane", "bicycle"] and len(checkpoint.attribute_ids) == 20
    assert checkpoint.metadata["preset"]["model"]["use_privacy_task"] is False
    assert "privacy task switched off" in capsys.readouterr().err
    # Table 5's seed quality: CAM label maps against SegmentationClass, 255 ignored, one confusion matrix.
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tmp_path / "run" / "model-image.safetensors"), "--data", "voc",
                 "--data-root", str(voc_root), "--split", "train", "--priors", "off", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["privacy_score"] is None  # no VISPR profile rates VOC classes
    seeds = result["seeds_label_map"]
    assert seeds["n_images"] == 4 and set(seeds["iou"]) >= {"background", "person", "car"}
    confusion = np.array(seeds["confusion"])
    assert confusion.sum() == 4 * (64 * 64 - 32)  # the 32 boundary pixels per image are ignored
    truth = confusion.sum(axis=1)  # rows: ground truth (background, then the 20 classes)
    assert truth[7] == 2 * 30 * 30 and truth[15] == 2 * 30 * 30 and truth[0] == 4 * (64 * 64 - 32 - 900)


def test_vispr_recipe_trains_all_tasks_on_the_68_attributes(vispr_root, tmp_path, capsys):
    assert _train("vispr", vispr_root, tmp_path / "run", "--prior-cache", str(tmp_path / "priors")) == 0
    checkpoint = load_checkpoint(tmp_path / "run" / "model.safetensors")
    assert len(checkpoint.attribute_ids) == 68
    assert checkpoint.metadata["preset"]["model"]["use_privacy_task"] is True
    assert checkpoint.metadata["trained"]["train_size"] == 4
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--model", str(tmp_path / "run" / "model-image.safetensors"), "--data", "vispr",
                 "--data-root", str(vispr_root), "--split", "train", "--priors", "off", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["privacy_score"]["n"] == 4 and "seeds_label_map" not in result
    assert result["setup"]["data"]["source"] == "vispr" and result["attributes"]["n_images"] == 4
    # Real photos get provider priors, computed once and cached: a second run reads them back.
    assert len(list((tmp_path / "priors").rglob("*.npz"))) == 4 * 4  # 4 images x 4 default providers
    assert '"misses": 16' in capsys.readouterr().err
    assert _train("vispr", vispr_root, tmp_path / "again", "--prior-cache", str(tmp_path / "priors"), "--epochs", "1") == 0
    assert '"hits": 16, "misses": 0' in capsys.readouterr().err


def test_real_data_without_a_root_or_with_an_empty_one_is_a_usage_error(tmp_path, capsys):
    assert main(["train", "--preset", "tiny", "--data", "voc", "--out", str(tmp_path / "r")]) == 2
    assert "needs --data-root" in capsys.readouterr().err
    assert _train("vispr", tmp_path / "nothing", tmp_path / "r") == 2
    assert "privobf: error:" in capsys.readouterr().err

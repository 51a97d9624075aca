"""The chained mask pipeline through the CLI: every stage's folder, resume, refusals, a bad image."""

from __future__ import annotations

import json

import numpy as np
import pytest

from privobf.cli import main


@pytest.fixture()
def data(tiny_model):
    return ["--size", "4", "--image-size", "64", "--no-progress", "--model", str(tiny_model)]


def test_wsss_chain_writes_every_stage_and_resumes(tmp_path, data, capsys):
    out = tmp_path / "run"
    arguments = ["wsss", "--scales", "1.0", "--refine", "irn", "--refine-option", "epochs=1", "--refine-option", "min_steps=0", "--refine-option", "batch_size=2",
                 "--refine-option", "lr=0.01", "--kind", "multilabel", "--no-label-crf", "--train-seg",
                 "--seg-option", "epochs=1", "--seg-option", "batch_size=2", "--seg-option", "crop_size=48",
                 "--seg-option", "backbone=tiny", "--seg-option", "pretrained=false", "--val-split", "val",
                 "--val-limit", "2", "--out", str(out), *data]
    assert main(arguments) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["seeds"]["done"] == 4 and result["refined"]["done"] == 4 and result["pseudo_labels"]["done"] == 4
    assert result["segmentation"]["validation"]["n_images"] == 2
    for folder in ("seeds", "refined-irn", "pseudo-labels"):
        assert len(list((out / folder).glob("*.npz"))) == 4
    assert (out / "refined-irn" / "irn.safetensors").is_file()
    assert (out / "segmentation" / "segmentation.safetensors").is_file()
    refined = np.load(next((out / "refined-irn").glob("*.npz")))
    assert "extra.boundary" in refined.files  # IRN keeps its boundary map beside the walked maps
    assert main([*arguments, "--resume"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["seeds"]["resumed"] == 4 and again["refined"]["resumed"] == 4 and again["seeds"]["done"] == 0
    assert main([*arguments[:-len(data)], "--resume", "--seed-method", "gradcam", *data]) == 2
    assert "config.method: 'cam' there, 'gradcam' now" in capsys.readouterr().err
    # The trained IRN head walks other seeds (here: per-class normalised) without training again.
    head = out / "refined-irn" / "irn.safetensors"
    before = head.read_bytes()
    walked = tmp_path / "per-class"
    assert main(["refine", "--method", "irn", "--seeds", str(out / "seeds"), "--head", str(head), "--option",
                 "normalise=per_class", "--out", str(walked), *data]) == 0
    assert len(list(walked.glob("*.npz"))) == 4 and not (walked / "irn.safetensors").exists()
    assert head.read_bytes() == before
    manifest = json.loads((walked / "manifest.json").read_text())
    assert manifest["config"]["head"]["path"] == str(head) and manifest["config"]["options"]["normalise"] == "per_class"
    assert main(["refine", "--method", "crf", "--seeds", str(out / "seeds"), "--head", str(head),
                 "--out", str(tmp_path / "crf"), *data]) == 2
    assert "crf has none" in capsys.readouterr().err


def test_step_by_step_crf_and_argmax_labels(tmp_path, data, capsys):
    seeds, refined, labels = tmp_path / "seeds", tmp_path / "crf", tmp_path / "labels"
    assert main(["cam", "--method", "gradcam", "--scales", "1.0", "--out", str(seeds), *data]) == 0
    assert main(["refine", "--method", "crf", "--seeds", str(seeds), "--out", str(refined), *data]) == 0
    capsys.readouterr()
    assert main(["evaluate-maps", "--maps", str(refined), *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["stage"]["config"]["method"] == "crf" and report["n_images"] == 4
    assert main(["pseudo-labels", "--maps", str(refined), "--mode", "argmax", "--out", str(labels), *data]) == 0
    stored = np.load(next(labels.glob("*.npz")))["labels"]
    assert stored.ndim == 2 and 255 not in np.unique(stored)  # one plane, no ignore band
    assert main(["pseudo-labels", "--maps", str(refined), "--mode", "argmax", "--kind", "multilabel",
                 "--out", str(tmp_path / "bad"), *data]) == 2
    assert "argmax pseudo labels are exclusive" in capsys.readouterr().err


def test_train_seg_refuses_a_folder_that_is_not_pseudo_labels(tmp_path, data, capsys):
    seeds = tmp_path / "seeds"
    assert main(["cam", "--scales", "1.0", "--out", str(seeds), *data]) == 0
    assert main(["train-seg", "--labels", str(seeds), "--out", str(tmp_path / "seg"), *data]) == 2
    assert "expected pseudo-labels" in capsys.readouterr().err


def test_a_bad_image_is_reported_and_the_rest_done(tmp_path, tiny_model, capsys):
    """A data set item that fails to load is named in summary.json, exit 1, the others are written."""
    from privobf.data.sources import build_source
    from privobf.models.loading import load_image_model
    from privobf.refine.attribution import AttributionConfig, NoOptions
    from privobf.refine.cam_model import CamModel
    from privobf.refine.stages import seed_stage

    scenes = build_source("synthetic", n=3, image_size=64, seed=0)

    class Broken:
        def __len__(self):
            return 3

        def __getitem__(self, index):
            if index == 1:
                raise OSError("photo 1 is truncated")
            return scenes[index]

    model = CamModel(load_image_model(tiny_model)).eval()
    summary = seed_stage(model, Broken(), "cam", NoOptions(), AttributionConfig(scales=(1.0,)), str(tmp_path / "s"), data="x")
    assert summary.done == 2
    assert summary.failed == [("#1", "OSError: photo 1 is truncated")]
    assert json.loads((tmp_path / "s" / "summary.json").read_text())["failed"][0]["reason"].endswith("truncated")

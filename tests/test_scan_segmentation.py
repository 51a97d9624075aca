"""`scan` / `obfuscate --segmentation`: a segmentation network as the mask source of the classifier's report.

The network is a tiny DeepLab with random (seeded) weights, made steep enough that its maps vary over a
two-colour photo, and saved in a vocabulary order unlike the classifier's, with one id the classifier
lacks and one classifier id it lacks: masks must follow its maps by attribute id, and attributes it
does not know must keep the classifier's maps.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from privobf.checkpoint import CheckpointError, save_checkpoint
from privobf.cli import main
from privobf.report import upsample_map
from privobf.scanning import Scanner
from privobf.segmentation import SegmentationConfig, SegmentationPredictor, load_segmentation
from privobf.segmentation.mask_source import SegmentedReport, load_mask_source
from privobf.segmentation.training import build_network, checkpoint_metadata, seed_everything

torch.set_num_threads(1)

# Positions differ from the classifier's (a9_face_complete is its 3rd attribute, a19_name_full its 4th).
SEG_IDS = ["zz_not_in_the_classifier", "a19_name_full", "a9_face_complete"]
FACE, NAME = "a9_face_complete", "a19_name_full"
FALLBACK = "x1_person_body"  # in the classifier, not in the segmentation network


@pytest.fixture(scope="module")
def seg_checkpoint(tmp_path_factory):
    config = SegmentationConfig(backbone="tiny", pretrained=False, device="cpu", freeze_batchnorm=False)
    seed_everything(3)
    network = build_network(config, len(SEG_IDS), pretrained=False)
    with torch.no_grad():
        for branch in network.aspp.branches:
            branch.weight.mul_(300.0)  # DeepLab's N(0, 0.01) init gives maps of ~0.5 everywhere
        network.aspp.branches[0].bias[SEG_IDS.index(NAME)] = -50.0  # the name channel: never inside
    path = tmp_path_factory.mktemp("seg") / "seg.safetensors"
    return save_checkpoint(path, network.state_dict(), checkpoint_metadata(config, SEG_IDS, "multilabel", 1))


def two_colour_photo(height: int = 60, width: int = 84) -> np.ndarray:
    """Warm left half, cool right half, no pure black (the solid fill colour) anywhere."""
    rng = np.random.default_rng(7)
    image = np.empty((height, width, 3), dtype=np.int64)
    image[:, : width // 2] = (200, 120, 70)
    image[:, width // 2 :] = (60, 110, 210)
    image += rng.integers(-20, 20, image.shape)
    return np.clip(image, 40, 255).astype(np.uint8)


def seg_probabilities(path, pixels: np.ndarray, attribute_id: str, flip: bool) -> np.ndarray:
    """The network's map for one attribute at the photo's size, computed without the scanner."""
    maps = SegmentationPredictor(load_segmentation(path), flip=flip).attention_maps(pixels)
    return upsample_map(maps[SEG_IDS.index(attribute_id)], pixels.shape[:2])


@pytest.fixture
def photo(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    pixels = two_colour_photo()
    Image.fromarray(pixels).save(folder / "scene.png")
    return folder / "scene.png", pixels


def test_masks_follow_the_segmentation_maps_by_attribute_id(tiny_model, seg_checkpoint):
    pixels = two_colour_photo()
    plain = Scanner(tiny_model).scan(pixels)
    scanner = Scanner(tiny_model, segmentation=seg_checkpoint)
    report = scanner.scan(pixels)
    assert isinstance(report, SegmentedReport)
    probabilities = seg_probabilities(seg_checkpoint, pixels, FACE, scanner.inference.flip)
    face = report.mask(FACE)
    np.testing.assert_array_equal(face, probabilities >= 0.5)
    assert 0.05 < face.mean() < 0.95  # a mask with an inside and an outside, not a constant
    assert not np.array_equal(face, plain.mask(FACE))  # the classifier's own mask differs
    assert not report.mask(NAME).any()  # the name channel, wherever it sits, never fires
    # Presence and the score are still the classifier's.
    np.testing.assert_array_equal(report.probabilities, plain.probabilities)
    assert report.privacy_score == plain.privacy_score
    # An explicit threshold cuts the segmentation map too.
    np.testing.assert_array_equal(report.mask(FACE, 0.8), probabilities >= 0.8)


def test_unknown_attributes_keep_the_classifier_maps_and_the_report_says_so(tiny_model, seg_checkpoint):
    pixels = two_colour_photo()
    plain = Scanner(tiny_model).scan(pixels)
    report = Scanner(tiny_model, segmentation=seg_checkpoint).scan(pixels)
    np.testing.assert_array_equal(report.mask(FALLBACK), plain.mask(FALLBACK))
    np.testing.assert_array_equal(report.soft_mask(FALLBACK), plain.soft_mask(FALLBACK))
    summary = report.to_dict()
    assert summary["mask_source"][FACE] == "segmentation" and summary["mask_source"][NAME] == "segmentation"
    assert summary["mask_source"][FALLBACK] == "classifier"
    assert set(summary["mask_source"]) == set(report.attribute_ids)
    assert summary["segmentation"]["threshold"] == 0.5 and summary["segmentation"]["kind"] == "multilabel"
    assert summary["segmentation"]["attributes"] == [FACE, NAME]  # the shared ids, in the classifier's order


def test_cli_scan_reports_the_mask_source_and_its_threshold(tiny_model, seg_checkpoint, photo, tmp_path, capsys):
    path, pixels = photo
    code = main(["scan", str(path), "--model", str(tiny_model), "--segmentation", str(seg_checkpoint),
                 "--segmentation-threshold", "0.6", "--priors", "off", "--reports", str(tmp_path / "reports")])
    assert code in (0, 3), capsys.readouterr().err
    document = json.loads((tmp_path / "reports" / "scene.png.json").read_text())
    assert document["mask_source"][FACE] == "segmentation" and document["mask_source"][FALLBACK] == "classifier"
    assert document["segmentation"]["threshold"] == 0.6
    assert document["segmentation"]["path"] == str(seg_checkpoint)
    assert document["mask_threshold"] == 0.3  # the classifier's maps keep theirs


def test_cli_obfuscate_hides_exactly_the_segmentation_mask(tiny_model, seg_checkpoint, photo, tmp_path, capsys):
    path, pixels = photo
    common = ["--model", str(tiny_model), "--segmentation", str(seg_checkpoint), "--priors", "off",
              "--hide", "face", "--force", "--dilate", "0"]
    expected = seg_probabilities(seg_checkpoint, pixels, FACE, Scanner(tiny_model).inference.flip) >= 0.5
    assert main(["obfuscate", str(path), *common, "--mode", "solid", "--out", str(tmp_path / "solid")]) == 0, capsys.readouterr().err
    hidden = np.asarray(Image.open(tmp_path / "solid" / "scene.privobf.png").convert("RGB"))
    changed = (hidden != pixels).any(axis=-1)
    np.testing.assert_array_equal(changed, expected)
    assert main(["obfuscate", str(path), *common, "--mode", "mask-only", "--out", str(tmp_path / "mask")]) == 0
    written = np.asarray(Image.open(tmp_path / "mask" / "scene.privobf.png")) > 0
    np.testing.assert_array_equal(written, expected)


def test_a_file_that_is_not_a_segmentation_network_exits_2_naming_it(tiny_model, photo, tmp_path, capsys):
    path, _ = photo
    base = ["scan", str(path), "--model", str(tiny_model), "--priors", "off"]
    assert main([*base, "--segmentation", str(tiny_model)]) == 2  # the classifier's own checkpoint
    err = capsys.readouterr().err
    assert tiny_model.name in err and "not a segmentation network" in err and "Traceback" not in err
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    assert main([*base, "--segmentation", str(garbage)]) == 2
    assert "garbage.safetensors" in capsys.readouterr().err
    assert main([*base, "--segmentation", str(tmp_path / "missing.safetensors")]) == 2
    assert "missing.safetensors" in capsys.readouterr().err
    assert main([*base, "--segmentation-threshold", "0.4"]) == 2
    assert "give --segmentation" in capsys.readouterr().err


def test_a_network_sharing_no_attribute_with_the_classifier_is_refused(tiny_model, tmp_path, capsys):
    config = SegmentationConfig(backbone="tiny", pretrained=False, device="cpu")
    seed_everything(0)
    network = build_network(config, 3, pretrained=False)  # exclusive: background + 2 classes
    path = save_checkpoint(tmp_path / "strangers.safetensors", network.state_dict(),
                           checkpoint_metadata(config, ["cat", "dog"], "exclusive", 1))
    with pytest.raises(CheckpointError, match="strangers.safetensors.*none of the model's attributes"):
        load_mask_source(path, ["a0_safe", FACE])
    image = tmp_path / "x.png"
    Image.fromarray(two_colour_photo()).save(image)
    assert main(["scan", str(image), "--model", str(tiny_model), "--segmentation", str(path), "--priors", "off"]) == 2
    assert "strangers.safetensors" in capsys.readouterr().err


def test_onnx_backend_uses_the_same_segmentation_masks(tiny_model, seg_checkpoint):
    pytest.importorskip("onnxruntime")
    pixels = two_colour_photo()
    torch_report = Scanner(tiny_model, segmentation=seg_checkpoint).scan(pixels)
    onnx_report = Scanner(tiny_model, segmentation=seg_checkpoint, backend="onnx").scan(pixels)
    np.testing.assert_array_equal(onnx_report.mask(FACE), torch_report.mask(FACE))
    assert onnx_report.model["backend"] == "onnx" and onnx_report.segmentation["backend"] == "torch"
    np.testing.assert_allclose(onnx_report.probabilities, torch_report.probabilities, atol=1e-4)


def test_serve_and_ray_scan_take_the_segmentation_network_too(tiny_model, seg_checkpoint, photo, tmp_path, capsys):
    import argparse

    from privobf.web.server import add_serve_arguments, build_app

    parser = argparse.ArgumentParser()
    add_serve_arguments(parser)
    app = build_app(parser.parse_args(["--model", str(tiny_model), "--segmentation", str(seg_checkpoint),
                                       "--segmentation-threshold", "0.7", "--priors", "off"]))
    assert app.state.service.scanner.segmentation.threshold == 0.7
    # An unusable file is refused before a port is bound or a Ray actor started, naming the file.
    assert main(["serve", "--model", str(tiny_model), "--segmentation", str(tiny_model), "--port", "0"]) == 2
    assert tiny_model.name in capsys.readouterr().err
    path, _ = photo
    reports = tmp_path / "reports"
    assert main(["ray-scan", str(path), "--reports", str(reports), "--model", str(tiny_model),
                 "--segmentation", str(tiny_model)]) == 2
    assert tiny_model.name in capsys.readouterr().err and not reports.exists()
    assert main(["ray-scan", str(path), "--reports", str(reports), "--model", str(tiny_model),
                 "--segmentation-threshold", "0.7"]) == 2
    assert "give --segmentation" in capsys.readouterr().err and not reports.exists()
    assert main(["serve", "--model", str(tiny_model), "--segmentation", str(seg_checkpoint),
                 "--segmentation-threshold", "1.5", "--port", "0"]) == 2
    assert "1.5" in capsys.readouterr().err


def test_a_ray_actor_loads_the_segmentation_network_with_its_threshold(tiny_model, seg_checkpoint, tmp_path):
    from privobf.ray_job import _ScanBatches
    from privobf.runner import RunOptions

    masks = {"segmentation": str(seg_checkpoint), "segmentation_threshold": 0.65}
    actor = _ScanBatches(str(tiny_model), False, RunOptions(reports=tmp_path), masks)
    assert actor.scanner.segmentation.threshold == 0.65
    assert set(actor.scanner.segmentation.attribute_ids) <= set(actor.scanner.model.attribute_ids)

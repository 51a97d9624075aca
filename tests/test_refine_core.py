"""The mask pipeline's shared parts: localisations, stage folders, CAM at several scales, pseudo labels, CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from privobf.refine.localisation import Localisation, max_normalise
from privobf.refine.pseudo_labels import PseudoLabelConfig, confident_labels, resize_labels
from privobf.refine.store import StageStore, StageStoreError, file_name


@pytest.fixture(scope="module")
def cam_model(tiny_model):
    from privobf.models.loading import load_image_model
    from privobf.refine.cam_model import CamModel

    return CamModel(load_image_model(tiny_model)).eval()


def _square_localisation() -> Localisation:
    maps = np.zeros((2, 8, 8), np.float32)
    maps[0, 1:4, 1:4] = 1.0  # class a: a bright square top-left
    maps[1, 5:8, 5:8] = 0.6  # class b: a weaker square bottom-right
    maps[1, 2, 2] = 0.2
    return Localisation(["a", "b"], maps, (8, 8))


def test_label_map_is_argmax_over_background_plane_and_classes():
    labels = _square_localisation().label_map(0.3)
    assert (labels[1:4, 1:4] == 1).all()
    assert (labels[5:8, 5:8] == 2).all()
    assert labels[0, 0] == 0 and labels[4, 4] == 0
    assert (_square_localisation().label_map(0.7)[5:8, 5:8] == 0).all()  # b's 0.6 loses to a 0.7 plane


def test_own_background_map_replaces_the_plane():
    localisation = _square_localisation()
    localisation.background = np.full((8, 8), 0.9, np.float32)
    assert (localisation.label_map(0.0)[5:8, 5:8] == 0).all()  # 0.6 < 0.9 background everywhere
    assert localisation.masks(0.0)[0, 2, 2] and not localisation.masks(0.0)[1, 6, 6]


def test_localisation_rejects_maps_that_do_not_fit_its_classes():
    with pytest.raises(ValueError, match="classes"):
        Localisation(["a"], np.zeros((2, 4, 4)), (4, 4))


def test_max_normalise_keeps_empty_maps_empty():
    maps = torch.tensor([[[0.0, 2.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 0.0]]])
    normalised = max_normalise(maps)
    assert torch.allclose(normalised[0], torch.tensor([[0.0, 1.0], [0.5, 0.0]]))
    assert normalised[1].abs().sum() == 0


def test_store_round_trip_resume_and_refusal(tmp_path):
    manifest = {"stage": "seeds", "config": {"method": "cam", "threshold": 0.3}}
    store = StageStore.create(tmp_path / "seeds", manifest)
    localisation = _square_localisation()
    localisation.extra["note"] = "x"
    store.save("photos/a b.jpg", localisation)
    loaded = StageStore.open(tmp_path / "seeds", "seeds").load("photos/a b.jpg")
    assert loaded.classes == ["a", "b"] and loaded.extra == {"note": "x"}
    np.testing.assert_allclose(loaded.maps, localisation.maps, atol=1e-3)  # stored as float16
    assert list(store.image_ids()) == ["photos/a b.jpg"]
    with pytest.raises(StageStoreError, match="--resume"):
        StageStore.create(tmp_path / "seeds", manifest)
    assert StageStore.create(tmp_path / "seeds", manifest, resume=True).has("photos/a b.jpg")
    with pytest.raises(StageStoreError, match="config.method: 'cam' there, 'advcam' now"):
        StageStore.create(tmp_path / "seeds", {**manifest, "config": {"method": "advcam", "threshold": 0.3}}, resume=True)
    with pytest.raises(StageStoreError, match="expected refined"):
        StageStore.open(tmp_path / "seeds", "refined")


def test_file_names_are_safe_and_distinct():
    names = {file_name(i) for i in ("a/b", "a_b", "a b", "../etc", "x")}
    assert len(names) == 5 and all("/" not in n and not n.startswith(".") for n in names)


def test_damaged_output_is_named(tmp_path):
    store = StageStore.create(tmp_path / "s", {"stage": "seeds", "config": {}})
    store.path("img").write_bytes(b"not a zip")
    with pytest.raises(StageStoreError, match="unreadable stage output"):
        store.load("img")


def test_confident_labels_band_exclusive_and_multilabel():
    localisation = _square_localisation()
    config = PseudoLabelConfig(foreground=0.5, background=0.1, crf=False, max_side=8)
    labels = confident_labels(np.zeros((8, 8, 3), np.uint8), localisation, config)
    assert (labels[1:4, 1:4] == 1).all() and (labels[5:8, 5:8] == 2).all()
    assert labels[2, 2] == 1 and labels[0, 7] == 0
    # the 0.2 dot of class b at (2, 2) is inside a's square; elsewhere a 0.2 value would be ignored
    localisation.maps[1, 6, 1] = 0.2
    labels = confident_labels(np.zeros((8, 8, 3), np.uint8), localisation, config)
    assert labels[6, 1] == 255
    stack = confident_labels(np.zeros((8, 8, 3), np.uint8), localisation,
                             PseudoLabelConfig(foreground=0.5, background=0.1, crf=False, kind="multilabel", max_side=8))
    assert stack.shape == (2, 8, 8)
    assert stack[1, 2, 2] == 255 and stack[0, 2, 2] == 1  # overlapping classes keep their own decision
    assert stack[1, 6, 6] == 1 and stack[1, 0, 0] == 0


def test_pseudo_label_thresholds_are_validated_and_preset():
    with pytest.raises(ValueError, match="background"):
        PseudoLabelConfig(foreground=0.1, background=0.3)
    assert PseudoLabelConfig.preset("advcam").foreground == 0.35


def test_resize_labels_never_invents_values():
    labels = np.array([[0, 255], [3, 1]], np.uint8)
    assert set(np.unique(resize_labels(labels, (7, 5)))) <= {0, 1, 3, 255}


def test_batched_cam_equals_one_by_one(cam_model):
    from privobf.refine.attribution import AttributionConfig, accumulate, cam_many, cam_per_scale

    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (64, 80, 3), dtype=np.uint8) for _ in range(2)] + [rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)]
    ids = cam_model.attribute_ids
    classes = [[ids[1], ids[2]], [ids[3]], [ids[2], ids[1]]]
    config = AttributionConfig(scales=(1.0, 0.5))
    batched = cam_many(cam_model, images, classes, config)
    for image, names, result in zip(images, classes, batched):
        single = accumulate(cam_model, image, names, cam_per_scale(cam_model), config)
        np.testing.assert_allclose(result.maps, single.maps, atol=1e-5)
        assert result.classes == names and result.grid == cam_model.grid_size(*image.shape[:2])
        assert np.isclose(result.maps.max(), 1.0) or result.maps.max() == 0


def test_flip_merge_matches_a_manual_mirror(cam_model):
    """CAM with flip = map(x) + mirror(map(mirror x)), summed before normalising (IRN's make_cam)."""
    import torch.nn.functional as F

    from privobf.data.batching import image_to_tensor
    from privobf.refine.attribution import AttributionConfig, cam_many

    image = np.random.default_rng(1).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    class_id = cam_model.attribute_ids[1]
    result = cam_many(cam_model, [image], [[class_id]], AttributionConfig(scales=(1.0,), flip=True))[0]
    tensor = image_to_tensor(image, cam_model.input_size(64, 64))[None]
    index = cam_model.class_indices([class_id])
    with torch.no_grad():
        plain = F.relu(cam_model(tensor))[:, index]
        mirrored = F.relu(cam_model(tensor.flip(-1)))[:, index].flip(-1)
    total = F.interpolate(plain + mirrored, size=result.grid, mode="bilinear", align_corners=False)[0]
    np.testing.assert_allclose(result.maps, max_normalise(total).numpy(), atol=1e-5)


def test_gradcam_is_positive_multiple_of_cam_for_a_linear_head(cam_model):
    from privobf.refine.attribution import AttributionConfig, seed_method

    image = np.random.default_rng(2).integers(0, 255, (64, 64, 3), dtype=np.uint8)
    classes = [cam_model.attribute_ids[1]]
    config = AttributionConfig(scales=(1.0,), flip=False)
    cam = seed_method("cam").function(cam_model, image, classes, None, None, config, None)
    grad = seed_method("gradcam").function(cam_model, image, classes, None, None, config, None)
    assert np.corrcoef(cam.maps.ravel(), grad.maps.ravel())[0, 1] > 0.9


def test_unknown_class_is_named(cam_model):
    with pytest.raises(ValueError, match="no map for"):
        cam_model.class_indices(["a999_nothing"])


def test_config_from_options_converts_and_refuses():
    from dataclasses import dataclass

    from privobf.refine.attribution import config_from_options

    @dataclass
    class Options:
        steps: int = 27
        step_size: float = 0.008
        crf: bool = True
        rule: str = "raw"

    config = config_from_options(Options, {"steps": "3", "step_size": "0.1", "crf": "no", "rule": "max"})
    assert (config.steps, config.step_size, config.crf, config.rule) == (3, 0.1, False, "max")
    with pytest.raises(ValueError, match="no option 'stpes'"):
        config_from_options(Options, {"stpes": "3"})
    with pytest.raises(ValueError, match="is not a int"):
        config_from_options(Options, {"steps": "many"})


def test_cli_cam_evaluate_and_resume(tiny_model, tmp_path, capsys):
    from privobf.cli import main

    data = ["--size", "3", "--image-size", "64", "--split", "val", "--no-progress", "--model", str(tiny_model)]
    out = tmp_path / "seeds"
    assert main(["cam", "--scales", "1.0", "--out", str(out), *data]) == 0
    assert len(list(out.glob("*.npz"))) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["done"] == 3 and summary["failed"] == []
    assert main(["cam", "--scales", "1.0", "--out", str(out), *data]) == 2  # exists: needs --resume
    assert "--resume" in capsys.readouterr().err
    assert main(["cam", "--scales", "1.0", "--out", str(out), "--resume", *data]) == 0
    assert json.loads((out / "summary.json").read_text())["resumed"] == 3
    capsys.readouterr()
    assert main(["evaluate-maps", "--maps", str(out), "--oracle-sweep", *data]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["threshold_source"] == "fixed" and report["n_images"] == 3
    assert report["oracle"]["tuned_on_ground_truth"] is True
    assert report["oracle"]["best_miou"] >= report["miou"]
    labels = tmp_path / "labels"
    assert main(["pseudo-labels", "--maps", str(out), "--kind", "multilabel", "--no-crf", "--out", str(labels), *data]) == 0
    capsys.readouterr()
    assert main(["evaluate-maps", "--maps", str(labels), *data]) == 0
    assert 0.0 <= json.loads(capsys.readouterr().out)["ignored_share"] <= 1.0
    assert main(["cam", "--method", "advcam", "--option", "stepz=3", "--out", str(tmp_path / "x"), *data]) == 2


def test_limited_dataset_takes_the_first_items_or_spreads_over_the_set():
    from privobf.refine.commands import LimitedDataset

    assert [LimitedDataset(list(range(10)), 3)[i] for i in range(3)] == [0, 1, 2]
    spread = LimitedDataset(list(range(245)), 3, spread=True)
    assert [spread[i] for i in range(len(spread))] == [0, 82, 163]
    assert len(LimitedDataset(list(range(4)), 10, spread=True)) == 4
    with pytest.raises(IndexError):
        spread[3]

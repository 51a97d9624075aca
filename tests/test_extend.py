"""Teaching a trained model new attributes on its frozen network (privobf.train.extend, issue 19)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from privobf.checkpoint import load_checkpoint, save_checkpoint
from privobf.evaluate.metrics import average_precision
from privobf.models.loading import image_model_from_checkpoint, load_image_model
from privobf.models.onnx_backend import OnnxImageRunner, export_onnx, max_abs_difference
from privobf.models.privobfnet import ExtensionHead
from privobf.train.extend import extended_checkpoint, feature_maps, fit_linear_probe, head_probabilities, train_head

NEW = ["a31_passport", "a38_ticket"]


def toy_maps(count: int, seed: int, channels: int = 8) -> tuple[list[torch.Tensor], torch.Tensor]:
    """Feature maps where a passport is a small bright patch in channel 1 and a ticket one in channel 2,
    anywhere in the map, over noise; half the photos without one have the same amount of that channel spread
    thinly over the whole map, so the pooled features cannot tell them apart and only local evidence can."""
    rng = np.random.default_rng(seed)
    maps, labels = [], []
    for _ in range(count):
        base = rng.random((2, channels, 6, 8)).astype(np.float32)
        present = rng.random(2) < 0.4
        for k, on in enumerate(present):
            if on:
                y, x = rng.integers(0, 5), rng.integers(0, 7)
                base[:, k + 1, y:y + 2, x:x + 2] += 3.0
            elif rng.random() < 0.5:
                base[:, k + 1] += 3.0 * 4 / (6 * 8)
        maps.append(torch.from_numpy(base).half())
        labels.append(present.astype(np.float32))
    return maps, torch.from_numpy(np.stack(labels))


def test_the_head_learns_local_evidence_and_beats_a_linear_probe_on_pooled_features():
    maps, targets = toy_maps(300, seed=0)
    test_maps, test_targets = toy_maps(200, seed=1)
    head, history = train_head(maps, targets, hidden=16, epochs=30, watch=(test_maps, test_targets))
    probabilities = head_probabilities(head, test_maps)
    aps = [average_precision(probabilities[:, k].numpy(), test_targets[:, k].numpy() > 0.5) for k in range(2)]
    assert min(aps) > 0.95 and len(history) == 30
    weight, bias = fit_linear_probe(maps, targets)
    linear = torch.stack([torch.sigmoid(m.float().mean((2, 3)) @ weight.T + bias).mean(0) for m in test_maps])
    linear_aps = [average_precision(linear[:, k].numpy(), test_targets[:, k].numpy() > 0.5) for k in range(2)]
    assert max(linear_aps) < 0.9 < min(aps)


def test_training_is_deterministic():
    maps, targets = toy_maps(60, seed=2)
    first, _ = train_head(maps, targets, hidden=8, epochs=2, seed=3)
    second, _ = train_head(maps, targets, hidden=8, epochs=2, seed=3)
    for (name, a), (_, b) in zip(first.state_dict().items(), second.state_dict().items()):
        assert torch.equal(a, b), name


def test_scores_are_a_smooth_maximum_of_the_maps():
    head = ExtensionHead(4, 3, 1)
    flat = torch.zeros(1, 1, 4, 4)
    peaked = flat.clone()
    peaked[0, 0, 1, 2] = 8.0
    with torch.no_grad():
        assert float(head.scores(flat)) == pytest.approx(float(head.bias))
        assert float(head.scores(peaked)) > float(head.scores(flat)) + 5.0  # one strong location counts, undiluted


@pytest.fixture(scope="module")
def extended(tiny_model, tmp_path_factory):
    """The tiny model taught two new attributes on toy features of its own channel count."""
    base = load_image_model(tiny_model)
    channels = base.branch.classifier.in_channels
    maps, targets = toy_maps(40, seed=4, channels=channels)
    head, _ = train_head(maps, targets, hidden=8, epochs=2)
    state, metadata = extended_checkpoint(load_checkpoint(tiny_model), head, NEW, hidden=8)
    path = save_checkpoint(tmp_path_factory.mktemp("extended") / "extended.safetensors", state, metadata)
    return base, image_model_from_checkpoint(load_checkpoint(path)), path


def test_extension_leaves_every_output_of_the_old_attributes_unchanged(extended):
    base, model, _ = extended
    assert model.attribute_ids == base.attribute_ids + NEW and model.config.extension_attributes == 2
    images = torch.rand(2, 3, 64, 96, generator=torch.Generator().manual_seed(0))
    priors = torch.rand(2, 2, 64, 96, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        old, new = base(images, priors), model(images, priors)
    count = len(base.attribute_ids)
    assert torch.equal(old.raw_maps, new.raw_maps[:, :count])
    assert torch.equal(old.attention_maps, new.attention_maps[:, :count])
    assert torch.equal(old.attribute_logits, new.attribute_logits[:, :count])
    assert torch.equal(old.privacy, new.privacy)
    head = model.branch.extension
    features = model.branch.backbone(images)
    assert torch.allclose(new.attribute_logits[:, count:], head.scores(head(features)), atol=1e-5)


def test_an_extended_model_refuses_a_second_extension(extended, tmp_path):
    from privobf.train.extend import main

    assert main(["--model", str(extended[2]), "--out", str(tmp_path / "again.safetensors")]) == 1
    assert not (tmp_path / "again.safetensors").exists()


def test_onnx_export_carries_the_extension(extended, tmp_path):
    pytest.importorskip("onnxruntime")
    _, model, _ = extended
    path = export_onnx(model, tmp_path / "extended.onnx")
    stride = model.branch.backbone.output_stride
    differences = max_abs_difference(model, OnnxImageRunner(model, path), sizes=[(4 * stride, 6 * stride)])
    assert differences["attention"] < 1e-4 and differences["probabilities"] < 1e-4


def test_feature_maps_are_those_the_scanner_feeds_the_model(extended):
    _, model, _ = extended
    image = np.random.default_rng(0).integers(0, 255, (50, 70, 3), dtype=np.uint8)
    (maps,) = feature_maps(model, [image])
    assert maps.shape[0] == 2 and maps.dtype == torch.float16
    assert torch.allclose(maps[1].float(), feature_maps(model, [image[:, ::-1].copy()])[0][0].float(), atol=1e-2)


def test_a_taught_attribute_raises_the_privacy_score_its_privacy_head_cannot_see(extended, tmp_path):
    """The privacy head takes only the attributes it was trained with; a passport the extension finds raises
    the score to at least what VISPR's profiles give a passport."""
    from privobf.attributes.profiles import vispr_profiles
    from privobf.scanning import Scanner

    model = image_model_from_checkpoint(load_checkpoint(extended[2]))  # a copy: the fixture's stays as trained
    with torch.no_grad():
        model.branch.extension.bias.fill_(12.0)  # certain: every taught attribute present
    scanner = Scanner(model, fusion="evidence")
    count = len(model.attribute_ids)
    seen = scanner._seen_by_privacy_head(np.ones(count, np.float32))
    assert seen[:model.branch.n_base].all() and not seen[model.branch.n_base:].any()
    report = scanner.scan(np.full((64, 96, 3), 128, np.uint8))
    assert report.probabilities[report.attribute_ids.index("a31_passport")] > 0.99
    labels = np.array([float(a in NEW) for a in scanner.vocabulary.ids], np.float32)
    assert report.privacy_score >= float(np.mean(vispr_profiles(scanner.vocabulary).scores(labels, "max"))) - 1e-6
    assert any("attributes the privacy head does not see" in note for note in report.notes)

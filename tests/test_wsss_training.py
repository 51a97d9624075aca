"""Issue 5's parts switched on in PrivObfNet training: they train, checkpoint, load and scan."""

import dataclasses
import json

import numpy as np
import pytest
import torch

from privobf.checkpoint import load_checkpoint
from privobf.data.batching import TrainingCollator
from privobf.attributes import vispr_profiles
from privobf.models.config import WsssConfig, tiny_preset
from privobf.models.loading import build_model, load_image_model
from privobf.scanning import Scanner
from privobf.train.engine import train
from privobf.train.run import parse_wsss
from privobf.wsss.drs import DRSTransform
from privobf.wsss.focused_unfocused import FocusedUnfocusedModule
from privobf.wsss.self_modulation import SuperpixelCache

from .conftest import ToyScenes

PARTS = {
    "drs": dict(drs=True),
    "fum": dict(fum=True),
    "cdr": dict(cdr=True),
    "asm": dict(asm=True),
    "at": dict(attention_transfer=True),
    "all": dict(drs=True, fum=True, cdr=True, asm=True, attention_transfer=True),
}
NEW_TERMS = {"drs": set(), "fum": set(), "cdr": {"loss_cdr"}, "asm": {"loss_asm"},
             "at": {"loss_at_cls", "loss_at_similarity", "loss_at_background"}}


def _preset(**wsss):
    preset = tiny_preset()
    model = dataclasses.replace(preset.model, wsss=WsssConfig(**wsss))
    return dataclasses.replace(preset, model=model, train=dataclasses.replace(preset.train, epochs=1, max_steps_per_epoch=2))


@pytest.fixture(scope="module")
def tiny_loss_network():
    """CDR's perceptual loss on a small random network, so the tests do not load EfficientNet each time."""
    from privobf.models.backbones import create_backbone
    from privobf.wsss import objective
    from privobf.wsss.reconstruction import PerceptualLoss

    network = create_backbone("tiny", pretrained=False)
    original = objective.PerceptualLoss
    objective.PerceptualLoss = lambda: PerceptualLoss(network, n_stages=len(network.stage_channels))
    yield network
    objective.PerceptualLoss = original


@pytest.mark.parametrize("name", sorted(PARTS))
def test_each_part_trains_checkpoints_and_scans(name, tmp_path, toy_vocabulary, tiny_loss_network):
    result = train(_preset(**PARTS[name]), ToyScenes(8), toy_vocabulary, tmp_path / "run", progress=False,
                   cache_dir=tmp_path / "cache")
    record = json.loads((tmp_path / "run" / "metrics.jsonl").read_text().splitlines()[-1])
    expected = set().union(*NEW_TERMS.values()) if name == "all" else NEW_TERMS[name]
    assert expected <= set(record) and all(np.isfinite(record[k]) for k in expected)
    assert np.isfinite(record["loss"])
    full = load_checkpoint(result.full_checkpoint)
    assert any(k.startswith("reconstruction.") for k in full.state) == (name in ("cdr", "all"))
    image = load_checkpoint(result.image_checkpoint)
    assert not any(k.startswith("reconstruction.") for k in image.state)  # training-only
    model = load_image_model(result.image_checkpoint)
    assert isinstance(model.branch.feature_refiner, FocusedUnfocusedModule) == (name in ("fum", "all"))
    has_drs = any(isinstance(fn, DRSTransform) for fn in model.branch.backbone.stage_transforms().values())
    assert has_drs == (name in ("drs", "all"))  # DRS is part of the network at inference too
    report = Scanner(model).scan(np.zeros((48, 64, 3), np.uint8))
    # one map per attribute: the model's first, then those only reading finds (empty maps)
    assert report.attention_maps.shape[0] == len(report.attribute_ids)
    assert report.attribute_ids[: len(toy_vocabulary)] == list(toy_vocabulary.ids)
    if name in ("asm", "all"):
        assert list((tmp_path / "cache" / "superpixels").rglob("*.npz"))  # superpixels were cached


def test_fum_and_reconstruction_parameters_learn(tmp_path, toy_vocabulary, tiny_loss_network):
    preset = _preset(fum=True, cdr=True)
    torch.manual_seed(0)
    before = build_model(preset, toy_vocabulary).state_dict()
    result = train(preset, ToyScenes(8), toy_vocabulary, tmp_path, progress=False)
    after = load_checkpoint(result.full_checkpoint).state
    for prefix in ("image.feature_refiner.", "reconstruction."):
        keys = [k for k in before if k.startswith(prefix) and before[k].is_floating_point() and "running" not in k]
        assert keys and any(not torch.equal(before[k], after[k].float()) for k in keys), prefix


def test_views_run_in_one_batch_and_equal_separate_passes(toy_vocabulary):
    preset = _preset(attention_transfer=True)
    model = build_model(preset, toy_vocabulary).eval()  # eval: BatchNorm uses running statistics
    images = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    views = [images.flip(-1), images * 0.5]
    with torch.no_grad():
        output = model(images, None, torch.Generator().manual_seed(0), views)
        for view, view_output in zip(views, output.views):
            torch.testing.assert_close(view_output.attention_maps, model.image(view).attention_maps, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(output.image.attention_maps, model.image(images).attention_maps, rtol=1e-4, atol=1e-5)


def test_collator_superpixels_follow_the_flip(tmp_path, toy_vocabulary):
    cache = SuperpixelCache(tmp_path)
    collate = TrainingCollator(toy_vocabulary, vispr_profiles(toy_vocabulary), 64, hflip=True, superpixels=cache)
    sample = ToyScenes(1)[0]
    flipped_seen = unflipped_seen = False
    for seed in range(8):
        torch.manual_seed(seed)
        batch = collate([sample])
        segments = batch.superpixels[0]
        original = torch.from_numpy(cache.get_or_compute(
            batch.images[0].mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()).astype(np.int64))
        if torch.equal(batch.images[0], batch.images[0].flip(-1)):
            continue
        # The image in the batch may be flipped: its superpixels are the flipped superpixels of the upright image.
        upright = batch.images[0].flip(-1)
        upright_segments = torch.from_numpy(cache.get_or_compute(
            upright.mul(255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()).astype(np.int64))
        if torch.equal(segments, original):
            unflipped_seen = True
        elif torch.equal(segments, upright_segments.flip(-1)):
            flipped_seen = True
        else:
            pytest.fail("superpixels match neither the image nor the flipped upright image")
    assert flipped_seen and unflipped_seen
    assert batch.superpixels.shape == (1, 64, 64) and batch.superpixels.dtype == torch.long


def test_wsss_option_parsing():
    base = WsssConfig()
    assert parse_wsss("drs, at", base) == WsssConfig(drs=True, attention_transfer=True)
    assert parse_wsss("asm", base).enabled() == ["asm"]
    with pytest.raises(ValueError, match="unknown part"):
        parse_wsss("drs,crf", base)

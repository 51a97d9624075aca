"""AdvCAM, RIB and FickleNet seed methods: known answers on a tiny model and constructed maps."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from privobf.attributes import vocabulary_from_ids
from privobf.models.config import tiny_preset
from privobf.models.loading import build_model
from privobf.models.privobfnet import ImageModel
from privobf.refine.advcam import AdvCamConfig, advcam_objective, ascent_step, climb
from privobf.refine.attribution import AttributionConfig, SeedContext, scale_inputs, seed_method
from privobf.refine.cam_model import CamModel
from privobf.refine.ficklenet import (
    FickleNetConfig,
    expand_features,
    ficklenet_per_scale,
    spread_classifier,
    stochastic_class_maps,
)
from privobf.refine.rib import RibConfig, RibTuner, gndrp

from .conftest import TOY_IDS, ToyScenes

torch.set_num_threads(1)
CLASSES = ["x1_person_body", "a9_face_complete"]


@pytest.fixture(scope="module")
def model() -> CamModel:
    torch.manual_seed(0)
    preset = tiny_preset()
    net = build_model(preset, vocabulary_from_ids(TOY_IDS, "toy"))
    return CamModel(ImageModel(preset.model, net.attribute_ids, net.image)).eval()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    return ToyScenes(4, size=64, seed=3)[1].image


def normalised_space(model: CamModel):
    backbone = model.branch.backbone
    return backbone.pixel_mean, backbone.pixel_std


# ------------------------------------------------------------------------------------------ AdvCAM


def reference_climb(model: CamModel, images: torch.Tensor, index: int, config: AdvCamConfig, steps: int) -> torch.Tensor:
    """A straightforward one-class climb in normalised space, written from eqs. 3.4-3.6 and §8.3."""
    mean, std = normalised_space(model)
    x = (images - mean) / std
    low, high = float(x.min()), float(x.max())
    total, cam_initial = torch.zeros(0), None
    for step in range(steps):
        x = x.detach().requires_grad_(True)
        activations = F.relu(model(x * std + mean))
        cam = activations[:, index]
        cam_initial = cam.detach() if cam_initial is None else cam_initial
        total = cam.detach() if step == 0 else total + cam.detach()
        if step == steps - 1:
            break
        logits = activations.mean(dim=(2, 3))
        score = (logits[:, index] - (logits.sum(1) - logits[:, index])).sum()
        mask = cam.detach() / cam.detach().amax(dim=(1, 2), keepdim=True) > config.mask_threshold
        loss = score - config.regularisation * (mask * (cam - cam_initial).abs()).sum()
        (gradient,) = torch.autograd.grad(loss, x)
        if config.step_rule == "max_normalised":
            gradient = gradient / gradient.abs().max()
        x = (x.detach() + config.step_size * gradient).clamp(low, high)
    return total


@pytest.mark.parametrize("rule, step_size", [("raw", 2e4), ("max_normalised", 0.08)])
def test_advcam_batched_classes_equal_per_class_loop(model, photo, rule, step_size):
    frozen = model.frozen_copy()
    config = AdvCamConfig(steps=3, step_size=step_size, step_rule=rule)
    images, _ = scale_inputs(frozen, photo, None, 1.0, flip=True)
    indices = frozen.class_indices(CLASSES)
    batched = climb(frozen, images, None, indices, config).cam_sum  # [2, 2, h, w]
    for column, index in enumerate(indices):
        expected = reference_climb(frozen, images, index, config, config.steps)
        torch.testing.assert_close(batched[:, column], expected, rtol=1e-4, atol=1e-6)
    # the climb did something: the summed map is not three copies of CAM⁰
    initial = reference_climb(frozen, images, indices[0], config, 1)
    assert not torch.allclose(batched[:, 0], 3 * initial, rtol=1e-3)


def test_advcam_one_step_is_xi_times_gradient(model, photo):
    frozen = model.frozen_copy()
    # the untrained model's input gradients are ~1e-6, so a raw step needs a large ξ to move at all
    config = AdvCamConfig(steps=2, step_size=2e4, regularisation=0.0)
    images, _ = scale_inputs(frozen, photo, None, 1.0, flip=True)
    index = frozen.class_indices(["x1_person_body"])[0]
    mean, std = normalised_space(frozen)
    x0 = ((images - mean) / std).requires_grad_(True)
    logits = F.relu(frozen(x0 * std + mean)).mean(dim=(2, 3))
    by_hand = (logits[:, index] - (logits.sum(1) - logits[:, index])).sum()
    (gradient,) = torch.autograd.grad(by_hand, x0)
    low, high = float(x0.detach().min()), float(x0.detach().max())
    expected = (x0.detach() + 2e4 * gradient).clamp(low, high)

    rows = torch.tensor([index, index])
    current = x0.detach().clone().requires_grad_(True)
    maps = frozen(current * std + mean)
    objective = advcam_objective(maps, rows, F.relu(maps)[torch.arange(2), rows].detach(), config)
    (ours,) = torch.autograd.grad(objective, current)
    stepped = ascent_step(current.detach(), ours, (low, high), 2, config)
    torch.testing.assert_close(stepped, expected)
    assert (stepped - x0.detach()).abs().max() > 1e-3  # the step is not a no-op
    # climb() applies that very step: its second iterate's CAM is the CAM of `expected`
    result = climb(frozen, images, None, [index], config)
    with torch.no_grad():
        cam_after = F.relu(frozen(expected * std + mean))[:, index]
    torch.testing.assert_close(result.cam_last[:, 0], cam_after, rtol=1e-4, atol=1e-6)


def test_advcam_regulariser_holds_the_masked_region(model, photo):
    frozen = model.frozen_copy()
    images, _ = scale_inputs(frozen, photo, None, 1.0, flip=True)
    index = frozen.class_indices(["x1_person_body"])
    drift = {}
    for weight in (0.0, 1e4):
        config = AdvCamConfig(steps=8, step_size=0.08, step_rule="max_normalised", regularisation=weight)
        result = climb(frozen, images, None, index, config)
        initial, last = result.cam_initial[:, 0], result.cam_last[:, 0]
        mask = initial / initial.amax(dim=(1, 2), keepdim=True) > 0.5
        drift[weight] = float(((last - initial).abs()[mask]).mean() / initial[mask].mean())
    assert drift[0.0] > 0.05  # unregularised climbing moves the strong region
    assert drift[1e4] < 0.5 * drift[0.0]


def test_advcam_single_step_is_cam(model, photo):
    attribution = AttributionConfig()
    cam = seed_method("cam").function(model, photo, CLASSES, None, None, attribution, SeedContext())
    adv = seed_method("advcam").function(model, photo, CLASSES, None, AdvCamConfig(steps=1), attribution, SeedContext())
    np.testing.assert_allclose(adv.maps, cam.maps, rtol=1e-5, atol=1e-6)
    assert adv.classes == CLASSES
    # priors reach every climbing forward: the prior-weighted CAM is reproduced too
    scene = ToyScenes(4, size=64, seed=3)[0]
    priors = {"human": scene.human_prior, "text": scene.text_prior}
    classes = ["a9_face_complete", "a19_name_full"]
    cam = seed_method("cam").function(model, scene.image, classes, priors, None, attribution, SeedContext())
    adv = seed_method("advcam").function(model, scene.image, classes, priors, AdvCamConfig(steps=1), attribution, SeedContext())
    np.testing.assert_allclose(adv.maps, cam.maps, rtol=1e-5, atol=1e-6)
    assert cam.maps.max() == pytest.approx(1.0)


def test_advcam_official_code_configuration():
    official = AdvCamConfig.official_code()
    assert (official.step_size, official.step_rule, official.steps_at_half_scale) == (0.08, "max_normalised", 13)
    assert AdvCamConfig().step_rule == "raw" and AdvCamConfig().step_size == 0.008
    with pytest.raises(ValueError):
        AdvCamConfig(steps=0)


# --------------------------------------------------------------------------------------------- RIB


def test_gndrp_pools_only_weak_locations_of_target_classes():
    maps = torch.tensor([[[[4.0, 1.0], [2.0, -1.0]], [[1.0, 2.0], [3.0, 4.0]]]])
    targets = torch.tensor([[1.0, 0.0]])
    logits = gndrp(maps, targets, threshold=0.4)
    # class 0: normalised ReLU CAM [[1, .25], [.5, 0]] -> U_τ = {(0,1), (1,1)} -> (1 + -1) / 2
    # class 1 is absent: plain GAP over all four locations
    torch.testing.assert_close(logits, torch.tensor([[0.0, 2.5]]))


def rib_config(**options) -> RibConfig:
    return RibConfig(**{"steps": 4, "learning_rate": 1e-3, "batch_size": 4, "auxiliary_size": 32, **options})


def test_rib_leaves_the_callers_model_and_next_photo_untouched(model, photo):
    before = {k: v.clone() for k, v in model.state_dict().items()}
    attribution = AttributionConfig(scales=(1.0, 0.5), flip=True)
    tuner = RibTuner(model, rib_config(), ToyScenes(6), seed=0)
    first = tuner.localise(photo, CLASSES, None, attribution)
    second = tuner.localise(photo, CLASSES, None, attribution)
    assert first.extra["rib_iterates"] == 4
    np.testing.assert_array_equal(first.maps, second.maps)  # θ₀ restored between photos
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key
    cam = seed_method("cam").function(model, photo, CLASSES, None, None, attribution, SeedContext())
    assert not np.allclose(first.maps, cam.maps, atol=1e-3)  # the fine-tuning did change the maps


def test_rib_single_iterate_is_cam(model, photo):
    attribution = AttributionConfig()
    cam = seed_method("cam").function(model, photo, CLASSES, None, None, attribution, SeedContext())
    rib = seed_method("rib").function(
        model, photo, CLASSES, None, rib_config(steps=1), attribution, SeedContext(dataset=ToyScenes(4))
    )
    np.testing.assert_allclose(rib.maps, cam.maps, rtol=1e-5, atol=1e-6)


def test_rib_steps_raise_the_target_logits(model, photo):
    tuner = RibTuner(model, rib_config(steps=5, learning_rate=1e-4), ToyScenes(6), seed=1)
    result = tuner.localise(photo, CLASSES, None, AttributionConfig(scales=(1.0,), flip=True))
    sums = result.extra["rib_target_logit_sums"]
    assert len(sums) == 4
    assert all(later > earlier for earlier, later in zip(sums, sums[1:])), sums


def test_rib_freezes_the_first_two_stages(model, photo):
    tuner = RibTuner(model, rib_config(), ToyScenes(2), seed=0)
    images, _ = scale_inputs(tuner.model, photo, None, 1.0, flip=False)
    tuner.model(images).sum().backward()
    stages = tuner.model.branch.backbone.stages
    assert all(p.grad is None for stage in stages[:2] for p in stage.parameters())
    assert all(p.grad is not None for p in stages[3].parameters())
    assert tuner.model.branch.classifier.weight.grad is not None


def test_rib_needs_the_training_set(model, photo):
    with pytest.raises(ValueError, match="training set"):
        seed_method("rib").function(model, photo, CLASSES, None, RibConfig(), AttributionConfig(), SeedContext())


# --------------------------------------------------------------------------------------- FickleNet


def test_expansion_puts_each_position_at_its_window_centre():
    features = torch.arange(2 * 3 * 4 * 5, dtype=torch.float32).view(2, 3, 4, 5)
    expanded = expand_features(features, 3)
    assert expanded.shape == (2, 3, 12, 15)
    torch.testing.assert_close(expanded[:, :, 1::3, 1::3], features)
    # a window's top-left entry is the up-left neighbour (zero padding at the border)
    torch.testing.assert_close(expanded[:, :, 3 + 0, 3 + 0], features[:, :, 0, 0])
    assert torch.all(expanded[:, :, 0, :] == 0)


def test_ficklenet_without_dropout_is_averaged_features_through_the_classifier(model, photo):
    images, _ = scale_inputs(model, photo, None, 1.0, flip=False)
    with torch.no_grad():
        features = model.features(images)
        config = FickleNetConfig(kernel_size=3, dropout_rate=0.0, passes=1)
        maps = stochastic_class_maps(
            model, expand_features(features, 3), spread_classifier(model, 3), config, torch.Generator().manual_seed(0)
        )
        averaged = F.avg_pool2d(features, 3, stride=1, padding=1, count_include_pad=True)
        expected = model.branch.classifier(averaged)
    torch.testing.assert_close(maps, expected, rtol=1e-5, atol=1e-5)


def test_ficklenet_is_reproducible_by_seed(model, photo):
    method = seed_method("ficklenet")
    config = FickleNetConfig(passes=4)
    attribution = AttributionConfig(scales=(1.0, 0.5))
    first = method.function(model, photo, CLASSES, None, config, attribution, SeedContext(seed=7))
    again = method.function(model, photo, CLASSES, None, config, attribution, SeedContext(seed=7))
    other = method.function(model, photo, CLASSES, None, config, attribution, SeedContext(seed=8))
    np.testing.assert_array_equal(first.maps, again.maps)
    assert not np.allclose(first.maps, other.maps)


def test_ficklenet_max_aggregation_grows_the_foreground(model, photo):
    images, _ = scale_inputs(model, photo, None, 1.0, flip=False)
    indices = model.class_indices(CLASSES)
    areas = []
    for passes in (1, 20):
        run = ficklenet_per_scale(model, FickleNetConfig(passes=passes), torch.Generator().manual_seed(3))
        foreground = run(images, None, indices) > 0.5
        areas.append(foreground)
    single, many = areas
    assert torch.all(many[single])  # the first pass is the same draw, so max keeps its foreground
    assert many.sum() > single.sum()


def test_ficklenet_config_validation():
    with pytest.raises(ValueError):
        FickleNetConfig(kernel_size=2)
    with pytest.raises(ValueError):
        FickleNetConfig(aggregation="median")
    assert dataclasses.asdict(FickleNetConfig())["aggregation"] == "max"

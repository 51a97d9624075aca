"""DRS (discriminative region suppression), backbone stage hooks and the focused-unfocused module."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privobf.models.backbones import Backbone, create_backbone, list_backbones
from privobf.wsss.drs import DRSConfig, DRSTransform, attach_drs, default_drs_stages, detach_drs, drs
from privobf.wsss.focused_unfocused import FocusedUnfocusedModule, FUMConfig, context_association

IMAGE = (1, 3, 64, 64)


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.fixture(scope="module")
def backbones() -> dict[str, Backbone]:
    torch.manual_seed(0)
    return {name: create_backbone(name, pretrained=False).eval() for name in list_backbones()}


# ---------------------------------------------------------------- drs()


def test_drs_caps_at_delta_times_channel_max_and_keeps_the_rest():
    x = torch.rand(3, 5, 7, 6) * 4
    delta = 0.55
    y = drs(x, delta)
    cap = delta * x.amax(dim=(2, 3), keepdim=True)
    assert y.shape == x.shape
    assert bool((y <= cap).all())
    below = x <= cap
    assert torch.equal(y[below], x[below])
    assert torch.equal(y[~below], cap.expand_as(x)[~below])
    # The max is per image and per channel: scaling one image/channel moves only its cap.
    x2 = x.clone()
    x2[1, 2] *= 10
    y2 = drs(x2, delta)
    assert torch.equal(y2[0], y[0])
    assert torch.allclose(y2[1, 2], y[1, 2] * 10)


def test_drs_reapplication_and_fixed_point():
    x = torch.randn(2, 4, 9, 9).abs()
    y = drs(x)
    # Capping again at the *original* threshold is a no-op ...
    assert torch.equal(torch.minimum(y, 0.55 * x.amax(dim=(2, 3), keepdim=True)), y)
    # ... but DRS recomputes the max, so a second pass caps at delta**2 * max.
    assert torch.allclose(drs(y), drs(x, 0.55**2))
    assert torch.equal(drs(x, 1.0), x)


def test_drs_leaves_negative_values_alone():
    x = torch.randn(2, 6, 8, 8)
    x[:, 0] = -x[:, 0].abs() - 0.1  # an all-negative channel
    y = drs(x)
    assert torch.equal(y[:, 0], x[:, 0])
    neg = x < 0
    assert torch.equal(y[neg], x[neg])
    assert bool((y <= 0.55 * x.amax(dim=(2, 3), keepdim=True).clamp(min=0)).all())


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_drs_low_precision(dtype):
    x = (torch.rand(2, 3, 5, 5) * 8).to(dtype)
    y = drs(x)
    assert y.dtype == dtype
    cap = x.amax(dim=(2, 3), keepdim=True) * 0.55
    assert bool((y <= cap).all())
    below = x <= cap
    assert torch.equal(y[below], x[below])
    assert torch.allclose(y.float(), drs(x.float()), rtol=1e-2, atol=1e-2)


def test_drs_gradient_and_validation():
    x = torch.rand(1, 2, 4, 4, requires_grad=True)
    drs(x).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all() and x.grad.abs().sum() > 0
    with pytest.raises(ValueError):
        drs(x, 0.0)
    with pytest.raises(ValueError):
        drs(x, 1.5)
    with pytest.raises(ValueError):
        drs(torch.rand(2, 4, 4))
    with pytest.raises(ValueError):
        DRSConfig(delta=-1)


# ---------------------------------------------------------------- stage hooks


def _next_stage_input(backbone: Backbone, name: str, stage: int):
    """(module, argument position) of whatever consumes stage ``stage``'s output."""
    if name == "tiny":
        return backbone.stages[stage + 1], 0
    if name.startswith("resnet") and name != "resnet38":
        return (backbone.layer1, backbone.layer2, backbone.layer3, backbone.layer4)[stage + 1], 0
    if name == "resnet38":
        return getattr(backbone, backbone.groups[stage + 1][0]), 1  # block(x, preact)
    if name == "efficientnet_lite0":
        return backbone._blocks[backbone._stage_ends[stage] + 1], 0
    raise AssertionError(f"no next-stage rule for {name}")


def test_default_stages_mapping(backbones):
    expected = {
        "tiny": (2, 3),
        "resnet50": (1, 3),
        "resnet101": (1, 3),
        "resnet38": (2, 5),
        "efficientnet_lite0": (2, 4),
    }
    assert set(expected) == set(backbones), "a new backbone needs a DRS placement decision"
    for name, backbone in backbones.items():
        assert default_drs_stages(backbone) == expected[name]


@pytest.mark.parametrize("name", ["tiny", "efficientnet_lite0", "resnet38", "resnet50", "resnet101"])
def test_attach_detach_on_every_backbone(backbones, name):
    backbone = backbones[name]
    images = torch.rand(IMAGE)
    keys = set(backbone.state_dict())
    with torch.no_grad():
        plain = backbone.forward_stages(images)
        stages = attach_drs(backbone)
        assert stages == default_drs_stages(backbone)
        assert set(backbone.state_dict()) == keys  # parameter-free: nothing registered
        first = stages[0]
        module, position = _next_stage_input(backbone, name, first)
        seen = {}
        handle = module.register_forward_pre_hook(lambda m, args: seen.setdefault("x", args[position]))
        try:
            hooked = backbone.forward_stages(images)
        finally:
            handle.remove()
        assert detach_drs(backbone) == stages
        restored = backbone.forward_stages(images)
        attach_drs(backbone, DRSConfig(stages=stages[:-1]))
        without_last = backbone.forward_stages(images)
        detach_drs(backbone)
    # Stages before the first hook are untouched; the hooked one is suppressed,
    # and the suppressed tensor is what the next stage consumed.
    for i in range(first):
        assert torch.equal(hooked[i], plain[i])
    assert torch.equal(hooked[first], drs(plain[first]))
    assert not torch.equal(hooked[first], plain[first])
    assert torch.equal(seen["x"], hooked[first])
    assert not torch.equal(hooked[-1], plain[-1])
    # The final map is suppressed too (default placement ends with the last stage).
    assert stages[-1] == len(plain) - 1
    # allclose: separate runs of the big nets may differ in the last bits (threaded CPU convs).
    assert torch.allclose(hooked[-1], drs(without_last[-1]), rtol=1e-5, atol=1e-6)
    for a, b in zip(restored, plain):
        assert torch.equal(a, b)
    assert backbone.stage_transforms() == {}


def test_attach_custom_stages_twice_and_gradients():
    backbone = create_backbone("tiny", pretrained=False)
    images = torch.rand(2, 3, 32, 32)
    assert attach_drs(backbone, DRSConfig(stages=(-1, 0), delta=0.3)) == (0, 3)
    assert attach_drs(backbone, DRSConfig(stages=(1,))) == (1,)  # replaces, never stacks
    assert set(backbone.stage_transforms()) == {1}
    images.requires_grad_(True)
    backbone.train()
    backbone(images).sum().backward()
    assert images.grad is not None and images.grad.abs().sum() > 0
    for p in backbone.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()
    assert backbone.stages[0][0][0].weight.grad.abs().sum() > 0
    detach_drs(backbone)
    assert backbone.stage_transforms() == {}


def test_stage_transform_api():
    backbone = create_backbone("tiny", pretrained=False).eval()
    images = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        plain = backbone.forward_stages(images)
        backbone.set_stage_transform(-1, lambda x: x * 0)
        assert set(backbone.stage_transforms()) == {3}
        assert torch.equal(backbone(images), torch.zeros_like(plain[-1]))
        backbone.set_stage_transform(3, None)
        assert torch.equal(backbone(images), plain[-1])
        # A transform with parameters is registered, and removed again.
        scale = nn.Conv2d(16, 16, 1)
        backbone.set_stage_transform(0, scale)
        assert any(k.startswith("stage_transform_modules.0.") for k in backbone.state_dict())
        assert any(p is scale.weight for p in backbone.parameters())
        backbone.set_stage_transform(0, None)
        assert not any(k.startswith("stage_transform_modules") for k in backbone.state_dict())
        assert torch.equal(backbone(images), plain[-1])
    with pytest.raises(ValueError):
        backbone.set_stage_transform(4, lambda x: x)
    with pytest.raises(TypeError):
        backbone.set_stage_transform(0, 3)
    backbone.set_stage_transform(2, lambda x: x)
    with pytest.raises(ValueError):
        attach_drs(backbone, DRSConfig(stages=(2,)))
    assert not isinstance(backbone.stage_transforms()[2], DRSTransform)


# ---------------------------------------------------------------- FUM


@pytest.mark.parametrize(
    "channels,shape",
    [(16, (2, 2, 2)), (16, (1, 2, 3)), (128, (2, 5, 7)), (40, (3, 8, 8)), (64, (1, 1, 9))],
)
def test_fum_shape_and_gradients(channels, shape):
    batch, h, w = shape
    fum = FocusedUnfocusedModule(channels).train()
    x = torch.randn(batch, channels, h, w, requires_grad=True)
    y = fum(x)
    assert y.shape == x.shape
    y.square().mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    for name, p in fum.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all(), name
        if channels >= 64:  # narrower SE bottlenecks have 1-3 hidden units that may start dead
            assert p.grad.abs().sum() > 0, name


def test_fum_backbone_channel_counts(backbones):
    counts = {b.out_channels for b in backbones.values()}
    assert 128 in counts  # tiny's out_channels
    for channels in sorted(counts):
        fum = FocusedUnfocusedModule(channels).eval()
        x = torch.rand(1, channels, 2, 2)
        with torch.no_grad():
            assert fum(x).shape == x.shape


def test_fum_near_identity_at_init_and_deterministic_in_eval():
    fum = FocusedUnfocusedModule(32).eval()
    x = torch.rand(2, 32, 6, 6)
    with torch.no_grad():
        a, b = fum(x), fum(x)
    assert torch.equal(a, b)
    assert (a - x).abs().max() < 0.5 * x.abs().max()
    exact = FocusedUnfocusedModule(32, FUMConfig(residual_init=0.0)).eval()
    with torch.no_grad():
        assert torch.equal(exact(x), x)
    with pytest.raises(ValueError):
        fum(torch.rand(1, 31, 4, 4))
    with pytest.raises(ValueError):
        FUMConfig(dilations=(0, 1, 2, 3))


def test_fum_config_defaults_and_atrous_dilations():
    config = FUMConfig()
    assert config.dilations == (1, 2, 3, 4)
    fum = FocusedUnfocusedModule(256, config)
    convs = [m for m in fum.atrous if isinstance(m, nn.Conv2d)]
    assert [c.dilation[0] for c in convs] == [1, 2, 3, 4]
    assert all(c.kernel_size == (3, 3) for c in convs)
    assert convs[0].out_channels == 32  # C' = 256 // 8


def test_context_association_hand_made():
    # Four positions on a 2x2 grid: 0 and 3 identical keys, 1 orthogonal to them,
    # 2 opposite to 0 (cosine -1, suppressed by the activation).
    keys = torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0], [2.0, 0.0]]).T.reshape(1, 2, 2, 2)
    values = torch.tensor([[1.0, 10.0, 100.0, 3.0]]).reshape(1, 1, 2, 2)
    out, relation = context_association(keys, values)
    expected = torch.tensor(
        [
            [0.5, 0.0, 0.0, 0.5],
            [0.0, 1.0, 0.0, 0.0],
            [0.0, 0.0, 1.0, 0.0],
            [0.5, 0.0, 0.0, 0.5],
        ]
    )
    assert torch.allclose(relation[0], expected)
    # Identical keys associate fully: both positions get the same mean value.
    assert torch.allclose(out.flatten(), torch.tensor([2.0, 10.0, 100.0, 2.0]))
    # Rows are convex weights; an all-zero key position gets nothing.
    zero = torch.zeros(1, 2, 1, 2)
    zero[0, :, 0, 1] = torch.tensor([1.0, 1.0])
    out_zero, rel_zero = context_association(zero, torch.ones(1, 3, 1, 2))
    assert torch.allclose(rel_zero[0], torch.tensor([[0.0, 0.0], [0.0, 1.0]]))
    assert torch.equal(out_zero[0, :, 0, 0], torch.zeros(3))

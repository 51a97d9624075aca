"""CAM-driven reconstruction (seed 003, §III-B): network shapes, perceptual loss eq. 5-6, frozen loss network."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from privobf.wsss.reconstruction import (
    CDRConfig,
    PerceptualLoss,
    ReconstructionNetwork,
    class_aware_features,
    efficientnet_lite0_loss_network,
    reconstruction_loss,
    stage_weights,
)

K = 4  # CAM channels in the tests
SMALL = dict(width=16, up_widths=(16, 16, 8, 8))


class TinyLossNet(nn.Module):
    """Five conv stages with BatchNorm, each halving the resolution; ``forward_stages`` like a Backbone."""

    def __init__(self, n_stages: int = 5) -> None:
        super().__init__()
        chans = [3, 4, 6, 8, 8, 8, 8, 8][: n_stages + 1]
        self.stages = nn.ModuleList(
            nn.Sequential(nn.Conv2d(a, b, 3, stride=2, padding=1), nn.BatchNorm2d(b), nn.ReLU())
            for a, b in zip(chans[:-1], chans[1:])
        )

    def forward_stages(self, images: torch.Tensor) -> list[torch.Tensor]:
        out, x = [], images
        for stage in self.stages:
            x = stage(x)
            out.append(x)
        return out


def _bn_stats(module: nn.Module) -> list[torch.Tensor]:
    norms = [m for m in module.modules() if isinstance(m, nn.BatchNorm2d)]
    return [t.clone() for m in norms for t in (m.running_mean, m.running_var)]


@pytest.fixture
def images() -> torch.Tensor:
    torch.manual_seed(0)
    return torch.rand(2, 3, 64, 64)


@pytest.mark.parametrize("stride", [8, 16, 32])
def test_network_shape_range_and_resize(stride):
    torch.manual_seed(0)
    net = ReconstructionNetwork(K, **SMALL)
    h = 64 // stride
    cams = 10 * torch.randn(2, K, h, h)  # large inputs push tanh to its bounds
    raw = net(cams)
    assert raw.shape == (2, 3, 16 * h, 16 * h)
    out = net(cams, output_size=(64, 64))
    assert out.shape == (2, 3, 64, 64)
    assert out.abs().max() <= 1.0
    if stride == 16:
        assert torch.equal(out, raw)


def test_default_widths_follow_the_authors_decoder():
    net = ReconstructionNetwork(20)
    assert net.head[0].in_channels == 20 and net.head[0].out_channels == 256
    assert [b[0].in_channels for b in net.up] == [256, 256, 128, 64]
    assert [b[3][0].out_channels for b in net.up] == [256, 128, 64, 32]
    assert net.tail[0].in_channels == 32 and net.tail[0].out_channels == 3
    assert isinstance(net.tail[1], nn.Tanh)


def test_stage_weights_follow_eq6():
    assert stage_weights(5) == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2]
    loss = PerceptualLoss(TinyLossNet())
    assert loss.weights.tolist() == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2]


@pytest.mark.parametrize("k", range(5))
def test_stage_j_enters_with_its_weight_and_mean_absolute_error(k, images):
    # Stage k is the image itself, the others are zero: the loss is w_k * mean|a - b|.
    def extractor(x):
        return [x if j == k else torch.zeros_like(x) for j in range(5)]

    loss = PerceptualLoss(extractor)
    other = images.flip(-1)
    expected = (images - other).abs().mean() / 2 ** (5 + 1 - (k + 1))
    assert torch.allclose(loss.distance(images, other), expected)
    assert torch.allclose(loss.stage_losses(images, other)[k], (images - other).abs().mean())


def test_zero_for_identical_images_positive_otherwise(images):
    torch.manual_seed(0)
    loss = PerceptualLoss(TinyLossNet())
    assert loss.distance(images, images).item() == 0.0
    # The tanh side is mapped from [-1, 1] to [0, 1].
    assert loss(images * 2 - 1, images).item() < 1e-6
    assert loss(torch.rand_like(images) * 2 - 1, images).item() > 0


def test_gradients_reach_reconstruction_and_cams_not_the_frozen_loss_network(images):
    torch.manual_seed(0)
    lossnet = TinyLossNet()
    lossnet.train()
    before = _bn_stats(lossnet)
    features = torch.randn(2, 12, 8, 8, requires_grad=True)
    classifier = nn.Conv2d(12, K, 1, bias=False)

    class Parent(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = ReconstructionNetwork(K, **SMALL)
            self.loss = PerceptualLoss(lossnet)

    parent = Parent().train()
    assert not lossnet.training
    lossnet.train()  # even switched on directly, the loss must not update BatchNorm statistics
    cams = class_aware_features(features, classifier)
    assert torch.equal(cams, class_aware_features(features, classifier.weight))
    value = reconstruction_loss(parent.net, parent.loss, cams, images)
    value.backward()
    assert value.item() > 0
    assert all(p.grad is not None for p in parent.net.parameters())
    assert any(p.grad.abs().sum() > 0 for p in parent.net.parameters())
    assert classifier.weight.grad is not None and classifier.weight.grad.abs().sum() > 0
    assert features.grad is not None and features.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in lossnet.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_stats(lossnet)))


def test_stage_selection_from_deeper_network(images):
    loss = PerceptualLoss(TinyLossNet(n_stages=7))
    assert loss.distance(images, images.flip(-1)).item() > 0
    with pytest.raises(ValueError, match="gives 3 stages"):
        PerceptualLoss(TinyLossNet(n_stages=3)).distance(images, images)


def test_optimising_the_reconstruction_lowers_the_loss(images):
    torch.manual_seed(0)
    config = CDRConfig(**SMALL)
    net = ReconstructionNetwork.from_config(K, config)
    loss = PerceptualLoss(TinyLossNet())
    cams = torch.randn(1, K, 4, 4)
    image = images[:1]
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    values = []
    for _ in range(40):
        opt.zero_grad()
        value = reconstruction_loss(net, loss, cams, image)
        value.backward()
        opt.step()
        values.append(value.item())
    assert values[-1] < 0.6 * values[0], values
    assert values[-1] < min(values[:10]), values


def test_config_defaults_and_validation():
    config = CDRConfig()
    assert config.beta_p == 1.0 and config.n_stages == 5
    with pytest.raises(ValueError):
        CDRConfig(up_widths=(8, 8))
    with pytest.raises(ValueError):
        CDRConfig(beta_p=-1.0)


def test_efficientnet_lite0_loss_network(images):
    lossnet = efficientnet_lite0_loss_network()
    assert lossnet.stage_channels == (16, 24, 40, 112, 1280)
    assert not lossnet.training
    assert all(not p.requires_grad for p in lossnet.parameters())
    loss = PerceptualLoss(lossnet)
    torch.manual_seed(0)
    net = ReconstructionNetwork(K, **SMALL)
    parent = nn.ModuleDict({"net": net, "loss": loss}).train()
    before = _bn_stats(lossnet)
    cams = torch.randn(2, K, 2, 2, requires_grad=True)  # stride 32 on 64x64 images
    value = reconstruction_loss(net, loss, cams, images)
    value.backward()
    assert torch.isfinite(value) and value.item() > 0
    assert cams.grad is not None and cams.grad.abs().sum() > 0
    assert all(p.grad is None for p in lossnet.parameters())
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_stats(lossnet)))
    assert not lossnet.training and parent.training
    assert loss.distance(images, images).item() == 0.0
    # Real learning behaviour on the real loss network: a few Adam steps on one image lower the loss.
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    fixed = cams.detach()[:1]
    values = []
    for _ in range(15):
        opt.zero_grad()
        value = reconstruction_loss(net, loss, fixed, images[:1])
        value.backward()
        opt.step()
        values.append(value.item())
    assert values[-1] < 0.85 * values[0], values
    assert all(torch.equal(a, b) for a, b in zip(before, _bn_stats(lossnet)))

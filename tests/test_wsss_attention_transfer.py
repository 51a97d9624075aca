"""Attention transfer (seed 002 §III-B, §III-D): eq. 2 transforms, the four-case merged CAM, eq. 5 and 6."""

import pytest
import torch

from privobf.wsss.attention_transfer import (
    CASE_BOTH,
    CASE_NEITHER,
    CASE_ONE_CONFIDENT,
    CASE_ONE_WEAK,
    ATConfig,
    attention_transfer_losses,
    background_map,
    background_similarity_loss,
    decreased,
    enhance,
    enhanced,
    merge_cams,
    merge_cases,
    similarity_loss,
)


def test_enhance_and_decrease_on_hand_values():
    pixels = torch.tensor([0.0, 100.0, 150.0, 255.0]).view(1, 1, 1, 4) / 255.0
    # enhance: 1.5 g + (300 - 255) on the 0-255 scale, clipped
    expected_e = torch.tensor([45.0, 195.0, 255.0, 255.0]).view(1, 1, 1, 4) / 255.0
    assert torch.allclose(enhanced(pixels), expected_e, atol=1e-6)
    # decrease: 0.8 g + (150 - 255)
    expected_d = torch.tensor([0.0, 0.0, 15.0, 99.0]).view(1, 1, 1, 4) / 255.0
    assert torch.allclose(decreased(pixels), expected_d, atol=1e-6)
    assert decreased(pixels).mean() < pixels.mean() < enhanced(pixels).mean()
    # the literal reading (beta_centre = 0) saturates the enhanced image entirely
    assert torch.all(enhance(pixels, 1.5, 300.0, beta_centre=0.0) == 1.0)
    assert torch.allclose(enhance(pixels, 1.0, 255.0), pixels)


def hand_cams():
    """Two classes on a 1 × 5 strip; class 0 present, class 1 present; argmax membership, bg 0.15."""
    #                       x0    x1    x2    x3    x4
    e = torch.tensor([[[0.9, 0.9, 0.3, 0.05, 0.4],
                       [0.1, 0.2, 0.1, 0.10, 0.1]]]).unsqueeze(2)
    d = torch.tensor([[[0.6, 0.1, 0.1, 0.05, 0.2],
                       [0.1, 0.7, 0.4, 0.10, 0.3]]]).unsqueeze(2)
    return e, d


def test_merged_cam_follows_the_four_cases():
    e, d = hand_cams()
    labels = torch.tensor([[1.0, 1.0]])
    cases = merge_cases(e, d, labels)[0, :, 0]
    # class 0: x0 both → 1; x1 only e (max 0.9) → 2; x2 only e, max 0.3 → 3; x3 neither → 4; x4 only e (0.4) → 3
    assert cases[0].tolist() == [CASE_BOTH, CASE_ONE_CONFIDENT, CASE_ONE_WEAK, CASE_NEITHER, CASE_ONE_WEAK]
    # class 1: x1 only d (0.7) → 2; x2 only d (0.4) → 3; x4 only d (0.3) → 3; x0, x3 neither → 4
    assert cases[1].tolist() == [CASE_NEITHER, CASE_ONE_CONFIDENT, CASE_ONE_WEAK, CASE_NEITHER, CASE_ONE_WEAK]
    merged = merge_cams(e, d, labels, normalize=False)[0, :, 0]
    assert torch.allclose(merged[0], torch.tensor([0.9, 0.9, 0.0, 0.0, 0.0]))
    assert torch.allclose(merged[1], torch.tensor([0.0, 0.7, 0.0, 0.0, 0.0]))
    # an absent class never belongs: class 1 absent turns its pixels to case 4 and class 0 takes over x1, x2
    absent = merge_cases(e, d, torch.tensor([[1.0, 0.0]]))[0, :, 0]
    assert absent[1].tolist() == [CASE_NEITHER] * 5
    assert absent[0].tolist() == [CASE_BOTH, CASE_ONE_CONFIDENT, CASE_ONE_WEAK, CASE_NEITHER, CASE_BOTH]
    # threshold membership tests each class on its own
    per_class = merge_cases(e, d, labels, ATConfig(membership="threshold"))[0, :, 0]
    assert per_class[0].tolist() == [CASE_BOTH, CASE_ONE_CONFIDENT, CASE_ONE_WEAK, CASE_NEITHER, CASE_BOTH]


def test_merge_is_a_detached_target():
    e, d = hand_cams()
    e.requires_grad_(True)
    assert not merge_cams(e, d).requires_grad


def test_background_map_on_hand_values():
    e, _ = hand_cams()
    maps = background_map(e, torch.tensor([[1.0, 1.0]]))[0, :, 0]
    assert torch.allclose(maps[0], torch.tensor([0.0, 0.0, 0.0, 0.9, 0.0]))  # background: 1 - max(0.05, 0.10)
    assert torch.allclose(maps[1], torch.tensor([0.9, 0.9, 0.3, 0.0, 0.4]))  # winning class kept
    assert torch.all(maps[2] == 0)


@pytest.mark.parametrize("loss_name", ["similarity", "background"])
def test_losses_zero_when_identical_positive_otherwise_with_gradient(loss_name):
    torch.manual_seed(0)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    base = torch.rand(2, 3, 6, 6)
    if loss_name == "similarity":
        assert similarity_loss(base, base.clone(), base.clone()) == 0
        other = torch.rand(2, 3, 6, 6, requires_grad=True)
        loss = similarity_loss(other, base, base * 0.5)
        expected = 0.5 * ((other - base * 0.5).abs().mean() + (other - base).abs().mean())
        assert torch.allclose(loss, expected)
    else:
        assert background_similarity_loss(base, base.clone(), labels) == 0
        other = torch.rand(2, 3, 6, 6, requires_grad=True)
        loss = background_similarity_loss(other, base, labels)
    assert loss > 0
    loss.backward()
    assert other.grad is not None and other.grad.abs().sum() > 0


def test_attention_transfer_losses_wiring():
    torch.manual_seed(1)
    raw = [torch.randn(2, 3, 5, 5, requires_grad=True) for _ in range(3)]
    labels = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    out = attention_transfer_losses(*raw, labels=labels)
    assert out["merged"].shape == (2, 3, 5, 5) and not out["merged"].requires_grad
    assert torch.allclose(out["total"], 0.5 * out["similarity"] + 0.5 * out["background_similarity"])
    out["total"].backward()
    assert all(r.grad is not None and r.grad.abs().sum() > 0 for r in raw)

"""BBAM: the fixed-proposal detector (RoIAlign, box coder, training) and the attribution masks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from privobf.refine.bbam import (
    IGNORE,
    BbamConfig,
    adaptive_stride,
    bbam_attribution,
    bbam_map,
    bbam_masks,
    bbam_pseudo_label,
    mask_grid_size,
    perturb,
    perturbation_loss,
)
from privobf.refine.detector import (
    DetectorConfig,
    RoiAlign,
    box_iou,
    decode_boxes,
    encode_boxes,
    jitter_boxes,
    load_detector,
    random_boxes,
    save_detector,
    train_detector,
)

SIZE = 64


# --- RoIAlign -------------------------------------------------------------------------------------


def _squares_feature() -> torch.Tensor:
    """f[y, x] = (4 y + x)^2 on a 4x4 map: not linear, so bilinear weights matter."""
    values = torch.tensor([[(4 * y + x) ** 2 for x in range(4)] for y in range(4)], dtype=torch.float32)
    return values[None, None]


def test_roi_align_single_sample_matches_hand_computed_bilinear():
    # aligned=True: box (1.25, 0.75, 2.25, 1.25) -> (0.75, 0.25, 1.75, 0.75) in cell coordinates; one
    # bin, one sample at its centre (x = 1.25, y = 0.5): 0.5 (0.75 f[0,1] + 0.25 f[0,2]) +
    # 0.5 (0.75 f[1,1] + 0.25 f[1,2]) = 0.5 (0.75 + 1) + 0.5 (18.75 + 9) = 14.75.
    roi_align = RoiAlign(output_size=1, spatial_scale=1.0, sampling_ratio=1)
    pooled = roi_align(_squares_feature(), [torch.tensor([[1.25, 0.75, 2.25, 1.25]])])
    assert pooled.shape == (1, 1, 1, 1)
    assert pooled.item() == pytest.approx(14.75, abs=1e-5)


def test_roi_align_two_by_two_samples_average():
    # Box (1, 1, 2, 3) at scale 1 -> cells (0.5, 0.5)-(1.5, 2.5); ratio 2 samples at x in {0.75, 1.25},
    # y in {1.0, 2.0}. f at (y=1, x=0.75) = 0.25*16 + 0.75*25 = 22.75; (1, 1.25) = 0.75*25 + 0.25*36 = 27.75;
    # (2, 0.75) = 0.25*64 + 0.75*81 = 76.75; (2, 1.25) = 0.75*81 + 0.25*100 = 85.75. Mean = 53.25.
    roi_align = RoiAlign(output_size=1, spatial_scale=1.0, sampling_ratio=2)
    pooled = roi_align(_squares_feature(), [torch.tensor([[1.0, 1.0, 2.0, 3.0]])])
    assert pooled.item() == pytest.approx(53.25, abs=1e-5)


def test_roi_align_7x7_on_linear_features_and_out_of_map_boxes():
    # On f = 3 x + 2 y + 1 every bin average equals f at the bin centre.
    ys, xs = torch.meshgrid(torch.arange(8.0), torch.arange(8.0), indexing="ij")
    features = torch.stack((3 * xs + 2 * ys + 1, -xs))[None]  # [1, 2, 8, 8]
    box = [4.0, 6.0, 11.0, 13.0]  # input pixels at stride 2 -> cells (1.5, 2.5)-(5.0, 6.0)
    roi_align = RoiAlign(output_size=7, spatial_scale=0.5, sampling_ratio=2)
    pooled = roi_align(features, [torch.tensor([box, [40.0, 40.0, 50.0, 50.0]])])
    assert pooled.shape == (2, 2, 7, 7)
    x0, y0 = box[0] * 0.5 - 0.5, box[1] * 0.5 - 0.5
    bin_w, bin_h = (box[2] - box[0]) * 0.5 / 7, (box[3] - box[1]) * 0.5 / 7
    centres_x = x0 + (torch.arange(7.0) + 0.5) * bin_w
    centres_y = y0 + (torch.arange(7.0) + 0.5) * bin_h
    expected = 3 * centres_x[None, :] + 2 * centres_y[:, None] + 1
    assert torch.allclose(pooled[0, 0], expected, atol=1e-4)
    assert torch.allclose(pooled[0, 1], -centres_x[None, :].expand(7, 7), atol=1e-4)
    # A box more than one cell beyond the map reads zeros (the reference kernel's rule).
    assert torch.count_nonzero(pooled[1]) == 0


# --- box coder ------------------------------------------------------------------------------------


def test_box_encoding_known_values_and_round_trip():
    proposal = torch.tensor([[0.0, 0.0, 10.0, 10.0]])
    target = torch.tensor([[5.0, 0.0, 15.0, 20.0]])
    deltas = encode_boxes(target, proposal)
    # weights (10, 10, 5, 5): dx = 10 * 5 / 10, dy = 10 * 5 / 10, dw = 5 log 1, dh = 5 log 2
    assert torch.allclose(deltas, torch.tensor([[5.0, 5.0, 0.0, 5 * math.log(2)]]), atol=1e-5)

    generator = torch.Generator().manual_seed(3)
    proposals = random_boxes(200, (100, 120), generator)
    targets = jitter_boxes(torch.tensor([30.0, 20.0, 80.0, 70.0]), len(proposals), 0.3, generator, (100, 120))
    proposals = proposals[: len(targets)]
    restored = decode_boxes(encode_boxes(targets, proposals), proposals)
    assert torch.allclose(restored, targets, atol=1e-3)
    # Class-specific deltas [N, C, 4] decode per class.
    stacked = torch.stack((encode_boxes(targets, proposals), torch.zeros(len(proposals), 4)), dim=1)
    decoded = decode_boxes(stacked, proposals)
    assert torch.allclose(decoded[:, 0], targets, atol=1e-3)
    assert torch.allclose(decoded[:, 1], proposals, atol=1e-4)


# --- a detector trained on "plates" ----------------------------------------------------------------


def _plate_scene(seed: int) -> tuple[np.ndarray, dict[str, list[tuple[int, int, int, int]]]]:
    """Dark noise with one bright rectangle, the plate."""
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 90, (SIZE, SIZE, 3)).astype(np.uint8)
    width, height = int(rng.integers(18, 30)), int(rng.integers(10, 16))
    x0, y0 = int(rng.integers(4, SIZE - width - 4)), int(rng.integers(4, SIZE - height - 4))
    pixels[y0 : y0 + height, x0 : x0 + width] = 230
    return pixels, {"plate": [(x0, y0, x0 + width, y0 + height)]}


@pytest.fixture(scope="module")
def plate_detector():
    torch.set_num_threads(1)
    config = DetectorConfig(
        backbone="tiny",
        pretrained=False,
        output_stride=8,
        image_long_side=SIZE,
        hidden=64,
        proposals_per_image=48,
        batch_size=2,
        epochs=100,
        max_steps=50,
        lr=1e-3,
        backbone_lr_scale=1.0,
        seed=0,
    )
    losses: list[float] = []
    detector = train_detector([_plate_scene(i) for i in range(8)], ["plate"], config, progress=lambda s: losses.append(s["loss"]))
    return detector, losses


def test_detector_learns_plate_proposals_versus_background(plate_detector):
    detector, losses = plate_detector
    assert len(losses) == 50
    assert np.mean(losses[-5:]) < 0.5 * np.mean(losses[:5])
    pixels, boxes = _plate_scene(100)
    box = torch.tensor(boxes["plate"][0], dtype=torch.float32)
    generator = torch.Generator().manual_seed(1)
    positives = jitter_boxes(box, 200, 0.2, generator, (SIZE, SIZE))
    negatives = random_boxes(600, (SIZE, SIZE), generator)
    negatives = negatives[box_iou(negatives, box[None])[:, 0] < 0.2][:200]
    image, scale = detector.prepare(pixels)
    assert scale == 1.0
    with torch.no_grad():
        probabilities, deltas = detector.heads(image, [torch.cat((positives, negatives))])
    assert probabilities.shape == (len(positives) + len(negatives), 2)
    assert deltas.shape == (len(positives) + len(negatives), 1, 4)
    assert torch.allclose(probabilities.sum(dim=1), torch.ones(len(probabilities)), atol=1e-5)
    plate_on_plate = probabilities[: len(positives), 1].mean().item()
    plate_on_background = probabilities[len(positives) :, 1].mean().item()
    assert plate_on_plate > 0.6
    assert plate_on_background < 0.1


def test_detector_save_load_round_trip(plate_detector, tmp_path):
    detector, _ = plate_detector
    path = save_detector(tmp_path / "detector.safetensors", detector)
    restored = load_detector(path)
    assert restored.classes == ["plate"]
    assert restored.config.hidden == 64
    pixels, boxes = _plate_scene(101)
    image, _ = detector.prepare(pixels)
    proposals = [torch.tensor([boxes["plate"][0], [0, 0, 20, 20]], dtype=torch.float32)]
    with torch.no_grad():
        expected = detector.heads(image, proposals)
        actual = restored.heads(image, proposals)
    assert torch.allclose(expected[0], actual[0]) and torch.allclose(expected[1], actual[1])


# --- BBAM -----------------------------------------------------------------------------------------


def test_adaptive_stride_values():
    assert adaptive_stride(0.0) == 16
    assert adaptive_stride(0.25) == pytest.approx(40.0)
    assert adaptive_stride(0.09) == pytest.approx(30.4)
    assert adaptive_stride(1.0) == 64
    assert mask_grid_size((375, 500), 40.0) == (10, 13)  # ceil(h / s) x ceil(w / s)


def test_perturbation_fills_with_the_pixel_mean_and_loss_matches_hand_value():
    images = torch.rand(1, 3, 8, 8)
    mean = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    assert torch.allclose(perturb(images, torch.zeros(1, 1, 2, 2), mean), mean.expand(1, 3, 8, 8))
    assert torch.allclose(perturb(images, torch.ones(1, 1, 2, 2), mean), images)
    probabilities = torch.tensor([0.5, 0.9])
    deltas = torch.tensor([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    targets_p = torch.tensor([0.9, 0.9])
    targets_d = torch.zeros(2, 4)
    # proposal 1: |dd| mean 0.25 / 2 + 0.4 / 2 = 0.325; proposal 2: 0 -> mean 0.1625
    assert perturbation_loss(probabilities, deltas, targets_p, targets_d, BbamConfig()).item() == pytest.approx(0.1625)
    box_only = BbamConfig(use_cls_head=False)
    assert perturbation_loss(probabilities, deltas, targets_p, targets_d, box_only).item() == pytest.approx(0.0625)


def test_bbam_mask_concentrates_inside_the_object(plate_detector):
    detector, _ = plate_detector
    pixels, boxes = _plate_scene(100)
    box = boxes["plate"][0]
    # Uniform start so the inside/outside contrast comes from the optimisation, not the box init;
    # strides scaled to a 64-px image (the published 16 + 48 sqrt(a) is for ~500-px photos).
    config = BbamConfig(iterations=40, mask_init="ones", stride_base=4, stride_scale=12, proposal_samples=300)
    result = bbam_attribution(detector, pixels, box, "plate", config, torch.Generator().manual_seed(0))
    assert result is not None and result.positives > 0
    assert result.attribution.shape == (SIZE, SIZE) and result.attribution.dtype == np.float32
    assert 0.0 <= result.attribution.min() and result.attribution.max() <= 1.0
    inside = np.zeros((SIZE, SIZE), dtype=bool)
    inside[box[1] : box[3], box[0] : box[2]] = True
    assert result.attribution[inside].mean() > result.attribution[~inside].mean() + 0.3
    assert result.losses[-1] < result.losses[0]


def test_bbam_map_without_positive_proposals_returns_none(plate_detector):
    detector, _ = plate_detector
    pixels, boxes = _plate_scene(100)
    x0, y0, x1, y1 = boxes["plate"][0]
    # A box of plain noise far from the plate: the detector calls every jitter background.
    noise_box = (0, 0, 12, 12) if x0 > 16 or y0 > 16 else (SIZE - 12, SIZE - 12, SIZE, SIZE)
    config = BbamConfig(iterations=2, proposal_samples=100)
    assert bbam_map(detector, pixels, noise_box, "plate", config, torch.Generator().manual_seed(0)) is None


# --- ternary labels -------------------------------------------------------------------------------


def _three_level_map() -> np.ndarray:
    """0.9 on the left third, 0.5 in the middle, 0.1 on the right, over the whole 30x30 image."""
    attribution = np.full((30, 30), 0.1, dtype=np.float32)
    attribution[:, :10] = 0.9
    attribution[:, 10:20] = 0.5
    return attribution


def test_pseudo_label_thresholds_with_ignore_band_and_background_outside_boxes():
    pixels = np.zeros((30, 30, 3), dtype=np.uint8)
    box = (0, 5, 30, 25)
    labels, per_box = bbam_pseudo_label(pixels, {"face": [box]}, {"face": [_three_level_map()]}, ["plate", "face"], crf=False)
    assert labels.dtype == np.uint8 and labels.shape == (30, 30)
    assert (labels[5:25, :10] == 2).all()  # >= theta_fg -> class "face" (k = 1 -> 2)
    assert (labels[5:25, 10:20] == IGNORE).all()  # between the thresholds
    assert (labels[5:25, 20:] == 0).all()  # < theta_bg
    assert (labels[:5] == 0).all() and (labels[25:] == 0).all()  # outside every box, despite 0.9 there
    assert len(per_box) == 1 and per_box[0].class_id == "face"


def test_two_classes_claiming_a_pixel_are_ignored_and_nested_box_overrides():
    pixels = np.zeros((30, 30, 3), dtype=np.uint8)
    high = np.full((30, 30), 0.95, dtype=np.float32)
    boxes = {"plate": [(0, 0, 20, 20)], "face": [(10, 10, 30, 30)]}
    labels, _ = bbam_pseudo_label(pixels, boxes, {"plate": [high], "face": [high]}, ["plate", "face"], crf=False)
    assert (labels[:10, :10] == 1).all() and (labels[20:, 20:] == 2).all()
    assert (labels[10:20, 10:20] == IGNORE).all()  # both claim the overlap
    assert (labels[:10, 20:] == 0).all()

    # A plate box fully inside a car-sized face box: the plate's mask decides inside its box.
    nested = {"face": [(0, 0, 30, 30)], "plate": [(10, 10, 20, 20)]}
    labels, _ = bbam_pseudo_label(pixels, nested, {"face": [high], "plate": [high]}, ["plate", "face"], crf=False)
    assert (labels[10:20, 10:20] == 1).all()
    assert (labels[:10] == 2).all() and (labels[20:] == 2).all()

    # The multi-label variant keeps both: privacy attributes overlap.
    masks = bbam_masks(pixels, boxes, {"plate": [high], "face": [_three_level_map()]}, crf=False)
    assert set(masks) == {"plate", "face"}
    assert (masks["plate"][:20, :20] == 1).all() and (masks["plate"][20:] == 0).all()
    assert (masks["face"][10:30, 10] == IGNORE).all() and (masks["face"][10:30, 25] == 0).all()
    assert (masks["face"][:10] == 0).all()


def test_missing_map_falls_back_to_box_prior_and_crf_shapes_it():
    pixels = np.zeros((30, 30, 3), dtype=np.uint8)
    pixels[12:18, 8:22] = 255  # the object inside the box
    box = (5, 10, 25, 20)
    # No CRF: the box prior 0.7 is between the thresholds -> the whole box is ignore.
    labels, _ = bbam_pseudo_label(pixels, {"plate": [box]}, {"plate": [None]}, ["plate"], crf=False)
    assert (labels[10:20, 5:25] == IGNORE).all() and (labels[:10] == 0).all()

    calls = []

    def bright_pixels_crf(image: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
        """Stand-in CRF: foreground where the image is bright and the prior is non-zero."""
        calls.append(probabilities.shape)
        foreground = ((image.mean(axis=2) > 128) & (probabilities[1] > 0)).astype(np.float32)
        return np.stack((1 - foreground, foreground))

    labels, per_box = bbam_pseudo_label(pixels, {"plate": [box]}, {"plate": [None]}, ["plate"], crf=bright_pixels_crf)
    assert calls == [(2, 30, 30)]
    assert (labels[12:18, 8:22] == 1).all()
    assert (labels[10:12, 5:25] == 0).all() and (labels[18:20, 5:25] == 0).all()
    assert per_box[0].foreground.max() == 1.0

"""DeepLab-v2 segmentation network, its training loop and checkpoints, DSRG, prediction and evaluation.

Known answers on constructed inputs: seeds grow exactly through 8-connected confident pixels, the
losses equal hand-computed values, a tiny network learns a coloured square, resumed training is
bit-identical to an uninterrupted run.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace

import numpy as np
import pytest
import torch
from scipy import ndimage

from privobf.checkpoint import CheckpointError, save_checkpoint
from privobf.segmentation import (
    DeepLabV2,
    SegmentationConfig,
    SegmentationPredictor,
    SegSample,
    aspp_rates,
    balanced_seed_loss,
    constrain_to_boundary_loss,
    evaluate_segmentation,
    grow_seeds,
    load_segmentation,
    train_segmentation,
)
from privobf.segmentation.dsrg import crf_targets
from privobf.segmentation.training import SegmentationModel, build_network, seed_everything

torch.set_num_threads(1)

IGNORE = 255
SQUARE_COLOUR = (230, 60, 40)
BACKGROUND_COLOUR = (40, 90, 160)


# ---------------------------------------------------------------------------------------------
# Constructed data.
# ---------------------------------------------------------------------------------------------


@dataclass
class Item:
    """The project's data-item shape: image, labels, masks {id: bool}, optional ignore."""

    image: np.ndarray
    labels: list[str]
    masks: dict[str, np.ndarray] = field(default_factory=dict)
    ignore: np.ndarray | None = None


class ExclusiveSplit(list):
    exclusive_masks = True


def square_scene(rng: np.random.Generator, size: int = 48) -> tuple[np.ndarray, tuple[int, int, int]]:
    """A red square on a noisy plain blue background; returns the image and (y, x, side)."""
    image = np.empty((size, size, 3), dtype=np.int64)
    image[:] = BACKGROUND_COLOUR
    image += rng.integers(-10, 10, image.shape)
    side = int(rng.integers(14, 24))
    y, x = (int(v) for v in rng.integers(0, size - side, 2))
    image[y : y + side, x : x + side] = SQUARE_COLOUR
    return np.clip(image, 0, 255).astype(np.uint8), (y, x, side)


def exclusive_sample(rng: np.random.Generator) -> SegSample:
    """Exclusive target: 1 inside the square, 0 outside, a 2-pixel ignore band across its border."""
    image, (y, x, side) = square_scene(rng)
    target = np.zeros(image.shape[:2], dtype=np.uint8)
    target[y : y + side, x : x + side] = 1
    band = np.zeros(target.shape, dtype=bool)
    band[max(0, y - 2) : y + side + 2, max(0, x - 2) : x + side + 2] = True
    band[y + 2 : y + side - 2, x + 2 : x + side - 2] = False
    target[band] = IGNORE
    return SegSample(image, target, f"square-{y}-{x}", present=[0])


def exclusive_item(rng: np.random.Generator) -> Item:
    image, (y, x, side) = square_scene(rng)
    mask = np.zeros(image.shape[:2], dtype=bool)
    mask[y : y + side, x : x + side] = True
    return Item(image, ["square"], {"square": mask})


def tiny_config(**overrides) -> SegmentationConfig:
    """The tiny random-init backbone: BN is trained (frozen BN is for ImageNet-initialised
    backbones) and the rate is higher than DeepLab's 2.5e-4, which is tuned for fine-tuning."""
    values = dict(
        backbone="tiny", pretrained=False, crop_size=40, batch_size=4, epochs=10, iterations_per_epoch=3,
        lr=0.01, device="cpu", freeze_batchnorm=False, scale_range=(0.8, 1.2), seed=0,
    )
    values.update(overrides)
    return SegmentationConfig(**values)


def untrained(config: SegmentationConfig, ids: list[str], kind: str) -> SegmentationModel:
    seed_everything(config.seed)
    network = build_network(config, len(ids) + 1 if kind == "exclusive" else len(ids))
    return SegmentationModel(network.eval(), ids, kind, config)


@pytest.fixture(scope="module")
def square_run(tmp_path_factory):
    """A tiny DeepLab trained for 30 steps on 8 square scenes (shared by several tests)."""
    rng = np.random.default_rng(0)
    samples = [exclusive_sample(rng) for _ in range(8)]
    out = tmp_path_factory.mktemp("square")
    records = []
    path = train_segmentation(samples, ["square"], "exclusive", tiny_config(), out, progress=records.append)
    return samples, out, path, records


# ---------------------------------------------------------------------------------------------
# Network.
# ---------------------------------------------------------------------------------------------


def test_aspp_rates_are_deeplab_v2_at_stride_8_and_halved_at_16():
    assert aspp_rates(8) == (6, 12, 18, 24)
    assert aspp_rates(16) == (3, 6, 9, 12)
    with pytest.raises(ValueError):
        aspp_rates(32)


@pytest.mark.parametrize("stride", [8, 16])
def test_deeplab_outputs_logits_at_the_output_stride(stride):
    torch.manual_seed(0)
    network = DeepLabV2("tiny", n_outputs=3, pretrained=False, output_stride=stride).eval()
    logits = network(torch.rand(2, 3, 64, 48))
    assert logits.shape == (2, 3, 64 // stride, 48 // stride)
    assert [branch.dilation[0] for branch in network.aspp.branches] == list(aspp_rates(stride))
    # The ASPP branches are summed: the head is linear in its branches.
    features = network.backbone(torch.rand(1, 3, 32, 32))
    summed = sum(branch(features) for branch in network.aspp.branches)
    assert torch.allclose(network.aspp(features), summed, atol=1e-6)


def test_deeplab_on_efficientnet_lite0_at_stride_8():
    network = DeepLabV2(n_outputs=4, pretrained=False, output_stride=8).eval()
    with torch.no_grad():
        assert network(torch.rand(1, 3, 64, 64)).shape == (1, 4, 8, 8)
    groups = network.parameter_groups()
    assert len(groups["10x"]) == len(groups["20x"]) == 4


# ---------------------------------------------------------------------------------------------
# DSRG: seed growing and the two losses.
# ---------------------------------------------------------------------------------------------


def probabilities_from(winner: np.ndarray, confidence: np.ndarray, n_classes: int) -> torch.Tensor:
    """[1, C, h, w] softmax-like maps: `confidence` on the `winner` class, the rest shared equally."""
    rest = (1.0 - confidence) / (n_classes - 1)
    probabilities = np.repeat(rest[None], n_classes, axis=0)
    np.put_along_axis(probabilities, winner[None], confidence[None], axis=0)
    return torch.from_numpy(probabilities[None].astype(np.float32))


def test_grow_seeds_follows_8_connected_confident_pixels_only():
    unlabelled = np.full((7, 9), IGNORE, dtype=np.int64)
    seeds = unlabelled.copy()
    seeds[3, 0] = 1  # a seed of class 0 (label 1)
    winner = np.zeros((7, 9), dtype=np.int64)
    confidence = np.full((7, 9), 0.5)
    # A confident class-1 path: right along row 3, then a diagonal step to (2, 4) and (1, 5).
    for y, x in [(3, 1), (3, 2), (3, 3), (2, 4), (1, 5)]:
        winner[y, x], confidence[y, x] = 1, 0.9
    # Beyond a low-probability gap at (1, 6): confident again, but not connected.
    for y, x in [(1, 7), (1, 8)]:
        winner[y, x], confidence[y, x] = 1, 0.95
    # Touching the region but below the 0.85 foreground threshold.
    winner[4, 2], confidence[4, 2] = 1, 0.8
    # Confident for class 2 (label 2), which is absent from the image, right next to the region.
    winner[4, 3], confidence[4, 3] = 2, 0.97
    probabilities = probabilities_from(winner, confidence, 3)
    present = torch.tensor([[True, True, False]])
    grown = grow_seeds(torch.from_numpy(seeds)[None], probabilities, present)[0].numpy()
    expected = unlabelled.copy()
    for y, x in [(3, 0), (3, 1), (3, 2), (3, 3), (2, 4), (1, 5)]:
        expected[y, x] = 1
    np.testing.assert_array_equal(grown, expected)


def test_grow_seeds_background_needs_its_own_threshold_and_seeds_never_change():
    seeds = torch.full((1, 3, 4), IGNORE, dtype=torch.int64)
    seeds[0, 0, 0] = 0
    seeds[0, 2, 3] = 1
    winner = np.zeros((3, 4), dtype=np.int64)
    confidence = np.full((3, 4), 0.995)
    confidence[0, 2] = 0.95  # background, but below 0.99: a gap
    winner[2, 3], confidence[2, 3] = 0, 0.999  # the class seed sits on a confident background pixel
    grown = grow_seeds(seeds, probabilities_from(winner, confidence, 2), torch.tensor([[True, True]]))[0]
    assert grown[2, 3] == 1  # seeds are kept as given
    assert grown[0, 1] == 0 and grown[1, 1] == 0 and grown[2, 2] == 0
    assert grown[0, 2] == IGNORE  # 0.95 < 0.99
    assert grown[0, 3] == 0  # reached around the gap through (1, 2) -> (0, 3)


def bfs_reference(seeds: np.ndarray, probabilities: np.ndarray, present: np.ndarray, bg: float, fg: float) -> np.ndarray:
    """The paper's procedure written as connected components: a candidate pixel joins class c when an
    8-connected path of candidates whose present-class argmax is c links it to a seed of c."""
    masked = np.where(present[:, None, None], probabilities, -1.0)
    best, winner = masked.max(axis=0), masked.argmax(axis=0)
    thresholds = np.where(winner == 0, bg, fg)
    candidate = (seeds == IGNORE) & (best > thresholds)
    grown = seeds.copy()
    for c in np.flatnonzero(present):
        region = (seeds == c) | (candidate & (winner == c))
        components, _ = ndimage.label(region, structure=np.ones((3, 3)))
        reached = np.unique(components[(seeds == c) & (components > 0)])
        grown[np.isin(components, reached[reached > 0]) & candidate & (winner == c)] = c
    return grown


def test_grow_seeds_equals_breadth_first_region_growing_on_random_maps():
    rng = np.random.default_rng(3)
    for _ in range(5):
        logits = rng.normal(0, 3, (4, 16, 16))
        probabilities = np.exp(logits) / np.exp(logits).sum(axis=0)
        seeds = np.full((16, 16), IGNORE, dtype=np.int64)
        picks = rng.integers(0, 16, (6, 2))
        seeds[picks[:, 0], picks[:, 1]] = rng.integers(0, 4, 6)
        present = np.array([True, True, rng.random() < 0.5, True])
        expected = bfs_reference(seeds, probabilities, present, 0.6, 0.5)
        grown = grow_seeds(
            torch.from_numpy(seeds)[None], torch.from_numpy(probabilities)[None], torch.from_numpy(present)[None], 0.6, 0.5
        )[0].numpy()
        np.testing.assert_array_equal(grown, expected)


def test_balanced_seed_loss_matches_a_hand_computed_value():
    labels = torch.full((1, 4, 4), IGNORE, dtype=torch.int64)
    log_h = torch.full((1, 3, 4, 4), math.log(0.2))
    # Foreground seeds: class 1 at H = 0.5 and 0.25, class 2 at H = 0.125.
    for (y, x), c, h in [((0, 0), 1, 0.5), ((0, 1), 1, 0.25), ((3, 3), 2, 0.125)]:
        labels[0, y, x] = c
        log_h[0, c, y, x] = math.log(h)
    # Background seeds: four pixels at H = 0.8 and one at H = 0.4.
    for (y, x), h in [((1, 0), 0.8), ((2, 0), 0.8), ((1, 1), 0.8), ((2, 1), 0.8), ((3, 0), 0.4)]:
        labels[0, y, x] = 0
        log_h[0, 0, y, x] = math.log(h)
    # -(ln .5 + ln .25 + ln .125) / 3 = 2 ln 2; -(4 ln .8 + ln .4) / 5.
    expected = 2 * math.log(2) - (4 * math.log(0.8) + math.log(0.4)) / 5
    assert balanced_seed_loss(log_h, labels).item() == pytest.approx(expected, rel=1e-6)
    # Balanced: doubling the background seeds with the same H leaves the background term unchanged.
    more = labels.clone()
    more[0, 1:3, 2] = 0
    log_more = log_h.clone()
    log_more[0, 0, 1:3, 2] = math.log(0.8)
    log_more[0, 0, 3, 0] = math.log(0.8)
    labels_more = more.clone()
    labels_more[0, 3, 0] = IGNORE
    assert balanced_seed_loss(log_more, labels_more).item() == pytest.approx(2 * math.log(2) - math.log(0.8), rel=1e-6)


def test_constrain_loss_is_zero_when_the_crf_agrees_and_positive_otherwise():
    torch.manual_seed(0)
    h = torch.softmax(torch.randn(2, 3, 5, 5), dim=1)
    assert constrain_to_boundary_loss(h, h.clone()).item() == pytest.approx(0.0, abs=1e-7)
    q = torch.softmax(torch.randn(2, 3, 5, 5), dim=1)
    assert constrain_to_boundary_loss(h, q).item() > 0
    # One pixel, hand computed with the official clip of Q / H to [0.05, 20]:
    h1 = torch.tensor([0.5, 0.49, 0.01]).view(1, 3, 1, 1)
    q1 = torch.tensor([0.3, 0.1, 0.6]).view(1, 3, 1, 1)
    expected = 0.3 * math.log(0.6) + 0.1 * math.log(0.1 / 0.49) + 0.6 * math.log(20.0)
    assert constrain_to_boundary_loss(h1, q1).item() == pytest.approx(expected, rel=1e-5)


def box_blur_crf(image: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """A stand-in for the dense CRF: a 3x3 box blur of the probabilities."""
    blurred = ndimage.uniform_filter(probabilities, size=(1, 3, 3), mode="nearest")
    return blurred / blurred.sum(axis=0, keepdims=True)


def test_crf_targets_call_the_crf_on_the_output_grid():
    seen = []

    def crf(image, probabilities):
        seen.append((image.dtype, image.shape, probabilities.shape))
        return box_blur_crf(image, probabilities)

    h = torch.softmax(torch.randn(2, 3, 6, 5), dim=1)
    q = crf_targets(torch.rand(2, 3, 48, 40), h, crf)
    assert seen == [(np.uint8, (6, 5, 3), (3, 6, 5))] * 2
    assert torch.allclose(q.sum(dim=1), torch.ones(2, 6, 5), atol=1e-5)


# ---------------------------------------------------------------------------------------------
# Training, checkpoints, prediction.
# ---------------------------------------------------------------------------------------------


def test_training_on_squares_raises_miou_well_above_initialisation(square_run):
    _, out, path, records = square_run
    rng = np.random.default_rng(99)
    split = ExclusiveSplit(exclusive_item(rng) for _ in range(6))
    before = evaluate_segmentation(SegmentationPredictor(untrained(tiny_config(), ["square"], "exclusive"), long_side=None), split)
    model = load_segmentation(path)
    after = evaluate_segmentation(SegmentationPredictor(model, long_side=None), split)
    assert before["miou"] < 0.5
    assert after["miou"] > 0.8 and after["iou"]["square"] > 0.7
    assert after["n_images"] == 6 and after["kind"] == "exclusive"
    # One metrics line per epoch, and the loss came down.
    lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [line["epoch"] for line in lines] == list(range(1, 11)) and len(records) == 10
    assert lines[-1]["loss"] < 0.5 * lines[0]["loss"]


def test_checkpoint_round_trip_and_predictor_outputs(square_run, tmp_path):
    samples, _, path, _ = square_run
    model = load_segmentation(path)
    assert model.kind == "exclusive" and model.vocabulary_ids == ["square"] and model.epoch == 10
    assert model.config == tiny_config()
    predictor = SegmentationPredictor(model, scales=(1.0, 0.75), long_side=None)
    image = samples[0].image
    probabilities = predictor.probabilities(image)
    assert probabilities.shape == (2, 48, 48) and probabilities.dtype == np.float32
    np.testing.assert_allclose(probabilities.sum(axis=0), 1.0, atol=1e-5)
    again = SegmentationPredictor(load_segmentation(path), scales=(1.0, 0.75), long_side=None).probabilities(image)
    np.testing.assert_array_equal(probabilities, again)
    masks = predictor.masks(image)
    assert set(masks) == {"square"} and masks["square"].dtype == bool
    np.testing.assert_array_equal(masks["square"], probabilities.argmax(axis=0) == 1)
    maps = predictor.attention_maps(image)
    assert maps.shape == (1, 12, 12) and maps.min() >= 0 and maps.max() <= 1
    # long_side resizes the input; outputs still come at the photo's size.
    assert SegmentationPredictor(model, long_side=64).probabilities(image).shape == (2, 48, 48)


def test_load_segmentation_rejects_other_files(tmp_path):
    garbage = tmp_path / "garbage.safetensors"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="garbage.safetensors"):
        load_segmentation(garbage)
    classifier = save_checkpoint(tmp_path / "classifier.safetensors", {"w": torch.zeros(1)}, {"kind": "full", "attribute_ids": ["a"]})
    with pytest.raises(CheckpointError, match="not a segmentation network"):
        load_segmentation(classifier)
    with pytest.raises(CheckpointError, match="no such"):
        load_segmentation(tmp_path / "missing.safetensors")


def test_resumed_training_is_bit_identical_to_an_uninterrupted_run(tmp_path):
    rng = np.random.default_rng(5)
    samples = [exclusive_sample(rng) for _ in range(4)]
    config = tiny_config(epochs=3, iterations_per_epoch=2, batch_size=2)
    full = train_segmentation(samples, ["square"], "exclusive", config, tmp_path / "full")
    interrupted = tmp_path / "interrupted"

    class Interrupted(Exception):
        pass

    def stop_after_first_epoch(record):
        if record["epoch"] == 1:
            raise Interrupted  # like a killed process: epoch 1's checkpoint is on disk, nothing more

    with pytest.raises(Interrupted):
        train_segmentation(samples, ["square"], "exclusive", config, interrupted, progress=stop_after_first_epoch)
    assert not (interrupted / "segmentation.safetensors").exists()
    resumed = train_segmentation(samples, ["square"], "exclusive", config, interrupted, resume=True)
    a, b = load_segmentation(full).network.state_dict(), load_segmentation(resumed).network.state_dict()
    assert a.keys() == b.keys()
    for name in a:
        assert torch.equal(a[name], b[name]), name
    full_log = (tmp_path / "full" / "metrics.jsonl").read_text().splitlines()
    resumed_log = (interrupted / "metrics.jsonl").read_text().splitlines()
    strip = lambda line: {k: v for k, v in json.loads(line).items() if k != "seconds"}  # noqa: E731
    assert [strip(line) for line in resumed_log] == [strip(line) for line in full_log]
    with pytest.raises(FileNotFoundError):
        train_segmentation(samples, ["square"], "exclusive", config, tmp_path / "empty", resume=True)


def test_resuming_a_finished_run_changes_nothing(tmp_path):
    """A run trained to its last epoch has nothing left to do: resume rewrites the same weights."""
    rng = np.random.default_rng(6)
    samples = [exclusive_sample(rng) for _ in range(2)]
    config = tiny_config(epochs=1, iterations_per_epoch=1, batch_size=2)
    path = train_segmentation(samples, ["square"], "exclusive", config, tmp_path)
    before = load_segmentation(path).network.state_dict()
    again = train_segmentation(samples, ["square"], "exclusive", config, tmp_path, resume=True)
    assert again == path and load_segmentation(again).epoch == 1
    after = load_segmentation(again).network.state_dict()
    assert all(torch.equal(before[name], after[name]) for name in before)


def overlapping_sample(rng: np.random.Generator, size: int = 48) -> tuple[SegSample, Item]:
    """A person (green rectangle) with a face (skin square) inside it: overlapping multi-label masks."""
    image = np.clip(np.full((size, size, 3), 90) + rng.integers(-8, 8, (size, size, 3)), 0, 255).astype(np.uint8)
    y, x = (int(v) for v in rng.integers(2, size - 30, 2))
    person = np.zeros((size, size), dtype=bool)
    person[y : y + 28, x : x + 20] = True
    face = np.zeros((size, size), dtype=bool)
    face[y + 2 : y + 12, x + 5 : x + 15] = True
    image[person] = (40, 170, 60)
    image[face] = (240, 190, 150)
    target = np.stack([person, face]).astype(np.uint8)
    target[0][ndimage.binary_dilation(person, iterations=1) & ~ndimage.binary_erosion(person, iterations=1)] = IGNORE
    sample = SegSample(image, target, f"person-{y}-{x}", present=[0, 1])
    return sample, Item(image, ["person", "face"], {"person": person, "face": face})


def test_multilabel_training_learns_overlapping_masks(tmp_path):
    rng = np.random.default_rng(1)
    samples = [overlapping_sample(rng)[0] for _ in range(8)]
    ids = ["person", "face"]
    config = tiny_config(epochs=20)  # 60 steps: the 10-px face is about one cell of the stride-8 grid
    path = train_segmentation(samples, ids, "multilabel", config, tmp_path)
    model = load_segmentation(path)
    assert model.kind == "multilabel" and model.network.n_outputs == 2
    split = [overlapping_sample(np.random.default_rng(50 + i))[1] for i in range(4)]
    before = evaluate_segmentation(SegmentationPredictor(untrained(config, ids, "multilabel"), long_side=None), split)
    after = evaluate_segmentation(SegmentationPredictor(model, long_side=None), split)
    assert after["kind"] == "multilabel"
    assert after["miou"] > before["miou"] + 0.3 and after["iou"]["face"] > 0.5 and after["iou"]["person"] > 0.6
    # Overlap is representable: the face's pixels are inside both masks.
    masks = SegmentationPredictor(model, long_side=None).masks(split[0].image)
    face = split[0].masks["face"]
    assert masks["face"][face].mean() > 0.6 and masks["person"][face].mean() > 0.6


def test_dsrg_training_grows_seeds_and_learns_the_square(tmp_path):
    rng = np.random.default_rng(2)
    samples = []
    for _ in range(8):
        sample = exclusive_sample(rng)
        # Seeds only: the square's inner core and a background frame, the rest unlabelled.
        seeds = np.full(sample.target.shape, IGNORE, dtype=np.uint8)
        inner = ndimage.binary_erosion(sample.target == 1, iterations=4)
        seeds[inner] = 1
        far = ndimage.binary_dilation(sample.target != 0, iterations=6)
        seeds[~far] = 0
        samples.append(SegSample(sample.image, seeds, sample.image_id, [0]))
    calls = []

    def crf(image, probabilities):
        calls.append(image.shape)
        return box_blur_crf(image, probabilities)

    config = tiny_config(dsrg=True)
    path = train_segmentation(samples, ["square"], "exclusive", config, tmp_path, crf=crf)
    assert calls and all(shape == (5, 5, 3) for shape in calls)  # 40-px crop at output stride 8
    records = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert {"loss_seed", "loss_constrain", "labelled_share"} <= set(records[-1])
    # The seeds grew: far more of the output grid is labelled than the seeds cover.
    seed_share = np.mean([(sample.target != IGNORE).mean() for sample in samples])
    assert max(record["labelled_share"] for record in records) > seed_share + 0.1
    split = ExclusiveSplit(exclusive_item(np.random.default_rng(77)) for _ in range(6))
    before = evaluate_segmentation(SegmentationPredictor(untrained(config, ["square"], "exclusive"), long_side=None), split)
    after = evaluate_segmentation(SegmentationPredictor(load_segmentation(path), long_side=None), split)
    # Cross-entropy on the same seeds for the same 30 steps finds no square at all (IoU 0.0, measured).
    assert after["iou"]["square"] > 0.3 and after["miou"] > before["miou"] + 0.3


def test_dsrg_refuses_multilabel_targets_and_bad_samples_are_named(tmp_path):
    sample, _ = overlapping_sample(np.random.default_rng(0))
    with pytest.raises(ValueError, match="DSRG needs exclusive"):
        train_segmentation([sample], ["person", "face"], "multilabel", tiny_config(dsrg=True), tmp_path)
    with pytest.raises(ValueError, match="person-"):
        train_segmentation([sample], ["person", "face"], "exclusive", tiny_config(), tmp_path)


def test_evaluation_skips_ignored_pixels_and_pools_over_the_split(square_run):
    _, _, path, _ = square_run
    predictor = SegmentationPredictor(load_segmentation(path), long_side=None)
    item = exclusive_item(np.random.default_rng(4))
    predicted = predictor.probabilities(item.image).argmax(axis=0)
    truth = item.masks["square"].astype(np.int64)
    wrong = predicted != truth
    # Ignoring exactly the mistakes gives a perfect score.
    perfect = evaluate_segmentation(predictor, ExclusiveSplit([replace(item, ignore=wrong)]))
    assert perfect["miou"] == pytest.approx(1.0) or not wrong.any()
    # Pooled over two copies, the score equals one copy's (counts double, ratios stay).
    one = evaluate_segmentation(predictor, ExclusiveSplit([item]))
    two = evaluate_segmentation(predictor, ExclusiveSplit([item, item]))
    assert two["miou"] == pytest.approx(one["miou"])
    assert np.array_equal(np.array(two["confusion"]), 2 * np.array(one["confusion"]))

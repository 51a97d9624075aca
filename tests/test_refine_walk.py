"""Random walk, IRN and AffinityNet refinement on constructed inputs with known answers."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
from torch import nn

from privobf.attributes import vocabulary_from_ids
from privobf.data.batching import image_to_tensor
from privobf.models.config import tiny_preset
from privobf.models.loading import build_model
from privobf.models.privobfnet import ImageModel
from privobf.refine.affinitynet import (
    AffinityHead,
    AffinityNetConfig,
    AffinityRefiner,
    affinitynet_loss,
    load_affinitynet,
    save_affinitynet,
    train_affinitynet,
)
from privobf.refine.cam_model import CamModel
from privobf.refine.irn import (
    IrnConfig,
    IrnHead,
    IrnRefiner,
    affinity_losses,
    augment,
    displacement_targets,
    frozen_stages,
    irn_loss,
    load_irn,
    save_irn,
    train_irn,
)
from privobf.refine.localisation import Localisation
from privobf.refine.random_walk import (
    affinity_from_boundary,
    affinity_from_features,
    pair_index,
    pair_labels,
    propagate,
    random_walk,
    segment_path,
    sparse_transition,
    transition_matrix,
)

IDS = ["a0_safe", "x1_person_body", "a9_face_complete"]
GRID = (16, 16)  # 64-px tiny-model input, stride 4


@pytest.fixture(scope="module")
def cam_model() -> CamModel:
    torch.set_num_threads(1)
    preset = tiny_preset()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        net = build_model(preset, vocabulary_from_ids(IDS, "walk-test"))
    return CamModel(ImageModel(preset.model, IDS, net.image).eval())


def two_region_sample(seed: int) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Dark noisy left part (background), red right part (the class); a 2-cell ignore band at the border."""
    rng = np.random.default_rng(seed)
    pixels = (rng.random((64, 64, 3)) * 40).astype(np.uint8)
    split = int(rng.integers(6, 10)) * 4
    pixels[:, split:] += np.array([200, 30, 30], np.uint8)
    labels = np.zeros(GRID, np.int64)
    labels[:, split // 4 :] = 1
    labels[:, split // 4 - 1 : split // 4 + 1] = 255
    return pixels, labels, ["x1_person_body"]


@pytest.fixture(scope="module")
def samples() -> list:
    return [two_region_sample(seed) for seed in range(8)]


def fixed_batch(samples):
    images = torch.stack([image_to_tensor(pixels, (64, 64)) for pixels, _, _ in samples])
    labels = torch.stack([torch.from_numpy(labels) for _, labels, _ in samples])
    return images, labels


# ------------------------------------------------------------------------------------------ random walk


def test_pairs_match_brute_force_enumeration_radius_5():
    grid, radius = (7, 9), 5
    index = pair_index(grid, radius)
    found = [frozenset((int(s), int(t))) for s, t in zip(index.sources, index.targets)]
    assert len(found) == len(set(found)), "a pair appears twice"
    cells = list(itertools.product(range(grid[0]), range(grid[1])))
    expected = {
        frozenset((ay * grid[1] + ax, by * grid[1] + bx))
        for (ay, ax), (by, bx) in itertools.combinations(cells, 2)
        if (ay - by) ** 2 + (ax - bx) ** 2 < radius**2
    }
    assert set(found) == expected


def test_segment_path_includes_both_ends_and_corner_cells():
    assert segment_path(0, 3).tolist() == [[0, 0], [0, 1], [0, 2], [0, 3]]
    # the diagonal grazes the corner of (0, 1) and (1, 0): both belong to the path
    assert segment_path(1, 1).tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]


def wall_boundary() -> np.ndarray:
    boundary = np.zeros(GRID, np.float32)
    boundary[:, 8] = 1.0
    return boundary


def test_boundary_affinity_is_zero_across_the_wall_and_one_inside():
    affinity = affinity_from_boundary(wall_boundary(), radius=5)
    sources_x = affinity.index.sources % GRID[1]
    targets_x = affinity.index.targets % GRID[1]
    crossing = (torch.minimum(sources_x, targets_x) < 8) & (torch.maximum(sources_x, targets_x) > 8)
    left = (sources_x < 8) & (targets_x < 8)
    assert crossing.any() and torch.all(affinity.values[crossing] == 0)
    assert torch.all(affinity.values[left] == 1)


def test_transition_columns_sum_to_one_and_matrix_is_symmetric_before_normalising():
    rng = np.random.default_rng(0)
    affinity = affinity_from_boundary(rng.random((6, 7)).astype(np.float32), radius=4)
    dense = affinity.dense()
    assert torch.equal(dense, dense.t()) and torch.all(dense.diagonal() == 1)
    transition = transition_matrix(affinity, beta=10)
    assert torch.allclose(transition.sum(0), torch.ones(42), atol=1e-5)


def test_wall_stops_the_walk_and_seed_fills_its_side():
    affinity = affinity_from_boundary(wall_boundary(), radius=5)
    seed = torch.zeros(1, *GRID)
    seed[0, 6:9, 2:4] = 1.0
    walked = random_walk(seed, affinity, beta=10, log_steps=8)[0]
    assert walked[:, 9:].abs().max() == 0  # nothing leaks to the right
    left = walked[:, :8]
    assert left.min() > 0.5 * left.max()  # the whole left side is reached, nearly evenly
    # the sparse walk is the same walk
    sparse = propagate(seed, sparse_transition(affinity, beta=10), log_steps=8)
    assert torch.allclose(sparse[0], walked, atol=1e-5)


def test_one_pixel_diagonal_wall_is_not_stepped_over():
    boundary = np.zeros(GRID, np.float32)
    ys, xs = np.mgrid[: GRID[0], : GRID[1]]
    boundary[ys + xs == 15] = 1.0  # an 8-connected anti-diagonal
    seed = torch.zeros(1, *GRID)
    seed[0, 2, 2] = 1.0
    walked = random_walk(seed, affinity_from_boundary(boundary, radius=5), beta=10, log_steps=8)[0]
    assert walked[torch.from_numpy(ys + xs > 15)].max() == 0
    assert walked[torch.from_numpy(ys + xs < 15)].min() > 0


def test_feature_affinity_uses_the_channel_mean_of_l1():
    embedding = torch.zeros(4, 3, 3)
    embedding[:, :, 2] = torch.tensor([1.0, 2.0, 3.0, 2.0])[:, None]  # right column differs, mean |diff| = 2
    affinity = affinity_from_features(embedding, radius=2)
    x_source = affinity.index.sources % 3
    x_target = affinity.index.targets % 3
    across = (x_source == 1) & (x_target == 2)
    same = (x_source < 2) & (x_target < 2)
    assert torch.allclose(affinity.values[across], torch.tensor(np.exp(-2.0), dtype=torch.float32))
    assert torch.all(affinity.values[same] == 1)


# ------------------------------------------------------------------------------------------ labels


def test_pair_labels_on_two_classes_and_an_ignore_band():
    labels = np.zeros((5, 7), np.int64)
    labels[:4, :2] = 1
    labels[:4, 2] = 255
    labels[:4, 3:] = 2
    index = pair_index((5, 7), 3)
    result = pair_labels(torch.from_numpy(labels)[None], index)
    flat = labels.ravel()
    expected = {"bg": set(), "fg": set(), "neg": set()}
    for (ay, ax), (by, bx) in itertools.combinations(itertools.product(range(5), range(7)), 2):
        if (ay - by) ** 2 + (ax - bx) ** 2 >= 9:
            continue
        a, b = labels[ay, ax], labels[by, bx]
        pair = frozenset((ay * 7 + ax, by * 7 + bx))
        if 255 in (a, b):
            continue
        expected["bg" if a == b == 0 else "fg" if a == b else "neg"].add(pair)
    for name, mask in (("bg", result.background_positive), ("fg", result.foreground_positive), ("neg", result.negative)):
        got = {frozenset((int(s), int(t))) for s, t in zip(index.sources[mask[0]], index.targets[mask[0]])}
        assert got == expected[name], name
    # spot checks: across the band is negative, the band itself is never used
    across = frozenset((1 * 7 + 1, 1 * 7 + 3))
    assert across in expected["neg"]
    band = torch.from_numpy((flat[index.sources.numpy()] == 255) | (flat[index.targets.numpy()] == 255))
    assert not (result.background_positive | result.foreground_positive | result.negative)[0][band].any()


def test_displacement_targets_point_to_the_centroid_of_each_connected_region():
    labels = np.zeros((8, 10), np.int64)
    labels[0:3, 0:3] = 1  # centroid (1, 1)
    labels[5:8, 0:2] = 1  # same class, another region: centroid (6, 0.5)
    labels[:, 4] = 255
    labels[0:4, 6:10] = 2  # centroid (1.5, 7.5)
    target = displacement_targets(labels)
    assert target[:, 0, 0].tolist() == [1.0, 1.0]
    assert target[:, 7, 1].tolist() == [-1.0, -0.5]
    assert target[:, 3, 9].tolist() == [-1.5, -1.5]
    assert np.all(target[:, labels == 0] == 0) and np.all(target[:, labels == 255] == 0)


def test_affinity_losses_equal_hand_computed_values():
    affinity = torch.tensor([[0.9, 0.5, 0.2, 0.7]])
    labels = pair_labels(torch.tensor([[[0, 0, 1, 1, 2]]]), pair_index((1, 5), 2))  # pairs (0,1) (1,2) (2,3) (3,4)
    losses = affinity_losses(affinity, labels)
    assert losses["background_positive"].item() == pytest.approx(-np.log(0.9 + 1e-5), rel=1e-4)
    assert losses["foreground_positive"].item() == pytest.approx(-np.log(0.2 + 1e-5), rel=1e-4)
    assert losses["negative"].item() == pytest.approx((-np.log(0.5 + 1e-5) - np.log(0.3 + 1e-5)) / 2, rel=1e-4)


def test_augment_keeps_image_and_labels_aligned(cam_model):
    pixels, labels, _ = two_region_sample(3)
    rng = np.random.default_rng(1)
    for _ in range(5):
        image, crop_labels = augment(cam_model, pixels, labels, 64, (0.5, 1.5), True, rng)
        assert image.shape == (3, 64, 64) and crop_labels.shape == (16, 16)
        redness = image[0].reshape(16, 4, 16, 4).mean((1, 3))  # mean red per grid cell
        assert torch.all(redness[crop_labels == 1] > 0.6) and torch.all(redness[crop_labels == 0] < 0.3)


# ------------------------------------------------------------------------------------------ IRN


def test_irn_training_lowers_the_loss(cam_model, samples, tmp_path):
    config = IrnConfig(epochs=6, min_steps=0, batch_size=4, lr=0.01, train_radius=5)
    images, labels = fixed_batch(samples)
    targets = torch.from_numpy(np.stack([displacement_targets(label) for _, label, _ in samples]))
    stages = frozen_stages(cam_model, images)
    index = pair_index(GRID, config.train_radius)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        initial = IrnHead.for_model(cam_model)  # the head train_irn starts from
    head = train_irn(cam_model, samples, config)
    with torch.no_grad():
        before, after = irn_loss(initial, stages, labels, targets, index), irn_loss(head, stages, labels, targets, index)

    def affinity_part(losses):
        return ((losses["background_positive"] + losses["foreground_positive"]) / 2 + losses["negative"]) / 2

    assert after["total"] < 0.95 * before["total"]
    assert affinity_part(after) < affinity_part(before)
    save_irn(head, tmp_path / "irn.safetensors", {"source": "test"})
    loaded = load_irn(tmp_path / "irn.safetensors")
    assert loaded.metadata["source"] == "test"
    with torch.no_grad():
        assert torch.allclose(loaded.edge_logits(stages, GRID), head.edge_logits(stages, GRID))


class WallHead(nn.Module):
    """A hand-made IRN head: boundary logits +20 on grid columns 7-8 (symmetric under the flip), -20 elsewhere."""

    def edge_logits(self, stages, grid):
        logits = torch.full((stages[0].shape[0], 1, *grid), -20.0)
        logits[..., 7:9] = 20.0
        return logits


def test_irn_refiner_stops_propagation_at_the_wall(cam_model):
    pixels, _, _ = two_region_sample(0)
    maps = np.zeros((2, *GRID), np.float32)
    maps[0, 6:9, 2:4] = 1.0  # class A seeded on the left
    maps[1, 6:9, 12:14] = 0.5  # class B, weaker, seeded on the right
    seeds = Localisation(["x1_person_body", "a9_face_complete"], maps, (64, 64))
    refined = IrnRefiner(cam_model, WallHead(), IrnConfig()).refine(pixels, seeds)
    boundary = refined.extra["boundary"]
    assert boundary.shape == GRID and np.all(boundary[:, 7:9] > 0.99) and np.all(boundary[:, :7] < 1e-6)
    assert refined.classes == seeds.classes and refined.grid == GRID
    assert np.abs(refined.maps[0, :, 9:]).max() == 0 and np.abs(refined.maps[1, :, :7]).max() == 0
    assert refined.maps[0, :, :7].min() > 0 and refined.maps[1, :, 9:].min() > 0
    # divided by the global max: class B keeps being half as strong as class A
    assert refined.maps.max() == pytest.approx(1.0)
    assert refined.maps[1].max() == pytest.approx(0.5 * refined.maps[0].max(), rel=1e-3)
    # per class: each class reaches 1 on its own side, the same shapes otherwise
    per_class = IrnRefiner(cam_model, WallHead(), IrnConfig(normalise="per_class")).refine(pixels, seeds)
    assert per_class.maps.max(axis=(1, 2)) == pytest.approx([1.0, 1.0])
    assert np.allclose(per_class.maps[1], refined.maps[1] / refined.maps[1].max(), atol=1e-6)
    with pytest.raises(ValueError, match="normalise"):
        IrnConfig(normalise="softmax")


# ------------------------------------------------------------------------------------------ AffinityNet


@pytest.fixture(scope="module")
def affinity_head(cam_model, samples):
    config = AffinityNetConfig(epochs=6, min_steps=0, batch_size=4, lr=0.3, radius=5)
    return train_affinitynet(cam_model, samples, config), config


def same_and_cross(head, cam_model, samples, radius):
    images, labels = fixed_batch(samples)
    index = pair_index(GRID, radius)
    with torch.no_grad():
        embedding = head(frozen_stages(cam_model, images), GRID)
    affinity = torch.stack([affinity_from_features(e, radius).values for e in embedding])
    pairs = pair_labels(labels, index)
    same = affinity[pairs.background_positive | pairs.foreground_positive].mean()
    return float(same), float(affinity[pairs.negative].mean())


def test_affinitynet_learns_higher_affinity_within_regions(cam_model, samples, affinity_head, tmp_path):
    head, config = affinity_head
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        initial = AffinityHead(cam_model.branch.backbone.stage_channels)
    same_before, cross_before = same_and_cross(initial, cam_model, samples, config.radius)
    same_after, cross_after = same_and_cross(head, cam_model, samples, config.radius)
    assert same_after > cross_after
    assert cross_after < cross_before - 0.05  # training pushed the regions apart
    assert same_after - cross_after > 2 * (same_before - cross_before)
    images, labels = fixed_batch(samples)
    stages = frozen_stages(cam_model, images)
    index = pair_index(GRID, config.radius)
    with torch.no_grad():
        trained_loss = affinitynet_loss(head, stages, labels, index, config)["total"]
        assert trained_loss < affinitynet_loss(initial, stages, labels, index, config)["total"]
    save_affinitynet(head, tmp_path / "aff.safetensors")
    loaded = load_affinitynet(tmp_path / "aff.safetensors")
    with torch.no_grad():
        assert torch.allclose(loaded(stages, GRID), head(stages, GRID))
    with pytest.raises(ValueError, match="not an IRN head"):
        load_irn(tmp_path / "aff.safetensors")


class SplitEmbeddingHead(nn.Module):
    """A hand-made AffinityNet head: embedding 0 on grid columns < 8 and 10 from column 8 on, so the
    affinity across column 8 is exp(-10) (^beta: nothing crosses) and 1 within each side."""

    def forward(self, stages, grid):
        embedding = torch.zeros(stages[0].shape[0], 4, *grid)
        embedding[..., 8:] = 10.0
        return embedding


def test_affinity_refiner_walks_the_background_and_label_map_uses_it(cam_model):
    pixels, _, _ = two_region_sample(1)
    maps = np.full((1, *GRID), 0.05, np.float32)
    maps[0, :, 10:] = 0.9  # the seed covers most of the right side
    seeds = Localisation(["x1_person_body"], maps, (64, 64))
    refined = AffinityRefiner(cam_model, SplitEmbeddingHead(), AffinityNetConfig()).refine(pixels, seeds)
    assert refined.background is not None and refined.background.shape == GRID
    assert refined.classes == ["x1_person_body"]
    # left: nothing but the weak map and the background (1 - 0.05)^16 walk there, and they stay put
    assert np.allclose(refined.maps[0, :, :8], 0.05, atol=1e-4)
    assert np.allclose(refined.background[:, :8], 0.95**16, atol=1e-4)
    # right: the seed spreads over columns 8-9 and the weak background (0.1^16 on the seed) wins nowhere
    assert np.all(refined.maps[0, :, 8:] > 0.5) and np.all(refined.background[:, 8:] < 0.3)
    assert np.all(refined.background[:, 8:10] > 1e-3)  # the background of columns 8-9 was walked, not recomputed
    labels = refined.label_map(background=0.99, size=GRID)  # the constant plane is not what decides
    assert np.array_equal(labels, np.concatenate([refined.background[None], refined.maps]).argmax(0))
    assert np.all(labels[:, 8:] == 1) and np.all(labels[:, :8] == 0)


def test_small_data_sets_train_for_min_steps_and_large_ones_for_their_epochs():
    from privobf.refine.irn import training_steps

    assert training_steps(16, IrnConfig()) == 300  # 3 epochs of one batch would be 3 steps
    assert training_steps(10582, IrnConfig()) == 3 * 331  # VOC train_aug: the published schedule
    assert training_steps(16, IrnConfig(min_steps=0)) == 3
    assert training_steps(16, AffinityNetConfig(min_steps=0)) == 8 * 2
    assert training_steps(0, IrnConfig()) == 0
    with pytest.raises(ValueError, match="min_steps"):
        IrnConfig(min_steps=-1)


def test_fit_head_repeats_epochs_until_min_steps(cam_model, samples):
    reported = []
    train_irn(cam_model, samples, IrnConfig(epochs=1, min_steps=5, batch_size=len(samples), train_radius=5),
              lambda step, total, loss: reported.append((step, total)))
    assert reported == [(step, 5) for step in range(1, 6)]

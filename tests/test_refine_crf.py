"""Dense CRF (privobf.refine.crf): the lattice against brute force, and the CRF's behaviour on constructed
images whose right answer is known (a colour edge the labels must snap to, flipped pixels to undo)."""

from __future__ import annotations

import numpy as np
import pytest

from privobf.refine.crf import (
    BBAM,
    DEEPLAB,
    IRN_LABELS,
    PSA,
    CrfConfig,
    PermutohedralLattice,
    crf_labels,
    dense_crf,
    unary_probabilities_from_labels,
)

RED, BLUE = (200, 60, 60), (50, 90, 200)


def two_halves(height: int = 48, width: int = 64, edge: int = 32, noise: float = 4.0, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    image = np.empty((height, width, 3), dtype=np.float64)
    image[:, :edge] = RED
    image[:, edge:] = BLUE
    image += rng.normal(0.0, noise, image.shape)
    return np.clip(image, 0, 255).astype(np.uint8)


def iou(mask: np.ndarray, truth: np.ndarray) -> float:
    return float((mask & truth).sum() / (mask | truth).sum())


def random_blocks_image(seed: int) -> np.ndarray:
    """20x20: random colour per 5x5 block plus pixel noise (a random image with some structure, like a
    photo; pure per-pixel colour noise is the lattice's worst case, see the module docstring)."""
    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (4, 4, 3)).astype(np.float64)
    image = np.kron(blocks, np.ones((5, 5, 1))) + rng.normal(0.0, 6.0, (20, 20, 3))
    return np.clip(image, 0, 255).astype(np.uint8)


def features_of(image: np.ndarray, sxy: float, srgb: float) -> np.ndarray:
    ys, xs = np.mgrid[0 : image.shape[0], 0 : image.shape[1]]
    position = np.stack([xs, ys], axis=-1).reshape(-1, 2) / sxy
    return np.concatenate([position, image.reshape(-1, 3) / srgb], axis=1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_lattice_matches_brute_force_gaussian_filter(seed):
    # The lattice approximates the Gaussian by a kernel with the same variance but a peakier shape
    # (its impulse response deviates from the best-fitting Gaussian by ~13% of the peak), so a normalised
    # filter of values in [0, 1] is off by a few hundredths at worst. Measured on seeds 0-5: max error
    # 0.020-0.030, mean <= 0.005, correlation >= 0.990; the bounds below leave a margin over that.
    image = random_blocks_image(seed)
    features = features_of(image, sxy=5.0, srgb=20.0)
    values = np.random.default_rng(100 + seed).random((len(features), 3)).astype(np.float32)
    squared = ((features[:, None, :] - features[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-squared / 2.0)
    exact = kernel @ values / kernel.sum(1, keepdims=True)
    lattice = PermutohedralLattice(features)
    approx = lattice.filter(values) / lattice.filter(np.ones((len(features), 1), dtype=np.float32))
    error = np.abs(approx - exact)
    assert error.max() < 0.05
    assert error.mean() < 0.01
    assert np.corrcoef(approx.ravel(), exact.ravel())[0, 1] > 0.99


def test_lattice_self_response_is_the_operators_diagonal():
    # The self-exclusion subtracts exactly what the lattice adds from a pixel to itself.
    features = features_of(random_blocks_image(3), sxy=4.0, srgb=15.0)
    lattice = PermutohedralLattice(features)
    operator = lattice.filter(np.eye(len(features), dtype=np.float32))
    np.testing.assert_allclose(lattice.self_response, np.diag(operator), rtol=1e-4, atol=1e-7)


def test_zero_pairwise_weights_return_the_normalised_input():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (24, 30, 3), dtype=np.uint8)
    probabilities = rng.uniform(0.05, 1.0, (4, 24, 30)).astype(np.float32)
    expected = probabilities / probabilities.sum(0, keepdims=True)
    no_pairwise = CrfConfig(iterations=10, smooth_compat=0.0, appearance_compat=0.0)
    np.testing.assert_allclose(dense_crf(image, probabilities, no_pairwise), expected, rtol=1e-5, atol=1e-6)
    no_iterations = CrfConfig(iterations=0)
    np.testing.assert_allclose(dense_crf(image, probabilities, no_iterations), expected, rtol=1e-5, atol=1e-6)


def noisy_probabilities_with_shifted_edge(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two-label probabilities that put the edge at column 40 instead of the image's 32, with noise."""
    rng = np.random.default_rng(seed)
    right = np.zeros((48, 64), dtype=np.float64)
    right[:, 40:] = 1.0
    foreground = np.clip(0.35 + 0.3 * right + rng.normal(0.0, 0.1, right.shape), 0.02, 0.98)
    truth = np.zeros((48, 64), dtype=bool)
    truth[:, 32:] = True
    return np.stack([1.0 - foreground, foreground]).astype(np.float32), truth


@pytest.mark.parametrize("config", [IRN_LABELS, PSA, DEEPLAB], ids=["irn", "psa", "deeplab"])
def test_crf_snaps_the_boundary_to_the_colour_edge(config):
    image = two_halves()
    probabilities, truth = noisy_probabilities_with_shifted_edge()
    before = iou(probabilities.argmax(0) == 1, truth)
    marginals = dense_crf(image, probabilities, config)
    after = iou(marginals.argmax(0) == 1, truth)
    assert marginals.dtype == np.float32 and marginals.shape == probabilities.shape
    np.testing.assert_allclose(marginals.sum(0), 1.0, atol=1e-5)
    assert before < 0.8
    assert after > 0.97


def test_scaled_crf_also_snaps_and_keeps_the_full_size():
    image = two_halves()
    probabilities, truth = noisy_probabilities_with_shifted_edge(seed=1)
    marginals = dense_crf(image, probabilities, PSA, scale=0.5)
    assert marginals.shape == probabilities.shape
    np.testing.assert_allclose(marginals.sum(0), 1.0, atol=1e-5)
    assert iou(marginals.argmax(0) == 1, truth) > 0.95


def test_label_mode_corrects_flipped_pixels_and_keeps_the_edge():
    image = two_halves(40, 40, edge=20)
    truth = np.zeros((40, 40), dtype=np.int64)
    truth[:, 20:] = 1
    labels = truth.copy()
    flipped = [(5, 5), (10, 12), (30, 8), (8, 30), (25, 33), (35, 27)]
    for row, column in flipped:
        labels[row, column] = 1 - labels[row, column]
    labels[18, 3] = 2  # a third label that exists nowhere else
    refined = crf_labels(image, labels, n_labels=3, config=IRN_LABELS, gt_prob=0.7)
    assert refined.dtype == np.int64
    np.testing.assert_array_equal(refined, truth)


def test_label_unary_matches_pydensecrf_unary_from_labels():
    labels = np.array([[0, 2], [1, 1]])
    probabilities = unary_probabilities_from_labels(labels, 3, 0.7)
    np.testing.assert_allclose(probabilities[:, 0, 1], [0.15, 0.15, 0.7], rtol=1e-6)
    np.testing.assert_allclose(probabilities.sum(0), 1.0, rtol=1e-6)


def test_presets_carry_the_published_values():
    assert (IRN_LABELS.smooth_sxy, IRN_LABELS.smooth_compat) == (3, 3)
    assert (IRN_LABELS.appearance_sxy, IRN_LABELS.appearance_srgb, IRN_LABELS.appearance_compat) == (50, 5, 10)
    assert (PSA.appearance_sxy, PSA.appearance_srgb, PSA.appearance_compat) == (80, 13, 10)
    assert (BBAM.smooth_sxy, BBAM.smooth_compat, BBAM.appearance_sxy, BBAM.appearance_srgb, BBAM.appearance_compat) == (
        1, 3, 80, 3, 4,
    )
    assert (DEEPLAB.smooth_sxy, DEEPLAB.smooth_compat, DEEPLAB.appearance_sxy, DEEPLAB.appearance_srgb) == (1, 3, 67, 3)
    assert all(config.iterations == 10 for config in (IRN_LABELS, PSA, BBAM, DEEPLAB))
    assert CrfConfig.psa(12).scale_factor == 12 and CrfConfig.psa(12).appearance_sxy == 80


@pytest.mark.parametrize(
    "image, probabilities, message",
    [
        (np.zeros((8, 8, 3), np.float32), np.full((2, 8, 8), 0.5, np.float32), "uint8"),
        (np.zeros((8, 8), np.uint8), np.full((2, 8, 8), 0.5, np.float32), r"\[H, W, 3\]"),
        (np.zeros((8, 8, 3), np.uint8), np.full((2, 8, 9), 0.5, np.float32), "shape mismatch"),
        (np.zeros((8, 8, 3), np.uint8), np.full((2, 8, 8), 1.5, np.float32), r"\[0, 1\]"),
        (np.zeros((8, 8, 3), np.uint8), np.full((2, 8, 8), -0.1, np.float32), r"\[0, 1\]"),
        (np.zeros((8, 8, 3), np.uint8), np.full((2, 8, 8), np.nan, np.float32), "NaN"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((8, 8), np.float32), r"\[C, H, W\]"),
        (np.zeros((8, 8, 3), np.uint8), np.ones((2, 8, 8), np.int64), "float"),
    ],
)
def test_dense_crf_rejects_invalid_inputs(image, probabilities, message):
    with pytest.raises(ValueError, match=message):
        dense_crf(image, probabilities, IRN_LABELS)


def test_label_mode_and_config_reject_invalid_inputs():
    image = np.zeros((8, 8, 3), np.uint8)
    with pytest.raises(ValueError, match="shape mismatch"):
        crf_labels(image, np.zeros((8, 7), np.int64), 2)
    with pytest.raises(ValueError, match="integer"):
        crf_labels(image, np.zeros((8, 8), np.float32), 2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        crf_labels(image, np.full((8, 8), 2), 2)
    with pytest.raises(ValueError, match="n_labels"):
        crf_labels(image, np.zeros((8, 8), np.int64), 1)
    with pytest.raises(ValueError, match="gt_prob"):
        crf_labels(image, np.zeros((8, 8), np.int64), 2, gt_prob=1.0)
    with pytest.raises(ValueError, match="scale"):
        dense_crf(image, np.full((2, 8, 8), 0.5, np.float32), IRN_LABELS, scale=2.0)
    with pytest.raises(ValueError, match="appearance_srgb"):
        CrfConfig(appearance_srgb=0.0)
    with pytest.raises(ValueError, match="iterations"):
        CrfConfig(iterations=-1)

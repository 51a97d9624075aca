"""Activation self-modulation (seed 003 §III-C): superpixels, their cache, eq. 7–9 and the eq. 8 loss."""

import numpy as np
import pytest
import torch

from privobf.priors.cache import image_key
from privobf.wsss.self_modulation import (
    ASMConfig,
    SuperpixelCache,
    SuperpixelParams,
    alignment_loss,
    asm_loss,
    batch_superpixels,
    erode,
    erosion_kernel,
    normalize_cam,
    reliable_activation_target,
    superpixel_average,
    superpixels,
)


def textured_image(seed=0, size=96):
    rng = np.random.default_rng(seed)
    image = np.zeros((size, size, 3), np.uint8)
    for _ in range(30):
        y, x = rng.integers(0, size, 2)
        h, w = rng.integers(4, size // 2, 2)
        image[y:y + h, x:x + w] = rng.integers(0, 256, 3)
    return np.clip(image.astype(int) + rng.integers(-70, 70, image.shape), 0, 255).astype(np.uint8)


def test_superpixels_bounded_contiguous_deterministic_cover():
    from skimage.segmentation import felzenszwalb

    image = textured_image(size=128)
    params = SuperpixelParams()
    initial = felzenszwalb(image, scale=params.scale, sigma=params.sigma, min_size=params.min_size).max() + 1
    assert initial > 64  # the selective-search merge is exercised
    labels = superpixels(image, max_segments=64)
    assert labels.dtype == np.int32 and labels.shape == image.shape[:2]
    count = labels.max() + 1
    assert count == 64
    assert np.array_equal(np.unique(labels), np.arange(count))  # contiguous and covering every pixel
    assert np.array_equal(labels, superpixels(image.copy(), max_segments=64))
    assert superpixels(image, max_segments=8).max() + 1 <= 8


def test_superpixels_respect_a_strong_edge():
    image = np.zeros((64, 64, 3), np.uint8)
    image[:, :40] = (230, 20, 20)
    image[:, 40:] = (20, 20, 230)
    labels = superpixels(image)
    assert labels.max() + 1 >= 2
    assert not set(np.unique(labels[:, :40])) & set(np.unique(labels[:, 40:]))


def test_cache_round_trip_and_corrupt_entry(tmp_path):
    image = textured_image(1, 64)
    cache = SuperpixelCache(tmp_path, SuperpixelParams())
    first = cache.get_or_compute(image)
    assert cache.stats() == {"hits": 0, "misses": 1, "corrupt": 0}
    again = cache.get_or_compute(image)
    assert np.array_equal(first, again) and cache.hits == 1
    assert np.array_equal(first, superpixels(image))
    # other parameters never hit the old entry
    assert SuperpixelCache(tmp_path, SuperpixelParams(max_segments=16)).get(image) is None
    path = cache.path(image_key(image))
    path.write_bytes(path.read_bytes()[:20])
    assert cache.get(image) is None and cache.corrupt == 1 and not path.exists()
    assert np.array_equal(cache.get_or_compute(image), first) and path.exists()


def test_superpixel_average_matches_a_loop():
    torch.manual_seed(0)
    maps = torch.randn(2, 3, 4, 5)
    segments = torch.randint(0, 4, (2, 4, 5))
    expected = torch.empty_like(maps)
    for b in range(2):
        for label in segments[b].unique():
            where = segments[b] == label
            for c in range(3):
                expected[b, c][where] = maps[b, c][where].mean()
    assert torch.allclose(superpixel_average(maps, segments), expected, atol=1e-6)
    # segments at twice the map size are nearest-downsampled
    big = segments.repeat_interleave(2, 1).repeat_interleave(2, 2)
    assert torch.allclose(superpixel_average(maps, big), expected, atol=1e-6)


def test_erosion_kernel_and_erode():
    assert erosion_kernel(8, 256, 256.0) == 8 and erosion_kernel(8, 112, 256.0) == 4 and erosion_kernel(8, 20, None) == 8
    mask = torch.zeros(1, 1, 9, 9, dtype=torch.bool)
    mask[..., 2:7, 2:7] = True
    eroded = erode(mask, 3)
    assert eroded.sum() == 9 and eroded[0, 0, 3:6, 3:6].all()
    full = torch.ones(1, 1, 5, 5, dtype=torch.bool)
    assert erode(full, 3).all()  # the border does not erode


def test_reliable_target_keeps_reliable_drops_borders_low_and_absent():
    features = torch.zeros(1, 3, 12, 12)
    features[0, 0, 2:10, 2:10] = 1.0  # a large confident block
    features[0, 0, 0, 11] = 0.2  # low activation
    features[0, 1, 4:8, 4:8] = 1.0  # absent class, same pattern
    features[0, 2] = 0.5  # present class, flat
    labels = torch.tensor([[1.0, 0.0, 1.0]])
    segments = torch.zeros(1, 12, 12, dtype=torch.long)  # one superpixel: Ā is flat
    result = reliable_activation_target(features, labels, segments, t_obj=0.3, erosion=3)
    cam = normalize_cam(features)
    reliable = result.reliable[0, 0]
    assert reliable[3:9, 3:9].all() and reliable.sum() == 36  # eroded by one pixel on each side
    assert not reliable[2].any() and not reliable[0, 11]  # border of the block / low activation dropped
    flat = result.averaged[0, 0, 0, 0]
    assert torch.allclose(result.target[0, 0][3:9, 3:9], cam[0, 0][3:9, 3:9])  # kept high activation
    assert torch.allclose(result.target[0, 0][2, 2:10], flat.expand(8))  # border gets the regional average
    assert torch.all(result.target[0, 1] == 0) and not result.loss_mask[0, 1].any()  # absent class
    assert result.loss_mask[0, 0].all() and result.loss_mask[0, 2].all()


def test_alignment_loss_zero_on_target_positive_elsewhere_gradient_only_on_mask():
    torch.manual_seed(1)
    target = torch.rand(2, 3, 6, 6)
    mask = torch.zeros(2, 3, 6, 6, dtype=torch.bool)
    mask[0, 0] = True
    mask[1, 2] = True
    assert alignment_loss(target.clone(), target, mask) == 0
    cam = torch.rand(2, 3, 6, 6, requires_grad=True)
    loss = alignment_loss(cam, target, mask)
    expected = 0.5 * (((cam[0, 0] - target[0, 0]) ** 2).mean() + ((cam[1, 2] - target[1, 2]) ** 2).mean())
    assert loss > 0 and torch.allclose(loss, expected)
    loss.backward()
    assert torch.all(cam.grad[~mask] == 0) and torch.any(cam.grad[mask] != 0)


def test_asm_loss_end_to_end_shapes_and_gradient():
    torch.manual_seed(2)
    features = torch.randn(2, 3, 8, 8, requires_grad=True)
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    segments = torch.from_numpy(np.stack([superpixels(textured_image(s, 32)) for s in range(2)]).astype(np.int64))
    loss, result = asm_loss(features, labels, segments, ASMConfig())
    assert result.target.shape == (2, 3, 16, 16) and not result.target.requires_grad
    loss.backward()
    assert loss > 0 and features.grad[0, 1].abs().sum() == 0 and features.grad[0, 0].abs().sum() > 0


@pytest.mark.parametrize("dtype", [np.float32])
def test_float_images_are_accepted(dtype):
    image = textured_image(3, 32)
    assert np.array_equal(superpixels(image.astype(dtype) / 255.0), superpixels(image))


def test_batch_superpixels_uses_the_cache(tmp_path):
    images = torch.from_numpy(np.stack([textured_image(s, 32) for s in range(2)])).permute(0, 3, 1, 2).float() / 255.0
    cache = SuperpixelCache(tmp_path)
    first = batch_superpixels(images, cache)
    assert first.shape == (2, 32, 32) and first.dtype == torch.long and cache.misses == 2
    assert torch.equal(batch_superpixels(images, cache), first) and cache.hits == 2
    assert torch.equal(batch_superpixels(images), first)

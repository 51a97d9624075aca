"""Crops for Model-Cropped, and the matching crops of Model-Image's global map (paper eq. 2).

Eq. 2 compares G_i (the global map cropped "at the same positions when referred back to the
input image") with S_i (the map of the crop itself). We sample crop offsets on the grid of the
backbone's output stride, so a crop of the image at (y, x, size) corresponds *exactly* to the
slice (y/s, x/s, size/s) of the global map, with no resampling: the two maps describe the same
pixels. `tests/test_privobfnet.py` proves it on a known image with known boxes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class CropBox:
    top: int
    left: int
    size: int


def sample_crop_boxes(
    n_images: int, n_crops: int, image_size: int, crop_size: int, stride: int, generator: torch.Generator | None = None
) -> list[list[CropBox]]:
    """`n_crops` random stride-aligned square boxes per image, inside an `image_size` square."""
    positions = (image_size - crop_size) // stride + 1
    offsets = torch.randint(0, positions, (n_images, n_crops, 2), generator=generator) * stride
    return [[CropBox(int(t), int(l), crop_size) for t, l in image_offsets] for image_offsets in offsets]


def crop_images(images: torch.Tensor, boxes: list[list[CropBox]]) -> torch.Tensor:
    """[B, C, H, W] -> [B * N, C, size, size], image-major (all crops of image 0 first)."""
    return torch.stack(
        [images[b, :, box.top : box.top + box.size, box.left : box.left + box.size] for b, row in enumerate(boxes) for box in row]
    )


def crop_maps(maps: torch.Tensor, boxes: list[list[CropBox]], stride: int) -> torch.Tensor:
    """The same boxes on a map at `stride`: [B, K, h, w] -> [B * N, K, size/stride, size/stride]."""
    crops = []
    for b, row in enumerate(boxes):
        for box in row:
            if box.top % stride or box.left % stride or box.size % stride:
                raise ValueError(f"crop box {box} is not aligned to stride {stride}")
            top, left, size = box.top // stride, box.left // stride, box.size // stride
            crops.append(maps[b, :, top : top + size, left : left + size])
    return torch.stack(crops)

"""Tests for privobf.obfuscation: exactness outside the region, real change inside it, and report handling."""

from __future__ import annotations

from typing import Iterator

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFilter

from privobf import obfuscation as obfuscate_module
from privobf.obfuscation import (
    MIN_BLOCK,
    OBFUSCATION_MODES,
    apply_region,
    grow_region,
    obfuscate,
    register_mode,
)
from privobf.report import PrivacyReport

BUILT_IN_MODES = ["solid", "blur", "pixelate"]


def textured(height: int = 64, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def box_region(size: tuple[int, int], top: int, left: int, bottom: int, right: int) -> np.ndarray:
    region = np.zeros(size, dtype=bool)
    region[top:bottom, left:right] = True
    return region


def make_report(maps: dict[str, np.ndarray], probabilities: dict[str, float], image_size=(64, 64)) -> PrivacyReport:
    ids = list(maps)
    return PrivacyReport(
        image_size=image_size,
        attribute_ids=ids,
        probabilities=np.array([probabilities[i] for i in ids], dtype=np.float32),
        attention_maps=np.stack([maps[i] for i in ids]).astype(np.float32),
        privacy_score=0.5,
    )


def hot_map(rows: slice, cols: slice) -> np.ndarray:
    attention = np.zeros((8, 8), dtype=np.float32)
    attention[rows, cols] = 1.0
    return attention


@pytest.fixture
def report() -> PrivacyReport:
    """Three attributes on an 8x8 map for a 64x64 image: face top-left (shown), text bottom-right (not shown,
    by probability), and a plate in the top-right."""
    return make_report(
        {
            "a1_face": hot_map(slice(0, 3), slice(0, 3)),
            "a2_text": hot_map(slice(5, 8), slice(5, 8)),
            "a3_plate": hot_map(slice(0, 2), slice(5, 8)),
        },
        {"a1_face": 0.9, "a2_text": 0.2, "a3_plate": 0.7},
    )


@pytest.fixture
def clean_registry() -> Iterator[None]:
    before = dict(OBFUSCATION_MODES)
    yield
    OBFUSCATION_MODES.clear()
    OBFUSCATION_MODES.update(before)


# ----------------------------------------------------------------------------------------------- apply_region


@settings(max_examples=60, deadline=None)
@given(
    height=st.integers(1, 48),
    width=st.integers(1, 48),
    seed=st.integers(0, 2**32 - 1),
    density=st.floats(0.0, 1.0),
    mode=st.sampled_from(BUILT_IN_MODES),
    feather=st.integers(0, 4),
    strength=st.one_of(st.none(), st.floats(0.01, 2.0)),
)
def test_outside_the_region_is_bit_exact(height, width, seed, density, mode, feather, strength) -> None:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 256, (height, width, 3), dtype=np.uint8)
    region = rng.random((height, width)) < density
    original = pixels.copy()
    result = apply_region(pixels, region, mode, strength=strength, color=(1, 2, 3), feather=feather)
    outside = ~grow_region(region, feather)
    np.testing.assert_array_equal(result[outside], original[outside])
    np.testing.assert_array_equal(pixels, original)  # input untouched
    assert result.dtype == np.uint8 and result.shape == pixels.shape and not np.shares_memory(result, pixels)


@pytest.mark.parametrize("mode", BUILT_IN_MODES)
def test_empty_region_returns_an_identical_copy(mode: str) -> None:
    pixels = textured()
    result = apply_region(pixels, np.zeros((64, 64), dtype=bool), mode)
    np.testing.assert_array_equal(result, pixels)
    assert result is not pixels and not np.shares_memory(result, pixels)


def test_solid_fills_the_region_with_the_colour() -> None:
    region = box_region((64, 64), 10, 20, 30, 50)
    result = apply_region(textured(), region, "solid", color=(12, 200, 7))
    assert (result[region] == (12, 200, 7)).all()


def test_solid_result_does_not_depend_on_what_was_hidden() -> None:
    region = box_region((64, 64), 10, 20, 30, 50)
    first, second = textured(seed=1), textured(seed=1)
    second[region] = textured(seed=2)[region]
    np.testing.assert_array_equal(apply_region(first, region, "solid"), apply_region(second, region, "solid"))


def test_blur_changes_a_textured_region_and_smooths_it() -> None:
    pixels = textured(96, 96)
    region = box_region((96, 96), 20, 20, 70, 70)
    result = apply_region(pixels, region, "blur")
    inside = result[region].astype(float)
    assert (result[region] != pixels[region]).mean() > 0.9
    assert inside.std() < pixels[region].astype(float).std() / 5


def test_blur_equals_a_whole_image_blur_inside_the_region() -> None:
    """The crop-based blur must give the same region pixels as blurring the whole image."""
    pixels = textured(120, 150)
    region = box_region((120, 150), 50, 60, 80, 100)
    diagonal = np.hypot(30, 40)
    for strength in [0.05, 0.1, 0.4]:
        sigma = float(max(obfuscate_module.MIN_BLUR_SIGMA, float(strength) * diagonal))
        whole = np.asarray(Image.fromarray(pixels).filter(ImageFilter.GaussianBlur(sigma)))
        result = apply_region(pixels, region, "blur", strength=strength)
        np.testing.assert_array_equal(result[region], whole[region])


def test_blur_grows_with_the_region() -> None:
    """Same texture, bigger region -> stronger smoothing: sigma follows the region, not a fixed radius."""
    pixels = textured(200, 200)
    small = box_region((200, 200), 90, 90, 110, 110)
    large = box_region((200, 200), 20, 20, 180, 180)
    centre = (slice(95, 105), slice(95, 105))
    std_small = apply_region(pixels, small, "blur")[centre].astype(float).std()
    std_large = apply_region(pixels, large, "blur")[centre].astype(float).std()
    assert std_large < std_small / 2


def test_pixelate_block_structure() -> None:
    pixels = textured()
    top, left = 10, 5
    region = box_region((64, 64), top, left, top + 40, left + 40)
    result = apply_region(pixels, region, "pixelate", strength=0.2)  # 0.2 x 40 = 8 px blocks
    for y in range(top, top + 40, 8):
        for x in range(left, left + 40, 8):
            block = (slice(y, y + 8), slice(x, x + 8))
            mean = np.rint(pixels[block].reshape(-1, 3).mean(axis=0))
            assert (result[block] == mean).all(), (y, x)


def test_pixelate_blocks_follow_the_region_not_the_image_corner() -> None:
    pixels = textured()
    region = box_region((64, 64), 3, 7, 35, 39)  # 32 px box, strength 0.5 -> 16 px blocks from (3, 7)
    result = apply_region(pixels, region, "pixelate", strength=0.5)
    assert len(np.unique(result[3:19, 7:23].reshape(-1, 3), axis=0)) == 1
    assert not (result[3:19, 7:23] == result[19:35, 7:23]).all()


def test_pixelate_minimum_block_and_partial_edge_blocks() -> None:
    pixels = textured()
    region = box_region((64, 64), 0, 0, 20, 12)  # tiny strength -> MIN_BLOCK; 20 = 8 + 8 + 4, 12 = 8 + 4
    result = apply_region(pixels, region, "pixelate", strength=0.001)
    for rows in [slice(0, 8), slice(8, 16), slice(16, 20)]:
        for cols in [slice(0, 8), slice(8, 12)]:
            mean = np.rint(pixels[rows, cols].reshape(-1, 3).mean(axis=0))
            assert (result[rows, cols] == mean).all()
    assert MIN_BLOCK == 8


def test_pixelate_changes_a_textured_region() -> None:
    pixels = textured()
    region = box_region((64, 64), 8, 8, 56, 56)
    assert (apply_region(pixels, region, "pixelate")[region] != pixels[region]).mean() > 0.9


def test_feather_grows_by_a_disc_and_never_shrinks() -> None:
    region = box_region((64, 64), 30, 30, 31, 31)  # one pixel
    grown = grow_region(region, 3)
    rows, cols = np.nonzero(grown)
    assert grown[30, 30] and grown[27, 30] and grown[30, 33] and not grown[26, 30]
    assert ((rows - 30) ** 2 + (cols - 30) ** 2 <= 9).all()
    result = apply_region(textured(), region, "solid", color=(0, 0, 0), feather=3)
    assert (result[grown] == 0).all()
    np.testing.assert_array_equal(result[~grown], textured()[~grown])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "sparkle"}, "unknown obfuscation mode 'sparkle'; known modes: blur, pixelate, solid"),
        ({"strength": 0.0}, "strength must be a positive number"),
        ({"strength": float("nan")}, "strength must be a positive number"),
        ({"color": (0, 0, 256)}, "color must be three integers"),
        ({"color": (0, 0)}, "color must be three integers"),
        ({"feather": -1}, "dilation must be a non-negative integer"),
    ],
)
def test_bad_arguments(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        apply_region(textured(), box_region((64, 64), 0, 0, 10, 10), **kwargs)


def test_bad_pixels_and_regions() -> None:
    with pytest.raises(ValueError, match="uint8 array of shape H×W×3"):
        apply_region(textured().astype(np.float32), np.zeros((64, 64), dtype=bool))
    with pytest.raises(ValueError, match="region must be a bool array"):
        apply_region(textured(), np.zeros((64, 64), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"region has shape \(32, 64\)"):
        apply_region(textured(), np.zeros((32, 64), dtype=bool))


# ----------------------------------------------------------------------------------------------- registry


def test_custom_mode_is_used_and_confined(clean_registry: None) -> None:
    @register_mode("invert")
    def invert(pixels, region, *, strength, color):
        return 255 - pixels

    pixels = textured()
    region = box_region((64, 64), 5, 5, 20, 20)
    result = apply_region(pixels, region, "invert")
    np.testing.assert_array_equal(result[region], 255 - pixels[region])
    np.testing.assert_array_equal(result[~region], pixels[~region])


def test_renderer_cannot_modify_the_input(clean_registry: None) -> None:
    @register_mode("vandal")
    def vandal(pixels, region, *, strength, color):
        pixels[:] = 0
        return pixels

    with pytest.raises(ValueError, match="read-only"):
        apply_region(textured(), box_region((64, 64), 0, 0, 4, 4), "vandal")


def test_renderer_with_wrong_output_is_refused(clean_registry: None) -> None:
    @register_mode("broken")
    def broken(pixels, region, *, strength, color):
        return pixels[:10]

    with pytest.raises(ValueError, match="renderer for mode 'broken' returned"):
        apply_region(textured(), box_region((64, 64), 0, 0, 4, 4), "broken")


def test_registering_twice_needs_replace(clean_registry: None) -> None:
    with pytest.raises(ValueError, match="'solid' is already registered"):
        register_mode("solid")(lambda pixels, region, *, strength, color: pixels)
    register_mode("solid", replace=True)(lambda pixels, region, *, strength, color: np.zeros_like(pixels))
    assert (apply_region(textured(), box_region((64, 64), 0, 0, 4, 4), "solid", color=(9, 9, 9))[:4, :4] == 0).all()


# ----------------------------------------------------------------------------------------------- obfuscate


def test_hide_none_uses_present(report: PrivacyReport) -> None:
    image = textured()
    result = obfuscate(image, report)
    shown = report.union_mask(report.present())
    assert report.present() == ["a1_face", "a3_plate"]
    assert (result[shown] == 0).all()
    np.testing.assert_array_equal(result[~shown], image[~shown])
    assert not report.mask("a2_text")[shown].any()  # the not-shown attribute's pixels stay


def test_explicit_hide_list_and_single_string(report: PrivacyReport) -> None:
    image = textured()
    text = report.mask("a2_text")
    for hide in (["a2_text"], "a2_text"):
        result = obfuscate(image, report, hide=hide, mode="solid")
        assert (result[text] == 0).all()
        np.testing.assert_array_equal(result[~text], image[~text])


def test_per_attribute_modes(report: PrivacyReport) -> None:
    image = textured()
    face, text = report.mask("a1_face"), report.mask("a2_text")
    result = obfuscate(image, report, hide=["a1_face", "a2_text"], mode={"a1_face": "pixelate", "a2_text": "blur"})
    np.testing.assert_array_equal(result[face], apply_region(image, face, "pixelate")[face])
    np.testing.assert_array_equal(result[text], apply_region(image, text, "blur")[text])
    np.testing.assert_array_equal(result[~(face | text)], image[~(face | text)])


def test_attributes_missing_from_the_mapping_are_solid(report: PrivacyReport) -> None:
    image = textured()
    result = obfuscate(image, report, hide=["a1_face", "a3_plate"], mode={"a1_face": "blur"})
    assert (result[report.mask("a3_plate")] == 0).all()
    assert not (result[report.mask("a1_face")] == 0).all()


def test_solid_wins_overlaps_and_nothing_of_its_region_leaks_into_a_blur() -> None:
    face = hot_map(slice(1, 6), slice(1, 6))
    text = hot_map(slice(3, 5), slice(3, 7))
    report = make_report({"face": face, "text": text}, {"face": 0.9, "text": 0.9})
    text_mask = report.mask("text")
    first, second = textured(seed=3), textured(seed=3)
    second[text_mask] = textured(seed=4)[text_mask]
    modes = {"face": "blur", "text": "solid"}
    result_first = obfuscate(first, report, mode=modes)
    assert (result_first[text_mask] == 0).all()
    np.testing.assert_array_equal(result_first, obfuscate(second, report, mode=modes))


def test_threshold_and_dilate_are_used(report: PrivacyReport) -> None:
    image = textured()
    tight = report.mask("a1_face", 0.9)
    loose = grow_region(report.mask("a1_face", 0.1), 2)
    assert loose.sum() > tight.sum()
    result = obfuscate(image, report, hide=["a1_face"], threshold=0.1, dilate=2)
    assert (result[loose] == 0).all()
    np.testing.assert_array_equal(result[~loose], image[~loose])


def test_nothing_to_hide_returns_a_copy() -> None:
    quiet = make_report({"a1_face": hot_map(slice(0, 2), slice(0, 2))}, {"a1_face": 0.1})
    image = textured()
    result = obfuscate(image, quiet)
    np.testing.assert_array_equal(result, image)
    assert result is not image


def test_input_image_is_not_modified(report: PrivacyReport) -> None:
    image = textured()
    original = image.copy()
    obfuscate(image, report, hide=["a1_face", "a2_text", "a3_plate"], mode={"a1_face": "blur", "a2_text": "pixelate"})
    np.testing.assert_array_equal(image, original)


def test_unknown_attribute_id(report: PrivacyReport) -> None:
    with pytest.raises(KeyError, match="a99_tattoo"):
        obfuscate(textured(), report, hide=["a1_face", "a99_tattoo"])
    with pytest.raises(KeyError, match="a1_fcae"):
        obfuscate(textured(), report, hide=["a1_face"], mode={"a1_fcae": "blur"})


def test_unknown_mode_in_mapping(report: PrivacyReport) -> None:
    with pytest.raises(ValueError, match="unknown obfuscation mode 'swirl'"):
        obfuscate(textured(), report, hide=["a1_face"], mode={"a1_face": "swirl"})


def test_size_mismatch(report: PrivacyReport) -> None:
    with pytest.raises(ValueError, match=r"image is 48×64 \(H×W\) but the report was made for a 64×64 image"):
        obfuscate(textured(48, 64), report)

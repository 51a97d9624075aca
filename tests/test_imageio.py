"""Tests for privobf.imageio: every kind of bad or unusual photo a user can feed us, built here in tmp_path."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import resource
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageFile, JpegImagePlugin

from privobf import imageio
from privobf.imageio import MIN_SIDE, ImageLoadError, LoadedImage, encode_image, load_image, save_image_atomic

ORIENTATION = 0x0112
MAKE = 0x010F


# ----------------------------------------------------------------------------------------------- helpers


def noise(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)


def encoded(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def raw_png(width: int, height: int, bit_depth: int, colour_type: int, rows: bytes) -> bytes:
    """A PNG written byte by byte, for headers Pillow will not produce (huge sizes, 16-bit RGB)."""
    header = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(rows)) + png_chunk(b"IEND", b"")


def png16_rgb(values: np.ndarray) -> bytes:
    height, width, _ = values.shape
    rows = b"".join(b"\x00" + values[y].astype(">u2").tobytes() for y in range(height))
    return raw_png(width, height, 16, 2, rows)


def error_text(source, **kwargs) -> str:
    with pytest.raises(ImageLoadError) as caught:
        load_image(source, **kwargs)
    text = str(caught.value)
    assert "\n" not in text
    return text


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


def icc_lut8_cmyk_profile(lab: tuple[int, int, int]) -> bytes:
    """A minimal ICC v2 CMYK printer profile whose A2B0 maps every ink mix to one Lab colour.

    A constant profile makes it unmistakable whether the loader used the embedded profile or ignored it.
    """

    def s15(value: float) -> bytes:
        return struct.pack(">i", round(value * 65536))

    description = b"constant test CMYK\0"
    desc = b"desc" + bytes(4) + struct.pack(">I", len(description)) + description + bytes(8) + bytes(3) + bytes(67)
    white = b"XYZ " + bytes(4) + s15(0.9642) + s15(1.0) + s15(0.8249)
    identity = b"".join(s15(v) for v in (1, 0, 0, 0, 1, 0, 0, 0, 1))
    ramp = bytes(range(256))
    lut = b"mft1" + bytes(4) + bytes([4, 3, 2, 0]) + identity + ramp * 4 + bytes(lab) * 2**4 + ramp * 3
    tags = [(b"desc", desc), (b"wtpt", white), (b"A2B0", lut)]
    offset = 128 + 4 + 12 * len(tags)
    entries, data = b"", b""
    for signature, body in tags:
        body += bytes(-len(body) % 4)
        entries += signature + struct.pack(">II", offset + len(data), len(body))
        data += body
    size = offset + len(data)
    header = (
        struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"prtrCMYKLab " + bytes(12) + b"acsp"
        + bytes(28) + s15(0.9642) + s15(1.0) + s15(0.8249) + bytes(48)
    )
    assert len(header) == 128
    return header + struct.pack(">I", len(tags)) + entries + data


# ----------------------------------------------------------------------------------------------- files that are not (good) images


def test_missing_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope.jpg"
    assert error_text(missing) == f"{missing}: no such file"


def test_directory(tmp_path: Path) -> None:
    assert error_text(tmp_path) == f"{tmp_path}: is a directory, not an image file"


def test_zero_byte_file(tmp_path: Path) -> None:
    empty = write(tmp_path / "empty.png", b"")
    assert error_text(empty) == f"{empty}: empty file (0 bytes)"
    assert error_text(b"", name="upload") == "upload: empty data (0 bytes)"


def test_text_file_with_jpg_extension(tmp_path: Path) -> None:
    text = write(tmp_path / "notes.jpg", b"dear diary, today I took no photos\n" * 20)
    assert error_text(text) == f"{text}: not an image (cannot identify format)"


@pytest.mark.parametrize("format", ["JPEG", "PNG", "GIF", "TIFF"])
def test_truncated_file(tmp_path: Path, format: str) -> None:
    data = encoded(Image.fromarray(noise()), format)
    cut = write(tmp_path / f"cut.{format.lower()}", data[: len(data) // 2])
    assert error_text(cut).startswith(f"{cut}: truncated or corrupt image data")
    assert ImageFile.LOAD_TRUNCATED_IMAGES is False


def test_header_cut_short_is_called_truncated_not_unknown() -> None:
    data = encoded(Image.fromarray(noise()), "PNG")
    text = error_text(data[:30], name="x.png")
    assert text == "x.png: truncated or corrupt image data (starts like a PNG but its header cannot be read)"


def test_heic_and_pdf_get_specific_reasons() -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    heic_text = error_text(heic, name="IMG_0001.HEIC")
    if imageio.heif_available():  # with pillow-heif the file is read, and found broken
        assert heic_text.startswith("IMG_0001.HEIC: truncated or corrupt image data (starts like a HEIC/HEIF")
    else:
        assert "HEIC/HEIF images are not supported" in heic_text
    assert error_text(b"%PDF-1.7\n" + bytes(100), name="scan.pdf") == "scan.pdf: a PDF document, not an image"


def test_huge_header_is_refused_before_decoding() -> None:
    bomb = raw_png(20000, 20000, 8, 2, b"\x00" * 1000)
    before = peak_rss_bytes()
    text = error_text(bomb, name="bomb.png")
    assert text.startswith("bomb.png: 20000×20000 = 400 MP exceeds the 100 MP limit; pass a larger max_pixels")
    assert peak_rss_bytes() - before < 200 * 2**20  # decoding would need 1.2 GB


def test_huge_counts_stay_readable() -> None:
    text = error_text(raw_png(100000, 100000, 8, 2, b"\x00"), name="b.png")
    assert "100000×100000 = 10,000 MP exceeds the 100 MP limit" in text


def test_error_survives_pickling() -> None:
    error = ImageLoadError("a.jpg", "no such file")
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.source, copy.reason) == ("a.jpg: no such file", "a.jpg", "no such file")


def test_max_pixels_is_per_call() -> None:
    data = encoded(Image.fromarray(noise(64, 64)), "PNG")
    assert "64×64 = 0.004096 MP exceeds the 0.004 MP limit" in error_text(data, max_pixels=4000)
    assert load_image(data, max_pixels=4096).pixels.shape == (64, 64, 3)


def test_pillows_global_limit_does_not_apply(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)
    assert load_image(encoded(Image.fromarray(noise(64, 64)), "PNG")).pixels.shape == (64, 64, 3)


@pytest.mark.parametrize("size", [(1, 1), (MIN_SIDE - 1, 100), (100, MIN_SIDE - 1)])
def test_tiny_images_are_refused(size: tuple[int, int]) -> None:
    data = encoded(Image.new("RGB", size), "PNG")
    width, height = size
    assert f"image is only {width}×{height} pixels; at least {MIN_SIDE}×{MIN_SIDE}" in error_text(data)


def test_smallest_allowed_image_loads() -> None:
    assert load_image(encoded(Image.new("RGB", (MIN_SIDE, MIN_SIDE)), "PNG")).pixels.shape == (MIN_SIDE, MIN_SIDE, 3)


UNPARSABLE_EXIF = [  # found by fuzzing: Pillow's exif_transpose raises SyntaxError / struct.error on these
    b"Exif\x00\x00MM\xd7*\x00\x00\x00\x08\x00\x02\x01\x0f\x00\x02\x00\x00\x00\x04cam\x00\x01\x12\x00\xf8"
    b"\x00\x00\x00\x01\x9b\x06\x84\x00\x00\x00\x00\x00",
    b"Exif\x00\x00MM\x00*\x00\x00\x00\x08\x0e\x02\x01\x03\x00\x02\x00\x00\x00\x04cam\x00\x01\x12\x00\x03"
    b"\x00\x00\x00\x01\x00\x06;\x00\x00\x00\xe9\x00",
]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("exif", UNPARSABLE_EXIF)
def test_unparsable_exif_does_not_block_the_photo(exif: bytes) -> None:
    loaded = load_image(encoded(Image.fromarray(noise()), "PNG", exif=exif))
    np.testing.assert_array_equal(loaded.pixels, noise())  # used as stored
    assert len(loaded.exif) == len(exif)  # passed on (Orientation, if found, says 1: true for these pixels)


def test_input_file_is_not_modified(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    path = write(tmp_path / "rotated.jpg", encoded(Image.fromarray(noise()), "JPEG", exif=exif.tobytes()))
    digest, stat = hashlib.sha256(path.read_bytes()).hexdigest(), path.stat()
    load_image(path)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == digest
    assert path.stat().st_mtime_ns == stat.st_mtime_ns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rotated.jpg"]


# ----------------------------------------------------------------------------------------------- modes and depths


def test_rgb_png_round_trips_exactly(tmp_path: Path) -> None:
    path = write(tmp_path / "a.png", encoded(Image.fromarray(noise()), "PNG"))
    loaded = load_image(path)
    assert isinstance(loaded, LoadedImage)
    np.testing.assert_array_equal(loaded.pixels, noise())
    assert (loaded.path, loaded.format, loaded.original_mode) == (str(path), "PNG", "RGB")
    assert loaded.pixels.dtype == np.uint8 and loaded.pixels.flags.c_contiguous and loaded.pixels.flags.writeable


@pytest.mark.parametrize("mode", ["L", "1"])
def test_greyscale_becomes_three_equal_channels(mode: str) -> None:
    grey = np.random.default_rng(1).integers(0, 256, (32, 40), dtype=np.uint8)
    image = Image.fromarray(grey, "L").convert(mode)
    loaded = load_image(encoded(image, "PNG"))
    expected = np.array(image.convert("L"))
    assert loaded.original_mode == mode
    for channel in range(3):
        np.testing.assert_array_equal(loaded.pixels[..., channel], expected)


def test_rgba_is_composited_over_white() -> None:
    rgba = np.zeros((20, 30, 4), dtype=np.uint8)
    rgba[:, :10] = (0, 0, 0, 0)  # fully transparent black
    rgba[:, 10:20] = (200, 40, 10, 255)  # opaque
    rgba[:, 20:] = (0, 0, 0, 128)  # half-transparent black
    loaded = load_image(encoded(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert loaded.original_mode == "RGBA"
    assert (loaded.pixels[:, :10] == 255).all()
    assert (loaded.pixels[:, 10:20] == (200, 40, 10)).all()
    assert np.abs(loaded.pixels[:, 20:].astype(int) - 127).max() <= 1


def test_la_is_composited_over_white() -> None:
    la = np.zeros((20, 20, 2), dtype=np.uint8)
    la[:10] = (30, 255)
    la[10:] = (30, 0)
    loaded = load_image(encoded(Image.fromarray(la, "LA"), "PNG"))
    assert (loaded.pixels[:10] == 30).all() and (loaded.pixels[10:] == 255).all()


def test_palette_with_transparent_index_becomes_white() -> None:
    image = Image.new("P", (20, 20), 0)
    image.putpalette([10, 20, 30, 250, 0, 0] + [0] * 762)
    image.paste(1, (0, 0, 10, 20))
    loaded = load_image(encoded(image, "GIF", transparency=1))
    assert loaded.original_mode == "P"
    assert (loaded.pixels[:, :10] == 255).all()
    assert (loaded.pixels[:, 10:] == (10, 20, 30)).all()


def test_cmyk_jpeg_without_profile_uses_pillow_conversion() -> None:
    loaded = load_image(encoded(Image.new("CMYK", (24, 24), (0, 255, 255, 0)), "JPEG", quality=100))
    assert loaded.original_mode == "CMYK"
    assert np.abs(loaded.pixels.astype(int) - (255, 0, 0)).max() <= 3


def test_cmyk_jpeg_uses_its_icc_profile() -> None:
    profile = icc_lut8_cmyk_profile(lab=(136, 208, 195))  # every ink mix -> a strong red
    full_ink = Image.new("CMYK", (24, 24), (255, 255, 255, 255))  # black by formula
    loaded = load_image(encoded(full_ink, "JPEG", quality=100, icc_profile=profile))
    red, green, blue = loaded.pixels[12, 12].astype(int)
    assert red > 80 and green < 30 and blue < 30
    assert loaded.icc_profile is None  # a CMYK profile does not describe RGB pixels


def test_cmyk_with_unusable_profile_falls_back() -> None:
    image = Image.new("CMYK", (24, 24), (0, 255, 255, 0))
    loaded = load_image(encoded(image, "JPEG", quality=100, icc_profile=b"not a profile" * 20))
    assert np.abs(loaded.pixels.astype(int) - (255, 0, 0)).max() <= 3


def test_rgb_icc_profile_is_kept() -> None:
    from PIL import ImageCms

    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    loaded = load_image(encoded(Image.fromarray(noise()), "PNG", icc_profile=srgb))
    assert loaded.icc_profile == srgb


def test_16_bit_grey_png_is_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.linspace(0, 65535, 48 * 64).round().astype(np.uint16).reshape(48, 64)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)
    loaded = load_image(path)
    assert loaded.original_mode == "I;16"
    expected = np.rint(values / 65535 * 255).astype(np.uint8)
    np.testing.assert_array_equal(loaded.pixels[..., 0], expected)
    assert loaded.pixels[..., 0].mean() == pytest.approx(127.5, abs=1)  # clipping would make it ~255


def test_16_bit_rgb_png_is_within_one_level() -> None:
    values = np.random.default_rng(2).integers(0, 65536, (20, 24, 3)).astype(np.uint16)
    loaded = load_image(png16_rgb(values))
    exact = values / 65535 * 255
    assert np.abs(loaded.pixels - exact).max() <= 1.0


@pytest.mark.parametrize("mode", ["I;16", "I;16B"])
def test_16_bit_tiff_and_pil_modes(mode: str) -> None:
    values = np.full((20, 20), 257 * 77, dtype=np.uint16)
    image = Image.fromarray(values.astype(">u2" if mode == "I;16B" else "<u2"))
    assert image.mode == mode
    assert (load_image(image).pixels == 77).all()
    assert (load_image(encoded(image, "TIFF")).pixels == 77).all()


def test_mode_i_from_a_12_bit_pgm_is_scaled() -> None:
    pgm = b"P5 20 20 4095\n" + np.full(400, 4095, ">u2").tobytes() + b""
    loaded = load_image(pgm)
    assert loaded.original_mode == "I"
    assert (loaded.pixels == 255).all()


def test_float_tiff_in_unit_range() -> None:
    values = np.full((20, 20), 0.25, dtype=np.float32)
    loaded = load_image(encoded(Image.fromarray(values, "F"), "TIFF"))
    assert loaded.original_mode == "F"
    assert (loaded.pixels == 64).all()


def test_float_image_with_nan_is_refused() -> None:
    values = np.full((20, 20), 0.5, dtype=np.float32)
    values[3, 3] = np.nan
    assert error_text(Image.fromarray(values, "F"), name="f.tif") == "f.tif: contains NaN or infinite pixel values"


# ----------------------------------------------------------------------------------------------- orientation and frames


def upright_pattern() -> np.ndarray:
    """Non-symmetric under every flip and rotation: distinct quadrants plus noise, taller than wide."""
    image = noise(40, 24, seed=7)
    image[:8, :8] = (255, 0, 0)
    return image


STORED_FOR_ORIENTATION = {  # how a camera stores the upright picture for each EXIF Orientation value
    1: lambda u: u,
    2: lambda u: u[:, ::-1],
    3: lambda u: u[::-1, ::-1],
    4: lambda u: u[::-1],
    5: lambda u: u.swapaxes(0, 1),
    6: lambda u: np.rot90(u, 1),
    7: lambda u: np.rot90(u, 2).swapaxes(0, 1),
    8: lambda u: np.rot90(u, -1),
}


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_gives_the_same_upright_pixels(orientation: int) -> None:
    upright = upright_pattern()
    stored = np.ascontiguousarray(STORED_FOR_ORIENTATION[orientation](upright))
    exif = Image.Exif()
    exif[ORIENTATION] = orientation
    exif[MAKE] = "privobf test camera"
    data = encoded(Image.fromarray(stored), "PNG", exif=exif.tobytes())
    loaded = load_image(data)
    np.testing.assert_array_equal(loaded.pixels, upright)
    kept = Image.Exif()
    kept.load(loaded.exif)
    assert kept[ORIENTATION] == 1 and kept[MAKE] == "privobf test camera"


def test_exif_is_patched_in_place_not_reserialised() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 8
    exif[MAKE] = "cam"
    data = encoded(Image.fromarray(noise()), "JPEG", exif=exif.tobytes())
    original = Image.open(io.BytesIO(data)).info["exif"]
    returned = load_image(data).exif
    assert len(returned) == len(original)
    assert sum(a != b for a, b in zip(returned, original)) == 1  # only the low byte of the value 8 -> 1


def test_animated_gif_uses_first_frame() -> None:
    frames = [Image.new("RGB", (20, 20), colour) for colour in [(255, 0, 0), (0, 255, 0), (0, 0, 255)]]
    data = encoded(frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    assert Image.open(io.BytesIO(data)).n_frames == 3
    assert (load_image(data).pixels == (255, 0, 0)).all()


def test_multipage_tiff_uses_first_page() -> None:
    pages = [Image.new("RGB", (20, 20), colour) for colour in [(0, 0, 255), (0, 255, 0)]]
    data = encoded(pages[0], "TIFF", save_all=True, append_images=pages[1:])
    assert (load_image(data).pixels == (0, 0, 255)).all()


# ----------------------------------------------------------------------------------------------- other source types


def test_stream_source_uses_its_name(tmp_path: Path) -> None:
    path = write(tmp_path / "s.txt", b"no image here" * 10)
    with open(path, "rb") as stream:
        assert error_text(stream) == f"{path}: not an image (cannot identify format)"
    assert load_image(io.BytesIO(encoded(Image.fromarray(noise()), "PNG"))).pixels.shape == (48, 64, 3)


def test_text_stream_is_a_programming_error() -> None:
    with pytest.raises(TypeError, match="binary stream"):
        load_image(io.StringIO("not bytes"))


def test_unsupported_source_type() -> None:
    with pytest.raises(TypeError, match="got int"):
        load_image(42)  # type: ignore[arg-type]


def test_pil_image_source_is_oriented_and_not_changed() -> None:
    exif = Image.Exif()
    exif[ORIENTATION] = 3
    image = Image.open(io.BytesIO(encoded(Image.fromarray(noise()), "PNG", exif=exif.tobytes())))
    loaded = load_image(image)
    np.testing.assert_array_equal(loaded.pixels, noise()[::-1, ::-1])
    assert image.getexif()[ORIENTATION] == 3


@pytest.mark.parametrize(
    ("array", "expected"),
    [
        (np.full((20, 20), 9, np.uint8), (9, 9, 9)),
        (np.full((20, 20, 1), 9, np.uint8), (9, 9, 9)),
        (np.full((20, 20, 3), (1, 2, 3), np.uint8), (1, 2, 3)),
        (np.full((20, 20, 4), (1, 2, 3, 0), np.uint8), (255, 255, 255)),
        (np.full((20, 20, 4), (1, 2, 3, 255), np.uint8), (1, 2, 3)),
        (np.full((20, 20), 65535, np.uint16), (255, 255, 255)),
        (np.full((20, 20, 3), (0, 257 * 100, 65535), np.uint16), (0, 100, 255)),
        (np.full((20, 20), 1.0, np.float64), (255, 255, 255)),
        (np.full((20, 20, 3), (0.0, 0.5, 1.0), np.float32), (0, 128, 255)),
    ],
)
def test_arrays_in(array: np.ndarray, expected: tuple[int, int, int]) -> None:
    loaded = load_image(array)
    assert loaded.pixels.shape == (20, 20, 3) and loaded.pixels.dtype == np.uint8
    assert (loaded.pixels == expected).all()
    assert not np.shares_memory(loaded.pixels, array)


@pytest.mark.parametrize(
    ("array", "reason"),
    [
        (np.zeros((20, 20, 2), np.uint8), "expected an array of shape H×W, H×W×1, H×W×3 or H×W×4; got shape (20, 20, 2)"),
        (np.zeros((2, 20, 20, 3), np.uint8), "got shape (2, 20, 20, 3)"),
        (np.zeros((20, 20, 3), np.int64), "unsupported dtype int64; use uint8, uint16 or float in [0, 1]"),
        (np.zeros((20, 20), bool), "unsupported dtype bool"),
        (np.full((20, 20), np.nan), "contains NaN or infinite pixel values"),
        (np.full((20, 20), 255.0), "float pixels must lie in [0, 1]; found values from 255 to 255"),
        (np.zeros((8, 20), np.uint8), "image is only 20×8 pixels"),
    ],
)
def test_bad_arrays(array: np.ndarray, reason: str) -> None:
    text = error_text(array, name="frame")
    assert text.startswith("frame: ") and reason in text


MODE_FORMATS = [
    ("1", "PNG"), ("L", "PNG"), ("L", "JPEG"), ("LA", "PNG"), ("P", "PNG"), ("P", "GIF"),
    ("RGB", "PNG"), ("RGB", "JPEG"), ("RGB", "WEBP"), ("RGB", "BMP"), ("RGBA", "PNG"), ("RGBA", "WEBP"),
    ("RGBA", "TIFF"), ("CMYK", "JPEG"), ("CMYK", "TIFF"), ("I;16", "PNG"), ("I;16", "TIFF"), ("I", "TIFF"), ("F", "TIFF"),
]


def make_image(mode: str, height: int, width: int, seed: int) -> Image.Image:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16))
    if mode == "I":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.int32), "I")
    if mode == "F":
        return Image.fromarray(rng.random((height, width)).astype(np.float32), "F")
    rgba = rng.integers(0, 256, (height, width, 4), dtype=np.uint8)
    return Image.fromarray(rgba, "RGBA").convert(mode)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    height=st.integers(16, 64),
    width=st.integers(16, 64),
    mode_format=st.sampled_from(MODE_FORMATS),
    seed=st.integers(0, 2**16),
)
def test_any_encodable_image_loads_as_uint8_rgb(height: int, width: int, mode_format: tuple[str, str], seed: int) -> None:
    mode, format = mode_format
    loaded = load_image(encoded(make_image(mode, height, width, seed), format))
    assert loaded.pixels.shape == (height, width, 3)
    assert loaded.pixels.dtype == np.uint8


# ----------------------------------------------------------------------------------------------- saving


def test_save_png_and_tiff_are_lossless(tmp_path: Path) -> None:
    for name in ["out.png", "out.tif", "out.TIFF"]:
        path = save_image_atomic(noise(), tmp_path / name)
        np.testing.assert_array_equal(load_image(path).pixels, noise())


def test_save_jpeg_and_webp(tmp_path: Path) -> None:
    rows, cols = np.mgrid[0:48, 0:64]
    smooth = np.stack([rows * 5, cols * 4, (rows + cols) * 2], axis=-1).astype(np.uint8)
    for name, fmt in [("a.jpg", "JPEG"), ("b.JPEG", "JPEG"), ("c.webp", "WEBP")]:
        path = save_image_atomic(smooth, tmp_path / name)
        loaded = load_image(path)
        assert loaded.format == fmt
        assert np.abs(loaded.pixels.astype(int) - smooth).mean() < 3


def test_format_argument_overrides_extension(tmp_path: Path) -> None:
    path = save_image_atomic(noise(), tmp_path / "image.dat", format="png")
    assert Image.open(path).format == "PNG"


def test_unknown_extension_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="privobf cannot write .dat images; name the output with one of"):
        save_image_atomic(noise(), tmp_path / "image.dat")
    with pytest.raises(ValueError, match="cannot save format 'gif'"):
        save_image_atomic(noise(), tmp_path / "image.gif", format="gif")
    assert list(tmp_path.iterdir()) == []


def test_jpeg_chroma_subsampling_follows_quality() -> None:
    high = Image.open(io.BytesIO(encode_image(noise(), "JPEG", quality=95)))
    low = Image.open(io.BytesIO(encode_image(noise(), "JPEG", quality=75)))
    assert JpegImagePlugin.get_sampling(high) == 0  # 4:4:4
    assert JpegImagePlugin.get_sampling(low) == 2  # 4:2:0


def test_bad_pixels_and_quality_are_refused() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_image(noise().astype(np.float32))
    with pytest.raises(ValueError, match="H×W×3"):
        encode_image(np.zeros((10, 10, 4), np.uint8))
    with pytest.raises(ValueError, match="quality"):
        encode_image(noise(), "JPEG", quality=0)


def test_grey_pixels_can_be_saved() -> None:
    grey = noise()[..., 0]
    assert Image.open(io.BytesIO(encode_image(grey))).mode == "L"


def test_metadata_is_written_only_when_given(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[MAKE] = "cam"
    exif_bytes = exif.tobytes()
    with_metadata = save_image_atomic(noise(), tmp_path / "with.jpg", exif=exif_bytes)
    without = save_image_atomic(noise(), tmp_path / "without.jpg")
    assert Image.open(with_metadata).info["exif"] == exif_bytes
    assert "exif" not in Image.open(without).info


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    target = write(tmp_path / "keep.png", b"precious")
    with pytest.raises(FileExistsError, match=f"{target}: already exists; it is only replaced when asked \\(overwrite=True"):
        save_image_atomic(noise(), target)
    assert target.read_bytes() == b"precious"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]


def test_overwrite_replaces(tmp_path: Path) -> None:
    target = write(tmp_path / "old.png", b"old")
    save_image_atomic(noise(), target, overwrite=True)
    np.testing.assert_array_equal(load_image(target).pixels, noise())
    assert [p.name for p in tmp_path.iterdir()] == ["old.png"]


def test_file_appearing_during_the_write_is_not_clobbered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "race.png"
    real_write = imageio._write_and_sync

    def someone_else_writes_first(temp: Path, data: bytes) -> None:
        target.write_bytes(b"theirs")
        real_write(temp, data)

    monkeypatch.setattr(imageio, "_write_and_sync", someone_else_writes_first)
    with pytest.raises(FileExistsError):
        save_image_atomic(noise(), target)
    assert target.read_bytes() == b"theirs"
    assert [p.name for p in tmp_path.iterdir()] == ["race.png"]


def test_encoder_error_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self, *args, **kwargs):
        raise OSError("encoder exploded")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="encoder exploded"):
        save_image_atomic(noise(), tmp_path / "out.png")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("overwrite", [False, True])
def test_write_error_leaves_no_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool) -> None:
    target = tmp_path / "out.png"
    if overwrite:
        write(target, b"old")

    def disk_full(descriptor: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space left"):
        save_image_atomic(noise(), target, overwrite=overwrite)
    assert [p.name for p in tmp_path.iterdir()] == (["out.png"] if overwrite else [])
    if overwrite:
        assert target.read_bytes() == b"old"


def test_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="directory does not exist"):
        save_image_atomic(noise(), tmp_path / "no" / "such" / "dir.png")


def test_new_file_gets_ordinary_permissions(tmp_path: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = save_image_atomic(noise(), tmp_path / "perm.png")
    finally:
        os.umask(previous)
    assert path.stat().st_mode & 0o777 == 0o644

"""Lying headers and short pixel data, for every format: refused by name before anything is decoded.

A photo of 64×48 whose header was patched to claim far more pixels (still under the megapixel limit), or
whose compressed data stops early and is closed with a valid end, must never come back as an image padded
with grey: that turns a 700-byte file into gigabytes of scanning (issue 16, item 5).
"""

from __future__ import annotations

import io
import struct
import time
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from privobf.complete_data import first_frame_pixel_counts
from privobf.imageio import ImageLoadError, heif_available, load_image

CLAIMED = (3000, 2800)  # 8.4 MP: under every default limit, 2,700 times the real photo


def photo(seed: int = 0, size: tuple[int, int] = (48, 64)) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def encoded(format_name: str, image: Image.Image | None = None, **options) -> bytes:
    buffer = io.BytesIO()
    (image or photo()).save(buffer, format_name, **options)
    return buffer.getvalue()


def jpeg_claiming(data: bytes, width: int, height: int) -> bytes:
    """The JPEG with its frame header (SOF0/1/2) saying width × height."""
    patched, position = bytearray(data), 2
    while position < len(patched):
        marker = patched[position + 1]
        (length,) = struct.unpack_from(">H", patched, position + 2)
        if marker in (0xC0, 0xC1, 0xC2):
            struct.pack_into(">HH", patched, position + 5, height, width)
            return bytes(patched)
        position += 2 + length
    raise AssertionError("no frame header")


def png_claiming(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into(">II", patched, 16, width, height)
    struct.pack_into(">I", patched, 29, zlib.crc32(bytes(patched[12:29])))  # a valid header CRC: only the size lies
    return bytes(patched)


def gif_claiming(data: bytes, width: int, height: int) -> bytes:
    """Both the logical screen and the first frame's descriptor say width × height."""
    patched = bytearray(data)
    struct.pack_into("<HH", patched, 6, width, height)
    position = 13 + (3 * (2 << (patched[10] & 7)) if patched[10] & 0x80 else 0)
    while patched[position] == 0x21:  # skip extensions
        position += 2
        while patched[position]:
            position += patched[position] + 1
        position += 1
    assert patched[position] == 0x2C
    struct.pack_into("<HH", patched, position + 5, width, height)
    return bytes(patched)


def bmp_claiming(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    struct.pack_into("<ii", patched, 18, width, height)
    return bytes(patched)


def tiff_claiming(data: bytes, width: int, height: int) -> bytes:
    patched = bytearray(data)
    (ifd,) = struct.unpack_from("<I", patched, 4)
    (count,) = struct.unpack_from("<H", patched, ifd)
    for index in range(count):
        entry = ifd + 2 + 12 * index
        tag, kind = struct.unpack_from("<HH", patched, entry)
        if tag in (256, 257):
            struct.pack_into("<H" if kind == 3 else "<I", patched, entry + 8, width if tag == 256 else height)
    return bytes(patched)


def webp_claiming(data: bytes, width: int, height: int) -> bytes:
    """A lossy WebP (VP8) frame header saying width × height (14 bits each)."""
    assert data[12:16] == b"VP8 "
    return data[:26] + struct.pack("<HH", width & 0x3FFF, height & 0x3FFF) + data[30:]


LIARS = {
    "jpeg": lambda w, h: jpeg_claiming(encoded("JPEG", quality=90), w, h),
    "progressive-jpeg": lambda w, h: jpeg_claiming(encoded("JPEG", quality=90, progressive=True), w, h),
    "png": lambda w, h: png_claiming(encoded("PNG"), w, h),
    "gif": lambda w, h: gif_claiming(encoded("GIF"), w, h),
    "bmp": lambda w, h: bmp_claiming(encoded("BMP"), w, h),
    "tiff": lambda w, h: tiff_claiming(encoded("TIFF"), w, h),
    "webp": lambda w, h: webp_claiming(encoded("WEBP", quality=80), w, h),
}


@pytest.mark.parametrize("format_name", sorted(LIARS))
@pytest.mark.parametrize("claimed", [CLAIMED, (640, 480)])
def test_a_header_that_claims_more_pixels_than_the_data_holds_is_refused(format_name, claimed) -> None:
    data = LIARS[format_name](*claimed)
    started = time.perf_counter()
    with pytest.raises(ImageLoadError) as caught:
        load_image(data, name=f"liar.{format_name}")
    assert time.perf_counter() - started < 2.0  # refused from the data's length, not after decoding megapixels
    assert str(caught.value).startswith(f"liar.{format_name}: truncated or corrupt image data (")


def test_the_liars_are_valid_files_except_for_their_size() -> None:
    """The patch only changes the size: at their true size the same bytes load (so the tests above test the
    size lie and not a broken file)."""
    for format_name, liar in LIARS.items():
        if format_name in ("webp",):  # VP8 sizes must match the bitstream; the true-size WebP is `encoded` itself
            continue
        assert load_image(liar(64, 48), name=format_name).pixels.shape == (48, 64, 3), format_name


def with_end_after_half_the_scan(data: bytes, end: bytes) -> bytes:
    """The first half of the file, then a valid end marker: data cut in transit and closed again."""
    return data[: len(data) // 2] + end


@pytest.mark.parametrize("progressive", [False, True])
def test_a_jpeg_whose_scan_data_stops_early_is_refused_not_padded_grey(progressive) -> None:
    data = encoded("JPEG", photo(1, (240, 320)), quality=95, progressive=progressive)
    with pytest.raises(ImageLoadError, match=r"^cut\.jpg: truncated or corrupt image data \(its compressed data ends "
                                             r"before the 320×240 pixels its header declares\)$"):
        load_image(with_end_after_half_the_scan(data, b"\xff\xd9"), name="cut.jpg")


def test_a_gif_whose_lzw_data_stops_early_is_refused() -> None:
    """Half of the first frame's LZW sub-blocks, then a block terminator and the trailer: a structurally
    complete file whose pixels are missing (Pillow alone fills them with the background)."""
    data = encoded("GIF", photo(2, (120, 160)))
    position = 13 + (3 * (2 << (data[10] & 7)) if data[10] & 0x80 else 0)
    while data[position] == 0x21:
        position += 2
        while data[position]:
            position += data[position] + 1
        position += 1
    position += 10 + (3 * (2 << (data[position + 9] & 7)) if data[position + 9] & 0x80 else 0) + 1
    starts = []
    while data[position]:
        starts.append(position)
        position += data[position] + 1
    cut = data[: starts[len(starts) // 2]] + b"\x00\x3b"
    with pytest.raises(ImageLoadError, match=r"^cut\.gif: truncated or corrupt image data \(its LZW data decodes to "
                                             r"[0-9,]+ of the 160×120 = 19,200 pixels of its first frame\)$"):
        load_image(cut, name="cut.gif")


@pytest.mark.parametrize("format_name", ["PNG", "TIFF", "BMP", "WEBP"])
def test_other_formats_with_short_data_are_refused_too(format_name) -> None:
    data = encoded(format_name, photo(3, (120, 160)), **({"quality": 90} if format_name == "WEBP" else {}))
    with pytest.raises(ImageLoadError, match="truncated or corrupt image data"):
        load_image(data[: len(data) * 2 // 3], name=f"cut.{format_name.lower()}")


@pytest.mark.skipif(not heif_available(), reason="pillow-heif is not installed")
def test_a_heic_claiming_more_pixels_than_it_codes_is_refused() -> None:
    """The 'ispe' box (the size the header shows) patched to 3000×2800 over a 64×48 picture."""
    data = bytearray(encoded("HEIF", photo(), quality=90))
    position = data.find(b"ispe")
    assert position > 0
    struct.pack_into(">II", data, position + 8, *CLAIMED)
    with pytest.raises(ImageLoadError, match=r"^liar\.heic: "):
        load_image(bytes(data), name="liar.heic")


@settings(max_examples=25, deadline=None)
@given(st.integers(16, 90), st.integers(16, 90), st.integers(0, 2**31), st.booleans(), st.sampled_from([2, 16, 256]))
def test_the_lzw_count_of_valid_gifs_is_exactly_their_size(width, height, seed, interlace, colours) -> None:
    """The GIF check never refuses a complete GIF: for any size, palette and interlacing, the codes count to
    exactly the frame's pixels (too few would refuse a good photo)."""
    indices = np.random.default_rng(seed).integers(0, colours, (height, width), dtype=np.uint8)
    if seed % 2:  # long runs too, which is where the LZW dictionary grows its longest strings
        indices[:, : width // 2] = 0
    image = Image.fromarray(indices, "P")
    image.putpalette(list(np.random.default_rng(seed).integers(0, 256, 3 * colours)))
    data = encoded("GIF", image, interlace=interlace)
    decoded, declared, got_width, got_height = first_frame_pixel_counts(data)
    assert (got_width, got_height) == (width, height) and decoded == declared == width * height
    assert load_image(data, name="ok.gif").pixels.shape == (height, width, 3)

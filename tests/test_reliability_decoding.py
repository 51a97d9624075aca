"""Reliability of image decoding and encoding: whatever bytes arrive, `load_image` returns an upright uint8 RGB
image or raises a one-line `ImageLoadError`; whatever fails while saving, no partial file appears.

Complements tests/test_imageio.py (which pins each message and conversion one case at a time) with property-based
and fuzzing tests, HEIC/HEIF, and the failure paths of atomic saving. docs/reliability.md lists each bad input
with the test that checks it.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import io
import os
import re
import resource
import signal
import struct
import sys
import threading
import time
import tracemalloc
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from PIL import Image, ImageCms

from privobf import imageio
from privobf.imageio import MIN_SIDE, ImageLoadError, LoadedImage, encode_image, load_image, save_image_atomic

from .test_imageio import STORED_FOR_ORIENTATION, error_text  # camera storage per Orientation; one-line errors

HAVE_HEIF = imageio.heif_available()
needs_heif = pytest.mark.skipif(not HAVE_HEIF, reason="pillow_heif (privobf[heif]) is not installed")
ORIENTATION = 0x0112
MAKE = 0x010F
SETTINGS = dict(deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
quiet_decoders = pytest.mark.filterwarnings("ignore::UserWarning", "ignore::DeprecationWarning")


# ----------------------------------------------------------------------------------------------- helpers


@contextlib.contextmanager
def within(seconds: float):
    """Turn a hang into a failure (Unix main thread only; elsewhere the test just runs)."""
    if not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def hang(signum, frame):
        raise TimeoutError(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def load_or_clean_error(source, name: str = "input.bin", **kwargs) -> LoadedImage | None:
    """The whole contract: a well-formed LoadedImage, or an ImageLoadError "<name>: <reason>" on one line."""
    with within(30):
        try:
            loaded = load_image(source, name=name, **kwargs)
        except ImageLoadError as error:
            text = str(error)
            assert text.startswith(f"{name}: ") and error.reason, text
            assert "\n" not in text and "\r" not in text
            return None
    pixels = loaded.pixels
    assert isinstance(loaded, LoadedImage)
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert min(pixels.shape[:2]) >= MIN_SIDE
    return loaded


def pil_encode(image: Image.Image, format: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format, **options)
    return buffer.getvalue()


def blocks(height: int, width: int, seed: int = 0, block: int = 8) -> np.ndarray:
    """Flat 8x8 colour blocks: survives lossy codecs well, yet is different under every flip and rotation."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (-(-height // block), -(-width // block), 3), dtype=np.uint8)
    return np.ascontiguousarray(small.repeat(block, 0).repeat(block, 1)[:height, :width])


def srgb_profile() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def exif_bytes(orientation: int | None = None, make: str | None = None) -> bytes:
    exif = Image.Exif()
    if orientation is not None:
        exif[ORIENTATION] = orientation
    if make is not None:
        exif[MAKE] = make
    return exif.tobytes()


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def bilevel_png(width: int, height: int) -> bytes:
    """A genuine, valid all-black 1-bit PNG: tiny on disk, `width*height` pixels once decoded."""
    row = b"\x00" + bytes(-(-width // 8))
    idat = zlib.compress(row * height, 9)
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", idat) + png_chunk(b"IEND", b"")


def peak_rss_bytes() -> int:
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@pytest.fixture
def no_decoding(monkeypatch: pytest.MonkeyPatch):
    """Fails the test if any pixel data is decoded: proves a refusal came from the header alone."""

    def must_not_decode(image, label):
        raise AssertionError(f"{label}: pixels were decoded")

    monkeypatch.setattr(imageio, "_decode", must_not_decode)


@pytest.fixture
def no_heif(monkeypatch: pytest.MonkeyPatch):
    """This process as it would be without pillow_heif: the lazy registration reports it unavailable."""
    monkeypatch.setattr(imageio, "_register_heif", lambda: False)
    monkeypatch.setattr(imageio, "_heif_registered", None)


# ----------------------------------------------------------------------------------------------- any mode, shape, format

MODES = ["L", "LA", "P", "P+transparency", "RGB", "RGBA", "I;16", "I", "F", "CMYK", "1"]
FORMATS = ["PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF"] + (["HEIF"] if HAVE_HEIF else [])


def make_image(mode: str, height: int, width: int, seed: int) -> tuple[Image.Image, dict]:
    rng = np.random.default_rng(seed)
    if mode == "I;16":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.uint16)), {}
    if mode == "I":
        return Image.fromarray(rng.integers(0, 65536, (height, width)).astype(np.int32), "I"), {}
    if mode == "F":
        return Image.fromarray(rng.random((height, width)).astype(np.float32), "F"), {}
    rgba = Image.fromarray(rng.integers(0, 256, (height, width, 4), dtype=np.uint8), "RGBA")
    if mode == "P+transparency":
        return rgba.convert("RGB").convert("P", palette=Image.Palette.ADAPTIVE, colors=16), {"transparency": 3}
    return rgba.convert(mode), {}


def try_encode(mode: str, format: str, height: int, width: int, seed: int) -> bytes | None:
    """Pillow's (or pillow_heif's) bytes for this mode in this format, None where the encoder refuses it."""
    image, options = make_image(mode, height, width, seed)
    try:
        return pil_encode(image, format, **options)
    except (OSError, ValueError, KeyError, TypeError, RuntimeError):
        return None


@functools.lru_cache(maxsize=None)
def encodable_pairs() -> tuple[tuple[str, str], ...]:
    return tuple((m, f) for m in MODES for f in FORMATS if try_encode(m, f, MIN_SIDE, MIN_SIDE, 0) is not None)


def test_every_mode_is_encodable_in_some_format_and_heif_is_covered() -> None:
    pairs = encodable_pairs()
    assert {mode for mode, _ in pairs} == set(MODES)
    assert {format for _, format in pairs} == set(FORMATS)
    assert len(pairs) >= 40


@quiet_decoders
@pytest.mark.parametrize("format", FORMATS)
@settings(max_examples=30, **SETTINGS)
@given(
    data=st.data(),
    height=st.integers(1, 300),
    width=st.integers(1, 300),
    seed=st.integers(0, 2**16),
)
def test_any_mode_shape_and_format_loads_upright_rgb_or_is_refused_cleanly(
    format: str, data: st.DataObject, height: int, width: int, seed: int
) -> None:
    mode = data.draw(st.sampled_from([m for m, f in encodable_pairs() if f == format]), label="mode")
    event(f"mode {mode}")
    event("refused: below MIN_SIDE" if min(height, width) < MIN_SIDE else "loads")
    encoded = try_encode(mode, format, height, width, seed)
    assume(encoded is not None)  # e.g. an encoder that cannot write 1-pixel images: not what is under test
    loaded = load_or_clean_error(encoded, name=f"x.{format.lower()}")
    if min(height, width) < MIN_SIDE:
        assert loaded is None
        assert f"image is only {width}×{height} pixels" in error_text(encoded)
    else:
        assert loaded is not None, f"{mode} {format} {width}×{height} was refused"
        assert loaded.pixels.shape == (height, width, 3)


def test_wrong_extension_loads_by_content(tmp_path: Path) -> None:
    pixels = blocks(32, 48)
    png_as_jpg = tmp_path / "photo.jpg"
    png_as_jpg.write_bytes(pil_encode(Image.fromarray(pixels), "PNG"))
    loaded = load_image(png_as_jpg)
    assert loaded.format == "PNG"
    np.testing.assert_array_equal(loaded.pixels, pixels)
    jpeg_as_png = tmp_path / "photo.png"
    jpeg_as_png.write_bytes(pil_encode(Image.fromarray(pixels), "JPEG", quality=95))
    assert load_image(jpeg_as_png).format == "JPEG"


@needs_heif
def test_heic_with_a_jpg_extension_loads_by_content(tmp_path: Path) -> None:
    path = tmp_path / "IMG_0001.jpg"
    path.write_bytes(encode_image(blocks(32, 48), "HEIF", quality=95))
    assert load_image(path).format == "HEIF"


# ----------------------------------------------------------------------------------------------- fuzzing

FUZZ_FORMATS = ["PNG", "JPEG", "WEBP", "TIFF", "BMP", "GIF"] + (["HEIF"] if HAVE_HEIF else [])


@functools.lru_cache(maxsize=None)
def seed_file(format: str) -> bytes:
    """A valid 40×48 file per format, with the features a parser must walk (EXIF, palette, ICC, alpha)."""
    pixels = blocks(40, 48, seed=3)
    if format == "HEIF":
        return encode_image(pixels, "HEIF", quality=80, exif=exif_bytes(6, "cam"), icc_profile=srgb_profile())
    image = Image.fromarray(pixels)
    if format == "GIF":
        return pil_encode(image.convert("P", palette=Image.Palette.ADAPTIVE, colors=32), "GIF", transparency=2)
    if format == "PNG":
        return pil_encode(image.convert("RGBA"), "PNG", exif=exif_bytes(3), icc_profile=srgb_profile())
    if format == "JPEG":
        return pil_encode(image, "JPEG", quality=85, exif=exif_bytes(8, "cam"), icc_profile=srgb_profile())
    if format == "TIFF":
        return pil_encode(image, "TIFF", compression="tiff_lzw")
    return pil_encode(image, format)


@st.composite
def mutations(draw) -> list[tuple]:
    position = st.integers(0, 2**20)
    operation = st.one_of(
        st.tuples(st.just("flip"), position, st.integers(0, 7)),
        st.tuples(st.just("set"), position, st.sampled_from([0x00, 0xFF, 0x7F, 0x80, 0x01])),
        st.tuples(st.just("insert"), position, st.binary(min_size=1, max_size=16)),
        st.tuples(st.just("delete"), position, st.integers(1, 16)),
        st.tuples(st.just("truncate"), position),
    )
    return draw(st.lists(operation, min_size=1, max_size=6))


def mutate(data: bytes, operations: list[tuple]) -> bytes:
    mutated = bytearray(data)
    for kind, position, *argument in operations:
        at = position % (len(mutated) + 1)
        if kind == "flip" and at < len(mutated):
            mutated[at] ^= 1 << argument[0]
        elif kind == "set" and at < len(mutated):
            mutated[at] = argument[0]
        elif kind == "insert":
            mutated[at:at] = argument[0]
        elif kind == "delete":
            del mutated[at : at + argument[0]]
        elif kind == "truncate":
            del mutated[at:]
    return bytes(mutated)


@quiet_decoders
@pytest.mark.parametrize("format", FUZZ_FORMATS)
@settings(max_examples=50, **SETTINGS)
@given(operations=mutations())
def test_mutated_files_load_or_fail_cleanly(format: str, operations: list[tuple]) -> None:
    """Bit flips, byte overwrites, insertions, deletions and truncations, up to six at once."""
    load_or_clean_error(mutate(seed_file(format), operations), name=f"fuzz.{format.lower()}")


@quiet_decoders
@pytest.mark.parametrize("format", FUZZ_FORMATS)
def test_truncation_at_every_size_class(format: str) -> None:
    """Cut after 0, 1, 2, 4, ... bytes and one byte short of the end: headers, metadata and pixel data."""
    data = seed_file(format)
    cuts = sorted({0, 1, 3, len(data) - 1, len(data) // 2} | {2**k for k in range(int(np.log2(len(data))) + 1)})
    loaded_whole = 0
    for cut in cuts:
        loaded = load_or_clean_error(data[:cut], name="cut")
        loaded_whole += loaded is not None
        if cut < 16:
            assert loaded is None
    assert load_or_clean_error(data, name="whole") is not None
    assert loaded_whole <= 1  # at most the file missing only its last byte (a JPEG end marker, say) decodes


@quiet_decoders
def test_random_bytes_with_every_signature_fail_cleanly() -> None:
    """A valid magic number followed by garbage: each plugin's header parser must refuse it, not crash."""
    rng = np.random.default_rng(11)
    signatures = [b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff\xe0", b"GIF89a", b"II*\x00", b"MM\x00*", b"BM", b"RIFF\x00\x10\x00\x00WEBPVP8 ",
                  b"\x00\x00\x00\x18ftypheic", b"\x00\x00\x00\x18ftypmif1", b"P5 ", b"%PDF-1.4", b"<svg"]
    for signature in signatures:
        for size in (0, 8, 100, 5000):
            load_or_clean_error(signature + rng.integers(0, 256, size, dtype=np.uint8).tobytes(), name="garbage")


@quiet_decoders
def test_tiff_with_a_float_typed_strip_offset_is_refused_cleanly() -> None:
    """Regression (found by the fuzzer): Pillow raised TypeError from its decoder on this file."""
    data = bytearray(pil_encode(Image.fromarray(blocks(20, 20)), "TIFF"))
    (ifd,) = struct.unpack_from("<I", data, 4)
    (count,) = struct.unpack_from("<H", data, ifd)
    for entry in range(ifd + 2, ifd + 2 + 12 * count, 12):
        if struct.unpack_from("<H", data, entry)[0] == 273:  # StripOffsets
            struct.pack_into("<H", data, entry + 2, 11)  # LONG -> FLOAT
    text = error_text(bytes(data), name="odd.tif")
    assert text.startswith("odd.tif: truncated or corrupt image data (")


# ----------------------------------------------------------------------------------------------- bombs, files, permissions


def test_real_highly_compressible_png_is_refused_before_decoding(no_decoding) -> None:
    bomb = bilevel_png(12_000, 12_000)  # 144 MP: ~0.4 GB as RGB, about 20 kB on disk
    assert len(bomb) < 100_000
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        assert Image.open(io.BytesIO(bomb)).size == (12_000, 12_000)  # a valid file, not just a lying header
    tracemalloc.start()
    before_rss, started = peak_rss_bytes(), time.perf_counter()
    try:
        text = error_text(bomb, name="bomb.png")
        _, traced_peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert text == (
        "bomb.png: 12000×12000 = 144 MP exceeds the 100 MP limit; pass a larger max_pixels if you trust this file"
    )
    assert time.perf_counter() - started < 5
    assert traced_peak < 5 * 2**20
    assert peak_rss_bytes() - before_rss < 64 * 2**20


def test_same_file_decodes_when_the_caller_raises_the_limit() -> None:
    """The limit is the caller's: a small real bilevel image just over a tight limit, then allowed."""
    data = bilevel_png(300, 200)
    assert "300×200 = 0.06 MP exceeds the 0.05 MP limit" in error_text(data, max_pixels=50_000)
    assert (load_image(data, max_pixels=60_000).pixels == 0).all()


def test_lying_header_of_100000_squared_is_refused_fast_without_decoding(no_decoding) -> None:
    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    bomb = b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", header) + png_chunk(b"IDAT", zlib.compress(b"\x00")) + png_chunk(b"IEND", b"")
    started = time.perf_counter()
    text = error_text(bomb, name="b.png")
    assert time.perf_counter() - started < 1
    assert text.startswith("b.png: 100000×100000 = 10,000 MP exceeds the 100 MP limit")


@quiet_decoders
def test_animated_webp_uses_first_frame() -> None:
    frames = [Image.new("RGB", (24, 24), colour) for colour in [(250, 0, 0), (0, 250, 0)]]
    data = pil_encode(frames[0], "WEBP", save_all=True, append_images=frames[1:], lossless=True)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    assert (load_image(data).pixels == (250, 0, 0)).all()


def test_unreadable_file_real_permissions(tmp_path: Path) -> None:
    if os.name != "posix" or os.geteuid() == 0:
        pytest.skip("root (or a non-POSIX system) can read a file without read permission")
    path = tmp_path / "secret.png"
    path.write_bytes(pil_encode(Image.fromarray(blocks(20, 20)), "PNG"))
    path.chmod(0)
    try:
        assert error_text(path) == f"{path}: permission denied"
    finally:
        path.chmod(0o600)


def test_unreadable_file_simulated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The same path as above, also when the tests run as root: the OS refusing the open()."""
    path = tmp_path / "secret.png"
    path.write_bytes(b"whatever")

    real_open = os.open

    def failing_open(error: OSError):
        def fake(file, flags, *args, **kwargs):
            if os.fspath(file) == str(path):
                raise error
            return real_open(file, flags, *args, **kwargs)

        return fake

    monkeypatch.setattr(imageio.os, "open", failing_open(PermissionError(errno.EACCES, "Permission denied", str(path))))
    assert error_text(path) == f"{path}: permission denied"
    monkeypatch.setattr(imageio.os, "open", failing_open(OSError(errno.EIO, "Input/output error", str(path))))
    assert error_text(path) == f"{path}: cannot read file (Input/output error)"


@pytest.mark.skipif(os.name != "posix", reason="symlinks need privileges on Windows")
def test_dangling_symlink_is_a_missing_file(tmp_path: Path) -> None:
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "deleted.jpg")
    assert error_text(link) == f"{link}: no such file"


# ----------------------------------------------------------------------------------------------- EXIF orientation, JPEG and HEIC

ORIENTATION_FORMATS = ["JPEG"] + (["HEIF"] if HAVE_HEIF else [])


@pytest.mark.parametrize("format", ORIENTATION_FORMATS)
@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_of_lossy_photos(format: str, orientation: int) -> None:
    upright = blocks(48, 32, seed=orientation)
    stored = np.ascontiguousarray(STORED_FOR_ORIENTATION[orientation](upright))
    data = encode_image(stored, format, quality=95, exif=exif_bytes(orientation, "privobf test camera"))
    loaded = load_image(data)
    assert loaded.pixels.shape == upright.shape
    assert np.abs(loaded.pixels.astype(int) - upright).mean() < 4
    kept = Image.Exif()
    kept.load(loaded.exif)
    assert kept.get(ORIENTATION, 1) == 1 and kept[MAKE] == "privobf test camera"


# ----------------------------------------------------------------------------------------------- HEIC / HEIF


@needs_heif
def test_heic_round_trip_keeps_pixels_exif_and_icc(tmp_path: Path) -> None:
    pixels = blocks(40, 56)
    profile = srgb_profile()
    path = save_image_atomic(pixels, tmp_path / "out.heic", quality=95, exif=exif_bytes(make="cam"), icc_profile=profile)
    loaded = load_image(path)
    assert (loaded.format, loaded.original_mode, loaded.path) == ("HEIF", "RGB", str(path))
    assert np.abs(loaded.pixels.astype(int) - pixels).mean() < 3
    assert loaded.icc_profile == profile
    exif = Image.Exif()
    exif.load(loaded.exif)
    assert exif[MAKE] == "cam"


@needs_heif
def test_heic_writes_metadata_only_when_given() -> None:
    image = Image.open(io.BytesIO(encode_image(blocks(32, 32), "HEIC")))
    assert not image.info.get("exif") and "icc_profile" not in image.info
    loaded = load_image(encode_image(blocks(32, 32), "HEIC"))
    assert loaded.exif is None and loaded.icc_profile is None


@needs_heif
def test_heic_quality_is_honoured() -> None:
    pixels = np.random.default_rng(5).integers(0, 256, (64, 64, 3), dtype=np.uint8)
    small, large = encode_image(pixels, "HEIF", quality=30), encode_image(pixels, "HEIF", quality=95)
    assert len(small) < len(large)
    assert Image.open(io.BytesIO(large)).info["chroma"] == 444  # full-resolution colour, as for JPEG
    assert Image.open(io.BytesIO(small)).info["chroma"] == 420


@needs_heif
@pytest.mark.parametrize("name", ["a.heic", "b.HEIF", "c.heif"])
def test_heic_extensions_choose_the_format(tmp_path: Path, name: str) -> None:
    path = save_image_atomic(blocks(32, 32), tmp_path / name)
    assert Image.open(path).format == "HEIF"
    assert load_image(path).pixels.shape == (32, 32, 3)


@needs_heif
def test_multi_image_heic_uses_the_primary_image() -> None:
    first, second = Image.new("RGB", (32, 32), (240, 20, 20)), Image.new("RGB", (48, 48), (20, 20, 240))
    data = pil_encode(first, "HEIF", save_all=True, append_images=[second], quality=95)
    assert Image.open(io.BytesIO(data)).n_frames == 2
    loaded = load_image(data)
    assert loaded.pixels.shape == (32, 32, 3)
    assert np.abs(loaded.pixels.astype(int) - (240, 20, 20)).max() < 12


def heic_with_size(width: int, height: int) -> bytes:
    """A valid HEIC whose image size box (ispe) is rewritten: the header then claims width×height."""
    data = bytearray(encode_image(np.zeros((64, 64, 3), np.uint8), "HEIF", quality=50))
    boxes = [m.start() for m in re.finditer(b"ispe", data)]
    assert boxes
    for box in boxes:
        struct.pack_into(">II", data, box + 8, width, height)  # after "ispe" and version/flags
    return bytes(data)


@needs_heif
@pytest.mark.parametrize(("width", "height", "megapixels"), [(20_000, 20_000, "400"), (100_000, 100_000, "10,000")])
def test_heic_claiming_huge_dimensions_is_refused_before_decoding(no_decoding, width, height, megapixels) -> None:
    started = time.perf_counter()
    text = error_text(heic_with_size(width, height), name="bomb.heic")
    assert time.perf_counter() - started < 2
    assert text.startswith(f"bomb.heic: {width}×{height} = {megapixels} MP exceeds the 100 MP limit")


@needs_heif
def test_heic_cropping_a_huge_picture_to_a_few_pixels_is_refused(no_decoding) -> None:
    """libheif decodes the whole coded picture before its crop (clap) box cuts out what is shown."""
    data = bytearray(encode_image(np.zeros((40, 48, 3), np.uint8), "HEIF", quality=50))  # coded 64×64, cropped
    box = data.find(b"ispe")
    struct.pack_into(">II", data, box + 8, 20_000, 20_000)
    assert Image.open(io.BytesIO(bytes(data))).size == (48, 40)  # what the header alone shows
    text = error_text(bytes(data), name="crop.heic")
    assert text.startswith("crop.heic: 20000×20000 = 400 MP (cropped to 48×40 for display) exceeds the 100 MP limit")


@needs_heif
def test_corrupt_heic_names_libheifs_reason() -> None:
    broken = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    text = error_text(broken, name="IMG_0001.HEIC")
    prefix = "IMG_0001.HEIC: truncated or corrupt image data (starts like a HEIC/HEIF but its header cannot be read: "
    assert text.startswith(prefix) and "meta box" in text  # libheif 1.23: "Invalid input: Unspecified: No meta box found"
    data = seed_file("HEIF")
    assert error_text(data[: len(data) - 200], name="c.heic").startswith("c.heic: truncated or corrupt image data (")


@needs_heif
def test_libheif_decode_failures_become_load_errors(monkeypatch: pytest.MonkeyPatch) -> None:
    """pillow_heif reports decoding failures as RuntimeError; they must not escape as such."""
    from pillow_heif import as_plugin

    def security_limit(self):
        raise RuntimeError("Memory allocation error: Security limit exceeded: Image size 64x5722 exceeds the maximum")

    monkeypatch.setattr(as_plugin.HeifImageFile, "load", security_limit)
    text = error_text(seed_file("HEIF"), name="x.heic")
    assert text.startswith("x.heic: too large to decode safely (Memory allocation error: Security limit exceeded")

    def decoder_error(self):
        raise RuntimeError("Decoder plugin generated an error: Unspecified")

    monkeypatch.setattr(as_plugin.HeifImageFile, "load", decoder_error)
    assert error_text(seed_file("HEIF"), name="x.heic") == (
        "x.heic: truncated or corrupt image data (Decoder plugin generated an error: Unspecified)"
    )


def test_heif_is_registered_lazily_and_once(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = imageio._register_heif

    def counting() -> bool:
        calls.append(1)
        return real()

    monkeypatch.setattr(imageio, "_register_heif", counting)
    monkeypatch.setattr(imageio, "_heif_registered", None)
    load_image(pil_encode(Image.fromarray(blocks(20, 20)), "PNG"))
    assert calls == []  # a PNG never imports libheif
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    for _ in range(3):
        load_or_clean_error(heic, name="a.heic")
    imageio.readable_suffixes()
    assert calls == [1]


def test_readable_suffixes() -> None:
    base = {".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    suffixes = imageio.readable_suffixes()
    assert isinstance(suffixes, frozenset)
    assert suffixes == (base | {".heic", ".heif"} if HAVE_HEIF else base)


def test_without_pillow_heif_heic_is_refused_with_the_install_command(no_heif) -> None:
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + bytes(64)
    if HAVE_HEIF:  # a real one, which this installation could otherwise read
        heic = seed_file("HEIF")
    assert error_text(heic, name="IMG_0001.HEIC") == (
        "IMG_0001.HEIC: HEIC/HEIF images are not supported by this installation; "
        "install HEIC support with: pip install 'privobf[heif]' (or convert it to JPEG or PNG first)"
    )
    assert ".heic" not in imageio.readable_suffixes()


def test_without_pillow_heif_saving_heic_is_refused_and_writes_nothing(no_heif, tmp_path: Path) -> None:
    for target, format in [(tmp_path / "out.heic", None), (tmp_path / "out.png", "HEIC")]:
        with pytest.raises(ValueError, match=re.escape("install it with: pip install 'privobf[heif]'")):
            save_image_atomic(blocks(32, 32), target, format=format)
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------------------------- atomic saving


def only(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("overwrite", [False, True])
def test_failure_half_way_through_writing_leaves_old_file_or_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, overwrite: bool
) -> None:
    target = tmp_path / "out.jpg"
    if overwrite:
        target.write_bytes(b"old photo")

    def disk_fills_up(temp: Path, data: bytes) -> None:
        temp.write_bytes(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(imageio, "_write_and_sync", disk_fills_up)
    with pytest.raises(OSError, match="No space left"):
        save_image_atomic(blocks(32, 32), target, overwrite=overwrite)
    assert only(tmp_path) == (["out.jpg"] if overwrite else [])
    if overwrite:
        assert target.read_bytes() == b"old photo"


def test_interrupt_during_write_removes_the_temp_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def interrupted(temp: Path, data: bytes) -> None:
        temp.write_bytes(data[:10])
        raise KeyboardInterrupt

    monkeypatch.setattr(imageio, "_write_and_sync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        save_image_atomic(blocks(32, 32), tmp_path / "out.png")
    assert only(tmp_path) == []


def test_failed_rename_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "out.png"
    target.write_bytes(b"old")

    def rename_fails(source, destination):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "replace", rename_fails)
    with pytest.raises(OSError, match="Input/output error"):
        save_image_atomic(blocks(32, 32), target, overwrite=True)
    assert only(tmp_path) == ["out.png"] and target.read_bytes() == b"old"


def test_filesystem_without_hard_links_still_publishes_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_links(source, destination):
        raise OSError(errno.EPERM, "Operation not permitted")

    monkeypatch.setattr(os, "link", no_links)
    path = save_image_atomic(blocks(32, 32), tmp_path / "out.png")
    assert only(tmp_path) == ["out.png"]
    np.testing.assert_array_equal(load_image(path).pixels, blocks(32, 32))
    with pytest.raises(FileExistsError):
        save_image_atomic(blocks(32, 32), path)


@pytest.mark.parametrize("format", ["PNG", "JPEG", "WEBP", "TIFF"] + (["HEIF"] if HAVE_HEIF else []))
def test_encoder_failure_in_any_format_creates_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, format: str) -> None:
    def broken(image, fp, filename):
        fp.write(b"partial")
        raise OSError("encoder exploded")

    monkeypatch.setitem(Image.SAVE, format, broken)
    target = tmp_path / "out.img"
    with pytest.raises(OSError, match="encoder exploded"):
        save_image_atomic(blocks(32, 32), target, format=format)
    assert only(tmp_path) == []


def test_never_overwrites_without_permission_even_a_dangling_symlink(tmp_path: Path) -> None:
    link = tmp_path / "out.png"
    link.symlink_to(tmp_path / "elsewhere.png")
    with pytest.raises(FileExistsError, match="already exists; it is only replaced when asked \\(overwrite=True"):
        save_image_atomic(blocks(32, 32), link)
    assert only(tmp_path) == ["out.png"] and link.is_symlink() and not link.exists()


@needs_heif
def test_existing_heic_is_not_overwritten(tmp_path: Path) -> None:
    target = tmp_path / "IMG_0001.heic"
    target.write_bytes(b"original")
    with pytest.raises(FileExistsError):
        save_image_atomic(blocks(32, 32), target)
    assert target.read_bytes() == b"original"
    save_image_atomic(blocks(32, 32), target, overwrite=True)
    assert load_image(target).format == "HEIF" and only(tmp_path) == ["IMG_0001.heic"]

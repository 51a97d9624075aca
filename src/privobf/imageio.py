"""Reading photos into one predictable pixel format, and writing results without ever half-writing a file.

Everything downstream (scanner, obfuscator, web page) wants the same thing: an upright 8-bit RGB
array. Users hand us whatever their cameras, phones, scanners and editors produced, so this module
absorbs the variety in one place:

* every failure becomes an `ImageLoadError` whose text is one line, ``"<file>: <reason>"``, fit for a
  CLI or a web form, never a traceback (the table of reasons is in `docs`);
* the input file is only ever opened for reading;
* image dimensions are checked from the header *before* any pixel is decoded, against a limit given
  per call, so a tiny file that claims to be 20000x20000 costs nothing;
* transparency is composited over white, high bit depths are scaled (not clipped) to 8 bits, CMYK goes
  through its ICC profile, EXIF orientation is applied, and only the first frame of an animation or
  multi-page file is read;
* HEIC/HEIF (the iPhone default) is read and written through the optional ``pillow_heif`` package
  (``pip install 'privobf[heif]'``), registered with Pillow the first time a file needs it; without it a
  HEIC file gets a one-line error naming that command.

Saving goes through a temporary file in the target directory followed by an atomic rename, so a crash,
a full disk or an encoder error leaves either the old file or no file, never a truncated one.
"""

from __future__ import annotations

import io
import os
import stat
import struct
import threading
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
from PIL import Image, ImageOps

from .atomic import create_temp_file, remove_quietly, sync_directory
from .complete_data import short_data_reason
from .provenance import marker_save_options, written_by_privobf

MAX_PIXELS: int = 100_000_000
MIN_SIDE: int = 16
DEFAULT_LIMIT_HINT = "pass a larger max_pixels if you trust this file"

_EXIF_ORIENTATION_TAG = 0x0112
_HIGH_DEPTH_MODES = ("I;16", "I;16L", "I;16B", "I;16N", "I", "F")
_ARRAY_CHANNELS = {1: "L", 3: "RGB", 4: "RGBA"}
# Pillow raises any of these when the data after a readable header is cut short or malformed.
_CORRUPT_DATA_ERRORS = (OSError, SyntaxError, ValueError, EOFError, IndexError, struct.error, zlib.error)
# Formats whose signature is strong enough that a file starting with it is a damaged image, not "something else".
_RASTER_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"\xff\xd8\xff", "JPEG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
)
# The ISO base media "ftyp" brands of HEIC/HEIF still images and sequences (the ones pillow_heif accepts).
_HEIF_BRANDS = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1")
_HEIF_FORMAT = "HEIF"  # Pillow's format name for HEIC/HEIF files once pillow_heif is registered
_HEIF_INSTALL = "pip install 'privobf[heif]'"
_FORMAT_BY_EXTENSION = {
    ".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".webp": "WEBP", ".tif": "TIFF", ".tiff": "TIFF",
    ".heic": _HEIF_FORMAT, ".heif": _HEIF_FORMAT,
}
_FORMAT_ALIASES = {"JPG": "JPEG", "TIF": "TIFF", "HEIC": _HEIF_FORMAT}
_SAVE_FORMATS = ("JPEG", "PNG", "WEBP", "TIFF")  # plus HEIF when pillow_heif can encode (see _save_formats)
# Suffixes of files load_image reads with Pillow alone; .heic/.heif join them when pillow_heif is installed.
_READABLE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"})
_HEIF_SUFFIXES = frozenset({".heic", ".heif"})
# At or above this JPEG quality, colour is stored at full resolution (4:4:4): sharp coloured edges such as a
# solid obfuscation box stay clean, for roughly a fifth more bytes; below it the caller asked for small files.
_FULL_CHROMA_MIN_QUALITY = 90


class ImageLoadError(ValueError):
    """An image could not be read; ``str(e)`` is ``"<source>: <reason>"`` on one line, ready to show a user."""

    def __init__(self, source: str, reason: str) -> None:
        self.source = source
        self.reason = " ".join(reason.split())  # one line, whatever a library put in its message
        super().__init__(f"{source}: {self.reason}")

    def __reduce__(self):  # keeps the error picklable, e.g. when raised in a DataLoader or pool worker
        return (type(self), (self.source, self.reason))


@dataclass
class LoadedImage:
    """An upright 8-bit RGB image plus the metadata a caller may want to carry over (or deliberately drop)."""

    pixels: np.ndarray  # uint8 [H, W, 3] RGB, EXIF orientation applied
    path: str | None  # the file it came from, when it came from a file
    format: str | None  # Pillow's format name: "JPEG", "PNG", "MPO", ...; None for arrays
    original_mode: str  # Pillow mode before conversion ("RGBA", "I;16", "CMYK", "P", ...); see _array_mode for arrays
    exif: bytes | None  # raw EXIF, Orientation set to 1 because `pixels` are already upright
    icc_profile: bytes | None  # only an RGB profile: it must describe `pixels`, which are RGB
    warnings: tuple[str, ...] = ()  # what the decoder warned about, each "<file>: <warning>" on one line
    written_by_privobf: bool = False  # carries privobf's output marker (see privobf.provenance)


# ----------------------------------------------------------------------------------------------- HEIC / HEIF

_heif_registered: bool | None = None  # None: not tried yet; then whether pillow_heif is registered with Pillow
_heif_lock = threading.Lock()


def heif_available() -> bool:
    """Whether HEIC/HEIF files can be read: pillow_heif is installed and registered with Pillow.

    The registration happens once, the first time it is asked for (a HEIC file met, a .heic output, or
    `readable_suffixes`), so a session that never sees one never imports libheif.
    """
    global _heif_registered
    if _heif_registered is None:
        with _heif_lock:
            if _heif_registered is None:
                _heif_registered = _register_heif()
    return _heif_registered


def _register_heif() -> bool:
    try:
        import pillow_heif

        pillow_heif.register_heif_opener()
    except (ImportError, OSError):  # not installed, or its bundled libheif cannot be loaded on this system
        return False
    return _HEIF_FORMAT in Image.OPEN


def readable_suffixes() -> frozenset[str]:
    """File suffixes (lower case, with the dot) of the formats `load_image` can read in this installation."""
    return _READABLE_SUFFIXES | _HEIF_SUFFIXES if heif_available() else _READABLE_SUFFIXES


def _looks_like_heif(prefix: bytes) -> bool:
    return prefix[4:8] == b"ftyp" and prefix[8:12] in _HEIF_BRANDS


# ----------------------------------------------------------------------------------------------- loading


def load_image(
    source: str | os.PathLike | bytes | BinaryIO | np.ndarray | Image.Image,
    *,
    max_pixels: int = MAX_PIXELS,
    name: str | None = None,
    limit_hint: str = DEFAULT_LIMIT_HINT,
) -> LoadedImage:
    """Read `source` as upright uint8 RGB, or raise `ImageLoadError` saying in one line what is wrong with it.

    `source` may be a path, encoded bytes, a binary file object (read from its current position), a numpy
    array or a PIL image. `max_pixels` bounds width x height before decoding; `name` labels sources that
    have no path (bytes, streams, arrays) in error messages; `limit_hint` ends the message of an image over
    `max_pixels` with how the caller's user raises the limit (the CLI names its option).
    Decoder warnings (Pillow's "Corrupt EXIF data", ...) are not printed: they come back in
    `LoadedImage.warnings`, each naming the file, for the caller to show.
    """
    if not isinstance(max_pixels, int) or max_pixels <= 0:
        raise ValueError(f"max_pixels must be a positive integer, got {max_pixels!r}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            loaded = _load_any(source, max_pixels, name)
        except ImageLoadError as error:
            if limit_hint == DEFAULT_LIMIT_HINT or not error.reason.endswith(DEFAULT_LIMIT_HINT):
                raise
            raise ImageLoadError(error.source, error.reason[: -len(DEFAULT_LIMIT_HINT)] + limit_hint) from None
    if caught:
        label = loaded.path or name or "<image>"
        loaded.warnings = tuple(dict.fromkeys(f"{label}: {' '.join(str(w.message).split())}" for w in caught))
    return loaded


def _load_any(source, max_pixels: int, name: str | None) -> LoadedImage:
    if isinstance(source, np.ndarray):
        return _load_array(source, name or "<array>", max_pixels)
    if isinstance(source, Image.Image):
        label = name or getattr(source, "filename", "") or "<PIL image>"
        return _load_pil(source, label, max_pixels, path=None)
    if isinstance(source, (str, os.PathLike)):
        return _load_path(os.fspath(source), max_pixels, name)
    if isinstance(source, (bytes, bytearray, memoryview)):
        return _load_bytes(bytes(source), name or "<bytes>", max_pixels)
    if hasattr(source, "read"):
        return _load_bytes(_read_stream(source), name or _stream_name(source), max_pixels)
    raise TypeError(
        "load_image() takes a path, bytes, a binary file object, a numpy array or a PIL image; "
        f"got {type(source).__name__}"
    )


def _load_path(path: str | bytes, max_pixels: int, name: str | None) -> LoadedImage:
    """Open the file read-only (so the user's file cannot change) and translate OS errors into reasons."""
    path = os.fsdecode(path)
    label = name or path
    if os.path.isdir(path):
        raise ImageLoadError(label, "is a directory, not an image file")
    handle = _open_regular_file(path, label)
    with handle:
        if os.fstat(handle.fileno()).st_size == 0:
            raise ImageLoadError(label, "empty file (0 bytes)")
        return _load_encoded(handle, path, label, max_pixels)


def _open_regular_file(path: str, label: str) -> BinaryIO:
    """Open read-only without blocking, and refuse anything but a regular file.

    Opening a named pipe for reading blocks until a writer comes (forever, in a batch); O_NONBLOCK makes
    open return at once, and fstat on the open descriptor (no race with a rename) says what it is.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise ImageLoadError(label, "no such file") from None
    except PermissionError:
        raise ImageLoadError(label, "permission denied") from None
    except OSError as error:
        raise ImageLoadError(label, f"cannot read file ({error.strerror or error})") from error
    kind = special_file_kind(os.fstat(descriptor).st_mode)
    if kind is not None:
        os.close(descriptor)
        raise ImageLoadError(label, f"not a regular file ({kind}); skipped")
    return os.fdopen(descriptor, "rb")


def special_file_kind(mode: int) -> str | None:
    """None for a regular file, else what it is in words ("a named pipe (FIFO)", ...)."""
    if stat.S_ISREG(mode):
        return None
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode):
        return "a character device"
    if stat.S_ISBLK(mode):
        return "a block device"
    return "not a file"


def _load_bytes(data: bytes, label: str, max_pixels: int) -> LoadedImage:
    if not data:
        raise ImageLoadError(label, "empty data (0 bytes)")
    return _load_encoded(io.BytesIO(data), None, label, max_pixels)


def _read_stream(stream: BinaryIO) -> bytes:
    """Read the rest of a stream: Pillow needs to seek, and pipes or sockets cannot."""
    data = stream.read()
    if isinstance(data, str):
        raise TypeError("load_image() needs a binary stream; open the file with mode 'rb'")
    return bytes(data)


def _stream_name(stream: BinaryIO) -> str:
    name = getattr(stream, "name", None)
    return name if isinstance(name, str) else "<stream>"


def _load_encoded(handle: BinaryIO, path: str | None, label: str, max_pixels: int) -> LoadedImage:
    """Identify the format from the header, then hand over to the common PIL path."""
    prefix = handle.read(64)
    handle.seek(0)
    # Only a file that starts like a HEIC/HEIF pays for importing libheif; without it that plugin is not asked.
    heif = _looks_like_heif(prefix) and heif_available()
    rejections: dict[str, str] = {}
    try:
        image = _open_header(handle, path or "", prefix, skip=() if heif else (_HEIF_FORMAT,), rejections=rejections)
    except Image.DecompressionBombError as error:
        raise ImageLoadError(label, f"too large to decode safely ({error})") from error
    except _CORRUPT_DATA_ERRORS as error:
        raise ImageLoadError(label, f"truncated or corrupt image data ({error})") from error
    if image is None:
        raise ImageLoadError(label, _unidentified_reason(prefix, heif, rejections.get(_HEIF_FORMAT)))
    _check_dimensions(image.width, image.height, label, max_pixels)
    handle.seek(0)
    short = short_data_reason(image.format, handle, image.width, image.height)
    if short is not None:
        raise ImageLoadError(label, f"truncated or corrupt image data ({short})")
    loaded = _load_pil(image, label, max_pixels, path=path)
    loaded.written_by_privobf = written_by_privobf(image)
    return loaded


def _open_header(
    handle: BinaryIO,
    filename: str,
    prefix: bytes,
    skip: tuple[str, ...] = (),
    rejections: dict[str, str] | None = None,
) -> Image.Image | None:
    """Parse only the header, like `Image.open`, but without Pillow's process-wide size limit.

    `Image.open` rejects anything above ``2 * Image.MAX_IMAGE_PIXELS`` with an error that does not carry
    the dimensions, and warns above ``MAX_IMAGE_PIXELS``. The limit here is `max_pixels`, chosen per call,
    and the message must name the dimensions, so we walk Pillow's plugin registry the way `Image.open`
    does (cheap accept() on the first bytes, then the plugin's header parser) and check the size ourselves.
    Plugins named in `skip` are not asked; `rejections` collects why a plugin that accepted the first
    bytes could not parse the header (libheif's reason is worth showing).
    """
    tried: set[str] = set(skip)
    for load_plugins in (Image.preinit, Image.init):
        load_plugins()
        for format_name in [f for f in Image.ID if f not in tried]:
            tried.add(format_name)
            image = _try_plugin(format_name, handle, filename, prefix, rejections)
            if image is not None:
                return image
    return None


def _try_plugin(
    format_name: str, handle: BinaryIO, filename: str, prefix: bytes, rejections: dict[str, str] | None = None
) -> Image.Image | None:
    """One plugin's verdict: an unopened image if the header is its format, None if it is not."""
    factory, accept = Image.OPEN[format_name]
    try:
        verdict = accept(prefix) if accept else True
        if isinstance(verdict, str) or not verdict:  # a str is Pillow's "looks like it, but unsupported" note
            return None
        handle.seek(0)
        return factory(handle, filename)
    except (SyntaxError, IndexError, TypeError, struct.error) as error:  # what Image.open treats as "not this format"
        if rejections is not None and accept:
            rejections[format_name] = str(error)
        return None


def _unidentified_reason(prefix: bytes, heif: bool = False, heif_error: str | None = None) -> str:
    """Say what the file looks like when no plugin can read it, since "not an image" is wrong for a HEIC photo.

    `heif` says whether the HEIC/HEIF plugin was asked; `heif_error` is why it refused the header.
    """
    for signature, format_name in _RASTER_SIGNATURES:
        if prefix.startswith(signature):
            return f"truncated or corrupt image data (starts like a {format_name} but its header cannot be read)"
    if _looks_like_heif(prefix):
        if not heif:
            return (
                "HEIC/HEIF images are not supported by this installation; "
                f"install HEIC support with: {_HEIF_INSTALL} (or convert it to JPEG or PNG first)"
            )
        detail = f": {heif_error}" if heif_error else ""
        return f"truncated or corrupt image data (starts like a HEIC/HEIF but its header cannot be read{detail})"
    if prefix.startswith(b"%PDF"):
        return "a PDF document, not an image"
    if prefix.lstrip().lower().startswith((b"<svg", b"<?xml")):
        return "an SVG/XML drawing, not a raster image; export it as PNG first"
    return "not an image (cannot identify format)"


def _load_pil(image: Image.Image, label: str, max_pixels: int, path: str | None) -> LoadedImage:
    """The shared path: size checks on the header, decode, orient, convert, collect metadata."""
    _check_dimensions(image.width, image.height, label, max_pixels)
    _check_heif_coded_size(image, label, max_pixels)
    _decode(image, label)
    upright = _apply_orientation(image)
    return LoadedImage(
        pixels=_to_rgb8(upright, label),
        path=path,
        format=image.format,
        original_mode=image.mode,
        exif=_exif_upright(image.info.get("exif")),
        icc_profile=_rgb_icc_profile(image.info.get("icc_profile")),
    )


def _check_dimensions(width: int, height: int, label: str, max_pixels: int) -> None:
    """Reject before decoding: huge images would exhaust memory, tiny ones cannot show anything to find."""
    pixels = width * height
    if pixels > max_pixels:
        raise ImageLoadError(
            label,
            f"{width}×{height} = {_megapixels(pixels)} MP exceeds the {_megapixels(max_pixels)} MP limit; "
            + DEFAULT_LIMIT_HINT,
        )
    if min(width, height) < MIN_SIDE:
        raise ImageLoadError(
            label,
            f"image is only {width}×{height} pixels; at least {MIN_SIDE}×{MIN_SIDE} is needed to find anything in it",
        )


def _check_heif_coded_size(image: Image.Image, label: str, max_pixels: int) -> None:
    """A HEIF reports its size after cropping (its "clap" box), but libheif decodes the whole coded picture
    first: a file may crop a huge, highly compressible picture down to a few pixels. Check that size too."""
    coded = _heif_coded_size(image) if image.format == _HEIF_FORMAT else None
    if coded is None:
        return
    width, height = coded
    if width * height > max_pixels:
        raise ImageLoadError(
            label,
            f"{width}×{height} = {_megapixels(width * height)} MP (cropped to {image.width}×{image.height} for display) "
            f"exceeds the {_megapixels(max_pixels)} MP limit; {DEFAULT_LIMIT_HINT}",
        )


def _heif_coded_size(image: Image.Image) -> tuple[int, int] | None:
    """Width and height before the crop, from pillow_heif's list of transformations; None if it has no crop.

    This reads pillow_heif internals (``("clap", left, top, right, bottom, width, height)``), so anything
    unexpected means "unknown" rather than an error; libheif's own 1-gigapixel limit still applies then.
    """
    try:
        heif_image = image._heif_file[image.tell()]  # type: ignore[attr-defined]
        transformations = heif_image._c_image.transformations
        for transformation in transformations:
            if transformation[0] == "clap" and len(transformation) >= 7:
                return int(transformation[5]), int(transformation[6])
    except Exception:  # noqa: BLE001 - a different pillow_heif version: fall back to the displayed size
        return None
    return None


def _megapixels(pixels: int) -> str:
    megapixels = pixels / 1e6
    return f"{megapixels:,.0f}" if megapixels >= 100 else f"{megapixels:.4g}"


def _decode(image: Image.Image, label: str) -> None:
    """Decode the pixel data; this is where a truncated or corrupt file shows itself.

    Pillow's ``LOAD_TRUNCATED_IMAGES`` stays off: a half-decoded photo would be analysed and "obfuscated"
    with its missing part filled grey, which is worse than refusing it.
    """
    try:
        image.load()
    except Image.DecompressionBombError as error:
        raise ImageLoadError(label, f"too large to decode safely ({error})") from error
    except MemoryError as error:
        raise ImageLoadError(label, f"not enough memory to decode a {image.width}×{image.height} image") from error
    except (*_CORRUPT_DATA_ERRORS, TypeError) as error:
        # TypeError: a TIFF whose StripOffsets tag is typed FLOAT or RATIONAL reaches Pillow's seek() as a
        # float (found by fuzzing); at decode time a wrongly typed tag is corrupt data, not a caller's bug.
        raise ImageLoadError(label, f"truncated or corrupt image data ({error})") from error
    except RuntimeError as error:  # pillow_heif reports every libheif decoding error as a RuntimeError
        if image.format != _HEIF_FORMAT or isinstance(error, RecursionError):
            raise
        if "security limit" in str(error).lower():  # the stream holds more pixels than its header declared
            raise ImageLoadError(label, f"too large to decode safely ({error})") from error
        raise ImageLoadError(label, f"truncated or corrupt image data ({error})") from error


def _apply_orientation(image: Image.Image) -> Image.Image:
    """Rotate/flip per EXIF Orientation (1-8) so pixels match what every viewer shows.

    A photo whose EXIF block is unreadable is still a photo: it is used as stored rather than refused.
    """
    try:
        return ImageOps.exif_transpose(image)
    except Exception:  # noqa: BLE001 - Pillow's EXIF parser can raise almost anything on garbage metadata
        return image


def _exif_upright(exif: bytes | None) -> bytes | None:
    """The raw EXIF with Orientation patched to 1 in place, so it stays true for the upright pixels.

    Patching the two bytes, instead of re-serialising through Pillow, keeps every other tag (GPS, maker
    notes, ...) byte-identical, which matters to callers deciding which metadata to keep.
    """
    if not exif:
        return exif
    start = 6 if exif.startswith(b"Exif\x00\x00") else 0
    offset = _orientation_value_offset(exif[start:])
    if offset is None:
        return exif
    patched = bytearray(exif)
    byte_order = "<" if exif[start : start + 2] == b"II" else ">"
    struct.pack_into(byte_order + "H", patched, start + offset, 1)
    return bytes(patched)


def _orientation_value_offset(tiff: bytes) -> int | None:
    """Offset, within a TIFF-structured EXIF block, of IFD0's Orientation value; None if absent or malformed."""
    byte_order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if byte_order is None or len(tiff) < 8:
        return None
    (ifd0,) = struct.unpack_from(byte_order + "I", tiff, 4)
    if ifd0 + 2 > len(tiff):
        return None
    (count,) = struct.unpack_from(byte_order + "H", tiff, ifd0)
    for index in range(count):
        entry = ifd0 + 2 + 12 * index
        if entry + 12 > len(tiff):
            return None
        tag, value_type, value_count = struct.unpack_from(byte_order + "HHI", tiff, entry)
        if tag == _EXIF_ORIENTATION_TAG and value_type == 3 and value_count == 1:  # type 3 = SHORT
            return entry + 8
    return None


def _rgb_icc_profile(profile: bytes | None) -> bytes | None:
    """Keep an ICC profile only if it describes RGB data: a CMYK or grey profile would mislabel our RGB pixels."""
    if profile and profile[16:20] == b"RGB ":
        return profile
    return None


def _to_rgb8(image: Image.Image, label: str) -> np.ndarray:
    """Any Pillow mode to uint8 [H, W, 3]."""
    image = _reduce_depth(image, label)
    if image.mode == "CMYK":
        image = _cmyk_to_rgb(image)
    if image.has_transparency_data:
        return _flatten_on_white(image)
    try:
        return np.array(image.convert("RGB"))
    except ValueError as error:
        raise ImageLoadError(label, f"unsupported colour mode {image.mode}") from error


def _reduce_depth(image: Image.Image, label: str) -> Image.Image:
    """16-bit, 32-bit and float greyscale to 8-bit "L" (or "LA" with a transparency key), scaled by full range.

    Pillow's own ``convert("L")`` clips these modes at 255, turning most of a 16-bit photo white.
    (16-bit RGB(A) PNGs never get here: Pillow already decodes them to 8 bits by keeping the high byte,
    which is within one level of exact scaling.)
    """
    if image.mode not in _HIGH_DEPTH_MODES:
        return image
    values = np.asarray(image)
    scale = 255.0 / _full_scale(image, values, label)
    grey = _to_uint8(values.astype(np.float32) * np.float32(scale))
    key = image.info.get("transparency")
    if isinstance(key, int):
        alpha = np.where(values == key, 0, 255).astype(np.uint8)
        return Image.fromarray(np.stack([grey, alpha], axis=-1), "LA")
    return Image.fromarray(grey, "L")


def _full_scale(image: Image.Image, values: np.ndarray, label: str) -> float:
    """The value that means "white" for a high-depth image."""
    if image.mode.startswith("I;16"):
        return 65535.0
    if image.mode == "I":
        # Pillow's decoders put 9-16-bit data (PNG, PGM, TIFF) into 0..65535; a TIFF may declare more.
        return float(2 ** (_declared_bits(image) or 16) - 1)
    return _float_full_scale(values, label)


def _declared_bits(image: Image.Image) -> int | None:
    """BitsPerSample of a TIFF, the one format that states it for integer modes Pillow keeps as "I"."""
    tags = getattr(image, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, tuple):
        bits = bits[0] if bits else None
    return bits if isinstance(bits, int) and 1 <= bits <= 32 else None


def _float_full_scale(values: np.ndarray, label: str) -> float:
    """Float images declare no range, so infer the usual conventions: [0,1], then [0,255], then [0,65535]."""
    if not np.isfinite(values).all():
        raise ImageLoadError(label, "contains NaN or infinite pixel values")
    peak = float(values.max())
    for full in (1.0, 255.0, 65535.0):
        if peak <= full:
            return full
    return peak


def _cmyk_to_rgb(image: Image.Image) -> Image.Image:
    """CMYK through its embedded ICC profile when it has a usable one, since inks differ wildly between presses.

    Pillow's formula conversion is the fallback: a profile that cannot be parsed should not cost the user
    the photo.
    """
    profile = image.info.get("icc_profile")
    if profile:
        try:
            from PIL import ImageCms

            source = ImageCms.ImageCmsProfile(io.BytesIO(profile))
            return ImageCms.profileToProfile(image, source, ImageCms.createProfile("sRGB"), outputMode="RGB")
        except (ImportError, OSError, ValueError, TypeError):  # ImageCms.PyCMSError is an OSError
            pass
    return image.convert("RGB")


def _flatten_on_white(image: Image.Image) -> np.ndarray:
    """Composite over white: the photo as people see it on a page or in a chat, and the way transparent
    regions would look in a saved JPEG. A model trained on ordinary photos should see exactly that."""
    rgba = image.convert("RGBA")
    white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
    return np.array(Image.alpha_composite(white, rgba).convert("RGB"))


def _to_uint8(values: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


# ----------------------------------------------------------------------------------------------- arrays


def _load_array(array: np.ndarray, label: str, max_pixels: int) -> LoadedImage:
    """Arrays skip decoding but get the same checks, so callers cannot smuggle in what files cannot."""
    channels = _array_channels(array, label)
    height, width = array.shape[:2]
    _check_dimensions(width, height, label, max_pixels)
    scaled = _array_to_uint8(array, label).reshape(height, width, channels)
    return LoadedImage(
        pixels=_uint8_channels_to_rgb(scaled),
        path=None,
        format=None,
        original_mode=_array_mode(array.dtype, channels),
        exif=None,
        icc_profile=None,
    )


def _array_channels(array: np.ndarray, label: str) -> int:
    if array.ndim == 2:
        return 1
    if array.ndim == 3 and array.shape[2] in _ARRAY_CHANNELS:
        return array.shape[2]
    raise ImageLoadError(label, f"expected an array of shape H×W, H×W×1, H×W×3 or H×W×4; got shape {array.shape}")


def _array_to_uint8(array: np.ndarray, label: str) -> np.ndarray:
    """uint8 as is, uint16 scaled by 65535, float checked to lie in [0, 1]; anything else is refused
    rather than guessed (an int64 array is usually a bug upstream)."""
    if array.dtype == np.uint8:
        return array.copy()
    if array.dtype == np.uint16:
        return _to_uint8(array.astype(np.float32) * np.float32(255.0 / 65535.0))
    if np.issubdtype(array.dtype, np.floating):
        return _to_uint8(_checked_unit_floats(array, label) * 255.0)
    raise ImageLoadError(label, f"unsupported dtype {array.dtype}; use uint8, uint16 or float in [0, 1]")


def _checked_unit_floats(array: np.ndarray, label: str) -> np.ndarray:
    values = array.astype(np.float32)
    if not np.isfinite(values).all():
        raise ImageLoadError(label, "contains NaN or infinite pixel values")
    low, high = float(values.min()), float(values.max())
    if low < 0.0 or high > 1.0:
        raise ImageLoadError(label, f"float pixels must lie in [0, 1]; found values from {low:g} to {high:g}")
    return values


def _uint8_channels_to_rgb(array: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 1|3|4] to [H, W, 3], compositing alpha over white exactly as for files."""
    channels = array.shape[2]
    if channels == 1:
        return np.repeat(array, 3, axis=2)
    if channels == 4:
        return _flatten_on_white(Image.fromarray(array, "RGBA"))
    return np.ascontiguousarray(array)


def _array_mode(dtype: np.dtype, channels: int) -> str:
    """The Pillow-style mode name an array corresponds to: "L", "RGB", "RGBA"; ";16" / ";F" mark deeper data."""
    if dtype == np.uint8:
        return _ARRAY_CHANNELS[channels]
    if channels == 1:
        return "I;16" if dtype == np.uint16 else "F"
    return _ARRAY_CHANNELS[channels] + (";16" if dtype == np.uint16 else ";F")


# ----------------------------------------------------------------------------------------------- saving


def encode_image(
    pixels: np.ndarray,
    format: str = "PNG",
    quality: int = 95,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    mark: bool = False,
) -> bytes:
    """Encode uint8 [H, W, 3] (or [H, W] grey) pixels in memory.

    Metadata is written only when passed: an obfuscated photo should not silently carry the original's GPS
    position. PNG and TIFF are lossless; JPEG and HEIF keep full-resolution colour at quality >= 90.
    HEIF ("HEIC" is accepted too) needs pillow_heif with its HEVC encoder. `mark` adds privobf's output
    marker (the word "privobf" and nothing else, see privobf.provenance), so a later run never takes the
    file for an input or for a file of the user's.
    """
    format_name = _normalise_format(format)
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an integer from 1 to 100, got {quality!r}")
    image = _pixels_to_pil(pixels)
    buffer = io.BytesIO()
    options = _save_options(format_name, quality, exif, icc_profile)
    if mark:
        options.update(marker_save_options(format_name))
    image.save(buffer, format=format_name, **options)
    return buffer.getvalue()


def save_image_atomic(
    pixels: np.ndarray,
    path: str | os.PathLike,
    *,
    format: str | None = None,
    quality: int = 95,
    exif: bytes | None = None,
    icc_profile: bytes | None = None,
    overwrite: bool = False,
    mark: bool = False,
    permissions: int | None = None,
) -> Path:
    """Write an image so that `path` is either untouched or complete, never partial.

    The image is encoded in memory first (an encoder error creates no file at all), written to a temporary
    file in the same directory, fsynced, then moved into place. Without `overwrite`, an existing file is
    never replaced, even one that appears while we write. The format follows the extension
    (.jpg/.jpeg/.png/.webp/.tif/.tiff, and .heic/.heif with pillow_heif) unless `format` is given.
    """
    target = Path(path)
    format_name = _normalise_format(format) if format else _format_from_extension(target)
    if not overwrite and os.path.lexists(target):
        raise _exists_error(target)
    data = encode_image(pixels, format_name, quality, exif, icc_profile, mark=mark)
    _write_atomic(data, target, overwrite, permissions)
    return target


def _normalise_format(format: str) -> str:
    name = format.upper().lstrip(".")
    name = _FORMAT_ALIASES.get(name, name)
    formats = _save_formats() if name == _HEIF_FORMAT else _SAVE_FORMATS  # only a HEIF request imports libheif
    if name == _HEIF_FORMAT and name not in formats:
        raise ValueError(
            f"cannot save format {format!r}: HEIC/HEIF output needs pillow-heif with its HEVC encoder; "
            f"install it with: {_HEIF_INSTALL}, or choose one of {', '.join(_SAVE_FORMATS)}"
        )
    if name not in formats:
        raise ValueError(f"cannot save format {format!r}; choose one of {', '.join(_SAVE_FORMATS)}")
    return name


def _save_formats() -> tuple[str, ...]:
    """The formats `encode_image` can write here: HEIF only when pillow_heif registered an encoder for it."""
    if heif_available() and _HEIF_FORMAT in Image.SAVE:
        return (*_SAVE_FORMATS, _HEIF_FORMAT)
    return _SAVE_FORMATS


def _format_from_extension(path: Path) -> str:
    format_name = _FORMAT_BY_EXTENSION.get(path.suffix.lower())
    if format_name is None:
        known = ", ".join(sorted(_FORMAT_BY_EXTENSION))
        raise ValueError(f"{path}: privobf cannot write {path.suffix or 'files without an extension'} images; "
                         f"name the output with one of {known}")
    return format_name


def _pixels_to_pil(pixels: np.ndarray) -> Image.Image:
    if not isinstance(pixels, np.ndarray) or pixels.dtype != np.uint8:
        raise ValueError(f"pixels must be a uint8 numpy array, got {getattr(pixels, 'dtype', type(pixels).__name__)}")
    if pixels.ndim == 2:
        return Image.fromarray(np.ascontiguousarray(pixels), "L")
    if pixels.ndim == 3 and pixels.shape[2] == 3:
        return Image.fromarray(np.ascontiguousarray(pixels), "RGB")
    raise ValueError(f"pixels must have shape H×W×3 (RGB) or H×W (grey), got {pixels.shape}")


def _save_options(format_name: str, quality: int, exif: bytes | None, icc_profile: bytes | None) -> dict:
    options: dict = {}
    if format_name == "JPEG":
        options["quality"] = quality
        options["subsampling"] = 0 if quality >= _FULL_CHROMA_MIN_QUALITY else 2  # 0 = 4:4:4, 2 = 4:2:0
    elif format_name == _HEIF_FORMAT:
        options["quality"] = quality
        options["chroma"] = 444 if quality >= _FULL_CHROMA_MIN_QUALITY else 420
    elif format_name == "WEBP":
        options["quality"] = quality
    elif format_name == "TIFF":
        options["compression"] = "tiff_adobe_deflate"
    if exif:
        options["exif"] = exif
    if icc_profile:
        options["icc_profile"] = icc_profile
    return options


def _exists_error(target: Path) -> FileExistsError:
    return FileExistsError(f"{target}: already exists; it is only replaced when asked (overwrite=True, --overwrite)")


def _write_atomic(data: bytes, target: Path, overwrite: bool, permissions: int | None = None) -> None:
    """Temp file in the target's directory (so the rename cannot cross filesystems), fsync, publish.
    `permissions` (mode bits) are set on the temp file before it is published: replacing a 0640 photo
    must not leave a 0644 one."""
    directory = target.parent
    if not directory.is_dir():
        raise FileNotFoundError(f"{directory}: directory does not exist")
    temp = create_temp_file(directory, target.name)
    try:
        if permissions is not None:  # before the data: the temp file is never more readable than the target
            os.chmod(temp, permissions)
        _write_and_sync(temp, data)
        _publish(temp, target, overwrite)
    except BaseException:
        remove_quietly(temp)
        raise
    sync_directory(directory)


def _write_and_sync(temp: Path, data: bytes) -> None:
    with open(temp, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())


def _publish(temp: Path, target: Path, overwrite: bool) -> None:
    """Move the finished file into place. Without overwrite, a hard link is the atomic "create if absent";
    on filesystems without hard links we fall back to check-then-rename, which has a tiny race window."""
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)
    except FileExistsError:
        raise _exists_error(target) from None
    except (OSError, NotImplementedError):
        if os.path.lexists(target):
            raise _exists_error(target) from None
        os.replace(temp, target)
        return
    os.unlink(temp)

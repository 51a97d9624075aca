"""Is all of an image's pixel data there? Two formats whose decoders do not say so when it is not.

A JPEG whose scan data ends early (cut in transit and closed with an end marker, or a 677-byte photo
whose frame header was patched to say 9000×9000) is decoded by libjpeg with every missing block filled
mid-grey, and Pillow reports no error: a tiny file becomes an 81-megapixel grey image that costs
gigabytes to scan. A GIF whose LZW data stops early likewise leaves the rest of the frame filled. Both
are checked here before Pillow decodes anything:

* JPEG: libjpeg-turbo (the `simplejpeg` package) decodes at 1/8 scale with its warnings as errors, which
  runs the entropy decoder over all the data for a few milliseconds and little memory; "premature end of
  data segment" / "premature end of JPEG file" mean the data is short. Other warnings (extraneous bytes
  before a marker, common from some cameras) are left to Pillow, which reads those files.
* GIF: the first frame's LZW codes are walked (lengths only, no pixels) and the pixels they decode to are
  counted against the frame's declared size.

PNG, TIFF, BMP, WebP and HEIC decoders already refuse short data (tests/test_reliability_decoding.py).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

_JPEG_SHORT_DATA = ("premature end",)
_GIF_MAX_CODE_SIZE = 12


def short_data_reason(format_name: str | None, handle: BinaryIO, width: int, height: int) -> str | None:
    """Why the data of this JPEG / GIF is short, or None (complete, another format, or not decidable
    here: then the decoder has the last word). Reads `handle` from its current position."""
    if format_name in ("JPEG", "MPO"):
        return _jpeg_short_reason(handle.read(), width, height)
    if format_name == "GIF":
        return _gif_short_reason(handle.read())
    return None


def _jpeg_short_reason(data: bytes, width: int, height: int) -> str | None:
    try:
        import simplejpeg
    except ImportError:  # a broken install: Pillow still decodes, as before this check existed
        return None
    try:
        simplejpeg.decode_jpeg(data, colorspace="GRAY", fastdct=True, fastupsample=True,
                               min_height=1, min_width=1, strict=True)
    except ValueError as error:
        if any(phrase in str(error).lower() for phrase in _JPEG_SHORT_DATA):
            return f"its compressed data ends before the {width}×{height} pixels its header declares"
    return None


def _gif_short_reason(data: bytes) -> str | None:
    try:
        found = first_frame_pixel_counts(data)
    except (IndexError, struct.error):  # a damaged structure: Pillow names the problem
        return None
    if found is None:
        return None
    decoded, declared, width, height = found
    if decoded < declared:
        return f"its LZW data decodes to {decoded:,} of the {width}×{height} = {declared:,} pixels of its first frame"
    return None


def first_frame_pixel_counts(data: bytes) -> tuple[int, int, int, int] | None:
    """(pixels the first frame's LZW data decodes to, pixels it declares, width, height), None if the file
    has no frame. Raises IndexError / struct.error on a structure that ends early."""
    position = 13 + _colour_table_size(data[10])
    while position < len(data):
        block = data[position]
        if block == 0x21:  # extension: label, then data sub-blocks
            position = _skip_sub_blocks(data, position + 2)
        elif block == 0x2C:  # image descriptor
            width, height = struct.unpack_from("<HH", data, position + 5)
            position += 10 + _colour_table_size(data[position + 9])
            minimum_code_size = data[position]
            lzw, _ = _join_sub_blocks(data, position + 1)
            declared = width * height
            return _lzw_decoded_length(lzw, minimum_code_size, declared), declared, width, height
        else:  # the trailer (0x3B) or something that is not GIF structure
            return None
    return None


def _colour_table_size(flags: int) -> int:
    return 3 * (2 << (flags & 0x07)) if flags & 0x80 else 0


def _skip_sub_blocks(data: bytes, position: int) -> int:
    while data[position] != 0:
        position += data[position] + 1
    return position + 1


def _join_sub_blocks(data: bytes, position: int) -> tuple[bytes, int]:
    chunks = []
    while True:
        size = data[position]
        if size == 0:
            return b"".join(chunks), position + 1
        chunks.append(data[position + 1 : position + 1 + size])
        position += size + 1


def _lzw_decoded_length(data: bytes, minimum_code_size: int, enough: int) -> int:
    """How many pixels GIF LZW `data` decodes to (counting stops at `enough`): the dictionary is kept as
    string lengths only, so this costs one step per code and no memory per pixel."""
    if not 1 <= minimum_code_size <= 11:
        return enough  # not a valid code size: not this check's to judge
    clear = 1 << minimum_code_size
    end = clear + 1
    lengths = [1] * clear + [0] * (4096 - clear)
    code_size, next_code, previous = minimum_code_size + 1, end + 1, 0
    total = buffer = bits = 0
    for byte in data:
        buffer |= byte << bits
        bits += 8
        while bits >= code_size:
            code = buffer & ((1 << code_size) - 1)
            buffer >>= code_size
            bits -= code_size
            if code == clear:
                code_size, next_code, previous = minimum_code_size + 1, end + 1, 0
                continue
            if code == end:
                return total
            if previous == 0:
                if code >= clear:
                    return total  # a first code must be a literal: the decoder stops here too
                length = 1
            else:
                if code < next_code:
                    length = lengths[code]
                elif code == next_code:
                    length = previous + 1
                else:
                    return total  # a code from nowhere ends decoding
                if next_code < 4096:
                    lengths[next_code] = previous + 1
                    next_code += 1
                    if next_code == 1 << code_size and code_size < _GIF_MAX_CODE_SIZE:
                        code_size += 1
            total += length
            previous = length
            if total >= enough:
                return total
    return total

"""privobf's mark on the files it writes: the word "privobf" in the format's own software field.

Why: a folder that held `p.jpg` holds `p.privobf.jpg` after a run, and the next run over the folder must
neither obfuscate `p.privobf.jpg` again nor, with `--overwrite`, replace a photo of the user's that only
happens to have an output's name (`x_safe.jpg` beside `x.jpg` with `--suffix _safe`). A name cannot tell
these apart; the mark can. It says which program wrote the file and nothing else: no version, no date,
nothing about the photo or the person.

Where it goes: a JPEG comment (COM segment), a PNG `Software` text chunk, the TIFF `Software` tag, and
an XMP `CreatorTool` for WebP and HEIF, the fields image viewers show as "software".
"""

from __future__ import annotations

import os
from pathlib import Path

from PIL import Image, PngImagePlugin

MARK = "privobf"
_TIFF_SOFTWARE = 305
_XMP = (
    '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">'
    f'<rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmp:CreatorTool="{MARK}"/>'
    "</rdf:RDF></x:xmpmeta>"
).encode()
_XMP_NEEDLE = f'CreatorTool="{MARK}"'.encode()


def marker_save_options(format_name: str) -> dict:
    """Keyword arguments for `Image.save` that mark the file in `format_name` (Pillow's name)."""
    if format_name == "JPEG":
        return {"comment": MARK.encode()}
    if format_name == "PNG":
        info = PngImagePlugin.PngInfo()
        info.add_text("Software", MARK)
        return {"pnginfo": info}
    if format_name == "TIFF":
        return {"tiffinfo": {_TIFF_SOFTWARE: MARK}}
    if format_name in ("WEBP", "HEIF"):
        return {"xmp": _XMP}
    return {}


def written_by_privobf(image: Image.Image) -> bool:
    """Whether an opened image (header parsed, pixels not needed) carries the mark."""
    info = image.info
    if info.get("comment") in (MARK, MARK.encode()) or info.get("Software") == MARK:
        return True
    xmp = info.get("xmp")
    if isinstance(xmp, str):
        xmp = xmp.encode("utf-8", "replace")
    if isinstance(xmp, (bytes, bytearray)) and _XMP_NEEDLE in xmp:
        return True
    tags = getattr(image, "tag_v2", None)
    return tags is not None and tags.get(_TIFF_SOFTWARE) == MARK


def is_privobf_output(path: str | os.PathLike) -> bool:
    """Whether the regular file at `path` is an image privobf wrote; reads the header only, never raises
    (a file that cannot be opened or parsed is not one)."""
    from .imageio import heif_available, special_file_kind

    try:
        if special_file_kind(os.stat(path).st_mode) is not None:
            return False
        if Path(path).suffix.lower() in (".heic", ".heif"):
            heif_available()
        with Image.open(path) as image:
            return written_by_privobf(image)
    except Exception:  # noqa: BLE001 - any unreadable file is simply not privobf's
        return False

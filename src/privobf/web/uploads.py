"""Reading a photo out of a request and keeping it in memory: the part of `privobf serve` that touches
the user's bytes and file name before anything else does.

* uploads are parsed from the request stream straight into memory (Starlette's own form parser spools
  files above 1 MB to a temporary file, i.e. to disk), and the body is cut off as soon as it passes
  the limit, whatever Content-Length claimed;
* decoded photos and their reports live in a small in-memory LRU under an unguessable token, and are
  simply forgotten when evicted; nothing is ever written to disk;
* the client's file name is only a label and the base of the download name, never a path.

`WebError` lives here because this is the lowest layer that raises it; the service and the routes reuse it.
"""

from __future__ import annotations

import re
import secrets
import threading
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Sequence
from urllib.parse import quote

import numpy as np
from fastapi import Request
from PIL import Image

try:  # python-multipart >= 0.0.13 names its module python_multipart; older releases call it multipart
    from python_multipart.exceptions import MultipartParseError
    from python_multipart.multipart import MultipartParser, parse_options_header
except ImportError:  # pragma: no cover - depends on the installed release
    from multipart.exceptions import MultipartParseError  # type: ignore[no-redef]
    from multipart.multipart import MultipartParser, parse_options_header  # type: ignore[no-redef]

from ..imageio import LoadedImage
from ..report import PrivacyReport

OVERLAY_LONG_SIDE = 1024  # the heat map is for looking at, not for keeping: small and fast
MULTIPART_OVERHEAD = 64 * 1024  # boundaries and part headers around the file itself
MAX_NAME_LENGTH = 120
EXPIRED_MESSAGE = "this upload has expired; upload it again"


class WebError(Exception):
    """A request the page can explain: an HTTP status and a one-line message for the user."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = " ".join(message.split())


# ----------------------------------------------------------------------------------------------- names


def sanitise_file_name(name: str | None, default: str = "upload") -> str:
    """A harmless label from a client's file name: last path component only, no control or bidi characters,
    no `..`, no characters that break headers or file systems. It is never used as a path; it only names
    the photo on the page and in the download."""
    text = unicodedata.normalize("NFC", name or "")
    text = "".join(" " if ch.isspace() else ch for ch in text if unicodedata.category(ch) not in ("Cc", "Cf"))
    text = text.replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r'["<>:|?*;%]', "_", text)
    text = re.sub(r"\.{2,}", ".", text).strip(" .")
    if len(text) > MAX_NAME_LENGTH:
        stem, dot, extension = text.rpartition(".")
        extension = extension[:10] if dot and len(extension) <= 10 else ""
        text = (stem if dot else text)[: MAX_NAME_LENGTH - len(extension) - 1].rstrip(" .") + (
            "." + extension if extension else ""
        )
    return text or default


def download_name(file_name: str, extension: str) -> str:
    """`holiday.jpg` -> `holiday.privobf.jpg`: says what the file is and never overwrites the original."""
    stem = file_name.rsplit(".", 1)[0] if "." in file_name else file_name
    return f"{stem or 'upload'}.privobf{extension}"


def content_disposition(file_name: str) -> str:
    """An attachment header with an ASCII fallback and the exact UTF-8 name (RFC 6266 / 5987)."""
    fallback = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else "_" for ch in file_name)
    return f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{quote(file_name, safe='')}"


def ascii_header(values: Sequence[str]) -> str:
    return ",".join(values).encode("ascii", "replace").decode("ascii")


# ----------------------------------------------------------------------------------------------- uploads


@dataclass
class Upload:
    """One scanned photo, kept in memory while the user decides what to hide."""

    file_name: str
    image: LoadedImage
    report: PrivacyReport
    _preview: tuple[np.ndarray, PrivacyReport] | None = None

    @property
    def nbytes(self) -> int:
        return int(self.image.pixels.nbytes) + int(self.report.attention_maps.nbytes)

    def preview(self) -> tuple[np.ndarray, PrivacyReport]:
        """The photo at most OVERLAY_LONG_SIDE px long, and the report re-sized to it.

        The report's maps are stored at map resolution, so a report for the small image is the same maps
        with a different `image_size`: the overlay never upsamples maps to a 40-megapixel photo.
        """
        if self._preview is None:
            pixels = self.image.pixels
            height, width = pixels.shape[:2]
            scale = min(1.0, OVERLAY_LONG_SIDE / max(height, width))
            if scale < 1.0:
                size = (max(1, round(width * scale)), max(1, round(height * scale)))
                pixels = np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0))
            report = self.report.at_size((int(pixels.shape[0]), int(pixels.shape[1])))
            self._preview = (pixels, report)
        return self._preview


class UploadCache:
    """Least-recently-used uploads, bounded by count and by bytes; tokens are unguessable.

    An evicted upload is gone (the user uploads again): nothing ever reaches the disk.
    """

    def __init__(self, entries: int, max_bytes: int) -> None:
        if entries < 1:
            raise ValueError(f"cache_entries must be at least 1, got {entries}")
        self.entries = entries
        self.max_bytes = max_bytes
        self._items: OrderedDict[str, Upload] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, upload: Upload) -> str:
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._items[token] = upload
            while len(self._items) > 1 and (
                len(self._items) > self.entries or sum(u.nbytes for u in self._items.values()) > self.max_bytes
            ):
                self._items.popitem(last=False)
        return token

    def get(self, token: str) -> Upload:
        with self._lock:
            upload = self._items.get(token)
            if upload is None:
                raise WebError(404, EXPIRED_MESSAGE)
            self._items.move_to_end(token)
            return upload

    def __len__(self) -> int:
        return len(self._items)


class _FilePart:
    """python-multipart callbacks keeping the first file part in memory, refused once past the limit."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.file_name: str | None = None
        self.data = bytearray()
        self.done = False
        self._receiving = False
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {
            "on_header_field": lambda data, start, end: self._add("_field", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._part_data,
            "on_part_end": self._part_end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)
        if len(self._field) + len(self._value) > 8192:
            raise WebError(400, "the upload's part headers are too long")

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        # The file is the part with a file name (browsers send filename="" when they have none) or named "file".
        if (b"filename" in params or params.get(b"name") == b"file") and not self.done:
            self._receiving = True
            self.file_name = params.get(b"filename", b"").decode("utf-8", "replace")
        self._headers = {}

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._receiving:
            self.data += data[start:end]
            if len(self.data) > self.limit:
                raise WebError(413, too_large_message(self.file_name, self.limit))

    def _part_end(self) -> None:
        if self._receiving:
            self._receiving, self.done = False, True


def too_large_message(file_name: str | None, limit: int) -> str:
    label = sanitise_file_name(file_name) if file_name else "the upload"
    return (
        f"{label}: larger than the {limit / 1e6:g} MB upload limit "
        "(start privobf serve with a larger --max-upload-mb to accept it)"
    )


async def read_upload(request: Request, limit: int) -> tuple[str, bytes]:
    """(client file name, file bytes) from a multipart body, read chunk by chunk into memory.

    Content-Length is not trusted: the bytes actually received are counted, and reading stops as soon as
    the file passes the limit (by then its part headers have named it, so the message can too).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    if content_type != b"multipart/form-data" or not params.get(b"boundary"):
        raise WebError(415, "send the photo as multipart/form-data with a file field")
    body_limit = limit + MULTIPART_OVERHEAD
    part = _FilePart(limit)
    try:
        parser = MultipartParser(params[b"boundary"], part.callbacks())
    except (MultipartParseError, ValueError) as error:
        raise WebError(400, f"the upload is not valid multipart/form-data ({error})") from None
    received = 0
    async for chunk in request.stream():
        try:
            parser.write(chunk)  # stops with a 413 naming the file once the file part passes the limit
        except MultipartParseError as error:
            raise WebError(400, f"the upload is not valid multipart/form-data ({error})") from None
        received += len(chunk)
        if received > body_limit:  # whatever else the body holds, it cannot be this much
            raise WebError(413, too_large_message(part.file_name, limit))
    parser.finalize()
    if part.file_name is None:
        raise WebError(400, "the upload holds no file; choose a photo")
    return part.file_name, bytes(part.data)


async def read_limited(request: Request, limit: int) -> bytes:
    """The whole (small) body, refused past `limit` bytes."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise WebError(413, f"request body larger than {limit} bytes")
    return bytes(body)

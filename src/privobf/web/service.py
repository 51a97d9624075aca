"""What `privobf serve` does with an upload, apart from HTTP: scan it, describe it in plain words, draw its
heat map and encode the protected copy. The routes in `app` only read requests and call this.
"""

from __future__ import annotations

import threading
from typing import Any, Iterable

import numpy as np
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..attributes import UnknownAttributeError, Vocabulary
from ..attributes.groups import is_text_attribute
from ..imageio import ImageLoadError, encode_image, load_image
from ..metadata import identifying_exif_removed
from ..protection import ProtectionPlan, check_mode, protect, resolve_names
from ..scanning import Scanner
from ..visualize import heatmap_overlay
from .uploads import Upload, UploadCache, WebError, ascii_header, content_disposition, download_name

# name the client may ask for -> (Pillow format, file extension, media type)
DOWNLOAD_FORMATS = {
    "png": ("PNG", ".png", "image/png"),
    "jpeg": ("JPEG", ".jpg", "image/jpeg"),
    "jpg": ("JPEG", ".jpg", "image/jpeg"),
    "webp": ("WEBP", ".webp", "image/webp"),
}
# an upload's own format -> the download format "same" means (anything else becomes lossless PNG)
SAME_FORMAT = {"JPEG": "jpeg", "MPO": "jpeg", "PNG": "png", "WEBP": "webp"}
PRIVACY_LEVELS = (
    (0.3, "low", "Low: little in this photo points to a person."),
    (0.6, "medium", "Medium: some details in this photo could identify someone."),
    (1.01, "high", "High: this photo shows private details about someone."),
)
PIXEL_LIMIT_HINT = "pass a larger max_pixels"  # imageio speaks to callers of load_image, not to page users


def load_error_status(error: ImageLoadError) -> int:
    """413 for images too big to decode, 415 for files that are not images at all, 400 for damaged ones."""
    reason = error.reason
    if "limit" in reason or "too large" in reason or "not enough memory" in reason:
        return 413
    if reason.startswith(("not an image", "a PDF", "an SVG", "HEIC")):
        return 415
    return 400


def load_error_message(error: ImageLoadError, max_pixels: int) -> str:
    """The page's line for a photo that could not be read. Over the pixel limit, imageio's hint is for
    Python callers (max_pixels); the page user gets the limit in megapixels, the operator the option."""
    if PIXEL_LIMIT_HINT not in error.reason:
        return str(error)
    size = error.reason.split(PIXEL_LIMIT_HINT, 1)[0].split(" exceeds the ", 1)[0].rstrip("; ")
    return (
        f"{error.source}: {size} is over this server's {max_pixels / 1e6:g}-megapixel limit "
        "(start privobf serve with a larger --max-megapixels to accept it)"
    )


# ----------------------------------------------------------------------------------------------- answers


def privacy_level(score: float) -> tuple[str, str]:
    """A plain-words level for the score, since "0.71" alone means little to most people."""
    for bound, level, text in PRIVACY_LEVELS:
        if score < bound:
            return level, text
    return PRIVACY_LEVELS[-1][1:]


def attribute_entry(vocabulary: Vocabulary, attribute_id: str, probability: float, present: bool) -> dict[str, Any]:
    attribute = vocabulary[attribute_id]
    return {
        "id": attribute.id,
        "short_name": attribute.short_name,
        "description": attribute.description,
        "group": attribute.group,
        "probability": round(float(probability), 4),
        "is_text": is_text_attribute(attribute),
        "present": present,
    }


def scan_summary(token: str, upload: Upload, vocabulary: Vocabulary) -> dict[str, Any]:
    """What the page shows after a scan; everything the later requests need is the token."""
    report = upload.report
    present = set(report.present())
    order = np.argsort(-report.probabilities, kind="stable")
    attributes = [
        attribute_entry(vocabulary, report.attribute_ids[i], report.probabilities[i], report.attribute_ids[i] in present)
        for i in order
        if report.attribute_ids[i] != "a0_safe"
    ]
    level, level_text = privacy_level(report.privacy_score)
    height, width = report.image_size
    preview_height, preview_width = upload.preview()[1].image_size
    return {
        "token": token,
        "file_name": upload.file_name,
        "image": {"width": width, "height": height, "format": upload.image.format},
        "privacy_score": round(float(report.privacy_score), 4),
        "privacy_level": level,
        "privacy_level_text": level_text,
        "attribute_threshold": report.attribute_threshold,
        "present": [entry for entry in attributes if entry["present"]],
        "attributes": attributes,
        "metadata": {
            "exif": bool(upload.image.exif),
            "identifying": identifying_exif_removed(upload.image.exif)[1],
            "icc_profile": bool(upload.image.icc_profile),
        },
        "overlay_url": f"/api/overlay/{token}",
        "overlay_size": {"width": preview_width, "height": preview_height},
        "notes": list(report.notes),
    }


def attribute_ids(vocabulary: Vocabulary, names: Iterable[str]) -> tuple[str, ...]:
    """Ids for ids, short names or groups; a 400 naming the nearest known name otherwise."""
    try:
        return resolve_names(vocabulary, [name for name in names if name.strip()])
    except UnknownAttributeError as error:
        raise WebError(400, str(error)) from None


class ObfuscateRequest(BaseModel):
    """The body of POST /api/obfuscate; unknown fields are refused so a typo is not silently ignored."""

    model_config = ConfigDict(extra="forbid")

    token: str = Field(max_length=200)
    hide: list[str] = Field(default_factory=list, max_length=500)
    mode: str = "solid"
    strength: float | None = None
    format: str = "same"
    keep_metadata: bool = False


def parse_obfuscate_request(body: bytes) -> ObfuscateRequest:
    try:
        return ObfuscateRequest.model_validate_json(body or b"{}")
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first.get("loc", ())) or "body"
        raise WebError(400, f"invalid request: {where}: {first.get('msg', 'invalid value')}") from None


def protection_plan(vocabulary: Vocabulary, options: ObfuscateRequest) -> ProtectionPlan:
    """The plan for the ticked boxes: exactly those attributes, hidden even where the model was unsure,
    because the user looked at the photo and decided."""
    try:
        mode = check_mode(options.mode)
    except ValueError as error:
        raise WebError(400, str(error)) from None
    strength = options.strength
    if strength is not None and not 0.0 < strength <= 1.0:
        raise WebError(400, f"strength must be above 0 and at most 1 (a fraction of each region's size), got {strength}")
    return ProtectionPlan(vocabulary, hide=attribute_ids(vocabulary, options.hide), mode=mode, strength=strength, force=True)


def download_format(requested: str, upload: Upload) -> tuple[str, str, str]:
    name = requested.strip().lower()
    if name == "same":
        name = SAME_FORMAT.get(upload.image.format or "", "png")
    if name not in DOWNLOAD_FORMATS:
        raise WebError(400, f"unknown format {requested!r} (formats: same, png, jpeg, webp)")
    return DOWNLOAD_FORMATS[name]


# ----------------------------------------------------------------------------------------------- the service


class PrivacyService:
    """The work behind the routes, kept apart from HTTP so each step is a plain, testable method."""

    def __init__(self, scanner: Scanner, max_pixels: int, cache: UploadCache) -> None:
        self.scanner = scanner
        self.vocabulary = scanner.vocabulary
        self.max_pixels = max_pixels
        self.cache = cache
        self._scan_lock = threading.Lock()  # one model, one scan at a time: bounded memory and CPU

    def scan(self, file_name: str, data: bytes) -> dict[str, Any]:
        try:
            loaded = load_image(data, max_pixels=self.max_pixels, name=file_name)
        except ImageLoadError as error:
            raise WebError(load_error_status(error), load_error_message(error, self.max_pixels)) from None
        with self._scan_lock:
            report = self.scanner.scan(loaded.pixels)
        upload = Upload(file_name, loaded, report)
        token = self.cache.add(upload)
        return scan_summary(token, upload, self.vocabulary)

    def overlay(self, token: str, attributes: str | None, format: str) -> Response:
        upload = self.cache.get(token)
        chosen = upload.report.present() if attributes is None else list(attribute_ids(self.vocabulary, attributes.split(",")))
        name = "jpeg" if format.lower() in ("jpeg", "jpg") else format.lower()
        if name not in ("png", "jpeg"):
            raise WebError(400, f"unknown overlay format {format!r} (formats: png, jpeg)")
        pixels, report = upload.preview()
        image = heatmap_overlay(pixels, report, chosen)
        pillow_format, _, media_type = DOWNLOAD_FORMATS[name]
        return Response(encode_image(image, pillow_format, quality=90), media_type=media_type)

    def obfuscate(self, options: ObfuscateRequest) -> Response:
        plan = protection_plan(self.vocabulary, options)
        upload = self.cache.get(options.token)
        decisions = plan.decide(upload.report)
        hidden = [decision.attribute for decision in decisions]
        protected = protect(plan, upload.image, upload.report, decisions, keep_metadata=options.keep_metadata)
        if plan.mask_only:
            data = encode_image(protected.pixels, "PNG")
            return self._download(data, "image/png", download_name(upload.file_name, ".mask.png"), hidden, [])
        pillow_format, extension, media_type = download_format(options.format, upload)
        data = encode_image(protected.pixels, pillow_format, quality=95, exif=protected.exif,
                            icc_profile=protected.icc_profile)
        name = download_name(upload.file_name, extension)
        metadata = ["all EXIF"] if not options.keep_metadata and upload.image.exif else protected.exif_removed
        return self._download(data, media_type, name, hidden, metadata)

    @staticmethod
    def _download(data: bytes, media_type: str, name: str, hidden: list[str], removed: list[str]) -> Response:
        headers = {
            "Content-Disposition": content_disposition(name),
            "X-Privobf-Hidden": ascii_header(hidden),
            "X-Privobf-Metadata-Removed": ascii_header(removed),
        }
        return Response(data, media_type=media_type, headers=headers)


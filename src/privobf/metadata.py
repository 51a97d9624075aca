"""What a photo's metadata gives away, and the copy of it that privobf writes.

By default `privobf obfuscate` writes no EXIF at all: a blurred face is no protection if the file still
says where and when it was taken and with which camera serial number. `--keep-metadata` keeps the
technical tags (camera make and model, exposure, date, ...) but always removes what identifies a person
or a place: the GPS block, serial numbers, owner / author / artist names, free-text comments and
descriptions, the maker note (vendors hide serials and locations there) and the embedded thumbnail (an
unobfuscated copy of the photo). ICC colour profiles are kept either way: they describe colours only.
"""

from __future__ import annotations

import io

from PIL import ExifTags, Image

GPS_IFD = ExifTags.IFD.GPSInfo.value
EXIF_IFD = ExifTags.IFD.Exif.value
IDENTIFYING_TAGS: dict[int, str] = {
    ExifTags.Base.BodySerialNumber.value: "BodySerialNumber",
    ExifTags.Base.LensSerialNumber.value: "LensSerialNumber",
    ExifTags.Base.CameraOwnerName.value: "CameraOwnerName",
    ExifTags.Base.ImageUniqueID.value: "ImageUniqueID",
    ExifTags.Base.MakerNote.value: "MakerNote",
    ExifTags.Base.UserComment.value: "UserComment",
    ExifTags.Base.Artist.value: "Artist",
    ExifTags.Base.Copyright.value: "Copyright",
    ExifTags.Base.ImageDescription.value: "ImageDescription",
    ExifTags.Base.HostComputer.value: "HostComputer",
    ExifTags.Base.XPAuthor.value: "XPAuthor",
    ExifTags.Base.XPComment.value: "XPComment",
    ExifTags.Base.XPSubject.value: "XPSubject",
    ExifTags.Base.XPKeywords.value: "XPKeywords",
    ExifTags.Base.XPTitle.value: "XPTitle",
    0xA436: "Title",  # EXIF 3.0 ImageTitle / Photographer / ImageEditor
    0xA437: "Photographer",
    0xA438: "ImageEditor",
}


def identifying_exif_removed(exif: bytes | None) -> tuple[bytes | None, list[str]]:
    """`exif` without GPS, serials, names, comments, maker note and thumbnail; and the names removed.

    Returns (None, []) for no EXIF; unreadable EXIF is dropped whole (nothing unknown is passed on).
    """
    if not exif:
        return None, []
    parsed = Image.Exif()
    try:
        parsed.load(exif)
    except Exception:  # PIL raises several types on malformed EXIF; none of it may reach the output
        return None, ["(unreadable EXIF)"]
    removed: list[str] = []
    if GPS_IFD in parsed:
        del parsed[GPS_IFD]
        removed.append("GPSInfo")
    sub_ifd = parsed.get_ifd(EXIF_IFD)
    for tag, name in IDENTIFYING_TAGS.items():
        if tag in parsed:
            del parsed[tag]
            removed.append(name)
        if tag in sub_ifd:
            del sub_ifd[tag]
            removed.append(name)
    data = parsed.tobytes()  # IFD0 and its sub-IFDs only: the thumbnail (IFD1) is not written
    if _still_identifying(data):  # fail safe: never pass on what we meant to remove
        return None, sorted(set(removed)) + ["(all EXIF: removal could not be verified)"]
    return (data if len(data) > 8 else None), sorted(set(removed))


def _still_identifying(data: bytes) -> bool:
    check = Image.Exif()
    check.load(data)
    sub_ifd = check.get_ifd(EXIF_IFD)
    return bool(check.get_ifd(GPS_IFD)) or any(tag in check or tag in sub_ifd for tag in IDENTIFYING_TAGS)


def exif_tags(image_bytes: bytes) -> dict[str, object]:
    """Tag name -> value of an encoded image's EXIF (IFD0, Exif and GPS blocks), for reports and tests."""
    with Image.open(io.BytesIO(image_bytes)) as image:
        exif = image.getexif()
        tags: dict[str, object] = {ExifTags.TAGS.get(k, str(k)): v for k, v in exif.items()}
        tags.update({ExifTags.TAGS.get(k, str(k)): v for k, v in exif.get_ifd(EXIF_IFD).items()})
        gps = exif.get_ifd(GPS_IFD)
        if gps:
            tags["GPSInfo"] = dict(gps)
    return tags

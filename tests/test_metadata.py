"""Metadata of obfuscated photos: nothing by default; technical tags only with --keep-metadata."""

import io

import numpy as np
from PIL import ExifTags, Image, ImageCms

from privobf.cli import main
from privobf.metadata import exif_tags, identifying_exif_removed


B = ExifTags.Base


def _photo_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[B.Make] = "Canon"
    exif[B.Model] = "EOS 5D"
    exif[B.Artist] = "Jane Doe"
    exif[B.ImageDescription] = "Jane at home"
    exif[B.Orientation] = 1
    sub = exif.get_ifd(ExifTags.IFD.Exif)
    sub[B.ExposureTime] = 0.01
    sub[B.BodySerialNumber] = "123456789"
    sub[B.CameraOwnerName] = "Jane Doe"
    sub[B.UserComment] = b"ASCII\x00\x00\x00home sweet home"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[ExifTags.GPS.GPSLatitudeRef] = "N"
    gps[ExifTags.GPS.GPSLatitude] = (52.0, 31.0, 12.0)
    return exif


def _write_photo(path):
    pixels = np.random.default_rng(0).integers(0, 255, (90, 120, 3), dtype=np.uint8)
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.fromarray(pixels).save(path, exif=_photo_exif(), icc_profile=icc, quality=95)
    return icc


def test_identifying_tags_are_removed_and_technical_ones_kept():
    cleaned, removed = identifying_exif_removed(_photo_exif().tobytes())
    assert {"GPSInfo", "BodySerialNumber", "CameraOwnerName", "Artist", "ImageDescription", "UserComment"} <= set(removed)
    buffer = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buffer, "JPEG", exif=cleaned)
    tags = exif_tags(buffer.getvalue())
    assert tags["Make"] == "Canon" and tags["Model"] == "EOS 5D" and float(tags["ExposureTime"]) == 0.01
    for name in ("GPSInfo", "BodySerialNumber", "CameraOwnerName", "Artist", "ImageDescription", "UserComment"):
        assert name not in tags
    assert identifying_exif_removed(None) == (None, [])
    assert identifying_exif_removed(b"Exif\x00\x00garbage") == (None, ["(unreadable EXIF)"])


def test_obfuscate_writes_no_exif_by_default_and_only_technical_tags_when_asked(tiny_model, tmp_path):
    source = tmp_path / "in" / "photo.jpg"
    source.parent.mkdir()
    icc = _write_photo(source)
    assert "GPSInfo" in exif_tags(source.read_bytes())  # the input really carries a location
    base = ["obfuscate", str(source), "--model", str(tiny_model), "--priors", "off", "--hide", "face_complete", "--force"]
    assert main(base + ["--out", str(tmp_path / "plain")]) == 0
    plain = (tmp_path / "plain" / "photo.privobf.jpg").read_bytes()
    assert exif_tags(plain) == {}
    assert Image.open(io.BytesIO(plain)).info.get("icc_profile") == icc  # colours stay right
    assert main(base + ["--out", str(tmp_path / "kept"), "--keep-metadata"]) == 0
    kept = exif_tags((tmp_path / "kept" / "photo.privobf.jpg").read_bytes())
    assert kept["Make"] == "Canon" and kept["Model"] == "EOS 5D"
    assert not {"GPSInfo", "BodySerialNumber", "CameraOwnerName", "Artist", "UserComment"} & set(kept)

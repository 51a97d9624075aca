"""benchmarks/protect.py: its metric functions on tiny hand-computed arrays, and its two face-box parsers."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import protect  # noqa: E402

from privobf.priors.geometry import fill_boxes  # noqa: E402


def test_box_bounds_follow_fill_boxes_every_touched_pixel():
    # x 1.5..4.2 touches columns 1..4; y 0..2 touches rows 0..1; clipped at the image edge
    assert protect.box_bounds((1.5, 0, 4.2, 2), 5, 6) == (0, 2, 1, 5)
    assert protect.box_bounds((4, 3, 9, 9), 5, 6) == (3, 5, 4, 6)
    assert protect.box_bounds((7, 0, 9, 2), 5, 6) is None  # wholly outside
    assert protect.box_bounds((2, 2, 2, 4), 5, 6) is None  # no area
    assert protect.box_bounds((0, 0, float("nan"), 1), 5, 6) is None
    boxes = [(1.5, 0, 4.2, 2), (4, 3, 9, 9), (-3, -3, 0.5, 0.5), (2.25, 1.75, 2.75, 2.25), (7, 0, 9, 2)]
    assert np.array_equal(protect.boxes_mask(boxes, 5, 6), fill_boxes((5, 6), boxes) > 0)


def test_box_coverage():
    hidden = np.zeros((4, 4), bool)
    hidden[0:2, 0:2] = True  # 4 pixels
    assert protect.box_coverage(hidden, (0, 0, 4, 4)) == pytest.approx(4 / 16)
    assert protect.box_coverage(hidden, (0, 0, 2, 2)) == 1.0
    assert protect.box_coverage(hidden, (1, 1, 3, 3)) == pytest.approx(1 / 4)  # pixel (1, 1) of 4
    assert protect.box_coverage(hidden, (5, 5, 6, 6)) is None


def test_pixel_counts_and_pooled_rates():
    truth = np.zeros((4, 5), bool)
    truth[1:3, 1:3] = True  # 4 truth pixels, 16 outside
    hidden = np.zeros((4, 5), bool)
    hidden[1:3, 1:2] = True  # 2 truth pixels hidden, 2 visible
    hidden[0, :] = True  # 5 outside pixels hidden
    ignore = np.zeros((4, 5), bool)
    ignore[0, 0:2] = True  # 2 of those hidden outside pixels are ignored
    ignore[1, 1] = True  # ignore on the truth does not remove truth
    first = protect.pixel_counts(truth, hidden, ignore)
    assert first == {"truth": 4, "truth_visible": 2, "outside": 14, "outside_hidden": 3, "pixels": 20}
    second = protect.pixel_counts(np.zeros((2, 5), bool), np.ones((2, 5), bool))  # no truth: over only
    assert second == {"truth": 0, "truth_visible": 0, "outside": 10, "outside_hidden": 10, "pixels": 10}
    rates = protect.pooled_rates([first, second])
    assert rates["leak"] == pytest.approx(2 / 4)
    assert rates["over"] == pytest.approx(13 / 24)
    assert rates["hidden_outside_share_of_image"] == pytest.approx(13 / 30)
    assert protect.pooled_rates([second])["leak"] is None
    with pytest.raises(ValueError):
        protect.pixel_counts(truth, hidden[:3])


def test_covered_share_and_even_subset():
    assert protect.covered_share([1.0, 0.9, 0.89, 0.0], 0.9) == 0.5
    assert protect.covered_share([], 0.5) is None
    assert protect.evenly_spaced(10, 4) == [0, 3, 6, 9]
    assert protect.evenly_spaced(3, 5) == [0, 1, 2]
    assert protect.evenly_spaced(5, None) == [0, 1, 2, 3, 4]
    assert protect.evenly_spaced(7, 1) == [0]


def test_tool_tally_pools_photos_and_boxes():
    photo = protect.Photo(Path("x.jpg"), "test", boxes=[(0, 0, 2, 2), (2, 0, 4, 2)])
    truth = protect.boxes_mask(photo.boxes, 4, 4)
    hidden = np.zeros((4, 4), bool)
    hidden[0:2, 0:2] = True
    hidden[3, 3] = True
    tally = protect.ToolTally()
    tally.add(photo, hidden, truth, None)
    summary = tally.summary("faces")
    assert summary["leak"] == 0.5 and summary["covered_90"] == 0.5 and summary["mean_box_coverage"] == 0.5
    assert summary["over"] == pytest.approx(1 / 8) and summary["hidden_outside_share_of_image"] == pytest.approx(1 / 16)
    assert "covered_90" not in tally.summary("people")


def _jpeg(path: Path, width: int, height: int, orientation: int | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    exif = Image.Exif()
    if orientation is not None:
        exif[274] = orientation
    Image.new("RGB", (width, height), (90, 120, 150)).save(path, exif=exif)


def test_dlib_xml_parser(tmp_path):
    _jpeg(tmp_path / "a.jpg", 40, 30)
    _jpeg(tmp_path / "sub" / "b.jpg", 20, 20)
    _jpeg(tmp_path / "rotated.jpg", 40, 30, orientation=6)
    _jpeg(tmp_path / "small.jpg", 10, 10)
    _jpeg(tmp_path / "unlisted.jpg", 10, 10)
    (tmp_path / "faces.xml").write_text("""<?xml version='1.0' encoding='ISO-8859-1'?>
<dataset><images>
  <image file='a.jpg' width='40' height='30'>
    <box top='2' left='3' width='10' height='12'/>
    <box top='5' left='20' width='6' height='6' ignore='1'/>
    <box top='1' left='1' width='0' height='5'/>
  </image>
  <image file='sub/b.jpg'/>
  <image file='missing.jpg' width='10' height='10'><box top='0' left='0' width='2' height='2'/></image>
  <image file='rotated.jpg' width='40' height='30'><box top='0' left='0' width='2' height='2'/></image>
  <image file='small.jpg' width='40' height='30'><box top='0' left='0' width='2' height='2'/></image>
</images></dataset>""", encoding="ISO-8859-1")
    skips = protect.Skips()
    photos = protect.parse_dlib_xml(tmp_path / "faces.xml", skips, "dlib/faces.xml")
    assert [p.path.name for p in photos] == ["a.jpg", "b.jpg"]
    first = photos[0]
    assert first.boxes == [(3.0, 2.0, 13.0, 14.0)] and first.ignored == [(20.0, 5.0, 26.0, 11.0)]
    assert first.size == (40, 30) and first.source == "dlib/faces.xml"
    assert photos[1].boxes == [] and photos[1].size == (20, 20)  # a photo without faces: over-obfuscation only
    assert skips.counts["image missing"] == 1
    assert skips.counts["box without area or outside the image"] == 1
    assert skips.counts["image size differs from the XML's"] == 1
    assert sum(n for reason, n in skips.counts.items() if reason.startswith("EXIF orientation 6")) == 1
    truth = first.truth(30, 40)
    assert truth.sum() == 120 and first.ignore(30, 40).sum() == 36
    assert protect.unlisted_images([tmp_path / "faces.xml"]) == ["unlisted.jpg"]


def test_yolo_parser(tmp_path):
    split = tmp_path / "valid"
    _jpeg(split / "images" / "one.jpg", 100, 50)
    _jpeg(split / "images" / "empty.jpg", 10, 10)
    _jpeg(split / "images" / "nolabel.jpg", 10, 10)
    _jpeg(split / "images" / "bad.jpg", 10, 10)
    _jpeg(split / "images" / "turned.jpg", 10, 10, orientation=3)
    labels = split / "labels"
    labels.mkdir()
    (labels / "one.txt").write_text("0 0.5 0.5 0.2 0.4\n1 0.05 0.9 0.2 0.4")  # no final newline, like roboflow's
    (labels / "empty.txt").write_text("")
    (labels / "bad.txt").write_text("0 0.5 0.5 0.2\n")
    (labels / "turned.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "orphan.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    (labels / "labels.cache").write_bytes(b"\x00")
    skips = protect.Skips()
    photos = {p.path.name: p for p in protect.parse_yolo_split(split, skips, "roboflow/valid")}
    assert sorted(photos) == ["empty.jpg", "one.jpg"]
    boxes = photos["one.jpg"].boxes
    assert boxes[0] == pytest.approx((40.0, 15.0, 60.0, 35.0))
    assert boxes[1] == pytest.approx((0.0, 35.0, 15.0, 50.0))  # clipped to the image
    assert photos["empty.jpg"].boxes == []
    assert skips.counts["no label file"] == 1 and skips.counts["malformed label row"] == 1
    assert skips.counts["label file without image"] == 1
    assert sum(n for reason, n in skips.counts.items() if reason.startswith("EXIF orientation 3")) == 1


def test_privobf_command_is_the_users_cli(tmp_path):
    command = protect.privobf_command(tmp_path / "in", tmp_path / "out", "plates", ["--fusion", "paper"])
    assert command[1:] == ["-m", "privobf", "obfuscate", str(tmp_path / "in"), "--hide", "plates", "--mode", "mask-only",
                           "--out", str(tmp_path / "out"), "--progress", "off", "--quiet", "--fusion", "paper"]


def test_roboflow_augmented_copies_map_to_their_source_photo():
    from protect import augmentation_source

    assert augmentation_source("face_011_aug07_jpg.rf.3c9a0b1f") == "face_011"
    assert augmentation_source("face_aug241_jpg.rf.6fb21960") == "face_aug241"  # no numbered source: its own
    assert augmentation_source("IMG_0001") == "IMG_0001"


def test_box_iou():
    from protect import box_iou

    assert box_iou((0, 0, 10, 10), (5, 0, 15, 10)) == pytest.approx(50 / 150)
    assert box_iou((0, 0, 10, 10), (20, 20, 30, 30)) == 0.0 and box_iou((0, 0, 0, 0), (0, 0, 0, 0)) == 0.0

"""OpenALPR and SROIE readers: real folders (skipped where absent) and tiny hand-made trees for the edge cases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privobf.data.openalpr import PLATE_ID, OpenAlprDataset, clip_box, parse_row
from privobf.data.sources import build_source
from privobf.data.sroie import (
    ADDRESS_ID,
    DATE_ID,
    SroieDataset,
    compact,
    field_match_report,
    match_address,
    match_date,
    parse_box_row,
)

from .conftest import data_root

# Measured on the real 100 receipts: address 100/100, date 99/100. Floors leave a little room so that a
# harmless change in tie-breaking does not fail the suite, but a broken matcher does.
ADDRESS_FLOOR = 95
DATE_FLOOR = 95


def _write_image(path: Path, width: int = 40, height: int = 30) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.full((height, width, 3), 128, np.uint8)).save(path)


# ----------------------------------------------------------------------------------------------- OpenALPR


@pytest.fixture(scope="module")
def real_alpr() -> OpenAlprDataset:
    root = data_root() / "openalpr" / "eu"
    if not root.is_dir():
        pytest.skip(f"OpenALPR data not found at {root} (set PRIVOBF_DATA)")
    return OpenAlprDataset(root)


def test_real_openalpr_has_all_plates_inside_images(real_alpr: OpenAlprDataset) -> None:
    assert len(real_alpr) == 108
    assert real_alpr.skips.total == 0, real_alpr.skips.summary()
    for index in range(0, len(real_alpr), 9):  # decoding every photo is slow on 2 shared cores
        item = real_alpr[index]
        height, width = item.image.shape[:2]
        assert item.labels == [PLATE_ID]
        assert item.extra["plate_text"].strip()
        (x0, y0, x1, y1), = item.boxes[PLATE_ID]
        assert 0 <= x0 < x1 <= width and 0 <= y0 < y1 <= height
        assert item.masks[PLATE_ID].sum() == pytest.approx((x1 - x0) * (y1 - y0), rel=0.05)
    for entry in real_alpr.entries:  # every box, without decoding: inside the header size
        (x0, y0, x1, y1), = entry.boxes
        assert 0 <= x0 < x1 <= entry.size[0] and 0 <= y0 < y1 <= entry.size[1]
        assert entry.texts[0].strip()


def test_openalpr_row_parsing() -> None:
    row = parse_row("car.jpg\t10\t5\t20\t8\tAB 123\n")
    assert row is not None and row.image_name == "car.jpg"
    assert row.box == (10.0, 5.0, 30.0, 13.0) and row.text == "AB 123"
    assert parse_row("car.jpg 1 2 3 4 XY9").box == (1.0, 2.0, 4.0, 6.0)
    assert parse_row("car.jpg\t1\t2\tthree\t4\tXY") is None
    assert parse_row("car.jpg 1 2 3") is None
    assert clip_box((-5, -5, 10, 10), 8, 8) == (0.0, 0.0, 8.0, 8.0)
    assert clip_box((50, 50, 60, 60), 8, 8) is None
    assert clip_box((2, 2, 2, 6), 8, 8) is None


def test_openalpr_fake_tree_counts_every_problem(tmp_path: Path) -> None:
    _write_image(tmp_path / "ok.jpg")
    (tmp_path / "ok.txt").write_text("ok.jpg\t2\t3\t10\t4\tOK1\n")
    _write_image(tmp_path / "clip.png")
    (tmp_path / "clip.txt").write_text("clip.png\t30\t20\t50\t50\tCL1\n")
    _write_image(tmp_path / "out.jpg")
    (tmp_path / "out.txt").write_text("out.jpg\t100\t100\t10\t10\tOUT1\n")
    (tmp_path / "ghost.txt").write_text("ghost.jpg\t1\t1\t5\t5\tGH1\n")
    _write_image(tmp_path / "bad.jpg")
    (tmp_path / "bad.txt").write_text("bad.jpg\tx\t1\t5\t5\tBAD\nnot a row\n")
    _write_image(tmp_path / "lonely.jpg")

    dataset = OpenAlprDataset(tmp_path)
    counts = dataset.skips.counts
    assert counts["image missing"] == 1
    assert counts["malformed row"] == 2
    assert counts["box outside image or without area"] == 1
    assert counts["image without annotation"] == 2  # lonely.jpg, and bad.jpg whose rows all failed
    assert dataset.clipped == 1
    items = {item.image_id: item for item in (dataset[i] for i in range(len(dataset)))}
    assert sorted(items) == ["clip", "ok", "out"]
    assert items["ok"].boxes[PLATE_ID] == [(2.0, 3.0, 12.0, 7.0)]
    assert items["ok"].masks[PLATE_ID].sum() == 40 and items["ok"].ignore is None
    assert items["clip"].boxes[PLATE_ID] == [(30.0, 20.0, 40.0, 30.0)]
    out = items["out"]  # plate known to exist but nowhere usable: labelled, no pixels, all ignored
    assert out.labels == [PLATE_ID] and out.boxes == {} and out.masks == {}
    assert out.ignore is not None and out.ignore.all()
    assert out.extra["plate_text"] == "OUT1"


# ----------------------------------------------------------------------------------------------- SROIE


@pytest.fixture(scope="module")
def real_sroie() -> SroieDataset:
    root = data_root() / "sroie"
    if not (root / "box").is_dir():
        pytest.skip(f"SROIE data not found at {root} (set PRIVOBF_DATA)")
    return SroieDataset(root)


def test_real_sroie_fields_found(real_sroie: SroieDataset) -> None:
    report = field_match_report(real_sroie)
    assert report["receipts"] == len(real_sroie) == 100
    assert report["address"]["found"] >= ADDRESS_FLOOR, report
    assert report["date"]["found"] >= DATE_FLOOR, report
    assert 1.5 <= report["address"]["mean_lines"] <= 6, report  # addresses span several lines


def test_real_sroie_matched_lines_hold_the_date(real_sroie: SroieDataset) -> None:
    for receipt in real_sroie.receipts:
        match = receipt.match["date"]
        if not match.found:
            continue
        year = re.findall(r"\d+", receipt.key["date"])[-1]
        for index in match.lines:
            assert year in receipt.lines[index][1], (receipt.image_id, receipt.lines[index][1])
        assert any(compact(receipt.key["date"]) in compact(receipt.lines[i][1]) for i in match.lines)


def test_real_sroie_item_pixels(real_sroie: SroieDataset) -> None:
    item = real_sroie[0]
    height, width = item.image.shape[:2]
    assert set(item.labels) <= {ADDRESS_ID, DATE_ID} and ADDRESS_ID in item.labels
    address = item.masks[ADDRESS_ID]
    assert address.shape == (height, width) and address.any()
    assert not (address & ~item.extra["text_mask"]).any()  # field pixels are text pixels
    assert len(item.boxes[ADDRESS_ID]) == len(item.extra["match"]["address"]["lines"])
    assert real_sroie.vocabulary_ids == [ADDRESS_ID, DATE_ID]


def test_sroie_row_parsing_keeps_commas_in_transcript() -> None:
    quad, text = parse_box_row("1,2,3,4,5,6,7,8,NO.53 55,57 & 59, JALAN SAGU 18,")
    assert quad == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0)
    assert text == "NO.53 55,57 & 59, JALAN SAGU 18,"
    assert parse_box_row("1,2,3,4,5,6,7,TEXT") is None
    assert parse_box_row("1,2,3,x,5,6,7,8,TEXT") is None


def test_matchers_on_made_up_lines() -> None:
    lines = ["SHOP SDN BHD", "NO 1, JALAN A,", "TAMAN B 81100", "JOHOR.", "TEL 07-1234", "DATE: 01/02/2019 10:00"]
    address = match_address(lines, "NO 1, JALAN A, TAMAN B 81100 JOHOR")
    assert address.lines == [1, 2, 3] and address.score > 0.95
    assert match_address(lines, "99 SOMEWHERE ELSE ROAD, KUALA LUMPUR").lines == []
    date = match_date(lines, "01/02/2019")
    assert date.lines == [5] and date.score == 1.0
    assert match_date(lines, "05/06/2020").lines == []


def _sroie_tree(root: Path) -> None:
    _write_image(root / "img" / "a.jpg", 60, 40)
    box = "\ufeff1,1,50,1,50,9,1,9,ACME SDN BHD\n1,10,50,10,50,19,1,19,12, MAIN ROAD, SMALLTOWN\nbroken row\n"
    box += "1,20,50,20,50,29,1,29,DATE 03/04/2018\n1,30,5,30\n"
    (root / "box").mkdir()
    (root / "box" / "a.csv").write_bytes(box.encode("utf-8"))
    (root / "key").mkdir()
    key = {"company": "ACME SDN BHD", "date": "03/04/2018", "address": "12, MAIN ROAD, SMALLTOWN", "total": "1"}
    (root / "key" / "a.json").write_text(json.dumps(key))
    _write_image(root / "img" / "b.jpg", 60, 40)
    (root / "box" / "b.csv").write_bytes("2,2,40,2,40,12,2,12,CAF\xc9 LUNCH, 2 PAX\n".encode("cp1252"))
    (root / "box" / "c.csv").write_text("1,1,5,1,5,5,1,5,NO IMAGE\n")


def test_sroie_fake_tree(tmp_path: Path) -> None:
    _sroie_tree(tmp_path)
    dataset = build_source("sroie", root=tmp_path)
    assert dataset.skips.counts["malformed box row"] == 2
    assert dataset.skips.counts["key file missing or unreadable"] == 1
    assert dataset.skips.counts["image missing"] == 1
    a, b = dataset[0], dataset[1]
    assert a.labels == [ADDRESS_ID, DATE_ID]
    assert a.extra["match"]["address"]["lines"] == [1] and a.extra["match"]["date"]["lines"] == [2]
    assert a.extra["lines"][0][1] == "ACME SDN BHD"  # BOM stripped
    assert a.boxes[DATE_ID] == [(1.0, 20.0, 50.0, 29.0)]
    assert a.masks[ADDRESS_ID][15, 20] and not a.masks[ADDRESS_ID][25, 20]
    assert a.extra["text_mask"][25, 20]
    assert b.labels == [] and b.extra["lines"][0][1] == "CAF\u00c9 LUNCH, 2 PAX"
    assert field_match_report(dataset)["address"] == {
        "found": 1, "missed": 1, "mean_lines": 1.0, "max_lines": 1, "mean_score_found": 1.0
    }


def test_sroie_rejects_unknown_field(tmp_path: Path) -> None:
    _sroie_tree(tmp_path)
    with pytest.raises(ValueError, match="unknown SROIE field"):
        SroieDataset(tmp_path, fields=("total",))
    assert SroieDataset(tmp_path, fields=("date",)).vocabulary_ids == [DATE_ID]


def test_openalpr_registered(tmp_path: Path) -> None:
    _write_image(tmp_path / "ok.jpg")
    (tmp_path / "ok.txt").write_text("ok.jpg\t2\t3\t10\t4\tOK1\n")
    assert len(build_source("openalpr", root=tmp_path)) == 1

"""Reading in the scanner (issue 18): OCR lines -> recognisers -> word-shaped regions that decide text attributes.

Most tests feed a fake reading provider (lines, words and quads given), so they test privobf's logic, not the
OCR; one test runs the real PP-OCRv6 reader end to end through the CLI and checks that nothing it writes
repeats the hidden text.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from privobf.attributes import vocabulary_from_ids
from privobf.cli import main
from privobf.evidence import FusionConfig, fuse
from privobf.evidence.reading import OcrLine, aligned, contexts, logical_lines, reading_regions
from privobf.priors import PriorResult, PriorSet
from privobf.reading import Word
from privobf.scanning import Scanner

PHONE = "a49_phone"
EMAIL = "a90_email"
FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


def _quad(x0, y0, x1, y1):
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], dtype=np.float64)


def _line(text: str, x0: float, y0: float, char: float = 10.0, height: float = 16.0):
    """A line as a reading provider gives it: text, score, its words with quads (monospaced: `char` px each)."""
    words = []
    position = 0
    for piece in text.split():
        start = text.index(piece, position)
        words.append((piece, _quad(x0 + start * char, y0, x0 + (start + len(piece)) * char, y0 + height)))
        position = start + len(piece)
    return text, _quad(x0, y0, x0 + len(text) * char, y0 + height), words


def _result(lines, size=(200, 400)) -> PriorResult:
    texts = [text for text, _, _ in lines]
    quads = [quad for _, quad, _ in lines]
    boxes = [(q[:, 0].min(), q[:, 1].min(), q[:, 0].max(), q[:, 1].max()) for q in quads]
    return PriorResult(np.zeros(size, np.float32), boxes, [0.99] * len(lines), texts, quads, [w for _, _, w in lines])


class FakeReader:
    """A reading provider that 'reads' the given lines on any photo."""

    name, kind, version, read = "ppocr-v6", "text", "fake-reader-1", True

    def __init__(self, lines):
        self.lines = lines

    def __call__(self, image):
        return _result(self.lines, image.shape[:2])


# ----------------------------------------------------------------------------------------------- lines


def test_ocr_words_are_aligned_with_the_line_text_even_when_the_recogniser_splits_words_its_own_way():
    quads = [_quad(0, 0, 50, 10), _quad(50, 0, 70, 10), _quad(70, 0, 90, 10)]
    line = aligned("AIRFRANCE", list(zip(["AIRFR", "AN", "CE"], quads)), _quad(0, 0, 90, 10))
    assert [(w.start, w.end) for w in line.words] == [(0, 5), (5, 7), (7, 9)]
    # Words that cannot be found in the text: the text's own words, placed along the line in proportion.
    fallback = aligned("ab cd", [("zz", quads[0])], _quad(0, 0, 50, 10))
    assert [w.text for w in fallback.words] == ["ab", "cd"]
    assert fallback.quads[1][:, 0].min() == pytest.approx(30.0) and fallback.quads[1][:, 0].max() == pytest.approx(50.0)


def test_pieces_of_one_printed_row_are_read_as_one_line_and_other_rows_are_not():
    label = OcrLine("DATE:", [Word("DATE:", 0, 5)], [_quad(10, 100, 60, 116)])
    value = OcrLine("25/12/2018", [Word("25/12/2018", 0, 10)], [_quad(120, 101, 220, 117)])
    below = OcrLine("CASHIER:", [Word("CASHIER:", 0, 8)], [_quad(10, 130, 90, 146)])
    joined = logical_lines([value, below, label])
    assert [line.text for line in joined] == ["DATE: 25/12/2018", "CASHIER:"]
    assert [(w.start, w.end) for w in joined[0].words] == [(0, 5), (6, 16)]


def test_a_lines_context_is_its_column_above_and_below_and_whether_it_lies_in_a_plate():
    lines = [OcrLine(text, [Word(text, 0, len(text))], [_quad(10, y, 200, y + 16)])
             for text, y in (("Date of birth", 10), ("12/03/1985", 30), ("far below", 300))]
    found = contexts(lines, plate_boxes=[(0, 25, 250, 50)])
    assert found[1].previous == ["Date of birth"] and found[1].following == [] and found[1].inside == "plate"
    assert found[0].following == ["12/03/1985"] and found[2].previous == []


def test_findings_become_word_shaped_regions_that_hold_no_text():
    result = _result([_line("Tel: +60 12-345 6789", 10, 20), _line("Thank you", 10, 60)])
    regions = reading_regions("ppocr-v6", result)
    assert [(r.kind, r.attribute, r.provider) for r in regions] == [("reading", PHONE, "ppocr-v6/phone")]
    x0, y0, x1, y1 = regions[0].box
    assert x0 == pytest.approx(60, abs=1) and x1 == pytest.approx(210, abs=1)  # the number, not "Tel:"
    assert 20 - 1 <= y0 and y1 <= 36 + 1
    told = json.dumps(regions[0].to_dict()) + repr(regions[0].to_dict())
    assert "6789" not in told and "345" not in told and regions[0].to_dict()["attribute"] == PHONE


# ----------------------------------------------------------------------------------------------- fusion


def test_where_a_photo_was_read_the_words_decide_text_attributes_not_the_classifier_alone():
    vocabulary = vocabulary_from_ids(["a0_safe", PHONE, EMAIL])
    model = np.array([0.1, 0.9, 0.3], np.float32)
    phone = reading_regions("ppocr-v6", _result([_line("Call 020 7946 0958 today", 10, 20)]))
    config = FusionConfig(calibration={})
    unread = fuse(model, [], vocabulary, config, read=False)
    assert unread.probabilities[1] == pytest.approx(0.9) and not unread.read  # nothing read: the classifier decides
    nothing_found = fuse(model, [], vocabulary, config, read=True)
    assert nothing_found.probabilities[1] == pytest.approx(0.45) and nothing_found.read == {PHONE, EMAIL}
    found = fuse(model, phone, vocabulary, config, read=True)
    assert found.probabilities[1] == pytest.approx(1 - (1 - 0.45) * (1 - phone[0].confidence))
    assert found.drawn[PHONE] == [0] and EMAIL not in found.drawn  # a finding is evidence of its own attribute only


def test_the_mask_of_a_read_attribute_is_its_words_or_nothing_never_the_models_map(tiny_model):
    image = np.full((200, 400, 3), 255, np.uint8)
    lines = [_line("Call 020 7946 0958 today", 10, 20), _line("Thank you", 10, 60)]
    scanner = Scanner(tiny_model, prior_set=PriorSet([FakeReader(lines)]), fusion=FusionConfig(calibration={}))
    assert PHONE in scanner.vocabulary and EMAIL in scanner.vocabulary  # grown by what reading can ground
    report = scanner.scan(image)
    assert report.mask_source(PHONE) == "reading" and report.probability(PHONE) >= 0.85
    phone = report.mask(PHONE)
    rows, columns = np.nonzero(phone)
    assert columns.min() >= 60 - 5 and columns.max() <= 190 + 5 and rows.max() <= 36 + 5  # the number, grown a little
    assert phone[20:36, 60:190].all() and not phone[:, :50].any()
    assert not report.mask(EMAIL).any() and report.probability(EMAIL) < 0.5
    listed = report.hidden_regions([PHONE, EMAIL])
    assert [(entry["attribute"], entry["source"], entry["provider"]) for entry in listed] == [
        (PHONE, "reading", "ppocr-v6/phone")]
    no_text = Scanner(tiny_model, prior_set=PriorSet([FakeReader([])]), fusion=FusionConfig(calibration={})).scan(image)
    assert not no_text.mask(PHONE).any() and no_text.probability(PHONE) <= 0.5


def test_a_plan_reads_only_when_it_hides_something_words_say():
    import argparse

    from privobf.priors.options import prior_set_from_arguments

    vocabulary = vocabulary_from_ids(["a0_safe", "a9_face_complete", PHONE, "a103_license_plate_complete"])
    args = argparse.Namespace(priors="on", prior_providers="centerface,ppocr-v6,haar-plate", fusion="evidence")
    assert prior_set_from_arguments(args, hide=(PHONE,), vocabulary=vocabulary).options == {}
    plates = prior_set_from_arguments(args, hide=("a103_license_plate_complete",), vocabulary=vocabulary)
    assert plates.options == {"ppocr-v6": {"read": False}} and "ppocr-v6" in plates.requested
    args.fusion = "paper"
    assert prior_set_from_arguments(args).options == {"ppocr-v6": {"read": False}}


# ----------------------------------------------------------------------------------------------- end to end


def _card(path: Path) -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    """A white card with a phone line and a harmless line; returns the boxes of the number and of the other line."""
    image = Image.new("RGB", (640, 240), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 34)
    draw.text((30, 40), "Tel:", font=font, fill="black")
    number = draw.textbbox((120, 40), "+44 20 7946 0958", font=font)
    draw.text((120, 40), "+44 20 7946 0958", font=font, fill="black")
    other = draw.textbbox((30, 140), "Thank you for visiting", font=font)
    draw.text((30, 140), "Thank you for visiting", font=font, fill="black")
    image.save(path)
    return number, other


def test_real_reading_hides_the_number_keeps_the_rest_and_nothing_written_repeats_it(tmp_path, tiny_model, capsys):
    pytest.importorskip("rapidocr")
    pytest.importorskip("phonenumbers")
    if not FONT.is_file():
        pytest.skip(f"{FONT} is missing")
    photo = tmp_path / "in" / "card.png"
    photo.parent.mkdir()
    number, other = _card(photo)
    out, reports, previews = tmp_path / "out", tmp_path / "reports", tmp_path / "previews"
    code = main(["obfuscate", str(photo), "--model", str(tiny_model), "--prior-providers", "ppocr-v6", "--hide", "phone",
                 "--mode", "mask-only", "--out", str(out), "--reports", str(reports), "--previews", str(previews),
                 "--progress", "off", "--json"])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    mask = np.asarray(Image.open(out / "card.privobf.png").convert("L")) > 127
    x0, y0, x1, y1 = number
    assert mask[y0:y1, x0:x1].mean() > 0.9  # the number's box is hidden
    ox0, oy0, ox1, oy1 = other
    assert mask[oy0:oy1, ox0:ox1].mean() < 0.05  # the harmless line stays readable
    assert mask[y0:y1, 30:100].mean() < 0.3  # and so does the label "Tel:"
    written = captured.out + captured.err + "".join(p.read_text(errors="replace") for p in reports.rglob("*.json"))
    assert "a49_phone" in written and "reading" in written
    assert "Latin script" in written  # the report says what reading understands
    for piece in ("7946", "0958", "+44"):
        assert piece not in written


def test_a_name_found_on_one_line_is_found_wherever_else_the_photo_writes_it():
    from privobf.evidence.reading import names_elsewhere
    from privobf.reading import TextLine, recognize

    texts = ["Rebecca Wright", "Dear Rebecca,", "The parcel for Rebecca Wright arrived", "Thank you"]
    lines = [OcrLine(text, TextLine(text).words, []) for text in texts]
    first = [recognize(text, names=["name-context"]) for text in texts]  # only the salutation finds a name
    assert [bool(findings) for findings in first] == [False, True, False, False]
    grown = names_elsewhere(lines, first)
    spans = [[(f.attribute, f.recognizer, text[f.start:f.end]) for f in findings] for text, findings in zip(texts, grown)]
    assert spans[0] == [("a19_name_full", "name-elsewhere", "Rebecca Wright")]
    assert spans[2] == [("a19_name_full", "name-elsewhere", "Rebecca Wright")] and spans[3] == []


def test_an_address_block_keeps_the_lines_ocr_misread_and_stops_at_labels_and_companies():
    from privobf.evidence.reading import address_blocks
    from privobf.reading import TextLine, recognize

    texts = ["99 SPEED MART S/B", "PAIT", "TAMAN RERKELEY", "41150 KLANG, SELANGOR", "1076-IJOK", "GST ID. NO : 000181747712",
             "THANK YOU"]
    lines = [OcrLine(text, TextLine(text).words, [_quad(100, 20 * k, 300, 20 * k + 16)]) for k, text in enumerate(texts)]
    found = [recognize(text, names=["address"]) for text in texts]
    grown = address_blocks(lines, found)
    hidden = [text for text, findings in zip(texts, grown) if findings]
    assert hidden == ["PAIT", "TAMAN RERKELEY", "41150 KLANG, SELANGOR", "1076-IJOK"]
    apart = [OcrLine(text, TextLine(text).words, [_quad(100, 200 * k, 300, 200 * k + 16)]) for k, text in enumerate(texts)]
    assert [bool(f) for f in address_blocks(apart, found)] == [bool(f) for f in found]  # far apart: no block


def test_a_block_line_is_address_from_end_to_end_and_building_lines_join_the_block():
    from privobf.evidence.reading import address_blocks
    from privobf.reading import TextLine, recognize

    texts = ["(162761-M)", "S117, Second Floor,", "Aeon Tebrau City,", "LOT P.T. 2811, JALAN ANGSA,",
             "IJOK, 45600 BESTARI JAYA,", "Tel: 03-3279 1851, 45600 Ijok", "-INVOICE-"]
    lines = [OcrLine(text, TextLine(text).words, [_quad(100, 20 * k, 300, 20 * k + 16)]) for k, text in enumerate(texts)]
    grown = address_blocks(lines, [recognize(text, names=["address"]) for text in texts])
    spans = [sorted(text[f.start:f.end] for f in findings) for text, findings in zip(texts, grown)]
    assert spans[1] == ["S117, Second Floor,"] and spans[2] == ["Aeon Tebrau City,"]  # building words join
    assert spans[3] == ["LOT P.T. 2811, JALAN ANGSA,"] and spans[4] == ["IJOK, 45600 BESTARI JAYA,"]
    assert spans[0] == [] and spans[6] == []  # a company registration number and a document word stay readable
    assert spans[5] and all(not span.startswith("Tel") for span in spans[5])  # the label is not stretched over


def test_a_textbook_page_and_a_sign_have_nothing_personal_to_hide():
    """scikit-image's `page` (a paragraph about image segmentation) was blacked out as an address, a date and a
    phone number by the classifier alone; read, it says nothing personal (issue 18)."""
    pytest.importorskip("rapidocr")
    from skimage import data

    scanner = Scanner(prior_set=PriorSet())  # the embedded model and the default providers
    for name in ("page", "text"):
        image = getattr(data, name)()
        report = scanner.scan(np.stack([image] * 3, axis=-1) if image.ndim == 2 else image)
        reading = [region for region in report.regions if region.kind == "reading"]
        assert reading == [] and report.present() == [], name
        text_ids = [a for a in report.attribute_ids if report.read(a)]
        assert "a74_address_current_complete" in text_ids and not any(report.mask(a).any() for a in text_ids)
        if name == "page":  # the classifier called it an address by its look; the score follows the reading
            assert report.fused.model_probabilities[report.attribute_ids.index("a74_address_current_complete")] >= 0.5
            assert any("reading decided" in note for note in report.notes) and report.privacy_score < 0.5


def test_hiding_text_with_nothing_that_reads_says_so(tmp_path, tiny_model, capsys):
    photo = tmp_path / "p.png"
    Image.fromarray(np.full((48, 64, 3), 255, np.uint8)).save(photo)
    code = main(["obfuscate", str(photo), "--model", str(tiny_model), "--priors", "off", "--hide", "a90_email,face",
                 "--out", str(tmp_path / "o"), "--progress", "off"])
    err = capsys.readouterr().err
    assert code == 0 and "nothing reads the text (--priors off): a90_email fall back" in err
    assert "a90_email cannot be found without reading" in err


def test_a_read_card_number_supports_the_card_without_deciding_it_and_the_mask_keeps_the_models_map(tiny_model):
    vocabulary = vocabulary_from_ids(["a0_safe", "a30_credit_card", PHONE])
    card = reading_regions("ppocr-v6", _result([_line("4111 1111 1111 1111", 10, 20)]))
    assert [region.attribute for region in card] == ["a30_credit_card"]
    model = np.array([0.1, 0.6, 0.9], np.float32)
    fused = fuse(model, card, vocabulary, FusionConfig(calibration={}), read=True)
    assert fused.read == {PHONE}  # the card is not decided by reading alone
    assert fused.probabilities[1] == pytest.approx(1 - (1 - 0.6) * (1 - card[0].confidence))  # full model weight
    unread_card = fuse(model, [], vocabulary, FusionConfig(calibration={}), read=True)
    assert unread_card.probabilities[1] == pytest.approx(0.6)  # nothing read on it: the classifier's as before


def test_a_cards_mask_is_the_read_number_joined_with_the_models_map(tiny_model):
    image = np.full((200, 400, 3), 255, np.uint8)
    scanner = Scanner(tiny_model, prior_set=PriorSet([FakeReader([_line("4111 1111 1111 1111", 10, 20)])]),
                      fusion=FusionConfig(calibration={}))
    report = scanner.scan(image)
    card = "a30_credit_card"
    assert report.mask_source(card) == "reading" and not report.read(card)  # read words support it, not decide it
    words = report.fusion.draw(report.supporting(card), report.image_size)
    model_map = report._weighted_map(card) >= report.mask_threshold
    assert np.array_equal(report.mask(card), words | model_map) and words.any()

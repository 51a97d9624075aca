"""Documents and screens from all of a photo's lines (issue 19, sources 3 and 4): each rule with pages that say
it and look-alikes that must not, and the whole-page region around them."""

from __future__ import annotations

import numpy as np
import pytest

from privobf.attributes import vocabulary_from_ids
from privobf.evidence import FusionConfig, fuse
from privobf.evidence.layouts import is_layout, layout_regions, page_lines
from privobf.evidence.reading import OcrLine
from privobf.reading import Finding, TextLine
from privobf.reading.layouts import LAYOUTS, find_layouts, layout_attributes

PAGES = {
    "a31_passport": ["PASSPORT", "REPUBLIC OF UTOPIA", "Surname", "ERIKSSON"],
    "a29_ausweis": ["NATIONAL ID CARD", "Name: Tan Wei", "Date of birth: 01/02/1990"],
    "a32_drivers_license": ["DRIVER LICENSE", "CLASS C", "DOB 01/02/1990"],
    "a33_student_id": ["University of Westbridge", "STUDENT CARD", "Name: Ana Lopez"],
    "a35_mail": ["12 Green Lane", "Dear Ms Lopez,", "Thank you for your letter.", "Yours sincerely,", "John Smith"],
    "a37_receipt": ["FRESH MART", "Bread 2.50", "Milk 3.10", "TOTAL 5.60", "CASH 10.00", "CHANGE 4.40"],
    "a38_ticket": ["BOARDING PASS", "Flight BA 117", "Gate 22", "Seat 14C"],
    "a92_email_content": ["From: Ana Lopez", "To: John Smith", "Subject: Friday", "See you at 7."],
    "a97_online_conversation": ["Ana", "online", "Running late, sorry!", "09:12", "No problem", "09:13",
                                "See you at the station", "09:15", "Type a message"],
    "a43_medicine": ["AMOXICILLIN 500 mg", "Take one capsule three times a day", "City Pharmacy"],
    "a99_legal_involvement": ["IN THE DISTRICT COURT", "Case No. 2021-118", "Plaintiff: ACME Ltd", "Defendant: J. Doe"],
}
LOOKALIKES = [
    ["Return this form with a copy of your identity card and passport photo.", "Name:", "Passport No: X1234567"],
    ["PRICE LIST", "Coffee 2.50", "Tea 2.00", "Cake 3.20"],  # prices without totals
    ["GARAGE SALE", "Tickets for the raffle at the door", "Saturday 10:00"],  # a notice mentioning tickets
    ["I said dear me, what a day", "Regards to your mother"],  # "dear" inside a sentence, no closing alone
    ["From: the editors", "A note on style"],  # one header line
    ["TIMETABLE", "08:15", "09:15", "10:15", "11:15"],  # times without messages or chat words
    ["12 Green Lane", "Springfield", "IL 62704"],  # an address block alone
    ["Students are welcome at the school fair", "Saturday"],  # students, no student card
    ["Vitamin C 500 mg"],  # a dose with no instruction
    ["The court is behind the town hall"],  # one legal word
]


@pytest.mark.parametrize("attribute,texts", sorted(PAGES.items()))
def test_each_page_kind_is_said_by_its_own_rule_only(attribute, texts):
    found = find_layouts(texts)
    assert [claim.attribute for claim in found] == [attribute]
    assert found[0].lines and all(0 <= k < len(texts) for k in found[0].lines)


@pytest.mark.parametrize("texts", LOOKALIKES)
def test_lookalikes_are_no_document(texts):
    assert find_layouts(texts) == []


def test_card_numbers_and_mrz_lines_count_through_their_recognisers_only():
    card = ["Harbour Bank", "4111 1111 1111 1111", "VALID THRU 10/27", "TAN WEI"]
    number = [[], [Finding("a30_credit_card", "card", 0.9, 0, 19)], [], []]
    assert [c.attribute for c in find_layouts(card, number)] == ["a30_credit_card"]
    assert find_layouts(card) == []  # no Luhn-valid number found: no card
    form = ["Card number: 4111 1111 1111 1111", "Expiry: 10/27"]
    assert find_layouts(form, [[Finding("a30_credit_card", "card", 0.9, 13, 32)], []]) == []  # no card word
    labelled = [[Finding("a31_passport", "id-number", 0.85, 13, 21)]]
    assert find_layouts(["Passport No: X1234567"], labelled) == []  # a form's field, not a passport
    paid = ["FRESH MART", "TOTAL 5.60", "VISA 4111 1111 1111 1111", "CHANGE 0.00", "Bread 2.50", "Milk 3.10"]
    receipt_number = [[], [], [Finding("a30_credit_card", "card", 0.9, 5, 24)], [], [], []]
    assert [c.attribute for c in find_layouts(paid, receipt_number)] == ["a37_receipt"]  # paid by card: a receipt
    zone = [[Finding("a31_passport", "mrz", 0.95, 0, 44)]]
    assert [c.attribute for c in find_layouts(["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"], zone)] == ["a31_passport"]


def test_an_envelope_is_mail_and_a_business_card_or_form_is_not():
    name = Finding("a19_name_full", "name-ner", 0.65, 0, 12)
    address = Finding("a74_address_current_complete", "address", 0.85, 0, 10)
    phone = Finding("a49_phone", "phone", 0.95, 5, 17)
    envelope = ["Ingrid Brown", "Apt 34, 96 Lake Avenue", "Austin, TX 31854", "USA"]
    found = [[name], [address], [address], []]
    assert [(c.attribute, c.lines) for c in find_layouts(envelope, found)] == [("a35_mail", (0, 1, 2))]
    card = ["Ingrid Brown", "12 Lake Avenue", "Austin, TX 31854", "Tel: 555-123-4567"]
    assert find_layouts(card, [[name], [address], [address], [phone]]) == []  # contact details: a card
    form = ["Name: Ingrid Brown", "Address: 12 Lake Avenue", "Austin, TX 31854"]
    assert find_layouts(form, [[name], [address], [address]]) == []  # labelled fields: a form
    assert find_layouts(envelope[:2], found[:2]) == []  # one address line is not an address block


def test_every_layout_attribute_is_in_the_scanner_vocabulary_and_has_a_confidence():
    from privobf.evidence.links import readable_ids
    from privobf.reading import CONFIDENCE

    assert set(layout_attributes()) <= readable_ids()
    assert all(f"layout.{name}" in CONFIDENCE for name, _ in LAYOUTS.values())


def _line(text, x, y, height=16):
    words = TextLine(text).words
    width = 9 * len(text)
    quad = np.array([[x, y], [x + width, y], [x + width, y + height], [x, y + height]], float)
    from privobf.evidence.reading import quad_part

    return OcrLine(text, words, [quad_part(quad, w.start, w.end, len(text)) for w in words])


def test_the_page_region_encloses_the_documents_lines_and_leaves_a_far_sign_out():
    texts = PAGES["a37_receipt"]
    lines = [_line(text, 100, 100 + 22 * k) for k, text in enumerate(texts)] + [_line("EXIT", 900, 40)]
    assert page_lines(lines, [3]) == list(range(len(texts)))  # chained line to line; the sign is far
    (region,) = layout_regions("ppocr-v6", lines, find_layouts([line.text for line in lines]), "reading")
    assert is_layout(region) and region.attribute == "a37_receipt" and region.provider == "ppocr-v6/layout-receipt"
    drawn = region.raster((700, 1100))
    for line in lines[:-1]:
        x0, y0, x1, y1 = (int(v) for v in line.box)
        assert drawn[y0:y1, x0:x1].all()
    x0, y0, x1, y1 = (int(v) for v in lines[-1].box)
    assert not drawn[y0:y1, x0:x1].any()
    assert set(region.to_dict()) == {"kind", "provider", "box", "confidence", "shape", "attribute"}  # never the text


def test_a_page_decides_its_attribute_and_is_drawn_without_a_word_margin():
    lines = [_line(text, 100, 100 + 22 * k) for k, text in enumerate(PAGES["a97_online_conversation"])]
    regions = layout_regions("ppocr-v6", lines, find_layouts([line.text for line in lines]), "reading")
    vocabulary = vocabulary_from_ids(["a0_safe", "a97_online_conversation"])
    config = FusionConfig(calibration={})
    fused = fuse(np.array([0.2, 0.0], np.float32), regions, vocabulary, config, read=True)
    # a screen is decided by its look too (design decision 51): joined with the model, not read alone
    assert "a97_online_conversation" in fused.joined and fused.probabilities[1] == pytest.approx(0.75)
    assert config.margin(regions[0], (700, 1100)) == 0
    assert np.array_equal(config.draw(regions, (700, 1100)), regions[0].raster((700, 1100)))


def test_on_a_chat_screen_the_contact_and_the_senders_are_names_and_messages_are_not():
    from privobf.evidence.reading import chat_names

    texts = ["14:22", "Ong Chee Keong", "last seen today at 14:02", "Running late, sorry!", "09:12",
             "Siew Lan", "Sounds Good To Me", "09:13", "Happy", "Type a message"]
    lines = [_line(text, 100, 100 + 22 * k) for k, text in enumerate(texts)]
    found = [[] for _ in texts]
    claims = find_layouts(texts, found)
    assert [claim.attribute for claim in claims] == ["a97_online_conversation"]
    named = chat_names(lines, found, claims)
    spans = {texts[k]: [(f.attribute, f.recognizer) for f in findings] for k, findings in enumerate(named) if findings}
    assert spans == {"Ong Chee Keong": [("a19_name_full", "name-chat")], "Siew Lan": [("a19_name_full", "name-chat")]}
    letter = ["Ong Chee Keong", "last seen today at 14:02"]  # not a chat screen: nothing said about the line
    assert chat_names(lines[:2], [[], []], find_layouts(letter)) == [[], []]


def test_a_document_the_model_sees_on_a_page_whose_words_say_otherwise_counts_half():
    """scikit-image's textbook page looked like a receipt to the model (0.89); read, none of its lines says
    receipt. Where reading read enough lines and none says the type, the look counts at model_weight_read."""
    vocabulary = vocabulary_from_ids(["a0_safe", "a37_receipt", "a97_online_conversation"])
    config = FusionConfig(calibration={})
    model = np.array([0.1, 0.9, 0.8], np.float32)
    legible = fuse(model, [], vocabulary, config, read=True, read_lines=config.legible_lines)
    assert legible.probabilities[1:] == pytest.approx([0.45, 0.4])
    for few, read in ((config.legible_lines - 1, True), (40, False)):  # little read, or nothing read: the look decides
        assert fuse(model, [], vocabulary, config, read=read, read_lines=few).probabilities[1:] == pytest.approx([0.9, 0.8])


def test_a_page_found_by_the_model_is_drawn_as_rectangles_around_its_map():
    from privobf.evidence.layouts import page_rectangles

    mask = np.zeros((60, 80), bool)
    mask[10:40, 10:20] = True
    mask[30:40, 10:50] = True  # an L: the part of a card its map lit up
    mask[50:55, 70:75] = True  # a second part, apart
    filled = page_rectangles(mask)
    assert filled[10:40, 10:50].all() and filled[50:55, 70:75].all()
    assert not filled[0:8].any() and not filled[45:50].any() and (filled | ~mask).all()

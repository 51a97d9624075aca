"""What kind of document or screen a photo's text belongs to, from all its lines together (issue 19, sources 3-4).

A recogniser (`recognizers.py`) judges one line; a passport, a receipt, a letter or a chat is said by the
page as a whole: a heading ("PASSPORT", "BOARDING PASS"), a set of words that only go together on one kind of
page ("TOTAL", "CASH", "CHANGE" and prices), a layout (a salutation and a closing; a name above an address
block with no contact details, as envelopes are addressed; "From:" / "To:" /
"Subject:"; messages stamped with times above "Type a message"). Each rule of `LAYOUTS` reads the photo's
lines (and what the line recognisers found on them) and returns the lines that say so; the caller
(`privobf.evidence.layouts`) turns those into the region of the whole document around them.

Rules are keyword and count rules written from what such documents print (English first, with the German,
French, Malay and Spanish words of the same headings); they were checked on the seed-1 document photos of
`benchmarks/document_photos.py` and SROIE train receipts, and are measured on the seed-0 photos and SROIE val
(`benchmarks/reading_documents.py`). Confidences are hand-set like the recognisers' (`CONFIDENCE`).

Document titles count on short lines only (`HEADING_WORDS`): "a copy of your identity card" in a form's
sentence is not an identity card. Look-alikes that must not fire: a price list without totals, a notice that
mentions "tickets", a sentence with "Dear" inside it, one "From:" line, a timetable of times without
messages, an address block alone, a form's "Passport No:" or "Card number:" field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from .confidence import CONFIDENCE
from .types import Finding


@dataclass(frozen=True)
class LayoutFinding:
    """A page-level claim: the photo shows `attribute`, said by `lines` (indices of the photo's lines)."""

    attribute: str
    rule: str
    confidence: float
    lines: tuple[int, ...]


LayoutRule = Callable[[Sequence[str], Sequence[Sequence[Finding]]], tuple[int, ...]]


def _words(alternatives: str) -> re.Pattern[str]:
    """Any of the `alternatives` (a regex alternation) as whole words, any case."""
    return re.compile(rf"(?i)(?<![^\W\d_])(?:{alternatives})(?![^\W\d_])")


HEADING_WORDS = 6  # a document's title is a short line; "bring your identity card" in a sentence is not one


def _matching(texts: Sequence[str], pattern: re.Pattern[str]) -> tuple[int, ...]:
    return tuple(k for k, text in enumerate(texts) if pattern.search(text))


def _headings(texts: Sequence[str], pattern: re.Pattern[str]) -> tuple[int, ...]:
    return tuple(k for k in _matching(texts, pattern) if len(texts[k].split()) <= HEADING_WORDS)


# The heading, not the label of a passport number that ID cards and forms print ("Passport No:").
_PASSPORT = re.compile(r"(?i)(?<![^\W\d_])(?:passport|passeport|reisepass|pasaporte|pasport|passaporto)(?![^\W\d_])"
                       r"(?!\s*(?:no\b|number|nr\b|#|n°|num\b))")
_ID_CARD = _words(
    r"identity\s+card|national\s+id(?:entity)?(?:\s+card)?|id\s+card|identification\s+card|"
    r"resident(?:'?s)?\s+card|personalausweis|carte\s+(?:nationale\s+)?d'identit[ée]|mykad|kad\s+pengenalan|"
    r"documento\s+nacional\s+de\s+identidad"
)
_CARD_WORDS = _words(
    r"valid\s+(?:thru|through|from)|good\s+thru|debit|credit|visa|mastercard|"
    r"maestro|amex|american\s+express|platinum|bank|cardholder|contactless"
)
_LICENCE = _words(
    r"driv(?:er'?s?|ing)\s+licen[cs]e|f[üu]hrerschein|permis\s+de\s+conduire|lesen\s+memandu|"
    r"licencia\s+de\s+conducir"
)
_STUDENT_CARD = _words(
    r"student\s*(?:id|card|no|number|pass)|(?:id|kad|kad\s+matrik)\s+pelajar|studierendenausweis|"
    r"carte\s+d'[ée]tudiant|carnet\s+de\s+estudiante|matric(?:ulation)?\s+(?:no|number|card)"
)
_SALUTATION = re.compile(r"(?i)^\s*(?:dear|hello|hi|to\s+whom\s+it\s+may\s+concern|sehr\s+geehrte[rs]?|liebe[rs]?)\b")
_CLOSING = re.compile(
    r"(?i)^\s*(?:yours\s+(?:sincerely|faithfully|truly)|sincerely|kind\s+regards|best\s+regards|regards|"
    r"best\s+wishes|warm\s+regards|mit\s+freundlichen\s+gr[üu](?:ß|ss)en|cordialement)\b[\s,.!]*$"
)
_RECEIPT_WORDS = _words(
    r"sub\s*-?\s*total|total|cash|change|tax\s+invoice|receipt|gst|sst|vat|qty|rounding|"
    r"amount\s+due|balance\s+due|tendered|tender|cashier|invoice|payment|paid"
)
_PRICE = re.compile(r"(?<![\d.,])\d{1,6}[.,]\d{2}(?![\d.,%])")
_TICKET = _words(
    r"boarding\s+pass|e-?ticket|ticket|admit\s+one|seat|gate|flight|platform|coach|carriage|"
    r"passenger|departure|departs|arrival|boarding|row|zone|valid\s+for\s+one\s+journey"
)
_EMAIL_HEADER = re.compile(r"(?i)^\s*(from|to|cc|bcc|subject|sent|date|reply-to)\s*:")
_CHAT_WORDS = re.compile(
    r"(?i)(?:type\s+a\s+message|^\s*online\s*$|last\s+seen|\bparticipants\b|\btyping\b|^\s*(?:delivered|seen|read)\s*$|"
    r"^\s*imessage\b|^\s*(?:today|yesterday)\s*$|\bsend\s+a\s+message\b)"
)
_LONE_TIME = re.compile(r"(?i)^\s*(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?[ap]\.?m\.?)?\s*(?:[✓✔√]+)?\s*$")
_MESSAGE_TIME = re.compile(r"(?i)(?:[01]?\d|2[0-3]):[0-5]\d(?:\s?[ap]\.?m\.?)?\s*$")
_MEDICINE_DOSE = re.compile(r"(?i)(?<![^\W\d_])\d+(?:[.,]\d+)?\s?(?:mg|mcg|µg|ml|iu)(?![^\W\d_])")
_MEDICINE_WORDS = _words(
    r"tablets?|capsules?|take|dose|dosage|daily|twice|times\s+a\s+day|rx|prescription|"
    r"prescribed|pharmacy|pharmacist|refills?|by\s+mouth|before\s+meals|after\s+meals"
)
_LEGAL_WORDS = _words(
    r"court|plaintiff|defendant|summons|subpoena|warrant|case\s+no|claimant|respondent|"
    r"magistrate|verdict|judgment|judgement|lawsuit|attorney|solicitors?|hearing|sentenced|bail|writ"
)


def passport(texts, found):
    """A "PASSPORT" heading, or a passport's machine-readable zone (not a "Passport No:" field of a form)."""
    said = _headings(texts, _PASSPORT)
    mrz = tuple(k for k, findings in enumerate(found)
                if any(f.attribute == "a31_passport" and f.recognizer == "mrz" for f in findings))
    return tuple(sorted(set(said) | set(mrz)))


def bank_card(texts, found):
    """A payment card's number (Luhn, `documents.CardRecognizer`) with a card word: "VALID THRU", a network, a
    bank, "DEBIT", … (a form's "Card number:" field is not a card)."""
    numbers = tuple(k for k, findings in enumerate(found) if any(f.attribute == "a30_credit_card" for f in findings))
    words = _matching(texts, _CARD_WORDS)
    return tuple(sorted(set(numbers) | set(words))) if numbers and words else ()


def id_card(texts, found):
    """An identity card's title ("IDENTITY CARD", "Personalausweis", "MyKad", …) on a short line."""
    return _headings(texts, _ID_CARD)


def drivers_licence(texts, found):
    """A driving licence's title on a short line."""
    return _headings(texts, _LICENCE)


def student_id(texts, found):
    """"STUDENT CARD", "Student ID", "Kad Pelajar", … on a short line (a notice saying "students" is not one)."""
    return _headings(texts, _STUDENT_CARD)


def letter(texts, found):
    """A salutation at the start of a line and a closing alone on its line, the closing below."""
    salutations = _matching(texts, _SALUTATION)
    closings = _matching(texts, _CLOSING)
    if salutations and closings and max(closings) > min(salutations):
        return (min(salutations), max(closings))
    return ()


NAME_IDS = frozenset({"a19_name_full", "a20_name_first", "a21_name_last"})
ADDRESS_IDS = frozenset({"a74_address_current_complete", "a75_address_current_partial", "a78_address_home_complete",
                         "a79_address_home_partial"})
CONTACT_IDS = frozenset({"a49_phone", "a90_email"})


def envelope(texts, found):
    """An addressed envelope or parcel label: a name alone on its line right above two or more address lines,
    none of them a labelled field (a form's "Name:" / "Address:"), on a photo without a phone number or an
    e-mail address (a business card's name and address come with them)."""
    if any(f.attribute in CONTACT_IDS for findings in found for f in findings):
        return ()
    def unlabelled(k: int, ids: frozenset[str]) -> bool:
        return ":" not in texts[k] and any(f.attribute in ids for f in found[k])
    for k in range(len(texts) - 2):
        if not unlabelled(k, NAME_IDS):
            continue
        block = []
        for j in range(k + 1, len(texts)):
            if not unlabelled(j, ADDRESS_IDS):
                break
            block.append(j)
        if len(block) >= 2:
            return (k, *block)
    return ()


def mail(texts, found):
    """A letter (`letter`) or an addressed envelope (`envelope`)."""
    return letter(texts, found) or envelope(texts, found)


def receipt(texts, found):
    """Two or more different receipt words and three or more prices."""
    words = {re.sub(r"\W+", "", m.group(0).lower()) for text in texts for m in _RECEIPT_WORDS.finditer(text)}
    prices = [k for k, text in enumerate(texts) if _PRICE.search(text)]
    if len(words) >= 2 and len(prices) >= 3:
        return tuple(sorted(set(_matching(texts, _RECEIPT_WORDS)) | set(prices)))
    return ()


def ticket(texts, found):
    """"BOARDING PASS" or "TICKET" with two more travel words (seat, gate, flight, platform, …)."""
    words = {re.sub(r"\W+", "", m.group(0).lower()) for text in texts for m in _TICKET.finditer(text)}
    heading = {w for w in words if w in ("boardingpass", "ticket", "eticket", "admitone")}
    if heading and len(words - heading) >= 2:
        return _matching(texts, _TICKET)
    return ()


def email_content(texts, found):
    """An e-mail's header: a "Subject:" and a "From:" or "To:" at the start of lines."""
    labels = {k: m.group(1).lower() for k, text in enumerate(texts) if (m := _EMAIL_HEADER.match(text))}
    names = set(labels.values())
    if "subject" in names and names & {"from", "to"}:
        return tuple(labels)
    return ()


def conversation(texts, found):
    """A chat screen: three or more messages stamped with a time (a time alone on its line, or ending a
    message line), with a chat word ("Type a message", "online", "last seen", …) or five stamped messages."""
    stamped = tuple(k for k, text in enumerate(texts) if _LONE_TIME.match(text) or (
        _MESSAGE_TIME.search(text) and len(text.split()) >= 3 and not _EMAIL_HEADER.match(text)))
    chat_words = _matching(texts, _CHAT_WORDS)
    if len(stamped) >= 3 and (chat_words or len(stamped) >= 5):
        return tuple(sorted(set(stamped) | set(chat_words)))
    return ()


def medicine(texts, found):
    """A medicine label or prescription: a dose ("500 mg") and an instruction or pharmacy word."""
    doses = _matching(texts, _MEDICINE_DOSE)
    words = _matching(texts, _MEDICINE_WORDS)
    return tuple(sorted(set(doses) | set(words))) if doses and words else ()


def legal(texts, found):
    """Court papers: three or more different legal words ("court", "plaintiff", "case no", …)."""
    words = {m.group(0).lower() for text in texts for m in _LEGAL_WORDS.finditer(text)}
    return _matching(texts, _LEGAL_WORDS) if len(words) >= 3 else ()


# attribute -> (rule name, rule): one registry, the order in which they are tried.
LAYOUTS: dict[str, tuple[str, LayoutRule]] = {
    "a31_passport": ("passport", passport),
    "a29_ausweis": ("id-card", id_card),
    "a32_drivers_license": ("drivers-licence", drivers_licence),
    "a30_credit_card": ("bank-card", bank_card),
    "a33_student_id": ("student-id", student_id),
    "a35_mail": ("mail", mail),
    "a37_receipt": ("receipt", receipt),
    "a38_ticket": ("ticket", ticket),
    "a92_email_content": ("email-header", email_content),
    "a97_online_conversation": ("chat", conversation),
    "a43_medicine": ("medicine-label", medicine),
    "a99_legal_involvement": ("court-papers", legal),
}


# A page that is one of these is not also the other: a receipt or ticket paid by card prints the card's number
# and "VISA" (the number stays `a30_credit_card` evidence through its recogniser, but the page is a receipt), and
# a receipt may print a name above the shop's address, as an envelope would.
NOT_ALSO: dict[str, tuple[str, ...]] = {"a30_credit_card": ("a37_receipt", "a38_ticket"), "a35_mail": ("a37_receipt",)}


def layout_attributes() -> tuple[str, ...]:
    return tuple(sorted(LAYOUTS))


def find_layouts(texts: Sequence[str], found: Sequence[Sequence[Finding]] | None = None) -> list[LayoutFinding]:
    """Every page-level attribute the photo's lines (in reading order) say, with the lines that say it."""
    found = found if found is not None else [[] for _ in texts]
    result = []
    for attribute, (name, rule) in LAYOUTS.items():
        lines = rule(texts, found)
        if lines:
            result.append(LayoutFinding(attribute, name, CONFIDENCE[f"layout.{name}"], tuple(lines)))
    said = {claim.attribute for claim in result}
    return [claim for claim in result if not set(NOT_ALSO.get(claim.attribute, ())) & said]

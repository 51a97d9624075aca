"""Numbers that identify a person's documents: payment cards, passports and ID cards (MRZ and labelled numbers),
and the characters of a licence plate.

Decided where issue 18 left it open:
- Cards: 16-19 digits need the Luhn check and a plausible issuer prefix (4, 51-55, 2221-2720, 34/37, 36/38/39,
  300-305, 35, 6); 13-15 digits (old Visa, Amex, Diners) also need card grouping (4-6-5, 4-6-4, 4-4-4-x) or card
  context on the line ("Visa", "Card No" ...), because a Luhn-valid 13-digit EAN barcode is far more common on a
  receipt than a 13-digit card. An item / SKU / barcode label before the number vetoes it. A masked number
  ("**** **** **** 1234", "XXXXXXXXXXXX1234") is reported at a low confidence: the last four digits and the
  card's presence are still private.
- MRZ: a TD3 (passport) line is `a31_passport`; TD1 / TD2 lines are `a29_ausweis` unless their document code
  (first character of the first line, read from the context) is P or V (a visa sits in a passport).
- A plate string is reported only inside a plate region (`context.inside == "plate"`): outside one, a short mix
  of letters and digits is far more often a code than a plate, and plates are found by the detectors.
"""

from __future__ import annotations

import re

from .contact import gs1_valid
from .recognizers import BaseRecognizer, register_recognizer
from .types import Finding, ReadingContext

# ---------------------------------------------------------------------------------------------------- cards

_CARD_RUN = re.compile(r"(?<![\w-])\d(?:[ -]?\d){12,18}(?![\d])")
_CARD_GROUPS = {(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1), (4, 4, 4, 2), (4, 4, 4, 3), (4, 4, 5)}
_CARD_CONTEXT = re.compile(
    r"(?i)(?<![A-Za-z])(?:card|visa|master\s*card|mastercard|amex|american\s+express|discover|diners|jcb|"
    r"union\s*pay|maestro|credit|debit|cc|pan|kad)(?![A-Za-z])"
)
_CARD_VETO = re.compile(
    r"(?i)(?<![A-Za-z])(?:sku|item|barcode|bar\s*code|ean|upc|gtin|isbn|plu|art(?:icle)?|product|order|tracking|"
    r"awb|invoice|inv|ref(?:erence)?|serial|imei|iccid|sim|account|acct|a/c|policy|member(?:ship)?)(?![A-Za-z])"
)
_MASKED_CARD = re.compile(r"(?<![\w*•#])(?:[X*•#x]{4}[ -]?){3}\d{4}(?![\d])|(?<![\w*•#])[X*•#x]{12}\d{4}(?![\d])")


def luhn_valid(digits: str) -> bool:
    total = 0
    for i, d in enumerate(reversed(digits)):
        n = int(d)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def plausible_iin(digits: str) -> bool:
    """The issuer prefix and length of a payment card network."""
    n = len(digits)
    if digits[0] == "4":
        return n in (13, 16, 19)
    if 51 <= int(digits[:2]) <= 55 or 2221 <= int(digits[:4]) <= 2720:
        return n == 16
    if digits[:2] in ("34", "37"):
        return n == 15
    if digits[:2] in ("36", "38", "39") or 300 <= int(digits[:3]) <= 305:
        return 14 <= n <= 19
    if digits[:2] == "35":
        return 16 <= n <= 19
    if digits[0] == "6":
        return 16 <= n <= 19
    return False


@register_recognizer("card")
class CardRecognizer(BaseRecognizer):
    """a30_credit_card: Luhn-valid numbers with a card network's prefix and length (see the module docstring)."""

    attributes = ("a30_credit_card",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        findings = []
        has_context = bool(_CARD_CONTEXT.search(text)) or bool(_CARD_CONTEXT.search(context.line_above))
        for m in _CARD_RUN.finditer(text):
            raw = m.group()
            digits = re.sub(r"\D", "", raw)
            if not 13 <= len(digits) <= 19 or not luhn_valid(digits) or not plausible_iin(digits):
                continue
            if _CARD_VETO.search(text[: m.start()]):
                continue
            groups = tuple(len(g) for g in re.split(r"[ -]", raw))
            grouped = len(groups) > 1 and groups in _CARD_GROUPS
            if len(groups) > 1 and not grouped:
                continue  # digits of several numbers run together ("4111 11 ...")
            if len(digits) < 16 and not (grouped or has_context):
                continue
            if len(digits) in (13, 14) and gs1_valid(digits) and not has_context:
                continue
            evidence = "card.grouped" if grouped or has_context else "card.plain"
            findings.append(self.finding("a30_credit_card", evidence, m.start(), m.end()))
        for m in _MASKED_CARD.finditer(text):
            findings.append(self.finding("a30_credit_card", "card.masked", m.start(), m.end()))
        return findings


# ------------------------------------------------------------------------------------------- MRZ (ICAO 9303)

_MRZ_CHARS = re.compile(r"^[A-Z0-9<]+$")
_NAME_FIELD = re.compile(r"^[A-Z]+(?:<[A-Z]+)*(?:<<[A-Z]+(?:<[A-Z]+)*)?<*$")


def mrz_check_digit(field: str) -> int:
    """ICAO 9303 check digit: character values (0-9, A=10 ... Z=35, < = 0) weighted 7, 3, 1, modulo 10."""
    total = 0
    for i, ch in enumerate(field):
        value = int(ch) if ch.isdigit() else ord(ch) - 55 if "A" <= ch <= "Z" else 0
        total += value * (7, 3, 1)[i % 3]
    return total % 10


def _check(field: str, digit: str) -> bool:
    if digit == "<":
        return set(field) <= {"<"}
    return digit.isdigit() and mrz_check_digit(field) == int(digit)


def _yymmdd(value: str) -> bool:
    return value.isdigit() and 1 <= int(value[2:4]) <= 12 and 1 <= int(value[4:6]) <= 31


def normalise_mrz(text: str) -> str:
    """Upper case without spaces; OCR's guillemets read back as fillers."""
    return re.sub(r"\s+", "", text.upper()).replace("«", "<<").replace("‹", "<")


def _is_mrz(line: str) -> bool:
    return 28 <= len(line) <= 46 and bool(_MRZ_CHARS.match(line)) and "<" in line


def _data_line_ok(line: str) -> bool:
    """Line 2 of TD3 (44) or TD2 (36): document number, birth date and expiry with their check digits, and the
    composite check digit where the length is exact."""
    if len(line) < 32:
        return False
    ok = (
        _check(line[0:9], line[9])
        and _yymmdd(line[13:19]) and _check(line[13:19], line[19])
        and line[20] in "MFX<"
        and _yymmdd(line[21:27]) and _check(line[21:27], line[27])
        and (line[10:13].replace("<", "").isalpha() or line[10:13] == "<<<")
    )
    if not ok:
        return False
    if len(line) == 44:
        return _check(line[28:42], line[42]) and _check(line[0:10] + line[13:20] + line[21:43], line[43])
    if len(line) == 36:
        return _check(line[0:10] + line[13:20] + line[21:35], line[35])
    return 40 <= len(line) <= 46 or 34 <= len(line) <= 38  # trailing fillers miscounted by OCR


def _names_line(line: str, with_header: bool) -> bool:
    """Line 1 of TD3 / TD2 (document code, issuer, names) or line 3 of TD1 (names only)."""
    if with_header:
        if len(line) < 30 or line[0] not in "PIACV" or not re.match(r"^[A-Z][A-Z<][A-Z][A-Z<]{2}", line):
            return False
        names = line[5:]
    else:
        names = line
    return "<<" in names.strip("<") and bool(_NAME_FIELD.match(names)) and sum(ch.isalpha() for ch in names) >= 2


def _td1_line1_ok(line: str) -> bool:
    return len(line) == 30 and line[0] in "IAC" and bool(re.match(r"^[A-Z][A-Z<][A-Z][A-Z<]{2}", line)) and _check(
        line[5:14], line[14]
    )


def _td1_line2_ok(line: str) -> bool:
    return (
        len(line) == 30
        and _yymmdd(line[0:6]) and _check(line[0:6], line[6])
        and line[7] in "MFX<"
        and _yymmdd(line[8:14]) and _check(line[8:14], line[14])
    )


def _td1_composite(line1: str, line2: str) -> bool:
    return _check(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29], line2[29])


def _document_attribute(code: str | None, length: int) -> str:
    if code in ("P", "V"):
        return "a31_passport"
    if code in ("I", "A", "C"):
        return "a29_ausweis"
    return "a31_passport" if length >= 40 else "a29_ausweis"


@register_recognizer("mrz")
class MrzRecognizer(BaseRecognizer):
    """a31_passport / a29_ausweis: lines of an ICAO 9303 machine-readable zone (TD3 2x44, TD2 2x36, TD1 3x30)
    whose check digits hold; a names line counts when the data line next to it verifies."""

    attributes = ("a31_passport", "a29_ausweis")

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        line = normalise_mrz(text)
        if not _is_mrz(line):
            return []
        above = [normalise_mrz(t) for t in context.previous[-2:]]
        below = [normalise_mrz(t) for t in context.following[:2]]
        up1 = above[-1] if above else ""
        up2 = above[-2] if len(above) > 1 else ""
        down1 = below[0] if below else ""
        result: tuple[str, str] | None = None  # (attribute, evidence)
        if len(line) >= 32 and _data_line_ok(line):  # TD3 / TD2 data line
            code = up1[0] if _names_line(up1, with_header=True) else None
            result = (_document_attribute(code, len(line)), "mrz.verified")
        elif _names_line(line, with_header=True) and len(line) >= 32:  # TD3 / TD2 names line
            verified = _data_line_ok(down1) and abs(len(down1) - len(line)) <= 6
            result = (_document_attribute(line[0], len(line)), "mrz.verified" if verified else "mrz.structure")
        elif len(line) == 30 and _td1_line1_ok(line):
            verified = _td1_line2_ok(down1) and _td1_composite(line, down1)
            result = (_document_attribute(line[0], 30), "mrz.verified" if verified else "mrz.structure")
        elif len(line) == 30 and _td1_line2_ok(line):
            code = up1[0] if _td1_line1_ok(up1) else None
            if code is None or _td1_composite(up1, line):
                result = (_document_attribute(code, 30), "mrz.verified")
        elif 24 <= len(line) <= 30 and _names_line(line, with_header=False):  # TD1 names line
            verified = _td1_line1_ok(up2) and _td1_line2_ok(up1)
            code = up2[0] if verified else None
            result = (_document_attribute(code, 30), "mrz.verified" if verified else "mrz.structure")
        if result is None:
            return []
        stripped = text.strip()
        start = text.index(stripped)
        return [self.finding(result[0], result[1], start, start + len(stripped))]


# ----------------------------------------------------------------------------------- labelled ID numbers

_PASSPORT_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:passport|pasport|reisepass|passeport|pasaporte|passaporto|paspoort)"
    r"(?:[\s-]*(?:no|number|nr|num|n°|nummer|#)\b\.?)?\s*[:.#-]?\s*"
)
_ID_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:nric|(?-i:IC|I/C|I\.C\.)|mykad|identity\s*card|id\s*card|national\s*id(?:entity)?(?:\s*card)?|"
    r"personalausweis(?:nummer)?|ausweis|ausweisnummer|carte\s+d'identit[ée]|dni|nie|ssn|social\s+security|"
    r"aadhaar|aadhar|(?-i:KTP|NIK|CNIC|NIN|BSN|HKID))"
    r"(?:[\s-]*(?:no|number|nr|num|n°|nummer|#)\b\.?)?\s*[:.#-]?\s*"
)
_LICENCE_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:driver'?s?\s+licen[cs]e|driving\s+licen[cs]e|f[üu]hrerschein(?:nummer)?|lesen\s+memandu|"
    r"(?-i:DL))(?:\s*(?:no|number|nr|num|#)\b\.?)?\s*[:.#-]?\s*"
)
_ID_VALUE = re.compile(r"[A-Z0-9](?:[A-Z0-9]|[ -](?=[A-Z0-9])){4,22}")
_NRIC = re.compile(r"(?<![\d-])(?P<yymmdd>\d{6})-(?P<pb>\d{2})-(?P<n>\d{4})(?![\d-])")


@register_recognizer("id-number")
class IdNumberRecognizer(BaseRecognizer):
    """a31_passport / a29_ausweis / a32_drivers_license: numbers a label names ("Passport No: X1234567",
    "NRIC: ...", "Ausweis-Nr ...", "Driving licence no ..."), and unlabelled Malaysian NRICs (YYMMDD-PB-####)."""

    attributes = ("a31_passport", "a29_ausweis", "a32_drivers_license")

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        findings = []
        for pattern, attribute, min_digits in (
            (_PASSPORT_LABEL, "a31_passport", 1),
            (_ID_LABEL, "a29_ausweis", 4),
            (_LICENCE_LABEL, "a32_drivers_license", 3),
        ):
            for label in pattern.finditer(text):
                value = _ID_VALUE.match(text, label.end())
                if value is None:
                    continue
                chars = value.group()
                digits = sum(ch.isdigit() for ch in chars)
                if digits < min_digits or len(chars.replace(" ", "").replace("-", "")) < 5:
                    continue
                findings.append(self.finding(attribute, "id.labelled", value.start(), value.end()))
        for m in _NRIC.finditer(text):
            if _yymmdd(m.group("yymmdd")) and not any(f.start <= m.start() < f.end for f in findings):
                findings.append(self.finding("a29_ausweis", "id.nric", m.start(), m.end()))
        return findings


# ------------------------------------------------------------------------------------------------- plates

_PLATE_TOKEN = re.compile(r"^[A-Za-z0-9·.\-]+$")


@register_recognizer("plate")
class PlateRecognizer(BaseRecognizer):
    """a103_license_plate_complete: inside a plate region only, the longest run of words that makes 4-10 letters
    and digits with at least one of each ("WXY 1234", "B-MW 2024", "7ABC123")."""

    attributes = ("a103_license_plate_complete",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        if context.inside != "plate":
            return []
        tokens = list(re.finditer(r"\S+", text))
        best: tuple[int, int] | None = None
        best_length = 0
        for i in range(len(tokens)):
            chars = ""
            for j in range(i, len(tokens)):
                if not _PLATE_TOKEN.match(tokens[j].group()):
                    break
                chars += re.sub(r"[^A-Za-z0-9]", "", tokens[j].group())
                if len(chars) > 10:
                    break
                if len(chars) >= 4 and any(c.isalpha() for c in chars) and any(c.isdigit() for c in chars):
                    if len(chars) > best_length:
                        best, best_length = (tokens[i].start(), tokens[j].end()), len(chars)
        if best is None:
            return []
        return [self.finding("a103_license_plate_complete", "plate.inside_plate", best[0], best[1])]

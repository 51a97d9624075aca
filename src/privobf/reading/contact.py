"""Phone numbers, e-mail addresses and usernames.

Phone numbers are validated by `phonenumbers` (Google's libphonenumber metadata): a digit run only counts when
it is a valid number of some country, so prices, dates, times, item codes and postcodes mostly fail on their
own. What remains ambiguous is a valid-looking digit run that a label says is something else ("GST Reg No",
"Invoice", "SKU"): the nearest label before the number on the line decides, and a bare 8/12/13-digit run with a
valid GS1 check digit (EAN / UPC barcode number) is not a phone unless a phone label says so.
"""

from __future__ import annotations

import re

from .recognizers import BaseRecognizer, register_recognizer
from .types import Finding, ReadingContext

# Regions tried for numbers written without "+": None (international only), then the countries of the data
# privobf is evaluated on and the most common formats. A number valid in any of them counts.
PHONE_REGIONS: tuple[str | None, ...] = (None, "US", "GB", "IN", "MY", "SG", "DE", "FR", "BR", "AU")
MIN_PHONE_DIGITS = 7  # short codes and emergency numbers are not reported
MIN_PLAIN_DIGITS = 9  # an unlabelled run of digits with no "+" or separators: staff and item codes are shorter

# "Tel No", "Phone Number", "H/P" ... consume their "No" so that it is not read as another kind of number.
_PHONE_LABEL = (
    r"(?:tel(?:ephone|efon)?|t[ée]l[ée]phone|t[ée]l|phone|ph|mobile|mob|cell(?:phone)?|hand\s*phone|handphone|"
    r"h/?p|fax|whats\s*app|wa|hotline|helpline|call(?:\s+us)?|contact|telp|fon|mobil|portable|celular|"
    r"telefone|tlf|sms)"
    r"(?:\s*\.?\s*(?:no|number|num|nr|#)\b\.?)?"
)
_OTHER_LABEL = (
    r"(?:gst|sst|vat|tax|tin|abn|acn|ein|ssm|roc|reg(?:istration)?|co(?:mpany)?\.?\s*(?:reg|no)|sku|item|code|"
    r"bar\s*code|ean|upc|plu|art|inv(?:oice)?|bill|receipt|rcpt|order|ref(?:erence)?|trans(?:action)?|txn|trx|"
    r"account|acct|a/c|card|table|tbl|doc(?:ument)?|serial|s/n|no|nr|num|number|cashier|terminal|tid|mid|"
    r"batch|trace|approval|appr|auth|member(?:ship)?|id|ic|nric|passport|page|qty|tracking|awb|policy|"
    r"customer|cust|voucher|coupon|pos|counter|station|store|branch|vehicle|plate|mykad|loyalty|points?)"
)
_LABEL = re.compile(rf"(?i)(?<![A-Za-z])(?:(?P<phone>{_PHONE_LABEL})|(?P<other>{_OTHER_LABEL}))(?![A-Za-z])")
# Single-letter labels of business cards, directly before the number: "T: ...", "M. ...", "P ...", "F: ...".
_LETTER_LABEL = re.compile(r"(?<![A-Za-z])[TMPFHC]\s*[:.]\s*$")
_LABEL_ONLY_LINE = re.compile(rf"(?i)^\s*{_PHONE_LABEL}\s*[:.]?\s*$")
_SEPARATORS = set(" -().\u00a0/")
# A number that ends inside a price ("... 19" of "19.00") or starts inside one, holds a price ("9066468 8.02"),
# or a quantity times a price ("1 X 19.00"; libphonenumber reads " X 19" as an extension) is an item line.
_CUT_DECIMAL_AFTER = re.compile(r"[.,]\d")
_CUT_DECIMAL_BEFORE = re.compile(r"\d[.,]$")
_PRICE_INSIDE = re.compile(r"(?<![\d.,])\d{1,4}[.,]\d{2}(?![\d.,])")
_TIMES = re.compile(r"\d\s+[xX×*]\s+\d+[.,]\d{2}(?!\d)")
_DECIMAL = re.compile(r"(?<![\d.])0[.,]\d")


def _digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def gs1_valid(digits: str) -> bool:
    """True when `digits` (8, 12, 13 or 14 long) ends with a valid GS1 check digit (EAN / UPC / GTIN)."""
    if len(digits) not in (8, 12, 13, 14) or not digits.isdigit():
        return False
    body, check = digits[:-1], int(digits[-1])
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(body)))
    return (10 - total % 10) % 10 == check


def nearest_label(text: str, position: int) -> str | None:
    """'phone' or 'other': the kind of the label ending closest before `position` on the line, or None."""
    kind = None
    for match in _LABEL.finditer(text, 0, position):
        kind = "phone" if match.group("phone") else "other"
    if _LETTER_LABEL.search(text[:position]):
        kind = "phone"
    return kind


@register_recognizer("phone", requires={"phonenumbers": "phonenumbers>=8.13"})
class PhoneRecognizer(BaseRecognizer):
    """a49_phone: numbers `phonenumbers` finds valid (leniency VALID) for any of `PHONE_REGIONS`."""

    attributes = ("a49_phone",)

    def __init__(self) -> None:
        import phonenumbers

        self._phonenumbers = phonenumbers

    def _candidates(self, text: str) -> list[tuple[int, int, str]]:
        pn = self._phonenumbers
        spans: list[tuple[int, int, str]] = []
        for region in PHONE_REGIONS:
            for match in pn.PhoneNumberMatcher(text, region, leniency=pn.Leniency.VALID):
                spans.append((match.start, match.end, match.raw_string))
        # Keep the longest of overlapping readings (one region may read a longer number than another).
        spans.sort(key=lambda s: (-(s[1] - s[0]), s[0]))
        kept: list[tuple[int, int, str]] = []
        for span in spans:
            if all(span[1] <= k[0] or span[0] >= k[1] for k in kept):
                kept.append(span)
        return sorted(kept)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        if sum(ch.isdigit() for ch in text) < MIN_PHONE_DIGITS:
            return []
        findings = []
        label_above = bool(_LABEL_ONLY_LINE.match(context.line_above))
        for start, end, raw in self._candidates(text):
            digits = _digits(raw)
            if len(digits) < MIN_PHONE_DIGITS or raw.count("/") > 1 or _DECIMAL.search(raw):
                continue  # "256/128/64/32", "0.452–0.475": lists and ranges of numbers
            times = _TIMES.search(text, start)
            if (_CUT_DECIMAL_AFTER.match(text, end) or _CUT_DECIMAL_BEFORE.search(text[:start])
                    or _PRICE_INSIDE.search(raw) or (times is not None and times.start() < end)):
                continue  # a receipt's item line: "8970669 1 X 19.00", "1 15.00 0 15.00" (a price cut in two)
            label = nearest_label(text, start)
            if label == "other":
                continue
            labelled = label == "phone" or label_above
            plain = not any(ch in _SEPARATORS for ch in raw.strip()) and not raw.lstrip().startswith("+")
            if plain and not labelled and (gs1_valid(digits) or len(digits) < MIN_PLAIN_DIGITS):
                continue  # a barcode number printed under an item, a staff or item code
            if labelled:
                evidence = "phone.labelled"
            elif raw.lstrip().startswith("+"):
                evidence = "phone.international"
            elif plain:
                evidence = "phone.plain"
            else:
                evidence = "phone.formatted"
            findings.append(self.finding("a49_phone", evidence, start, end))
        return findings


# local@domain.tld; no network, no public-suffix list: a TLD is 2-24 letters. OCR sometimes puts a space on either
# side of the "@" (lower confidence); never both a space and a digits-only "domain" (that is "@ 12.50").
_EMAIL = re.compile(
    r"(?<![\w.%+-])(?P<local>[A-Za-z0-9][A-Za-z0-9._%+-]{0,63})(?P<at>\s?@\s?)"
    r"(?P<domain>[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)*"
    r"\.[A-Za-z]{2,24})(?![\w-]|\.[A-Za-z0-9])"
)


# A space next to the "@" is accepted where the local part has a digit, dot, "_", "+" or "-", or an e-mail label
# is on the line: OCR splits "john @ example.com", but "contact @gmail.com" is a word and a domain.
_MAIL_LABEL = re.compile(r"(?i)(?<![A-Za-z])e-?mail")


def email_spans(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _EMAIL.finditer(text)]


@register_recognizer("email")
class EmailRecognizer(BaseRecognizer):
    """a90_email: local@domain.tld (a regular expression; no suffix list, nothing fetched)."""

    attributes = ("a90_email",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        findings = []
        for match in _EMAIL.finditer(text):
            if match.group("at") == "@":
                evidence = "email.address"
            elif re.search(r"[\d._+-]", match.group("local")) or _MAIL_LABEL.search(text):
                evidence = "email.spaced"
            else:
                continue  # "contact @gmail.com": a word, then a domain
            findings.append(self.finding("a90_email", evidence, match.start(), match.end()))
        return findings


# "@handle": 2-30 characters after the "@", letters, digits, "_" and inner dots, at least one letter; not preceded
# by a word character (that would be an e-mail address) and not a domain ("@gmail.com").
_HANDLE = re.compile(r"(?<![\w@.+-])@(?P<handle>[A-Za-z0-9_](?:[A-Za-z0-9_.]{0,28}[A-Za-z0-9_]))(?![\w@]|\.[A-Za-z0-9])")
_DOMAIN_ENDING = re.compile(
    r"(?i)\.(?:com|net|org|edu|gov|mil|int|io|co|me|info|biz|app|dev|ai|my|sg|uk|us|de|fr|in|au|br|ca|jp|cn|nl|it|es)$"
)
# "@home", "@work": "at" written as "@" in notes and chats, not an account. Decided (issue 18 left it open): these
# words are not usernames, so a real account called @home is missed (it is also on the line as the word "home").
# Handles in capitals only ("@DISC", "@PERMAS") are not usernames either: receipts print "@" for "at".
AT_WORDS = frozenset(
    "home work school office night noon midnight lunch dinner breakfast the all here there once least last large "
    "first best most times gym church uni college campus mall beach park station airport".split()
)
_USER_LABEL = re.compile(
    r"(?i)(?<![A-Za-z])(?:user\s*-?\s*name|user\s*-?\s*id|user|login(?:\s*(?:id|name))?|log-?in|sign-?in\s*name|"
    r"handle|screen\s*name|nick\s*name|nickname|account\s*name|benutzer(?:name)?|utilisateur|pseudo|"
    r"gamer\s*tag|ign|twitter|instagram|ig|telegram|tiktok|skype|discord)\s*[:=]\s*"
)
_USER_VALUE = re.compile(r"@?[A-Za-z0-9_][A-Za-z0-9_.\-]{0,38}[A-Za-z0-9_]|@?[A-Za-z0-9_]{2}")


@register_recognizer("username")
class UsernameRecognizer(BaseRecognizer):
    """a85_username: "@handle" and values labelled as a user name ("Username: x", "Login: x", "User ID: x").

    A bare "ID: x" is not a username (order, member and staff IDs look the same); an e-mail address is left to
    the e-mail recogniser.
    """

    attributes = ("a85_username",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        emails = email_spans(text)

        def in_email(start: int, end: int) -> bool:
            return any(start < e and s < end for s, e in emails)

        findings = []
        for match in _HANDLE.finditer(text):
            handle = match.group("handle")
            if not any(ch.isalpha() for ch in handle) or handle.lower() in AT_WORDS:
                continue
            if not any(ch.islower() for ch in handle):
                continue  # "@DISC", "@PERMAS JAYA": receipts print "@" for "at" in capitals
            if _DOMAIN_ENDING.search(handle) or in_email(match.start(), match.end()):
                continue
            findings.append(self.finding("a85_username", "username.handle", match.start(), match.end()))
        for label in _USER_LABEL.finditer(text):
            value = _USER_VALUE.match(text, label.end())
            if value is None or in_email(value.start(), value.end()):
                continue
            if not any(ch.isalnum() for ch in value.group()):
                continue
            findings.append(self.finding("a85_username", "username.labelled", value.start(), value.end()))
        return findings

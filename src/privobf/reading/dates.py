"""Dates and times in the formats people print, and birth dates told apart by their label.

Decided where issue 18 left it open:
- A year alone ("2017", "FY2017", "© 2019") is not a date or time of activity: not reported. With a birth label
  ("born 1985", "Year of birth: 1985") it is a birth date (`birth_date.year`).
- Compact digit runs ("20140617", "231217") are not read as dates: they are indistinguishable from item codes.
- A bare day and month ("12 Mar", "Mar 12", "Mon 12 Mar") is a date; a month name alone ("May", "March") is not.
- "h:mm" / "hh:mm[:ss]" with an optional AM/PM is a time, as is "3 PM"; "15.44" is not (prices look the same).
- English month and weekday names only (plus their usual 3-letter forms, any case).
- A birth date is reported only as `a24_birth_date` (`SUPERSEDES` in the registry lets it absorb the
  `a82_date_time` the date recogniser also reports for the same characters).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .recognizers import BaseRecognizer, register_recognizer
from .types import Finding, ReadingContext

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)"
)
_WEEKDAY = r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
_MONTH_NUMBER = {name: i + 1 for i, name in enumerate("jan feb mar apr may jun jul aug sep oct nov dec".split())}
_AMPM = r"(?:\s?[ap]\.?\s?m\b\.?)"
_TIME = rf"(?:(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?{_AMPM}?|(?:1[0-2]|0?[1-9]){_AMPM})"

# A numeric date must not be part of a longer run of digits, dots, slashes or dashes (IP addresses, versions, codes)
# nor follow a time's colon; after a label's colon it may ("BIZDATE:12/03/2018", "DATE :12/28/2017" on receipts).
_BEFORE = r"(?<![\w./-])(?<!\d:)"
_AFTER = r"(?![\w/:-]|[.,]\d)"
_NUMERIC_DMY = re.compile(rf"{_BEFORE}(?P<a>\d{{1,2}})(?P<sep>[/.-])(?P<b>\d{{1,2}})(?P=sep)(?P<y>\d{{4}}|\d{{2}}){_AFTER}")
_NUMERIC_YMD = re.compile(rf"{_BEFORE}(?P<y>(?:19|20)\d{{2}})(?P<sep>[/.-])(?P<m>\d{{1,2}})(?P=sep)(?P<d>\d{{1,2}}){_AFTER}")
_DAY_MONTH = re.compile(
    rf"(?i)(?<![\w])(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:[\s-]+|(?<=\d)(?=[a-z]))(?:of\s+)?(?P<mon>{_MONTH})\.?"
    rf"(?:(?:,?\s+|[-/'])(?P<y>\d{{4}}|'?\d{{2}})(?![\d:]))?(?![a-z])"
)
_MONTH_DAY = re.compile(
    rf"(?i)(?<![\w])(?P<mon>{_MONTH})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?(?:,?\s+(?P<y>\d{{4}}))?(?![\d:.,]\d|\w)"
)
_MONTH_YEAR = re.compile(rf"(?i)(?<![\w])(?P<mon>{_MONTH})\.?,?\s+(?P<y>(?:19|20)\d{{2}})(?![\w])")
_TIME_RE = re.compile(rf"(?i)(?<![\w:.]){_TIME}(?![\w:]|[.,]\d)")
_WEEKDAY_BEFORE = re.compile(rf"(?i)(?<![\w]){_WEEKDAY}\.?,?\s*$")
_JOIN_GAP = re.compile(r"(?i)^(?:[\s,]*|\s*(?:at|@|-|T)\s*)$")


@dataclass(frozen=True)
class DateSpan:
    start: int
    end: int
    kind: str  # "date", "time", "date_time", "month_year", "weekday_date"


def _valid_day_month(day: int, month: int) -> bool:
    return 1 <= month <= 12 and 1 <= day <= (29 if month == 2 else 30 if month in (4, 6, 9, 11) else 31)


def _month_number(name: str) -> int:
    return _MONTH_NUMBER[name[:3].lower()]


def find_dates(text: str) -> list[DateSpan]:
    """Every date and time of `text`, a date and the time right after it joined into one span."""
    raw: list[DateSpan] = []
    for m in _NUMERIC_DMY.finditer(text):
        a, b = int(m.group("a")), int(m.group("b"))
        if _valid_day_month(a, b) or _valid_day_month(b, a):  # day/month or the US month/day
            raw.append(DateSpan(m.start(), m.end(), "date"))
    for m in _NUMERIC_YMD.finditer(text):
        if _valid_day_month(int(m.group("d")), int(m.group("m"))):
            raw.append(DateSpan(m.start(), m.end(), "date"))
    for m in _DAY_MONTH.finditer(text):
        if _valid_day_month(int(m.group("d")), _month_number(m.group("mon"))):
            raw.append(DateSpan(m.start(), m.end(), "date"))
    for m in _MONTH_DAY.finditer(text):
        if _valid_day_month(int(m.group("d")), _month_number(m.group("mon"))):
            raw.append(DateSpan(m.start(), m.end(), "date"))
    for m in _MONTH_YEAR.finditer(text):
        raw.append(DateSpan(m.start(), m.end(), "month_year"))
    for m in _TIME_RE.finditer(text):
        raw.append(DateSpan(m.start(), m.end(), "time"))
    # Drop spans inside longer ones ("5 Jan 2020" also holds "Jan 2020").
    raw.sort(key=lambda s: (s.start, -(s.end - s.start)))
    spans: list[DateSpan] = []
    for span in raw:
        if spans and span.start < spans[-1].end:
            if span.end > spans[-1].end:  # partial overlap: keep the union, the stronger kind
                spans[-1] = DateSpan(spans[-1].start, span.end, "date" if "date" in (spans[-1].kind, span.kind) else span.kind)
            continue
        spans.append(span)
    # Weekday before a date ("Mon 12 Mar", "Monday, 5 Jan 2020"), then date + time ("23/12/17 15:44").
    with_weekday = []
    for span in spans:
        if span.kind == "date":
            weekday = _WEEKDAY_BEFORE.search(text[: span.start])
            if weekday:
                span = DateSpan(weekday.start(), span.end, "weekday_date")
        with_weekday.append(span)
    joined: list[DateSpan] = []
    for span in with_weekday:
        if joined and _JOIN_GAP.match(text[joined[-1].end : span.start]):
            kinds = {joined[-1].kind, span.kind}
            if "time" in kinds and kinds != {"time"}:
                joined[-1] = DateSpan(joined[-1].start, span.end, "date_time")
                continue
        joined.append(span)
    return joined


_EVIDENCE = {
    "date": "date_time.date",
    "time": "date_time.time",
    "date_time": "date_time.date_time",
    "month_year": "date_time.month_year",
    "weekday_date": "date_time.weekday_date",
}


@register_recognizer("date-time")
class DateTimeRecognizer(BaseRecognizer):
    """a82_date_time: printed dates and times (see the module docstring for the formats and what is not one)."""

    attributes = ("a82_date_time",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        found = [self.finding("a82_date_time", _EVIDENCE[s.kind], s.start, s.end) for s in find_dates(text)]
        # OCR drops the space between a date and its time on receipts: "23/03/20183:13:19".
        for match in _GLUED_DATE_TIME.finditer(text):
            if _valid_day_month(int(match.group("a")), int(match.group("b"))) or _valid_day_month(int(match.group("b")), int(match.group("a"))):
                if not any(f.start <= match.start() and match.end() <= f.end for f in found):
                    found = [f for f in found if not (match.start() <= f.start and f.end <= match.end())]
                    found.append(self.finding("a82_date_time", "date_time.date_time", match.start(), match.end()))
        # A card's expiry ("VALID THRU 10/27", "Exp: 03/2026"): month and year alone are a date only after such a label.
        for match in _EXPIRY.finditer(text):
            if 1 <= int(match.group("m")) <= 12 and not any(f.start < match.end("date") and match.start("date") < f.end for f in found):
                found.append(self.finding("a82_date_time", "date_time.expiry", match.start("date"), match.end("date")))
        return found


_GLUED_DATE_TIME = re.compile(
    r"(?<![\w./-])(?P<a>\d{1,2})(?P<sep>[/.-])(?P<b>\d{1,2})(?P=sep)(?:19|20)\d{2}(?:[01]?\d|2[0-3]):[0-5]\d(?::[0-5]\d)?(?![\w:])"
)
_EXPIRY = re.compile(
    r"(?i)(?<![^\W\d_])(?:valid\s+(?:thru|through|until|till|to)|good\s+thru|exp(?:iry|ires|\.)?(?:\s+date)?|expiration(?:\s+date)?)"
    r"\s*[:.]?\s*(?P<date>(?P<m>\d{1,2})\s*[/-]\s*(?:\d{4}|\d{2}))(?![\w/-])"
)


_BIRTH_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:d\.?\s?o\.?\s?b|date\s+of\s+birth|birth\s*date|birth\s*day|birthday|year\s+of\s+birth|"
    r"born(?:\s+on|\s+in)?|b\.\s?d|geburtsdatum|geburtstag|geb|geboren(?:\s+am)?|n[ée]e?\s+le|date\s+de\s+naissance|"
    r"tarikh\s+lahir|tgl\.?\s+lahir|tanggal\s+lahir|fecha\s+de\s+nacimiento|data\s+di\s+nascita|"
    r"data\s+de\s+nascimento|geboortedatum)(?![^\W\d_])\.?"
)
# With a birth label, ID-card forms also count: "12 03 1990", "12 MAR/MARS 1990", and a year alone.
_SPACED_NUMERIC = re.compile(r"(?<![\w])(?P<d>\d{1,2})\s(?P<m>\d{1,2})\s(?P<y>(?:19|20)\d{2})(?![\w])")
_BILINGUAL_MONTH = re.compile(
    rf"(?i)(?<![\w])(?P<d>\d{{1,2}})\s+(?P<mon>{_MONTH})\.?(?:/[a-zé]{{3,9}}\.?)?\s+(?P<y>\d{{4}}|\d{{2}})(?![\w])"
)
_YEAR = re.compile(r"(?<![\w.,/-])(?:19|20)\d{2}(?![\w.,/-])")


def _birth_candidates(text: str) -> list[tuple[int, int, str]]:
    spans = [(s.start, s.end, "date") for s in find_dates(text) if s.kind != "time"]
    for m in _SPACED_NUMERIC.finditer(text):
        if _valid_day_month(int(m.group("d")), int(m.group("m"))):
            spans.append((m.start(), m.end(), "date"))
    for m in _BILINGUAL_MONTH.finditer(text):
        if _valid_day_month(int(m.group("d")), _month_number(m.group("mon"))):
            spans.append((m.start(), m.end(), "date"))
    for m in _YEAR.finditer(text):
        if not any(s <= m.start() < e for s, e, _ in spans):
            spans.append((m.start(), m.end(), "year"))
    spans.sort(key=lambda s: (s[0], -(s[1] - s[0])))  # the longest reading first where two start together
    return spans


@register_recognizer("birth-date")
class BirthDateRecognizer(BaseRecognizer):
    """a24_birth_date: the first date after a birth label on the line ("DOB", "Date of birth", "born",
    "Geburtsdatum", ...), or the first date of a line whose line above is such a label and holds no date."""

    attributes = ("a24_birth_date",)

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        labels = list(_BIRTH_LABEL.finditer(text))
        above = context.line_above
        label_above = bool(_BIRTH_LABEL.search(above)) and not find_dates(above) and not _YEAR.search(above)
        if not labels and not label_above:
            return []
        candidates = _birth_candidates(text)
        findings = []
        used = set()
        for label in labels:
            after = [c for c in candidates if c[0] >= label.end() and c not in used]
            if after:
                start, end, kind = after[0]
                used.add(after[0])
                evidence = "birth_date.year" if kind == "year" else "birth_date.labelled"
                findings.append(self.finding("a24_birth_date", evidence, start, end))
        if not labels and label_above and candidates:
            start, end, kind = candidates[0]
            evidence = "birth_date.year" if kind == "year" else "birth_date.label_above"
            findings.append(self.finding("a24_birth_date", evidence, start, end))
        return findings

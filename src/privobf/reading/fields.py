"""Labelled fields of forms and identity documents: nationality, place of birth, marital status, occupation.

An identity card, a visa or an application form prints these after their label ("Nationality: Malaysian",
"Place of birth: Ipoh", "Marital status: Married", "Occupation: Nurse"), on the same line or, on cards that
stack a small label above its value, on the line below it. The label says what the value is; the value alone
("Malaysian", "Married") says little, so only labelled values are reported, and the label stays readable: the
span covers the value. A label starts its line or ends with a colon (in a sentence, "nationality" is a
word). A value is one to `MAX_VALUE_WORDS` words with letters, not a label itself, not a
date or number ("Place of birth: 12/03/1990" is a misplaced date, not a city).

English labels first, with the German, French, Malay, Indonesian and Spanish ones identity documents print.
"""

from __future__ import annotations

import re

from .recognizers import BaseRecognizer, register_recognizer
from .types import Finding, ReadingContext

MAX_VALUE_WORDS = 5
_FIELDS: dict[str, str] = {
    "a25_nationality": r"nationality|nationalit[ée]|staatsangeh[öo]rigkeit|citizenship|warganegara|kewarganegaraan|"
                       r"nacionalidad",
    "a23_birth_city": r"place\s+of\s+birth|birth\s*place|city\s+of\s+birth|lieu\s+de\s+naissance|geburtsort|"
                      r"tempat\s+lahir|lugar\s+de\s+nacimiento",
    "a27_marital_status": r"marital\s+status|civil\s+status|[ée]tat\s+civil|familienstand|status\s+perkahwinan|"
                          r"status\s+perkawinan|estado\s+civil",
    "a46_occupation": r"occupation|profession|job\s+title|designation|beruf|pekerjaan|ocupaci[óo]n|profesi[óo]n",
}
_LABEL = re.compile(r"(?i)(?<![^\W\d_])(?:" + "|".join(f"(?P<{attribute}>{pattern})" for attribute, pattern in _FIELDS.items())
                    + r")(?![^\W\d_])\s*(?:/[^:]{0,30})?\s*[:.\-]?\s*")
_LABEL_ALONE = re.compile(r"(?i)^\s*(?:" + "|".join(_FIELDS.values()) + r")(?:\s*/[^:]{0,30})?\s*:?\s*$")
_ANY_LABEL = re.compile(r"(?i)^\s*[^\W\d_][^:]{0,30}:\s*")  # "Name:" / "Date of birth:" ... another field starts
_NO_LETTERS = re.compile(r"^[^A-Za-zÀ-ÿ]*$")


def _attribute_of(match: re.Match[str]) -> str:
    return next(name for name, value in match.groupdict().items() if value)


def _value_span(text: str, start: int) -> tuple[int, int] | None:
    """The value's characters from `start`: up to the next field's label on the line, stripped."""
    rest = text[start:]
    following = re.search(r"\s{2,}|\s(?=[^\W\d_][\w ]{0,25}:)", rest)
    if following:
        rest = rest[: following.start()]
    value = rest.strip(" \t,;")
    if not value or _NO_LETTERS.match(value) or len(value.split()) > MAX_VALUE_WORDS:
        return None
    begin = text.index(value, start)
    return begin, begin + len(value)


@register_recognizer("labelled-field")
class LabelledFieldRecognizer(BaseRecognizer):
    """a25_nationality, a23_birth_city, a27_marital_status, a46_occupation: the value after its label (module
    docstring)."""

    attributes = tuple(sorted(_FIELDS))

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        found = []
        for match in _LABEL.finditer(text):
            if text[: match.start()].strip() and ":" not in match.group(0):
                continue  # "state your nationality and occupation below": a word in a sentence, not a label
            span = _value_span(text, match.end())
            if span is not None:
                found.append(self.finding(_attribute_of(match), "field.labelled", *span))
        if not found and context.line_above:
            above = _LABEL_ALONE.match(context.line_above)
            if above and not _ANY_LABEL.match(text) and not _LABEL.search(text):
                label = _LABEL.search(context.line_above)
                span = _value_span(text, 0)
                if label is not None and span is not None:
                    found.append(self.finding(_attribute_of(label), "field.label_above", *span))
        return found

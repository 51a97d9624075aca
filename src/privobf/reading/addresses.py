"""Postal addresses: street words, house numbers, postcodes and the lines that continue an address block.

An address on a receipt, letter or card spans several lines ("No. 12, Jalan Ampang," / "50450 Kuala Lumpur" /
"Malaysia"). Each line is read on its own for *strong* evidence (a street: a street word with a name, "Jalan
Ampang", "Baker Street", "Hauptstraße 5"; a postcode with its city or state; a P.O. box; an "Address:" label) and
*weak* evidence (a unit or lot number, a state or country name, a city-like line below an address line). A line
with weak evidence only is an address line when it touches the block: the nearest lines above or below that are
address lines (up to `BLOCK_REACH` each way, through the context).

Complete or partial (VISPR a74 / a75): the block is complete when, over all its lines, it has a number (house or
unit), a street and a place (postcode, city or state / country); every line of a complete block is reported as
complete. Home (a78 / a79) only where a label says so ("Home address:", "Residential address"); a shop's,
billing or shipping address is a current / visited location (a74 / a75), a rule issue 18 left open.

Not addresses: a sentence that mentions a road without a number or postcode ("We walked down Baker Street"),
labels and totals ("Total", "Tel: ..."), a state or country alone ("Made in Malaysia") with no address line next
to it. `address-us` (usaddress's CRF model) adds US-style lines with a number, a street and a street type.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from .recognizers import BaseRecognizer, register_recognizer
from .types import Finding, ReadingContext
from .words import COMPANY_WORDS, DOCUMENT_WORDS, FUNCTION_WORDS

BLOCK_REACH = 3  # lines above and below considered part of the same address block

STREET_SUFFIXES = frozenset(
    """street st road rd avenue ave lane ln boulevard blvd drive dr court ct place pl square sq terrace tce way
    highway hwy parkway pkwy crescent cres close grove gardens gdns row mews walk circle cir trail alley esplanade
    parade pde quay wharf""".split()
)
STREET_PREFIXES = frozenset(
    """jalan jln jl lorong lrg persiaran psn lebuh lebuhraya taman tmn rue avenue av avenida via viale calle carrer
    rua boulevard chemin piazza soi thanon""".split()
)
# French, Italian, Spanish and Portuguese write the street type in lower case after the number ("12 rue de la
# Paix", "5 via Roma"), with particles before the name.
_LOWER_CASE_PREFIXES = frozenset("rue avenue av boulevard chemin via viale calle avenida rua carrer piazza".split())
_STREET_PARTICLES = frozenset("de la le les du des del della dei di da do dos das d' l' von van".split())
_GERMAN_STREET = re.compile(r"^[A-ZÄÖÜ][a-zäöüß]+(?:strasse|straße|str\.|weg|platz|allee|gasse|ufer|damm)$")
_HOUSE_NUMBER = re.compile(r"^(?:#)?[A-Z]?-?\d{1,5}[A-Za-z]?(?:[-/]\d{1,4}[A-Za-z]?)*,?$")
# A house or lot number right before a street: "12 ", "12,", "No. 12, ", "NO.2-1-1 ", "NO 14& 16 ", "NO: 28, ".
_NUMBER_BEFORE = re.compile(
    r"(?i)(?<![^\W_])(?:(?:no|lot|unit|blk|block|ptd|pt)(?![a-z])\.?\s*:?\s*)?#?[A-Z]?-?\d{1,5}[A-Za-z]?"
    r"(?:\s?[-/.&]\s?\d{1,5}[A-Za-z]?)*\s*,?\s*$"
)
# Units at the start of the line or after a comma: "No. 12,", "LOT 485,", "Suite 400", "LEVEL 6", "NO.3,".
_UNIT = re.compile(
    r"(?i)(?:^|(?<=,))\s*(?:no|lot|unit|suite|ste|apt|flat|blk|block|bldg|level|lvl|floor|flr|fl|tingkat|room)"
    r"\b\.?\s*:?\s*#?\s*[A-Z]?-?\d[\w/&.-]*"
)
_PLACE_WORD = re.compile(
    r"(?i)(?<![\w])(?:plaza|wisma|menara|bangunan|kompleks|pusat\s+perniagaan|bandar|kampung|kampong|desa|seksyen|"
    r"kawasan\s+perindustrian|medan|pangsapuri|perumahan|industrial\s+(?:estate|park))\s+[A-Z0-9][\w'/-]*"
)
_SG_UNIT = re.compile(r"(?<![\w])#\d{1,3}-\d{1,5}[A-Za-z]?(?![\w])")
_DIRECTIONS = frozenset("n s e w ne nw se sw n. s. e. w.".split())
_NOT_STREET_NAME = DOCUMENT_WORDS | FUNCTION_WORDS | COMPANY_WORDS

US_STATES = frozenset(
    """AL AK AZ AR CA CO CT DE FL GA HI ID IL IN IA KS KY LA ME MD MA MI MN MS MO MT NE NV NH NJ NM NY NC ND OH OK OR
    PA RI SC SD TN TX UT VT VA WA WV WI WY DC PR""".split()
)
# States, provinces and countries that end address blocks (weak evidence: only next to an address line).
REGION_NAMES: tuple[str, ...] = (
    *"""malaysia singapore india indonesia thailand philippines vietnam brunei china japan korea australia
    canada usa u.s.a. america uk u.k. england scotland wales ireland germany deutschland france italy spain
    portugal netherlands belgium switzerland austria sweden norway denmark brazil brasil mexico selangor johor
    kedah kelantan melaka malacca pahang perak perlis penang sabah sarawak terengganu putrajaya labuan alabama
    alaska arizona arkansas california colorado connecticut delaware florida georgia hawaii idaho illinois indiana
    iowa kansas kentucky louisiana maine maryland massachusetts michigan minnesota mississippi missouri montana
    nebraska nevada ohio oklahoma oregon pennsylvania tennessee texas utah vermont virginia wisconsin wyoming
    ontario quebec alberta manitoba saskatchewan queensland tasmania maharashtra karnataka kerala delhi telangana
    gujarat""".split(),
    "new zealand", "united states", "united states of america", "united kingdom", "negeri sembilan", "pulau pinang",
    "kuala lumpur", "wilayah persekutuan", "new hampshire", "new jersey", "new mexico", "new york",
    "north carolina", "north dakota", "south carolina", "south dakota", "rhode island", "west virginia",
    "british columbia", "nova scotia", "new brunswick", "new south wales", "tamil nadu", "new delhi", "west bengal",
    "darul ehsan", "darul takzim", "darul makmur", "darul aman", "darul khusus", "darul ridzuan", "darul naim",
    "darul iman", "darul ta'zim", "selangor darul ehsan",
)
_REGION_RE = re.compile(
    r"(?i)(?<![\w])(?:"
    + "|".join(re.escape(name).replace(r"\ ", r"\s+") for name in sorted(REGION_NAMES, key=len, reverse=True))
    + r")(?![\w])\.?"
)

# "Springfield, IL 62704": a city before the state, so that "Member ID 12345" is not Idaho.
_US_STATE_ZIP = re.compile(
    r"(?P<city>[A-Z][A-Za-z.'-]+(?:\s+[A-Z][A-Za-z.'-]+){0,3}),?\s+(?P<state>[A-Z]{2})\.?,?\s+"
    r"(?P<zip>\d{5}(?:-\d{4})?)(?![\w-])"
)
# "50450 Kuala Lumpur", "TAMPOI,81200 JOHOR BAHRU,JOHOR": a postcode and its city, as a part of the line of its
# own (at the start or after a comma, up to a comma, a full stop or the end), not "10000 JPEG files".
_ZIP_CITY = re.compile(
    r"(?:^|(?<=,)|(?<=\())\s*(?P<zip>\d{5}),?\s*(?P<city>[A-Z][^\W\d_]+(?:[ -][A-Z][^\W\d_]+){0,3})(?=\s*(?:[,.)]|$))"
)
# "BANDAR BUKIT RAJA, 41050", "TAMAN SEA,47400", "KUALA LUMPUR 50450": a place name, then the postcode ending
# the line or followed by a comma.
_CITY_ZIP = re.compile(
    r"(?P<city>[A-Z][^\W\d_']+(?:[ '][A-Z][^\W\d_']+){0,3})(?:\s*,\s*|\s+)(?P<zip>\d{5})(?=\s*(?:,|\.|$))"
)
_UK_POSTCODE = re.compile(r"(?<![\w])[A-Z]{1,2}\d[A-Z\d]?\s\d[ABD-HJLNP-UW-Z]{2}(?![\w])")
_CA_POSTCODE = re.compile(r"(?<![\w])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z]\s?\d[ABCEGHJ-NPRSTV-Z]\d(?![\w])")
_IN_PIN = re.compile(
    r"(?i)(?:(?<![\w])(?:pin(?:\s*code)?|pincode)\s*[:\-]?\s*[1-9]\d{2}\s?\d{3}|"
    r"(?<![\w])[A-Z][a-z]+\s*[-–]\s*[1-9]\d{5})(?![\w])"
)
_SG_POSTCODE = re.compile(r"(?i)(?<![\w])singapore\s+\d{6}(?![\w])")
_PO_BOX = re.compile(r"(?i)(?<![\w])(?:p\.?\s?o\.?\s?box|post\s+office\s+box|peti\s+surat|postfach)\s*\d{1,6}(?![\w])")
_ADDRESS_LABEL = re.compile(
    r"(?i)(?<![^\W\d_])(?:(?P<home>home|residential|permanent|residence|private)\s+)?"
    r"(?:(?:mailing|postal|billing|shipping|delivery|correspondence|business|office|current|present)\s+)?"
    r"(?:address|addr|alamat|adresse|anschrift|direcci[óo]n|indirizzo|endere[çc]o)(?:\s*/\s*[^\W\d_]+)?"
    r"(?P<sep>\s*[:.]\s*|\s+[-–]\s+|\s*$)"
)
_TOKEN = re.compile(r"[^\s,]+")  # commas separate words too: "12,JALAN TAMPOI"


def _core(token: str) -> str:
    return token.strip(",.;:()")


def _capitalised(token: str) -> bool:
    core = _core(token)
    return bool(core) and (core[0].isupper() or core[0].isdigit())


def _street_name_token(token: str, allow_codes: bool) -> bool:
    core = _core(token)
    if not core:
        return False
    if core.lower() in _NOT_STREET_NAME or core.lower() in STREET_SUFFIXES or core.lower() in STREET_PREFIXES:
        return False
    if core[0].isupper() and all(ch.isalpha() or ch in "'’-." for ch in core):
        return True
    if re.fullmatch(r"\d{1,3}(?:st|nd|rd|th)", core, re.I):  # "5th Avenue"
        return True
    if not allow_codes:
        return False
    # After a street prefix, codes are names too: "Jalan SS21/39", "Jalan 1/2", "JALAN PBS 14/11", "Jalan U13".
    code = bool(re.fullmatch(r"[A-Z0-9]{1,5}(?:/[A-Z0-9]{1,4})*[A-Z]?", core)) and any(ch.isdigit() for ch in core)
    return code or (core.isupper() and core.isalpha() and len(core) <= 4)


@dataclass
class LineEvidence:
    spans: list[tuple[int, int]] = field(default_factory=list)
    street: bool = False
    number: bool = False
    place: bool = False  # postcode, city after a street, state / country
    postcode: bool = False
    po_box: bool = False
    labelled: bool = False
    home: bool = False
    unit: bool = False
    region: bool = False
    label_only: bool = False  # "Address:" alone: the value is on the next line

    @property
    def strong(self) -> bool:
        return self.street or self.postcode or self.po_box or self.labelled

    @property
    def weak(self) -> bool:
        return self.unit or self.region

    @property
    def span(self) -> tuple[int, int] | None:
        return (min(s for s, _ in self.spans), max(e for _, e in self.spans)) if self.spans else None


def _prose(text: str) -> bool:
    words = [w.strip(",.;:!?").lower() for w in text.split()]
    return len(words) >= 6 and sum(w in FUNCTION_WORDS for w in words) >= 2


def analyse_line(text: str) -> LineEvidence:
    """The address evidence of one line on its own."""
    ev = LineEvidence()
    tokens = list(_TOKEN.finditer(text))
    words = [t.group() for t in tokens]
    # Streets with a type after the name ("Baker Street", "Main St", "5th Avenue") or before it ("Jalan Ampang").
    for i, word in enumerate(words):
        core = _core(word)
        lower = core.lower()
        if lower in STREET_SUFFIXES and _capitalised(word) and i > 0:
            j = i
            while j > 0 and i - j < 4 and _street_name_token(words[j - 1], allow_codes=False) and not words[j - 1].endswith(","):
                j -= 1
            if j < i:
                end_index = i + 1 if i + 1 < len(words) and _core(words[i + 1]).lower() in _DIRECTIONS else i
                start, end = tokens[j].start(), tokens[end_index].start() + len(words[end_index].rstrip(",;:"))
                ev.street = True
                ev.spans.append((start, end))
                number = _NUMBER_BEFORE.search(text, 0, tokens[j].start())
                if number and number.group().strip(" ,"):
                    ev.number = True
                    ev.spans.append((number.start(), number.start() + len(number.group().rstrip(" ,"))))
        elif lower in STREET_PREFIXES and (
            _capitalised(word) or (lower in _LOWER_CASE_PREFIXES and _NUMBER_BEFORE.search(text, 0, tokens[i].start()))
        ) and not (lower == "avenue" and i > 0 and _street_name_token(words[i - 1], False)):
            k = i
            while k + 1 < len(words) and k - i < 5:
                following = words[k + 1]
                if _street_name_token(following, allow_codes=True):
                    k += 1
                elif following.lower() in _STREET_PARTICLES and k + 2 < len(words):
                    k += 1  # "rue de la Paix", "Via del Corso": kept only if a name follows
                    continue
                else:
                    break
                if words[k].endswith(","):
                    break
            while k > i and words[k].lower() in _STREET_PARTICLES:
                k -= 1
            if k > i:
                ev.street = True
                ev.spans.append((tokens[i].start(), tokens[k].start() + len(words[k].rstrip(",;:."))))
                number = _NUMBER_BEFORE.search(text, 0, tokens[i].start())
                if number and number.group().strip(" ,"):
                    ev.number = True
                    ev.spans.append((number.start(), number.start() + len(number.group().rstrip(" ,"))))
        elif _GERMAN_STREET.match(core) and i + 1 < len(words) and _HOUSE_NUMBER.match(words[i + 1]):
            ev.street = ev.number = True
            ev.spans.append((tokens[i].start(), tokens[i + 1].start() + len(words[i + 1].rstrip(","))))
    # Units and lots: at the start of the line or after a comma (not "Invoice No 123").
    for m in _UNIT.finditer(text):
        ev.unit = ev.number = True
        ev.spans.append((m.start() + len(m.group()) - len(m.group().lstrip()), m.end()))
    # Buildings and localities ("PLAZA BATAI", "WISMA ...", "BANDAR BARU ..."): weak, like units.
    for m in _PLACE_WORD.finditer(text):
        if _capitalised(m.group()):
            ev.unit = True
            ev.spans.append((m.start(), m.end()))
    for m in _SG_UNIT.finditer(text):
        ev.unit = ev.number = True
        ev.spans.append((m.start(), m.end()))
    # Postcodes.
    for m in _US_STATE_ZIP.finditer(text):
        if m.group("state") in US_STATES and m.group("city").split()[-1].lower() not in _NOT_STREET_NAME:
            ev.postcode = ev.place = True
            ev.spans.append((m.start(), m.end()))
    for m in _ZIP_CITY.finditer(text):
        city_words = m.group("city").split()
        if city_words[0].lower() in _NOT_STREET_NAME:
            continue
        kept = 1
        while kept < len(city_words) and city_words[kept].lower() not in _NOT_STREET_NAME:
            kept += 1
        end = m.start("city") + len(" ".join(m.group("city").split()[:kept]))
        ev.postcode = ev.place = True
        ev.spans.append((m.start(), min(end, m.end())))
    for m in _CITY_ZIP.finditer(text):
        city_words = m.group("city").split()
        if city_words[-1].lower() in _NOT_STREET_NAME or len(city_words[-1]) < 3 or (
            m.start() > 0 and text[m.start() - 1].isalnum()
        ):
            continue
        ev.postcode = ev.place = True
        ev.spans.append((m.start(), m.end()))
    for pattern in (_UK_POSTCODE, _CA_POSTCODE, _IN_PIN, _SG_POSTCODE):
        for m in pattern.finditer(text):
            ev.postcode = ev.place = True
            ev.spans.append((m.start(), m.end()))
    for m in _PO_BOX.finditer(text):
        ev.po_box = ev.number = True
        ev.spans.append((m.start(), m.end()))
    for m in _REGION_RE.finditer(text):
        if _capitalised(m.group()):
            ev.region = ev.place = True
            ev.spans.append((m.start(), m.end()))
    # A city after the street: a comma-separated part of one to three capitalised words ("..., London").
    if ev.street:
        street_end = max(e for s, e in ev.spans)
        for part in re.finditer(r"[^,]+", text):
            if part.start() < street_end:
                continue
            names = part.group().split()
            if 1 <= len(names) <= 3 and all(
                _core(n)[:1].isupper() and _core(n).replace("-", "").isalpha() and _core(n).lower() not in _NOT_STREET_NAME
                for n in names
            ):
                ev.place = True
                stripped = part.group().strip()
                start = part.start() + part.group().index(stripped)
                ev.spans.append((start, start + len(stripped.rstrip("."))))
    # "Address: ..." (label kept readable; the rest of the line is the address).
    for m in _ADDRESS_LABEL.finditer(text):
        if m.group("home"):
            ev.home = True
        rest = text[m.end():].rstrip()
        if not rest:
            ev.label_only = not text[: m.start()].strip()
            continue
        ev.labelled = True
        ev.spans.append((m.end(), m.end() + len(rest)))
    # Prose that names a road, without a number or postcode, is not an address line.
    if ev.street and not (ev.number or ev.postcode or ev.po_box or ev.labelled) and _prose(text):
        return LineEvidence(home=ev.home, label_only=ev.label_only)
    if not (ev.strong or ev.weak):
        ev.spans = []
    return ev


def _city_like(text: str) -> bool:
    words = [_core(w) for w in text.split()]
    return 1 <= len(words) <= 4 and all(
        w and w[:1].isupper() and w.replace("-", "").replace("'", "").isalpha() and w.lower() not in _NOT_STREET_NAME
        for w in words
    )


@register_recognizer("address")
class AddressRecognizer(BaseRecognizer):
    """a74 / a75 (a78 / a79 where labelled home): street words, house and unit numbers, postcodes and the block."""

    attributes = (
        "a74_address_current_complete", "a75_address_current_partial",
        "a78_address_home_complete", "a79_address_home_partial",
    )

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        above = context.previous[-BLOCK_REACH:]
        below = context.following[:BLOCK_REACH]
        lines = [*above, text, *below]
        here = len(above)
        evidence = [analyse_line(line) for line in lines]
        # A label alone on the line above makes the line below an address line.
        for i in range(1, len(lines)):
            below_label = lines[i]
            looks_like_value = (
                evidence[i].strong or evidence[i].weak
                or (any(ch.isdigit() for ch in below_label) and any(ch.isalpha() for ch in below_label))
            ) and ":" not in below_label
            if evidence[i - 1].label_only and looks_like_value:
                evidence[i].labelled = True
                evidence[i].home = evidence[i].home or evidence[i - 1].home
                if not evidence[i].spans:
                    stripped = lines[i].strip()
                    start = lines[i].index(stripped)
                    evidence[i].spans.append((start, start + len(stripped)))
        marked = [ev.strong for ev in evidence]
        changed = True
        while changed:
            changed = False
            for i, ev in enumerate(evidence):
                if marked[i]:
                    continue
                near_above = i > 0 and marked[i - 1]
                near_below = i + 1 < len(lines) and marked[i + 1]
                # A bare place name continues the block only where the line above ends with a comma.
                city_below_address = near_above and lines[i - 1].rstrip().endswith(",") and _city_like(lines[i])
                if (ev.weak and (near_above or near_below)) or city_below_address:
                    marked[i] = True
                    changed = True
        if not marked[here]:
            return []
        first = here
        while first > 0 and marked[first - 1]:
            first -= 1
        last = here
        while last + 1 < len(lines) and marked[last + 1]:
            last += 1
        block = evidence[first : last + 1]
        block_lines = lines[first : last + 1]
        complete = any(ev.number for ev in block) and any(ev.street or ev.po_box for ev in block) and (
            any(ev.place for ev in block) or any(_city_like(line) for line in block_lines[1:])
        )
        home = any(ev.home for ev in block) or (first > 0 and evidence[first - 1].home)
        ev = evidence[here]
        span = ev.span
        if span is None or not ev.strong:
            stripped = text.strip()
            start = text.index(stripped)
            span = (start, start + len(stripped))
        if complete:
            attribute = "a78_address_home_complete" if home else "a74_address_current_complete"
            key = "address.complete"
        else:
            attribute = "a79_address_home_partial" if home else "a75_address_current_partial"
            if ev.labelled:
                key = "address.labelled"
            elif ev.street and ev.number:
                key = "address.street_number"
            elif ev.postcode:
                key = "address.postcode_city"
            elif ev.po_box:
                key = "address.po_box"
            elif ev.street:
                key = "address.street"
            else:
                key = "address.continuation"
        return [self.finding(attribute, key, span[0], span[1])]


@register_recognizer("address-us", requires={"usaddress": "usaddress>=0.5.10"})
class UsAddressRecognizer(BaseRecognizer):
    """a74 / a75: US-style lines that usaddress parses as a street address with a number, a street name and a
    street type (and, for complete, a place or ZIP code)."""

    attributes = ("a74_address_current_complete", "a75_address_current_partial")

    def __init__(self) -> None:
        import usaddress

        self._usaddress = usaddress

    def find(self, text: str, context: ReadingContext) -> list[Finding]:
        if not any(ch.isdigit() for ch in text) or not any(ch.isalpha() for ch in text):
            return []
        try:
            parsed = self._usaddress.parse(text)
        except Exception:  # its tokenizer or CRF can fail on odd strings: no finding
            return []
        labels: dict[str, list[tuple[int, int]]] = {}
        position = 0
        for token, label in parsed:
            start = text.find(token, position)
            if start < 0:
                return []
            position = start + len(token)
            labels.setdefault(label, []).append((start, position))
        numbers = [text[s:e].strip(",") for s, e in labels.get("AddressNumber", [])]
        post_types = [text[s:e].strip(",.").lower() for s, e in labels.get("StreetNamePostType", [])]
        pre_types = [text[s:e].strip(",.").lower() for s, e in labels.get("StreetNamePreType", [])]
        if not numbers or not all(re.fullmatch(r"\d{1,6}[A-Za-z]?", n) for n in numbers):
            return []
        if "StreetName" not in labels:
            return []
        if not any(t in STREET_SUFFIXES for t in post_types) and not any(t in STREET_PREFIXES for t in pre_types):
            return []
        street_names = [text[s:e].strip(",.") for s, e in labels["StreetName"]]
        if not all(re.fullmatch(r"[^\W\d_][^\W\d_'’.-]*|\d{1,3}(?:st|nd|rd|th)", n, re.I) for n in street_names):
            return []  # "1059 18W SQ ...": a product line, not a street
        wanted = (
            "AddressNumber", "StreetNamePreDirectional", "StreetNamePreType", "StreetName", "StreetNamePostType",
            "StreetNamePostDirectional", "OccupancyType", "OccupancyIdentifier", "PlaceName", "StateName", "ZipCode",
        )
        spans = [span for label in wanted for span in labels.get(label, [])]
        start, end = min(s for s, _ in spans), max(e for _, e in spans)
        end = start + len(text[start:end].rstrip(",. "))
        complete = "PlaceName" in labels or "ZipCode" in labels
        if complete:
            return [self.finding("a74_address_current_complete", "address_us.complete", start, end)]
        return [self.finding("a75_address_current_partial", "address_us.street", start, end)]

"""Document photos with every word labelled: the benchmark of issue 18 for reading text in photos.

    python benchmarks/document_photos.py --out DIR [--count 60] [--seed 0] [--data-root DIR]

writes DIR/NNN.jpg (the photo), DIR/NNN.json (its words) and DIR/index.json; score with
`benchmarks/reading_documents.py --photos DIR`.

Why a generator: no labelled photos of letters, forms or chats exist offline, and a benchmark of "hide the
personal words, keep the rest readable" needs the label of every word. Each photo is one document:

- **templates** (`TEMPLATES`, one per photo in turn, so 60 photos hold 12 of each), each with variants:
  **card** (identity, bank, business, student, membership), **letter** (from a person with an address
  block, or from an organisation with a letterhead), **form** (labelled fields, some left blank, a payment
  section), **chat** (a one-to-one or group conversation, bubbles with times, names or @handles),
  **notice** (a public notice with a heading, a date, a time and a contact);
- **personal values** from the small lists and patterns below: names of six cultures, addresses, phone
  numbers (valid for `phonenumbers`) and postcodes of the US, the UK, Malaysia and Germany, e-mails,
  @handles, dates in several formats, Luhn-valid card numbers in groups of 4, passport numbers;
- **harmless distractors** on purpose: prices, item codes, invoice and tax numbers, page numbers,
  percentages, quantities, field labels alone ("Phone:" with a blank line), headings and body sentences;
- **wrapping**: body text wraps at spaces, but a personal value moves to the next line whole when it fits
  there (only a value longer than a line, such as an address in a chat bubble, is broken);
- **rendering**: a white or off-white page (pastel cards, chat colours) drawn with PIL in DejaVu Sans /
  Serif / Sans Mono and Liberation Sans / Serif (italic for signatures), dark text only; warped by a random
  rotation and a moderate perspective (cv2.warpPerspective) onto a COCO128 train photo (only images that
  PrivMini puts in its "train" split: `privobf.data.privmini.split_of`), then a shadow, uneven light,
  contrast and brightness, sometimes a Gaussian blur, noise and JPEG quality 60-95.

Guarantees, checked on every photo (another placement is drawn otherwise): every word's quad is 12-40 px
high (its height is the font's ascent + descent, the mean of the quad's left and right sides), the document
covers 35-90 % of the photo (the quad's area over the photo's), the photo's long side is 640-1280 px, and
every quad lies inside the photo.

Labels (one per word; a word is a whitespace-separated token as rendered, punctuation included: the name
in "Dear Ms Tan," is the word "Tan,"): `name`, `birth_date`, `date_time`, `phone`, `email`, `username`,
`address`, `card_number`, `id_number`, or `other` (everything harmless, field labels such as "Name:"
included). `VISPR_IDS` maps them to VISPR attributes. Rules: every date or time is `date_time` except a
date of birth; every phone number and e-mail is personal whoever it belongs to (a notice's contact
number too); titles (Mr, Ms, Dr) and "Dear" are `other`; organisation names and business tax numbers are
`other`; a year alone ("Member since 2015") is `other`.

Each NNN.json: `generator`, `seed` (the photo's own seed), `run_seed`, `index`, `template`, `variant`,
`size` [h, w], `document_quad` (the page's corners top-left, top-right, bottom-right, bottom-left),
`document_share`, `background` (relative to the data root), `fonts`, `degradations`, and `words`: each
`{"text", "label", "quad": [[x, y] x 4] (same corner order), "line" (the rendered line, after wrapping, counted
from the top), "template"}`. Coordinates are photo pixels with pixel centres at integers (OpenCV's convention). index.json: the generator version, the command,
the seed and count, one entry per photo, and the words per label and photos per template.

Determinism: photo i of seed s is drawn from random.Random(s * 100000 + i) and
numpy.random.default_rng(s * 100000 + i) alone (no hash or set order anywhere), so the same seed and data
give the same JSON and, with the same Pillow, libjpeg and OpenCV, the same JPEG bytes; seeds 0 and 1 share no
photo (up to 100,000 photos a seed).
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import io
import json
import math
import os
import random
import shlex
import sys
import time
import unicodedata
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Sequence

import cv2
import numpy as np
import phonenumbers
from PIL import Image, ImageDraw, ImageFont, ImageOps

GENERATOR_VERSION = "document-photos/1"
REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("PRIVOBF_DATA", REPO.parent / "shared" / "data"))
BACKGROUND_FOLDER = Path("coco128") / "images" / "train2017"
FONT_ROOT = Path("/usr/share/fonts/truetype")
SEED_STRIDE = 100_000

LABELS = ("name", "birth_date", "date_time", "phone", "email", "username", "address", "card_number", "id_number", "other")
PERSONAL_LABELS = tuple(label for label in LABELS if label != "other")
VISPR_IDS = {
    "name": "a19_name_full",  # first and last names alone too
    "birth_date": "a24_birth_date",
    "date_time": "a82_date_time",
    "phone": "a49_phone",
    "email": "a90_email",
    "username": "a85_username",
    "address": "a74_address_current_complete",
    "card_number": "a30_credit_card",
    "id_number": "a31_passport",
}
TEMPLATES = ("card", "letter", "form", "chat", "notice")

TEXT_HEIGHT_PX = (12.0, 40.0)  # every word's quad height in the photo
DOCUMENT_SHARE = (0.35, 0.90)  # the document quad's area over the photo's
PHOTO_LONG_SIDE = (640, 1280)
JPEG_QUALITY = (60, 95)
# Placement aims inside these margins so that rendering at the final scale (integer font metrics) cannot
# push a photo past the guarantees above; a photo that still misses them draws another placement.
AIM_TEXT_PX, AIM_SHARE, AIM_LONG_SIDE = (13.0, 38.5), (0.37, 0.88), (648, 1272)
FIT = 0.94  # the document's bounding box spans at most this share of the photo's width and height
REFERENCE_UNIT = 20.0  # body font size (px) of the layout that placement is computed on
PLACEMENT_TRIES = 60

Colour = tuple[int, int, int]

# ---------------------------------------------------------------------------------------------- people

FIRST_NAMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {  # culture -> (women's, men's)
    "english": (("Emily", "Sophie", "Hannah", "Grace", "Charlotte", "Chloe", "Olivia", "Rebecca"),
                ("James", "Oliver", "Daniel", "Michael", "Thomas", "William", "Henry", "George")),
    "malay": (("Nurul", "Siti", "Aisyah", "Farah", "Nadia", "Aminah", "Zarina", "Hajar"),
              ("Ahmad", "Hafiz", "Amirul", "Zulkifli", "Faizal", "Rizal", "Syafiq", "Azman")),
    "chinese": (("Mei Ling", "Xin Yi", "Li Na", "Hui Min", "Siew Lan", "Jia Hui"),
                ("Wei", "Jun Hao", "Kah Seng", "Chee Keong", "Wei Jie", "Boon Huat")),
    "indian": (("Priya", "Kavitha", "Deepa", "Lakshmi", "Anjali", "Meena"),
               ("Arjun", "Rajesh", "Suresh", "Anand", "Vikram", "Ganesh")),
    "german": (("Anna", "Katrin", "Sabine", "Lena", "Jana", "Ursula"),
               ("Jürgen", "Lukas", "Matthias", "Felix", "Stefan", "Tobias")),
    "spanish": (("María", "Lucía", "Sofía", "Elena", "Carmen", "Isabel"),
                ("Carlos", "Javier", "Alejandro", "Diego", "Miguel", "Pablo")),
}
LAST_NAMES = {
    "english": ("Smith", "Johnson", "Taylor", "Brown", "Walker", "Harris", "Clarke", "Wright", "Hughes", "Palmer"),
    "chinese": ("Tan", "Lim", "Wong", "Lee", "Ng", "Chong", "Goh", "Teo", "Chan", "Ong"),
    "indian": ("Kumar", "Nair", "Raman", "Pillai", "Subramaniam", "Krishnan", "Menon", "Sharma"),
    "german": ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Becker", "Hoffmann", "Schäfer"),
    "spanish": ("García", "Martínez", "Rodríguez", "López", "Fernández", "Sánchez", "Romero", "Navarro"),
}
MALAY_FATHERS = ("Ismail", "Yusof", "Hassan", "Abdullah", "Ibrahim", "Osman", "Rahman", "Salleh")
COUNTRIES = ("US", "UK", "MY", "DE")
CULTURES = {"US": ("english", "spanish", "chinese", "indian"), "UK": ("english", "indian", "chinese", "german"),
            "MY": ("malay", "chinese", "indian"), "DE": ("german", "english", "spanish")}
COUNTRY_NAMES = {"US": "United States", "UK": "United Kingdom", "MY": "Malaysia", "DE": "Germany"}
NATIONALITIES = {"US": "American", "UK": "British", "MY": "Malaysian", "DE": "German"}


@dataclass(frozen=True)
class Person:
    first: str
    last: str  # "bin Ismail" for Malay names, which have no family name
    culture: str
    country: str
    female: bool

    @property
    def full(self) -> str:
        """The name as written: family name first in Chinese names."""
        return f"{self.last} {self.first}" if self.culture == "chinese" else f"{self.first} {self.last}"

    @property
    def addressed(self) -> str:
        """The name after a title in a salutation: the given name for Malay names, else the family name."""
        return self.first if self.culture == "malay" else self.last


def make_person(rng: random.Random, country: str | None = None) -> Person:
    country = country or rng.choice(COUNTRIES)
    culture = rng.choice(CULTURES[country])
    female = rng.random() < 0.5
    first = rng.choice(FIRST_NAMES[culture][0 if female else 1])
    last = f"{'binti' if female else 'bin'} {rng.choice(MALAY_FATHERS)}" if culture == "malay" else rng.choice(LAST_NAMES[culture])
    return Person(first, last, culture, country, female)


def title_of(rng: random.Random, person: Person) -> str:
    return "Dr" if rng.random() < 0.1 else rng.choice(("Ms", "Mrs")) if person.female else "Mr"


def ascii_name(text: str) -> str:
    """A name as it appears in an e-mail address or a handle: German umlauts spelled out, accents dropped."""
    for umlaut, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        text = text.replace(umlaut, spelled)
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower().replace(" ", "")


EMAIL_DOMAINS = {"US": ("gmail.com", "yahoo.com", "outlook.com", "icloud.com"),
                 "UK": ("gmail.com", "btinternet.com", "yahoo.co.uk", "outlook.com"),
                 "MY": ("gmail.com", "yahoo.com.my", "hotmail.my", "outlook.com"),
                 "DE": ("web.de", "gmx.de", "t-online.de", "gmail.com")}


def email_address(rng: random.Random, person: Person) -> str:
    first, last = ascii_name(person.first), ascii_name(person.last.split()[-1])
    local = rng.choice((f"{first}.{last}", f"{first}{last}", f"{first[0]}{last}", f"{first}_{last}{rng.randint(1, 99)}",
                        f"{first}{rng.randint(70, 99)}"))
    return f"{local}@{rng.choice(EMAIL_DOMAINS[person.country])}"


def handle(rng: random.Random, person: Person) -> str:
    first, last = ascii_name(person.first), ascii_name(person.last.split()[-1])
    return "@" + rng.choice((f"{first}_{last}", f"{first}{last[:3]}", f"{first}.{rng.randint(1, 999)}", f"{last}{first[0]}",
                             f"the_{first}"))


# ---------------------------------------------------------------------------------------------- addresses

US_STREETS = ("Maple Avenue", "Oak Street", "Sunset Boulevard", "Lincoln Drive", "Cedar Lane", "Washington Street",
              "Lakeview Road", "Pine Court")
US_CITIES = (("Austin", "TX", "787"), ("Portland", "OR", "972"), ("Denver", "CO", "802"), ("Columbus", "OH", "432"),
             ("Seattle", "WA", "981"), ("Boston", "MA", "021"))
UK_STREETS = ("Church Lane", "High Street", "Victoria Road", "Station Road", "Park Avenue", "Mill Lane", "Queens Road",
              "Green Lane")
UK_TOWNS = (("Leeds", "LS", 1, 28), ("Manchester", "M", 1, 40), ("Bristol", "BS", 1, 16), ("Glasgow", "G", 1, 84),
            ("Cardiff", "CF", 10, 24), ("Norwich", "NR", 1, 35))
UK_INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"  # the letters a UK postcode's inward code may use
MY_STREETS = ("Jalan Ampang", "Jalan SS 2/24", "Jalan Bukit Bintang", "Lorong Kenari 3", "Jalan Tun Razak", "Jalan Melati 5",
              "Jalan Kuching")
MY_TAMAN = ("Taman Melawati", "Taman Tun Dr Ismail", "Taman Desa", "Taman Sri Muda")
MY_TOWNS = (("50450", "Kuala Lumpur", "Wilayah Persekutuan"), ("47300", "Petaling Jaya", "Selangor"),
            ("10200", "George Town", "Pulau Pinang"), ("80000", "Johor Bahru", "Johor"), ("31400", "Ipoh", "Perak"))
DE_STREETS = ("Hauptstraße", "Goethestraße", "Lindenweg", "Bahnhofstraße", "Schillerstraße", "Am Markt", "Gartenstraße")
DE_CITIES = (("10115", "Berlin"), ("80331", "München"), ("50667", "Köln"), ("20095", "Hamburg"),
             ("60311", "Frankfurt am Main"), ("70173", "Stuttgart"))


def address_lines(rng: random.Random, country: str) -> list[str]:
    """A home address as the country writes it, one string per line (street first, country name sometimes)."""
    if country == "US":
        lines = [f"{rng.randint(100, 9999)} {rng.choice(US_STREETS)}"]
        if rng.random() < 0.3:
            lines.append(f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}")
        city, state, zip_start = rng.choice(US_CITIES)
        lines.append(f"{city}, {state} {zip_start}{rng.randint(1, 99):02d}")
    elif country == "UK":
        town, area, low, high = rng.choice(UK_TOWNS)
        inward = f"{rng.randint(1, 9)}{rng.choice(UK_INWARD_LETTERS)}{rng.choice(UK_INWARD_LETTERS)}"
        lines = [f"{rng.randint(1, 180)} {rng.choice(UK_STREETS)}", f"{town} {area}{rng.randint(low, high)} {inward}"]
    elif country == "MY":
        postcode, town, state = rng.choice(MY_TOWNS)
        lines = [f"No. {rng.randint(1, 120)}, {rng.choice(MY_STREETS)}"]
        if rng.random() < 0.5:
            lines.append(rng.choice(MY_TAMAN))
        lines.append(f"{postcode} {town}")
        if rng.random() < 0.6:
            lines.append(state)
    else:
        postcode, city = rng.choice(DE_CITIES)
        lines = [f"{rng.choice(DE_STREETS)} {rng.randint(1, 120)}{rng.choice(('', '', '', 'a', 'b'))}", f"{postcode} {city}"]
    if rng.random() < 0.35:
        lines.append(COUNTRY_NAMES[country])
    return lines


# ---------------------------------------------------------------------------------------------- numbers

PHONE_REGIONS = {"US": "US", "UK": "GB", "MY": "MY", "DE": "DE"}
US_AREA_CODES = ("212", "305", "312", "415", "512", "617", "713", "206", "303", "404")
PHONE_FORMATS = (phonenumbers.PhoneNumberFormat.NATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL,
                 phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.INTERNATIONAL,
                 phonenumbers.PhoneNumberFormat.E164)


def digits(rng: random.Random, count: int) -> str:
    return "".join(str(rng.randint(0, 9)) for _ in range(count))


# National significant numbers (after the country code) of a mobile or a city line: "#" is any digit, "[...]" one
# of the digits listed. phone_number keeps only the draws phonenumbers validates.
NUMBER_PATTERNS = {
    "US": tuple(f"{area}[23456789]######" for area in US_AREA_CODES),
    "UK": ("7[45789]########", "20[378]#######", "161[2345789]######"),
    "MY": ("1[2346789]#######", "11########", "3[2456789]#######"),
    "DE": ("15[1279]########", "30[123456789]#######", "89[123456789]######"),
}


def from_pattern(rng: random.Random, pattern: str) -> str:
    """`pattern` with each "#" replaced by a random digit and each "[...]" by one of the characters inside."""
    out, position = [], 0
    while position < len(pattern):
        char = pattern[position]
        if char == "[":
            end = pattern.index("]", position)
            out.append(rng.choice(pattern[position + 1:end]))
            position = end + 1
            continue
        out.append(str(rng.randint(0, 9)) if char == "#" else char)
        position += 1
    return "".join(out)


def phone_number(rng: random.Random, country: str) -> str:
    """A number `phonenumbers.is_valid_number` accepts for the country, in its national, international or E.164
    format (the shapes people write); drawn again until valid, so no invalid number is ever labelled a phone."""
    code = phonenumbers.country_code_for_region(PHONE_REGIONS[country])
    for _ in range(200):
        national = from_pattern(rng, rng.choice(NUMBER_PATTERNS[country]))
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, rng.choice(PHONE_FORMATS))
    raise RuntimeError(f"no valid {country} phone number in 200 draws: NUMBER_PATTERNS[{country!r}] is wrong")


def luhn_valid(number: str) -> bool:
    """The Luhn check of a card number (spaces and dashes ignored)."""
    values = [int(char) for char in number if char.isdigit()]
    if len(values) < 2 or any(not (char.isdigit() or char in " -") for char in number):
        return False
    total = 0
    for position, value in enumerate(reversed(values)):
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def luhn_check_digit(body: str) -> str:
    """The digit that makes `body` + digit pass the Luhn check."""
    return next(str(digit) for digit in range(10) if luhn_valid(body + str(digit)))


def card_number(rng: random.Random) -> str:
    """16 digits with a Visa or Mastercard prefix and a valid Luhn digit, in groups of 4 as cards print them."""
    prefix = rng.choice(("4", str(rng.randint(51, 55)), str(rng.randint(2221, 2720))))
    body = prefix + digits(rng, 15 - len(prefix))
    number = body + luhn_check_digit(body)
    return " ".join(number[start:start + 4] for start in range(0, 16, 4))


def passport_number(rng: random.Random, country: str) -> str:
    if country == "DE":  # 9 characters from the alphabet German passports use, a letter first
        return rng.choice("CFGHJK") + "".join(rng.choice("CFGHJKLMNPRTVWXYZ0123456789") for _ in range(8))
    if country == "UK":
        return f"{rng.randint(1, 9)}{digits(rng, 8)}"
    return f"{rng.choice('AH' if country == 'MY' else 'ABC')}{digits(rng, 8)}"


# ---------------------------------------------------------------------------------------------- dates

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
          "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
DATE_FORMATS = ("{d:02d}/{m:02d}/{y2:02d}", "{y}-{m:02d}-{d:02d} {H:02d}:{M:02d}:{S:02d}", "{d} {mon} {y}", "{month} {d}, {y}",
                "{d:02d}.{m:02d}.{y}", "{y}-{m:02d}-{d:02d}", "{d:02d}/{m:02d}/{y}")
BIRTH_FORMATS = ("{d:02d}/{m:02d}/{y}", "{y}-{m:02d}-{d:02d}", "{d} {mon} {y}", "{month} {d}, {y}", "{d:02d}.{m:02d}.{y}")
NOTICE_DATE_FORMATS = ("{weekday}, {month} {d}, {y}", "{weekday}, {d} {month} {y}", "{d} {mon} {y}", "{d:02d}/{m:02d}/{y}")


def random_moment(rng: random.Random, first_year: int, last_year: int) -> dt.datetime:
    start = dt.date(first_year, 1, 1)
    day = start + dt.timedelta(days=rng.randrange((dt.date(last_year, 12, 31) - start).days + 1))
    return dt.datetime(day.year, day.month, day.day, rng.randint(7, 22), rng.randint(0, 59), rng.randint(0, 59))


def format_moment(when: dt.datetime, pattern: str) -> str:
    month = MONTHS[when.month - 1]
    return pattern.format(d=when.day, m=when.month, y=when.year, y2=when.year % 100, H=when.hour, M=when.minute,
                          S=when.second, mon=month[:3], month=month, weekday=WEEKDAYS[when.weekday()])


def date_text(rng: random.Random, formats: Sequence[str] = DATE_FORMATS) -> str:
    return format_moment(random_moment(rng, 2008, 2024), rng.choice(formats))


def birth_date_text(rng: random.Random) -> str:
    return format_moment(random_moment(rng, 1950, 2006), rng.choice(BIRTH_FORMATS))


def clock_text(minutes: int) -> str:
    return f"{minutes // 60 % 24:02d}:{minutes % 60:02d}"


def expiry_text(rng: random.Random) -> str:
    return f"{rng.randint(1, 12):02d}/{rng.randint(25, 31)}"


# ---------------------------------------------------------------------------------------------- harmless text


def price(rng: random.Random, country: str) -> str:
    amount = f"{rng.randint(1, 499) + rng.choice((0.0, 0.5, 0.9, 0.99, 0.25, 0.75)):.2f}"
    return {"US": f"${amount}", "UK": f"£{amount}", "MY": f"RM {amount}", "DE": f"{amount.replace('.', ',')} €"}[country]


def item_code(rng: random.Random) -> str:
    return rng.choice((lambda: f"SKU-{rng.randint(10000, 99999)}", lambda: f"Item {rng.randint(100, 999)}-{rng.choice('ABCDEFGH')}",
                       lambda: f"ART.{rng.randint(10, 99)}-{rng.randint(100, 999)}"))()


def invoice_number(rng: random.Random) -> str:
    return rng.choice((lambda: f"INV-{rng.randint(2015, 2024)}-{rng.randint(1, 9999):04d}", lambda: f"No. {rng.randint(1, 99999):06d}"))()


def page_text(rng: random.Random) -> str:
    total = rng.randint(1, 4)
    return f"Page {rng.randint(1, total)} of {total}"


def percentage(rng: random.Random) -> str:
    return f"{rng.choice((5, 6, 8, 10, 12.5, 15, 20, 25, 50))}%"


def quantity(rng: random.Random) -> str:
    return rng.choice((lambda: f"Qty: {rng.randint(1, 12)}", lambda: f"x{rng.randint(2, 9)}",
                       lambda: f"{rng.choice((250, 500, 750))} g", lambda: f"{rng.randint(2, 24)} pcs"))()


def tax_text(rng: random.Random, country: str) -> str:
    """A business's tax registration: long digit runs that look like a phone number and are not personal."""
    patterns = {"MY": "GST Reg No: 00##########", "UK": "VAT No: GB ### #### ##", "DE": "USt-IdNr.: DE#########", "US": "EIN: ##-#######"}
    return from_pattern(rng, patterns[country])


BODY_SENTENCES = (
    "Thank you for your letter about the changes to the service.",
    "We are writing to confirm the arrangements discussed at the last meeting.",
    "The new opening hours will apply from the start of next month.",
    "Please keep this letter for your records.",
    "If anything is unclear, our team will be glad to help.",
    "The parcel was delivered to the reception desk as agreed.",
    "We apologise for any inconvenience this may have caused.",
    "The enclosed brochure explains the options in more detail.",
    "Your request has been passed to the relevant department.",
    "Several residents asked for more bicycle parking near the station.",
    "The committee reviewed the proposal and agreed to a trial period.",
    "All payments received after the deadline will be processed next week.",
    "The warranty covers parts and labour for the first year.",
    "Our records show that the order was completed without issues.",
    "A short survey is attached and takes about five minutes.",
    "The building will be repainted during the summer holidays.",
    "Members are reminded to return borrowed equipment on time.",
    "We look forward to working with you again.",
    "The replacement part has been ordered from the manufacturer.",
    "I would be grateful if you could look into this matter.",
)
DISTRACTOR_SENTENCES = (
    "The total of {price} includes {percent} tax.",
    "Please quote reference {invoice} in all correspondence.",
    "Item {item} is back in stock at {price}.",
    "A discount of {percent} applies to orders of {count} items or more.",
    "The invoice {invoice} for {price} has now been settled.",
)


class Deck:
    """Draws from a pool without repeating an item until all were drawn: one letter never says the same sentence
    twice, one chat never repeats a message."""

    def __init__(self, rng: random.Random, items: Sequence[str]):
        self.rng, self.items, self.left = rng, tuple(items), []

    def draw(self) -> str:
        if not self.left:
            self.left = self.rng.sample(self.items, len(self.items))
        return self.left.pop()


def harmless_sentence(rng: random.Random, country: str, deck: Deck) -> str:
    """The deck's next sentence, its price, percentage, invoice number or item code filled in."""
    return deck.draw().format(price=price(rng, country), percent=percentage(rng), invoice=invoice_number(rng),
                              item=item_code(rng), count=rng.randint(2, 12))


ORGANISATIONS = (("Greenfield Residents' Association", "greenfield-ra.org"), ("Northside Public Library", "northsidelibrary.org"),
                 ("Bright Home Appliances", "brighthome.com"), ("Harbour Insurance Berhad", "harbourinsurance.com.my"),
                 ("Lindenhof Hausverwaltung", "lindenhof-hv.de"), ("City Water Services", "citywater.co.uk"),
                 ("Summit Telecom", "summit-telecom.com"))

# ---------------------------------------------------------------------------------------------- documents


@dataclass
class Span:
    """Words of one label; `x` starts them at that many units from the left margin (a tab stop)."""

    text: str
    label: str = "other"
    x: float | None = None


@dataclass
class Line:
    spans: list[Span]
    size: float = 1.0  # font size as a multiple of the unit (the body font size); kept within 0.8-1.6
    font: str = "body"  # role: body | heading | mono | signature
    bold: bool = False
    align: str = "left"  # left | center | right
    gap: float = 0.0  # extra space above, in units
    wrap: float | None = None  # wrap into lines of at most this many units
    bubble: tuple[str, int] | None = None  # chat bubble ("in" or "out", message number)
    band: Colour | None = None  # a full-width band behind the line
    rule: str | None = None  # "field": a blank to fill in after the label; "below": a line across the page
    colour: Colour | None = None
    art: str | None = None  # drawn in the gap above the line: "chip" (a bank card's chip)


@dataclass
class Style:
    fonts: dict[str, str]  # role -> family
    paper: Colour
    ink: Colour
    spacing: float  # line height over the font's ascent + descent


@dataclass
class Document:
    template: str
    variant: str
    lines: list[Line]
    width: float  # page width in units, margins included (wider when a line needs it)
    margin: float
    style: Style
    frame: Colour | None = None
    photo: bool = False  # an ID photo in a right-hand column below the header bands
    bubble_colours: tuple[Colour, Colour] | None = None  # incoming, outgoing


FAMILIES = {  # family -> (regular, bold, italic) below FONT_ROOT
    "DejaVu Sans": ("dejavu/DejaVuSans.ttf", "dejavu/DejaVuSans-Bold.ttf", "dejavu/DejaVuSans-Oblique.ttf"),
    "DejaVu Serif": ("dejavu/DejaVuSerif.ttf", "dejavu/DejaVuSerif-Bold.ttf", "dejavu/DejaVuSerif-Italic.ttf"),
    "DejaVu Sans Mono": ("dejavu/DejaVuSansMono.ttf", "dejavu/DejaVuSansMono-Bold.ttf", "dejavu/DejaVuSansMono-Oblique.ttf"),
    "Liberation Sans": ("liberation/LiberationSans-Regular.ttf", "liberation/LiberationSans-Bold.ttf",
                        "liberation/LiberationSans-Italic.ttf"),
    "Liberation Serif": ("liberation/LiberationSerif-Regular.ttf", "liberation/LiberationSerif-Bold.ttf",
                         "liberation/LiberationSerif-Italic.ttf"),
}
TEXT_FAMILIES = ("DejaVu Sans", "DejaVu Serif", "Liberation Sans", "Liberation Serif")
SANS_FAMILIES = ("DejaVu Sans", "Liberation Sans")
INKS = ((20, 20, 20), (35, 35, 40), (15, 25, 70), (50, 45, 40))
HEADING_COLOURS = ((25, 55, 120), (140, 25, 25), (20, 20, 20), (20, 90, 60))
SIGNATURE_INK = (20, 40, 110)


def pick_style(rng: random.Random, families: Sequence[str] = TEXT_FAMILIES, paper: Colour | None = None,
               ink: Colour | None = None) -> Style:
    body = rng.choice(families)
    heading = body if rng.random() < 0.6 else rng.choice(TEXT_FAMILIES)
    if paper is None:  # white to warm off-white
        red = rng.randint(238, 255)
        paper = (red, red - rng.randint(0, 4), red - rng.randint(0, 12))
    fonts = {"body": body, "heading": heading, "mono": "DejaVu Sans Mono",
             "signature": rng.choice(("DejaVu Serif", "Liberation Serif"))}
    return Style(fonts, paper, ink or rng.choice(INKS), rng.uniform(1.25, 1.5))


def paragraph(rng: random.Random, country: str, width: float, deck: Deck) -> Line:
    text = " ".join(harmless_sentence(rng, country, deck) for _ in range(rng.randint(2, 4)))
    return Line([Span(text)], wrap=width, gap=0.6)


def field_line(label: str, value: Sequence[tuple[str, str]] | None, tab: float) -> Line:
    """A form field: the label, then its value from the tab stop, or a blank line to fill in when value is None."""
    if value is None:
        return Line([Span(label)], rule="field")
    return Line([Span(label)] + [Span(text, kind, x=tab if index == 0 else None) for index, (text, kind) in enumerate(value)])


# -------------------------------------------------------------------------------- template: card

PASTELS = ((214, 232, 248), (224, 240, 222), (246, 230, 214), (236, 226, 246), (250, 240, 200))


def card(rng: random.Random) -> Document:
    variant = rng.choice(("identity", "bank", "business", "student", "membership"))
    person = make_person(rng)
    band = rng.choice(PASTELS)
    paper = tuple(min(255, channel + 20) for channel in rng.choice(PASTELS)) if rng.random() < 0.5 else (250, 250, 248)
    style = pick_style(rng, SANS_FAMILIES if variant != "business" else TEXT_FAMILIES, paper=paper)
    builder = {"identity": identity_card, "bank": bank_card, "business": business_card, "student": student_card,
               "membership": membership_card}[variant]
    lines, photo = builder(rng, person, band)
    return Document("card", variant, lines, rng.uniform(21.0, 25.0), rng.uniform(1.0, 1.4), style,
                    frame=rng.choice(((120, 120, 120), band)), photo=photo)


def labelled_value(rng: random.Random, label: str, value: str, kind: str, stacked: bool) -> list[Line]:
    """A card field, either "Label: value" on one line or a small label above its value (as ID cards print)."""
    if stacked:
        return [Line([Span(label.rstrip(":"))], size=0.8, gap=0.2), Line([Span(value, kind)], size=1.05, bold=rng.random() < 0.5)]
    return [Line([Span(label), Span(value, kind)], size=0.95)]


def identity_card(rng: random.Random, person: Person, band: Colour) -> tuple[list[Line], bool]:
    stacked = rng.random() < 0.5
    lines = [Line([Span(rng.choice(("IDENTITY CARD", "RESIDENT CARD", "NATIONAL ID CARD")))], size=1.3, bold=True,
                  font="heading", align="center", band=band),
             Line([Span(COUNTRY_NAMES[person.country].upper())], size=0.85, align="center", band=band)]
    lines += labelled_value(rng, "Name:", person.full.upper() if rng.random() < 0.5 else person.full, "name", stacked)
    lines += labelled_value(rng, "Date of birth:", birth_date_text(rng), "birth_date", stacked)
    lines += labelled_value(rng, rng.choice(("Passport No:", "Document No:")), passport_number(rng, person.country),
                            "id_number", stacked)
    lines += labelled_value(rng, "Nationality:", NATIONALITIES[person.country], "other", stacked)
    lines += labelled_value(rng, rng.choice(("Expiry:", "Date of expiry:")), date_text(rng, ("{d:02d}/{m:02d}/{y}", "{d} {mon} {y}")),
                            "date_time", stacked)
    if rng.random() < 0.4:
        lines.append(Line([Span(", ".join(address_lines(rng, person.country)[:2]), "address")], size=0.8, gap=0.3))
    return lines, True


def bank_card(rng: random.Random, person: Person, band: Colour) -> tuple[list[Line], bool]:
    bank = rng.choice(("Harbour Bank", "Meridian Savings", "Kestrel Bank", "Union Federal"))
    lines = [Line([Span(bank)], size=1.3, bold=True, font="heading", band=band),
             Line([Span(rng.choice(("PLATINUM", "DEBIT", "Visa Gold", "World Mastercard")))], size=0.85, align="right"),
             Line([Span(card_number(rng), "card_number")], size=1.4, font="mono", gap=2.6, art="chip"),
             Line([Span("VALID THRU"), Span(expiry_text(rng), "date_time")], size=0.85, font="mono", align="center"),
             Line([Span(person.full.upper(), "name")], size=1.0, font="mono")]
    return lines, False


def business_card(rng: random.Random, person: Person, band: Colour) -> tuple[list[Line], bool]:
    organisation, domain = rng.choice(ORGANISATIONS)
    lines = [Line([Span(person.full, "name")], size=1.4, bold=True, font="heading"),
             Line([Span(rng.choice(("Sales Manager", "Senior Engineer", "Office Administrator", "Account Executive")))], size=0.9),
             Line([Span(organisation)], bold=True, gap=0.4, wrap=20.0),
             Line([Span(rng.choice(("Tel:", "T:", "Phone:"))), Span(phone_number(rng, person.country), "phone")], gap=0.5)]
    if rng.random() < 0.5:
        lines.append(Line([Span(rng.choice(("Mobile:", "M:"))), Span(phone_number(rng, person.country), "phone")]))
    lines.append(Line([Span(email_address(rng, person), "email")]))
    if rng.random() < 0.6:
        lines.append(Line([Span(", ".join(address_lines(rng, person.country)[:2]), "address")], size=0.85, wrap=20.0))
    lines.append(Line([Span(f"www.{domain}")], size=0.85))
    return lines, False


def student_card(rng: random.Random, person: Person, band: Colour) -> tuple[list[Line], bool]:
    university = rng.choice(("University of Westbridge", "Kolej Universiti Selatan", "Hochschule Rheinland", "Lakeside College"))
    lines = [Line([Span(university)], size=1.2, bold=True, font="heading", align="center", band=band),
             Line([Span("STUDENT CARD")], size=0.9, bold=True, align="center", band=band),
             Line([Span("Name:"), Span(person.full, "name")], gap=0.3),
             Line([Span("Date of birth:"), Span(birth_date_text(rng), "birth_date")]),
             Line([Span(rng.choice(("Faculty of Engineering", "School of Business", "Faculty of Arts", "Department of Biology")))]),
             Line([Span("Valid until:"), Span(date_text(rng, ("{d:02d}/{m:02d}/{y}", "{y}-{m:02d}-{d:02d}")), "date_time")])]
    return lines, True


def membership_card(rng: random.Random, person: Person, band: Colour) -> tuple[list[Line], bool]:
    club = rng.choice(("CITY FITNESS CLUB", "SUNRISE REWARDS", "GREENLEAF BOOK CLUB", "RIVERSIDE SWIM CENTRE"))
    lines = [Line([Span(club)], size=1.3, bold=True, font="heading", align="center", band=band),
             Line([Span("MEMBER")], size=0.85, align="center", band=band),
             Line([Span(person.full, "name")], size=1.2, bold=True, gap=0.5),
             Line([Span(f"Member since {rng.randint(2005, 2023)}")], size=0.9),
             Line([Span("Tier:"), Span(rng.choice(("Gold", "Silver", "Blue")))]),
             Line([Span("Points:"), Span(f"{rng.randint(1, 9)},{rng.randint(0, 999):03d}")])]
    if rng.random() < 0.5:
        lines.append(Line([Span(email_address(rng, person), "email")], size=0.9))
    return lines, False


# -------------------------------------------------------------------------------- template: letter

DEPARTMENTS = ("Customer Service Department", "Accounts Department", "Membership Office", "Complaints Team")
SUBJECTS = ("Invoice {invoice}", "Order {item}", "Change of address", "Your enquiry of last week", "Account statement",
            "Renewal of membership")
CLOSINGS = ("Sincerely,", "Yours sincerely,", "Regards,", "Kind regards,", "Yours faithfully,", "Best wishes,")
JOB_TITLES = ("Customer Service Manager", "Head of Accounts", "Membership Secretary", "Office Manager")
LETTER_DATE_FORMATS = ("{d} {mon} {y}", "{month} {d}, {y}", "{d:02d}/{m:02d}/{y2:02d}", "{y}-{m:02d}-{d:02d}", "{d} {month} {y}")


def letter(rng: random.Random) -> Document:
    person = make_person(rng)
    country = person.country
    official = make_person(rng, country)
    style = pick_style(rng)
    width, margin = rng.uniform(34.0, 40.0), rng.uniform(2.0, 3.0)
    content = width - 2 * margin
    organisation, domain = rng.choice(ORGANISATIONS)
    from_person = rng.random() < 0.55
    lines = sender_block(rng, person) if from_person else letterhead(rng, organisation, domain, country, content)
    if from_person:
        lines += [Line([Span(organisation)], gap=1.2, wrap=content), Line([Span(rng.choice(DEPARTMENTS))])]
        addressee, signer = (official if rng.random() < 0.5 else None), person
    else:
        lines.append(Line([Span(person.full, "name")], gap=1.2))
        lines += [Line([Span(text, "address")]) for text in address_lines(rng, country)]
        addressee, signer = person, official
    date = date_text(rng, LETTER_DATE_FORMATS)
    date_spans = [Span("Date:"), Span(date, "date_time")] if rng.random() < 0.3 else [Span(date, "date_time")]
    lines.append(Line(date_spans, gap=1.0, align=rng.choice(("left", "right"))))
    subject = rng.choice(SUBJECTS).format(invoice=invoice_number(rng), item=item_code(rng))
    lines.append(Line([Span("Re:"), Span(subject)], bold=True, gap=0.8, wrap=content))
    lines.append(salutation(rng, addressee))
    deck = Deck(rng, BODY_SENTENCES + DISTRACTOR_SENTENCES)
    for number in range(rng.randint(2, 4)):
        lines.append(paragraph(rng, country, content, deck))
        if from_person and number == 0 and rng.random() < 0.4:
            lines.append(Line([Span("You can reach me on"), Span(phone_number(rng, country), "phone"),
                               Span("in the evenings.")], wrap=content, gap=0.6))
    lines.append(Line([Span(rng.choice(CLOSINGS))], gap=0.8))
    if rng.random() < 0.7:  # a signature in italics above the typed name
        lines.append(Line([Span(signer.full, "name")], font="signature", size=1.3, gap=0.4, colour=SIGNATURE_INK))
    lines.append(Line([Span(signer.full, "name")], gap=0.2))
    if not from_person:
        lines.append(Line([Span(rng.choice(JOB_TITLES))], size=0.9))
    if rng.random() < 0.6:
        lines.append(Line([Span(page_text(rng))], size=0.8, align="center", gap=1.2))
    return Document("letter", "from a person" if from_person else "from an organisation", lines, width, margin, style)


def sender_block(rng: random.Random, person: Person) -> list[Line]:
    """A private letter's top: the writer's name, address and sometimes phone and e-mail, left or right."""
    side = rng.choice(("left", "right"))
    lines = [Line([Span(person.full, "name")], bold=True, align=side)]
    lines += [Line([Span(text, "address")], align=side) for text in address_lines(rng, person.country)]
    if rng.random() < 0.6:
        lines.append(Line([Span(rng.choice(("Tel:", "Phone:", "Mobile:"))), Span(phone_number(rng, person.country), "phone")],
                          align=side, size=0.9))
    if rng.random() < 0.6:
        lines.append(Line([Span("E-mail:"), Span(email_address(rng, person), "email")], align=side, size=0.9))
    return lines


def letterhead(rng: random.Random, organisation: str, domain: str, country: str, content: float) -> list[Line]:
    """An organisation's letterhead: its name, its phone and e-mail, its tax number, a rule below."""
    lines = [Line([Span(organisation)], size=rng.uniform(1.3, 1.6), bold=True, font="heading", wrap=content,
                  colour=rng.choice(HEADING_COLOURS))]
    contact = [Span("Tel:"), Span(phone_number(rng, country), "phone")]
    if rng.random() < 0.7:
        contact += [Span("|"), Span(f"{rng.choice(('info', 'enquiries', 'office'))}@{domain}", "email")]
    lines.append(Line(contact, size=0.85, wrap=content))
    lines.append(Line([Span(tax_text(rng, country))], size=0.85, rule="below"))
    return lines


def salutation(rng: random.Random, addressee: Person | None) -> Line:
    if addressee is None:
        return Line([Span("Dear Sir or Madam,")], gap=0.8)
    if rng.random() < 0.25:
        return Line([Span("Dear"), Span(f"{addressee.first},", "name")], gap=0.8)
    return Line([Span("Dear"), Span(title_of(rng, addressee)), Span(f"{addressee.addressed},", "name")], gap=0.8)


# -------------------------------------------------------------------------------- template: form

FORM_TITLES = ("APPLICATION FORM", "Patient Registration Form", "Membership Application", "Change of Address Form",
               "Customer Information Form")
FORM_INSTRUCTIONS = ("Please complete all fields in BLOCK CAPITALS. Incomplete forms will be returned.",
                     "Use black ink and write clearly. Fields marked with a star are required.",
                     "Return this form to the front desk together with a copy of your identity document.")


def form(rng: random.Random) -> Document:
    person = make_person(rng)
    country = person.country
    style = pick_style(rng)
    width, margin = rng.uniform(32.0, 38.0), rng.uniform(1.8, 2.6)
    content, tab = width - 2 * margin, rng.uniform(9.5, 11.0)
    section_band = rng.choice(((228, 228, 228), (220, 232, 245), None))
    lines = [Line([Span(rng.choice(FORM_TITLES))], size=rng.uniform(1.3, 1.6), bold=True, font="heading", align="center", wrap=content),
             Line([Span(f"Form {rng.randint(1, 9)}{rng.choice('ABC')}"), Span(page_text(rng))], size=0.8, align="right"),
             Line([Span(rng.choice(FORM_INSTRUCTIONS))], size=0.85, wrap=content, gap=0.4),
             Line([Span("Section A: Personal details")], bold=True, gap=0.8, band=section_band,
                  rule=None if section_band else "below")]

    def blank_or(value):
        return None if rng.random() < 0.15 else value

    lines.append(field_line(rng.choice(("Full name:", "Name:", "Name of applicant:")), [(person.full, "name")], tab))
    lines.append(field_line("Date of birth:", blank_or([(birth_date_text(rng), "birth_date")]), tab))
    lines.append(field_line("Nationality:", blank_or([(NATIONALITIES[country], "other")]), tab))
    address = blank_or(address_lines(rng, country))
    lines.append(field_line("Address:", None if address is None else [(address[0], "address")], tab))
    lines += [Line([Span(text, "address", x=tab)]) for text in (address or [])[1:]]
    lines.append(field_line(rng.choice(("Phone:", "Mobile:", "Tel:")), blank_or([(phone_number(rng, country), "phone")]), tab))
    lines.append(field_line("E-mail:", blank_or([(email_address(rng, person), "email")]), tab))
    if rng.random() < 0.4:  # an online account, written without the "@"
        lines.append(field_line(rng.choice(("Username:", "User ID:")), blank_or([(handle(rng, person)[1:], "username")]), tab))
    if rng.random() < 0.6:
        lines.append(field_line("Passport No:", blank_or([(passport_number(rng, country), "id_number")]), tab))
    if rng.random() < 0.5:
        lines.append(field_line("Card number:", blank_or([(card_number(rng), "card_number")]), tab))
        lines.append(field_line("Expiry:", [(expiry_text(rng), "date_time")], tab))
    lines.append(Line([Span(rng.choice(("Section B: Payment", "For office use only")))], bold=True, gap=0.8, band=section_band,
                      rule=None if section_band else "below"))
    lines.append(field_line("Fee:", [(price(rng, country), "other")], tab))
    lines.append(field_line("Receipt No:", [(invoice_number(rng), "other")], tab))
    lines.append(field_line(rng.choice(("Discount:", "Tax:")), [(percentage(rng), "other")], tab))
    lines.append(field_line("Quantity:", [(quantity(rng), "other")], tab))
    lines.append(Line([Span(tax_text(rng, country))], size=0.85))
    lines.append(Line([Span("[x] I confirm that the information above is correct.")], wrap=content, gap=0.6))
    lines.append(field_line("Signature:", None, tab))
    lines.append(field_line("Date:", blank_or([(date_text(rng, DATE_FORMATS[::2]), "date_time")]), tab))
    return Document("form", "with card" if any(s.label == "card_number" for line in lines for s in line.spans) else "plain",
                    lines, width, margin, style, frame=rng.choice((None, (90, 90, 90))))


# -------------------------------------------------------------------------------- template: chat

GROUP_NAMES = ("Family", "Project Team", "Badminton Sunday", "Flat 4B", "Book Club", "Class of 2012")
HARMLESS_MESSAGES = ("Running a bit late, sorry!", "Did you see the match last night?", "Can you bring the charger?",
                     "Thanks, got it", "The meeting moved to room 4B.", "They are {price} each, still want some?",
                     "Ok see you there", "Haha that is brilliant", "Don't forget the umbrella", "Is the shop open this weekend?",
                     "I'll buy {count} more", "Sounds good to me", "Traffic is terrible again", "Good morning everyone!",
                     "Who is bringing the cake?", "Got {percent} off with the voucher")
PERSONAL_MESSAGES = (("My new number is", "phone", ""), ("Call me on", "phone", "when you arrive"),
                     ("You can reach her at", "phone", ""), ("Send the photos to", "email", "please"),
                     ("My email is", "email", ""), ("Ask", "username", "he has the keys"),
                     ("Follow", "username", "for the updates"), ("The parcel goes to", "address", ""))
BUBBLE_WIDTH = 14.5  # units
SENDER_COLOURS = ((150, 60, 20), (20, 100, 60), (60, 40, 140))


def chat(rng: random.Random) -> Document:
    me = make_person(rng)
    country = me.country
    group = rng.random() < 0.45
    light = rng.random() < 0.5
    paper, band, bubble_in, bubble_out = (((250, 250, 250), (238, 238, 242), (230, 230, 234), (208, 226, 255)) if light
                                          else ((236, 229, 221), (246, 246, 246), (255, 255, 255), (220, 248, 198)))
    style = pick_style(rng, SANS_FAMILIES, paper=paper, ink=(20, 20, 20))
    width, margin = rng.uniform(21.0, 24.0), 0.8
    minutes = rng.randint(7 * 60, 21 * 60)
    lines = [Line([Span(clock_text(minutes + rng.randint(30, 90)), "date_time"),
                   Span(f"4G {rng.randint(12, 99)}%", x=width - 2 * margin - 4.5)], size=0.8, band=band)]
    if group:
        members = [make_person(rng, country) for _ in range(rng.randint(2, 4))]
        lines.append(Line([Span(rng.choice(GROUP_NAMES))], size=1.1, bold=True, band=band))
        lines.append(Line([Span(f"{len(members) + 1} participants")], size=0.8, band=band))
    else:
        members = [make_person(rng, country)]
        lines.append(Line([Span(members[0].full, "name")], size=1.1, bold=True, band=band))
        if rng.random() < 0.5:
            lines.append(Line([Span(handle(rng, members[0]), "username")], size=0.8, band=band))
        seen = rng.random() < 0.5
        status = [Span("last seen today at"), Span(clock_text(minutes + rng.randint(5, 29)), "date_time")] if seen else [Span("online")]
        lines.append(Line(status, size=0.8, band=band))
    day = [Span(rng.choice(("Today", "Yesterday")))] if rng.random() < 0.5 else [
        Span(date_text(rng, ("{d} {mon} {y}", "{month} {d}, {y}", "{d:02d}/{m:02d}/{y2:02d}")), "date_time")]
    lines.append(Line(day, size=0.8, align="center", gap=0.6))
    handles = {person: handle(rng, person) for person in members}
    deck = Deck(rng, HARMLESS_MESSAGES)
    for message in range(rng.randint(4, 7)):
        outgoing = rng.random() < 0.45
        sender = me if outgoing else rng.choice(members)
        bubble = ("out" if outgoing else "in", message)
        minutes += rng.randint(0, 12)
        if group and not outgoing:
            shown = Span(handles[sender], "username") if rng.random() < 0.5 else Span(sender.full, "name")
            lines.append(Line([shown], size=0.8, bold=True, bubble=bubble, gap=0.5, colour=rng.choice(SENDER_COLOURS)))
        lines.append(Line(message_spans(rng, sender, country, deck), wrap=BUBBLE_WIDTH, bubble=bubble,
                          gap=0.0 if group and not outgoing else 0.5))
        lines.append(Line([Span(clock_text(minutes), "date_time")], size=0.8, align="right", bubble=bubble, colour=(105, 105, 105)))
    lines.append(Line([Span("Type a message")], band=(255, 255, 255), gap=0.8, colour=(115, 115, 115)))
    return Document("chat", "group" if group else "one-to-one", lines, width, margin, style, bubble_colours=(bubble_in, bubble_out))


def message_spans(rng: random.Random, sender: Person, country: str, deck: Deck) -> list[Span]:
    """One message: harmless, or a phone number, e-mail, @handle or address inside a short sentence."""
    if rng.random() < 0.45:
        before, kind, after = rng.choice(PERSONAL_MESSAGES)
        if kind == "phone":
            value = phone_number(rng, country)
        elif kind == "email":
            value = email_address(rng, sender)
        elif kind == "username":
            value = handle(rng, make_person(rng, country))
        else:
            value = ", ".join(address_lines(rng, country)[:2])
        return [Span(before), Span(value, kind)] + ([Span(after)] if after else [])
    text = deck.draw().format(price=price(rng, country), count=rng.randint(2, 9), percent=percentage(rng))
    return [Span(text)]


# -------------------------------------------------------------------------------- template: notice

NOTICES = {
    "water": ("NOTICE OF WATER SUPPLY INTERRUPTION", ("Water supply to the area will be interrupted for pipe replacement works.",
              "Residents are advised to store enough water before the works begin.",
              "Supply will return gradually once the works are completed.")),
    "clean-up": ("COMMUNITY CLEAN-UP DAY", ("Join your neighbours to tidy the park and the river bank.",
                 "Gloves, bags and refreshments will be provided.", "Children are welcome when accompanied by an adult.")),
    "road": ("ROAD CLOSURE", ("The road will be closed to all traffic for resurfacing.",
             "Diversion signs will be in place for drivers and cyclists.", "Access for emergency vehicles will be maintained.")),
    "lost cat": ("LOST CAT", ("Our grey tabby cat has not come home and may be hiding in a garage or shed.",
                 "She is friendly, wears a red collar and is a little shy.", "Please check your sheds and outbuildings.")),
    "sale": ("GARAGE SALE", ("Furniture, books, toys and kitchenware at bargain prices.",
             "Everything must go, so come early for the best items.", "Cash only, no early birds please.")),
    "meeting": ("PUBLIC NOTICE", ("The annual general meeting of the residents' association will be held in the community hall.",
                "All members are invited to attend and vote on the new budget.", "Copies of the agenda are available at the office.")),
}
NOTICE_EXTRAS = ("Thank you for your understanding.", "Please share this notice with your neighbours.",
                 "We apologise for any inconvenience caused.", "Entry is {price} per person.", "Members get {percent} off.",
                 "Please quote reference {invoice} when you write to us.")
VENUES = ("Community Hall", "the main car park", "Riverside Park", "the school field", "Block C lobby")


def notice(rng: random.Random) -> Document:
    variant = rng.choice(sorted(NOTICES))
    heading, sentences = NOTICES[variant]
    person = make_person(rng)
    country = person.country
    organisation, domain = rng.choice(ORGANISATIONS)
    style = pick_style(rng)
    width, margin = rng.uniform(28.0, 34.0), rng.uniform(2.0, 2.8)
    content = width - 2 * margin
    minutes = 15 * rng.randint(8 * 4, 14 * 4)  # notices give times on the quarter hour
    lines = [Line([Span(heading)], size=rng.uniform(1.4, 1.6), bold=True, font="heading", align="center", wrap=content,
                  colour=rng.choice(HEADING_COLOURS))]
    if rng.random() < 0.5:
        lines.append(Line([Span(organisation)], align="center", wrap=content, gap=0.3))
    chosen = sorted(rng.sample(range(len(sentences)), rng.randint(2, len(sentences))))  # in their order
    lines.append(Line([Span(" ".join(sentences[number] for number in chosen))], wrap=content, gap=0.9))
    if rng.random() < 0.6:
        extra = rng.choice(NOTICE_EXTRAS).format(price=price(rng, country), percent=percentage(rng), invoice=invoice_number(rng))
        lines.append(Line([Span(extra)], wrap=content, gap=0.6))
    lines.append(Line([Span("Date:"), Span(format_moment(random_moment(rng, 2010, 2024), rng.choice(NOTICE_DATE_FORMATS)), "date_time")],
                      gap=0.8, bold=rng.random() < 0.5))
    lines.append(Line([Span("Time:"), Span("from"), Span(clock_text(minutes), "date_time"), Span("to"),
                       Span(clock_text(minutes + 60 * rng.randint(2, 8)), "date_time")]))
    lines.append(Line([Span("Venue:"), Span(rng.choice(VENUES))]))
    distractor = rng.randrange(3)
    if distractor == 0:
        lines.append(Line([Span("Entry fee:"), Span(price(rng, country))]))
    elif distractor == 1:
        lines.append(Line([Span(percentage(rng)), Span("off all items, limit"), Span(f"{rng.randint(2, 6)} pcs"),
                           Span("per household")]))
    else:
        lines.append(Line([Span("Ref:"), Span(f"PN/{rng.randint(2010, 2024)}/{rng.randint(1, 999):03d}")]))
    private_contact = variant in ("lost cat", "sale") or rng.random() < 0.3
    email = email_address(rng, person) if private_contact else f"{rng.choice(('info', 'enquiries', 'office'))}@{domain}"
    contact = [Span("For enquiries, call"), Span(phone_number(rng, country), "phone")]
    if rng.random() < 0.7:
        contact += [Span("or e-mail"), Span(email, "email")]
    lines.append(Line(contact, wrap=content, gap=0.8))
    if private_contact:
        lines.append(Line([Span("Contact person:"), Span(person.full, "name")]))
    lines.append(Line([Span(f"Issued by {organisation}")], size=0.8, align="center", wrap=content, gap=1.0))
    return Document("notice", variant, lines, width, margin, style, frame=rng.choice((None, (60, 60, 60), (150, 30, 30))))


TEMPLATE_BUILDERS = {"card": card, "letter": letter, "form": form, "chat": chat, "notice": notice}


def template_for(index: int) -> str:
    """Templates in turn, so any run of 5 photos holds each once and 60 photos 12 of each."""
    return TEMPLATES[index % len(TEMPLATES)]


def build_document(rng: random.Random, template: str) -> Document:
    return TEMPLATE_BUILDERS[template](rng)


# ---------------------------------------------------------------------------------------------- layout


@functools.lru_cache(maxsize=512)
def load_font(family: str, weight: str, size: float) -> ImageFont.FreeTypeFont:
    regular, bold, italic = FAMILIES[family]
    path = FONT_ROOT / {"regular": regular, "bold": bold, "italic": italic}[weight]
    if not path.is_file():
        raise FileNotFoundError(f"font {path} is missing (install fonts-dejavu-core and fonts-liberation)")
    return ImageFont.truetype(str(path), size=size)


def line_font(document: Document, line: Line, unit: float) -> ImageFont.FreeTypeFont:
    weight = "italic" if line.font == "signature" else "bold" if line.bold else "regular"
    return load_font(document.style.fonts[line.font], weight, round(unit * line.size * 4) / 4)


def wrap_lines(document: Document, unit: float) -> Document:
    """The document with every `wrap` line broken into lines that fit, measured at `unit`. Wrapping once, at the
    reference size, keeps the same lines at every scale the document is later laid out at."""
    lines: list[Line] = []
    for line in document.lines:
        lines += wrapped(document, line, unit) if line.wrap is not None else [line]
    return replace(document, lines=lines)


def wrapped(document: Document, line: Line, unit: float) -> list[Line]:
    """Greedy wrapping at spaces; a personal value (a phone number, a name) moves to the next line whole when it
    would fit there, as a writer keeps "+44 7965 123456" together, and breaks only when longer than a line."""
    face = line_font(document, line, unit)
    limit, space = line.wrap * unit, face.getlength(" ")
    rows: list[list[Span]] = [[]]
    width = 0.0
    for span in line.spans:
        whole = face.getlength(" ".join(span.text.split()))
        if span.label != "other" and rows[-1] and width + space + whole > limit and whole <= limit:
            rows.append([])
        for word in span.text.split():
            length = face.getlength(word)
            if rows[-1] and width + space + length > limit:
                rows.append([])
            width = width + space + length if rows[-1] else length
            rows[-1].append(Span(word, span.label))
    rows = [row for row in rows if row]
    return [replace(line, spans=row, wrap=None, gap=line.gap if number == 0 else 0.0, art=line.art if number == 0 else None)
            for number, row in enumerate(rows)]


@dataclass
class PlacedWord:
    text: str
    label: str
    line: int
    rect: tuple[float, float, float, float]  # x0, y0, x1, y1 on the page, in PIL's pixel-edge coordinates


@dataclass
class Page:
    width: int
    height: int
    words: list[PlacedWord]
    pixels: np.ndarray | None  # uint8 RGB [height, width, 3]; None when only measured


@dataclass
class Row:
    """One line laid out: its font, its words at offsets from the line's start, and where it sits."""

    line: Line
    face: ImageFont.FreeTypeFont
    ascent: int
    descent: int
    words: list[tuple[str, str, float]]  # text, label, x offset
    natural: float  # width from the first word's start to the last word's end
    top: float = 0.0
    baseline: float = 0.0
    bottom: float = 0.0
    left: float = 0.0


BUBBLE_PAD = 0.5  # units around a chat bubble's text
PHOTO_SIZE = (6.0, 7.5)  # units: an ID card's photo
RULE_SPACE = 0.5  # units below a line with a rule across the page


def measure_row(document: Document, line: Line, unit: float) -> Row:
    face = line_font(document, line, unit)
    ascent, descent = face.getmetrics()
    space = face.getlength(" ")
    words: list[tuple[str, str, float]] = []
    cursor = 0.0
    for span in line.spans:
        texts = span.text.split()
        if not texts:
            continue
        if words:
            cursor += space
        if span.x is not None:
            cursor = max(cursor, span.x * unit)
        for position, text in enumerate(texts):
            if position:
                cursor += space
            words.append((text, span.label, cursor))
            cursor += face.getlength(text)
    return Row(line, face, ascent, descent, words, cursor)


def layout(document: Document, unit: float, draw: bool = True) -> Page:
    """Place every line at body font size `unit` (px) and, with `draw`, render the page."""
    rows = [measure_row(document, line, unit) for line in document.lines]
    margin, pad = document.margin * unit, BUBBLE_PAD * unit
    photo_w, photo_h = (PHOTO_SIZE[0] * unit, PHOTO_SIZE[1] * unit) if document.photo else (0.0, 0.0)
    bubble_widths: dict[tuple[str, int], float] = {}
    for row in rows:
        if row.line.bubble is not None:
            bubble_widths[row.line.bubble] = max(bubble_widths.get(row.line.bubble, 0.0), row.natural)
    plain = [row.natural for row in rows if row.line.bubble is None and row.line.band is None]
    content = max(document.width * unit - 2 * margin, max(plain, default=0.0) + (photo_w + unit if document.photo else 0.0),
                  max((row.natural for row in rows if row.line.band is not None), default=0.0),
                  max(bubble_widths.values(), default=0.0) + 2 * pad + 2 * unit)
    page_w = content + 2 * margin
    bottom = stack_rows(rows, margin, pad, document.style.spacing, unit)
    leading_bands = rows[:next((number for number, row in enumerate(rows) if row.line.band is None), len(rows))]
    photo_top = leading_bands[-1].bottom + 0.5 * unit if leading_bands else margin
    page_h = max(bottom + margin, photo_top + photo_h + margin if document.photo else 0.0)
    bubble_lefts = {bubble: margin + pad if bubble[0] == "in" else page_w - margin - pad - width
                    for bubble, width in bubble_widths.items()}
    for row in rows:
        bubble = row.line.bubble
        if bubble is not None:
            row.left = bubble_lefts[bubble] + (bubble_widths[bubble] - row.natural if row.line.align == "right" else 0.0)
        elif row.line.align == "center":
            row.left = margin + (content - row.natural) / 2
        elif row.line.align == "right":
            row.left = page_w - margin - row.natural
        else:
            row.left = margin
    words = [PlacedWord(text, label, number, word_rect(row, text, row.left + offset))
             for number, row in enumerate(rows) for text, label, offset in row.words]
    width, height = math.ceil(page_w), math.ceil(page_h)
    pixels = None
    if draw:
        pixels = render(document, rows, unit, width, height, bubble_widths,
                        (page_w - margin - photo_w, photo_top, photo_w, photo_h) if document.photo else None)
    return Page(width, height, words, pixels)


def stack_rows(rows: list[Row], margin: float, pad: float, spacing: float, unit: float) -> float:
    """Give each row its top, baseline and bottom; returns where the last one ends. Chat bubbles get padding
    above and below, a rule across the page gets room below its line."""
    y, previous = margin, None
    for row in rows:
        bubble = row.line.bubble
        if previous is not None and bubble != previous:
            y += pad
        y += row.line.gap * unit
        if bubble is not None and bubble != previous:
            y += pad
        text_height = row.ascent + row.descent
        line_height = text_height * spacing
        row.top, row.bottom = y, y + line_height
        row.baseline = y + (line_height - text_height) / 2 + row.ascent
        y += line_height + (RULE_SPACE * unit if row.line.rule == "below" else 0.0)
        previous = bubble
    return y + (pad if previous is not None else 0.0)


def word_rect(row: Row, text: str, x: float) -> tuple[float, float, float, float]:
    """The word's box: its ink across (plus a little), the font's ascent to descent down, like an OCR word box."""
    left, top, right, bottom = row.face.getbbox(text, anchor="ls")
    pad = 0.06 * row.face.size
    return (x + left - pad, min(row.baseline - row.ascent, row.baseline + top), x + right + pad,
            max(row.baseline + row.descent, row.baseline + bottom))


def render(document: Document, rows: list[Row], unit: float, width: int, height: int,
           bubble_widths: dict[tuple[str, int], float], photo: tuple[float, float, float, float] | None) -> np.ndarray:
    """Backgrounds first (bands, bubbles, frame, photo, chip, rules), then every word in its line's colour."""
    image = Image.new("RGB", (width, height), document.style.paper)
    draw = ImageDraw.Draw(image)
    stroke = max(1, round(0.08 * unit))
    for number, row in enumerate(rows):
        if row.line.band is not None:
            top = 0 if number == 0 else row.top
            bottom = height if number == len(rows) - 1 else row.bottom
            draw.rectangle((0, top, width, bottom), fill=row.line.band)
    draw_bubbles(draw, document, rows, unit, bubble_widths)
    if document.frame is not None:
        inset = 0.35 * document.margin * unit
        draw.rounded_rectangle((inset, inset, width - 1 - inset, height - 1 - inset), radius=unit * 0.6,
                               outline=document.frame, width=stroke)
    if photo is not None:
        draw_photo(draw, *photo)
    margin = document.margin * unit
    for row in rows:
        if row.line.art == "chip":
            chip_h = row.line.gap * unit - 0.6 * unit
            top = row.top - row.line.gap * unit + 0.3 * unit
            draw.rounded_rectangle((margin + 0.3 * unit, top, margin + 0.3 * unit + 1.35 * chip_h, top + chip_h),
                                   radius=0.2 * unit, fill=(214, 180, 90), outline=(150, 120, 50), width=stroke)
        if row.line.rule == "field":
            y = row.baseline + max(1.0, 0.1 * row.face.size)
            draw.line((row.left + row.natural + 0.5 * unit, y, width - margin, y), fill=(90, 90, 90), width=stroke)
        elif row.line.rule == "below":
            y = row.bottom + RULE_SPACE * unit / 2
            draw.line((margin, y, width - margin, y), fill=(90, 90, 90), width=stroke)
    for row in rows:
        colour = row.line.colour or document.style.ink
        for text, _label, offset in row.words:
            draw.text((row.left + offset, row.baseline), text, font=row.face, fill=colour, anchor="ls")
    return np.asarray(image)


def draw_bubbles(draw: ImageDraw.ImageDraw, document: Document, rows: list[Row], unit: float,
                 bubble_widths: dict[tuple[str, int], float]) -> None:
    pad = BUBBLE_PAD * unit
    for bubble, bubble_width in bubble_widths.items():
        members = [row for row in rows if row.line.bubble == bubble]
        left = min(row.left for row in members)
        colour = document.bubble_colours[0 if bubble[0] == "in" else 1] if document.bubble_colours else (235, 235, 235)
        draw.rounded_rectangle((left - pad, members[0].top - 0.8 * pad, left + bubble_width + pad, members[-1].bottom + 0.8 * pad),
                               radius=0.7 * unit, fill=colour)


def draw_photo(draw: ImageDraw.ImageDraw, left: float, top: float, width: float, height: float) -> None:
    """An ID photo placeholder: a grey card with a head and shoulders."""
    draw.rectangle((left, top, left + width, top + height), fill=(196, 202, 208), outline=(150, 150, 150))
    head = width * 0.22
    centre_x, centre_y = left + width / 2, top + height * 0.38
    draw.ellipse((centre_x - head, centre_y - head * 1.2, centre_x + head, centre_y + head * 1.2), fill=(160, 165, 172))
    draw.chord((left + width * 0.12, top + height * 0.68, left + width * 0.88, top + height * 1.28), 180, 360, fill=(160, 165, 172))


# ---------------------------------------------------------------------------------------------- placement


def page_corners(width: float, height: float) -> np.ndarray:
    """The page image's corners (top-left, top-right, bottom-right, bottom-left) with pixel centres at integers."""
    return np.array([[-0.5, -0.5], [width - 0.5, -0.5], [width - 0.5, height - 0.5], [-0.5, height - 0.5]], np.float64)


def project(homography: np.ndarray, points: np.ndarray) -> np.ndarray:
    return cv2.perspectiveTransform(np.asarray(points, np.float64).reshape(-1, 1, 2), homography).reshape(-1, 2)


def word_quads(page: Page, homography: np.ndarray) -> np.ndarray:
    """[words, 4, 2]: each word's box corners (pixel edges -> centres: - 0.5) through the homography."""
    if not page.words:
        return np.zeros((0, 4, 2))
    corners = np.array([[[x0, y0], [x1, y0], [x1, y1], [x0, y1]] for x0, y0, x1, y1 in (w.rect for w in page.words)]) - 0.5
    return project(homography, corners.reshape(-1, 2)).reshape(-1, 4, 2)


def quad_heights(quads: np.ndarray) -> np.ndarray:
    """Mean length of each quad's left and right sides: the text height the photo shows."""
    quads = np.asarray(quads, np.float64)
    return (np.linalg.norm(quads[:, 3] - quads[:, 0], axis=1) + np.linalg.norm(quads[:, 2] - quads[:, 1], axis=1)) / 2


def polygon_area(points: np.ndarray) -> float:
    x, y = np.asarray(points, np.float64).T
    return float(abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))) / 2)


def tilted_shape(rng: random.Random, width: int, height: int) -> np.ndarray:
    """The page's corners at scale 1 around the origin, as a camera sees it: one side shorter (the page seen at an
    angle), each corner nudged by up to 3.5 % of the page, the whole turned by up to 12 degrees."""
    corners = page_corners(width, height) - np.array([(width - 1) / 2, (height - 1) / 2])
    squeeze, side = rng.uniform(0.86, 1.0), rng.randrange(4)
    axis, pair = (0, [0, 1]) if side == 0 else (0, [3, 2]) if side == 1 else (1, [0, 3]) if side == 2 else (1, [1, 2])
    corners[pair, axis] *= squeeze
    jitter = rng.uniform(0.0, 0.035)
    corners += np.array([[rng.uniform(-jitter, jitter) * width, rng.uniform(-jitter, jitter) * height] for _ in range(4)])
    angle = math.radians(rng.uniform(-12.0, 12.0))
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    return corners @ rotation.T


@dataclass
class Placement:
    width: int
    height: int
    quad: np.ndarray  # the page's corners in the photo
    scale: float  # photo pixels per pixel of the reference layout


def propose_placement(rng: random.Random, reference: Page) -> Placement | None:
    """A photo size and the page's quad in it such that, at the reference layout, every word is 13-38.5 px high, the
    page covers 37-88 % of the photo and the long side is 648-1272 px; None when this tilt cannot meet all three.

    Text height fixes the scale k within [k_text_low, k_text_high]; the share and the long side then bound the photo's
    area from both sides (area = long side^2 x short/long ratio), and the page's bounding box must fit."""
    shape = tilted_shape(rng, reference.width, reference.height)
    homography = cv2.getPerspectiveTransform(page_corners(reference.width, reference.height).astype(np.float32),
                                             shape.astype(np.float32))
    heights = quad_heights(word_quads(reference, homography))
    box_w, box_h = shape.max(axis=0) - shape.min(axis=0)
    aspect = float(np.clip(box_w / box_h * rng.uniform(0.85, 1.25), 0.56, 1.8))
    ratio = min(aspect, 1 / aspect)
    area = polygon_area(shape)
    fit = max((box_w / FIT) ** 2 / aspect, (box_h / FIT) ** 2 * aspect)  # smallest photo area (scale 1) the box fits in
    (low_text, high_text), (low_share, high_share), (short, long) = AIM_TEXT_PX, AIM_SHARE, AIM_LONG_SIDE
    if fit * low_share > area:
        return None
    k_low = max(low_text / heights.min(), math.sqrt(short ** 2 * ratio * low_share / area))
    k_high = min(high_text / heights.max(), math.sqrt(long ** 2 * ratio / max(area / high_share, fit)))
    if k_low > k_high:
        return None
    k = rng.uniform(k_low, k_high)
    low_area = max(k * k * area / high_share, k * k * fit, short ** 2 * ratio)
    high_area = min(k * k * area / low_share, long ** 2 * ratio)
    photo_area = math.exp(rng.uniform(math.log(low_area), math.log(high_area)))
    width = round(math.sqrt(photo_area * aspect))
    height = round(photo_area / math.sqrt(photo_area * aspect))
    quad = shape * k
    low_corner, extent = quad.min(axis=0), quad.max(axis=0) - quad.min(axis=0)
    offset = np.array([rng.uniform(0.1, 0.9) * (width - 1 - extent[0]), rng.uniform(0.1, 0.9) * (height - 1 - extent[1])])
    return Placement(width, height, quad - low_corner + offset, k)


def meets_targets(quads: np.ndarray, placement: Placement) -> bool:
    """The guarantees of the module docstring, checked on the final layout."""
    heights = quad_heights(quads)
    share = polygon_area(placement.quad) / (placement.width * placement.height)
    inside = (quads[..., 0].min() >= -0.5 and quads[..., 0].max() <= placement.width - 0.5
              and quads[..., 1].min() >= -0.5 and quads[..., 1].max() <= placement.height - 0.5)
    return bool(len(quads) and inside and TEXT_HEIGHT_PX[0] <= heights.min() and heights.max() <= TEXT_HEIGHT_PX[1]
                and DOCUMENT_SHARE[0] <= share <= DOCUMENT_SHARE[1]
                and PHOTO_LONG_SIDE[0] <= max(placement.width, placement.height) <= PHOTO_LONG_SIDE[1])


# ---------------------------------------------------------------------------------------------- the photo


def train_backgrounds(data_root: Path) -> list[Path]:
    """COCO128 images that PrivMini puts in its train split, sorted by name: backgrounds never come from the
    photos privobf reports on."""
    from privobf.data.privmini import split_of

    folder = data_root / BACKGROUND_FOLDER
    paths = sorted(path for path in folder.glob("*.jpg") if split_of("coco128", path.stem) == "train")
    if not paths:
        raise FileNotFoundError(f"no COCO128 train images in {folder} (--data-root or $PRIVOBF_DATA)")
    return paths


def background_pixels(rng: random.Random, path: Path, width: int, height: int) -> np.ndarray:
    """A random crop of the photo (70-100 % of the largest one with the target's aspect), resized to width x height."""
    with Image.open(path) as opened:
        image = ImageOps.exif_transpose(opened).convert("RGB")
    aspect = width / height
    crop_w, crop_h = (image.height * aspect, image.height) if image.width / image.height > aspect else (image.width, image.width / aspect)
    zoom = rng.uniform(0.7, 1.0)
    crop_w, crop_h = crop_w * zoom, crop_h * zoom
    left, top = rng.uniform(0, image.width - crop_w), rng.uniform(0, image.height - crop_h)
    return np.asarray(image.resize((width, height), Image.Resampling.BICUBIC, box=(left, top, left + crop_w, top + crop_h)))


def composite(rng: random.Random, page: np.ndarray, homography: np.ndarray, background: np.ndarray) -> tuple[np.ndarray, bool]:
    """The warped page over the background (premultiplied by its warped coverage, so its edges blend), with a
    soft shadow under it most of the time. Float RGB."""
    height, width = background.shape[:2]
    warp = functools.partial(cv2.warpPerspective, M=homography, dsize=(width, height), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    warped = warp(page.astype(np.float32))
    alpha = warp(np.ones(page.shape[:2], np.float32))[..., None]
    base = background.astype(np.float32)
    shadow = rng.random() < 0.7
    if shadow:
        sigma = max(width, height) * rng.uniform(0.006, 0.02)
        shift = np.float32([[1, 0, rng.uniform(-1.0, 1.0) * 2 * sigma], [0, 1, rng.uniform(0.3, 1.0) * 2 * sigma]])
        cast = cv2.GaussianBlur(cv2.warpAffine(alpha[..., 0], shift, (width, height)), (0, 0), sigma)
        base *= 1 - rng.uniform(0.25, 0.5) * cast[..., None]
    return warped + base * (1 - alpha), shadow


def degrade(rng: random.Random, noise_rng: np.random.Generator, photo: np.ndarray) -> tuple[np.ndarray, dict]:
    """Uneven light, contrast and brightness, sometimes a Gaussian blur, then sensor noise: uint8 RGB and what was done."""
    height, width = photo.shape[:2]
    tilt_x, tilt_y = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
    light = 1 + tilt_x * np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :] + tilt_y * np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None]
    contrast, brightness = rng.uniform(0.85, 1.15), rng.uniform(-18.0, 18.0)
    photo = (photo * light[..., None] - 128) * contrast + 128 + brightness
    blur = rng.uniform(0.3, 1.0) if rng.random() < 0.45 else 0.0
    if blur:
        photo = cv2.GaussianBlur(photo, (0, 0), blur)
    noise = rng.uniform(1.0, 5.0)
    photo = photo + noise_rng.normal(0.0, noise, photo.shape).astype(np.float32)
    done = {"light_gradient": [round(tilt_x, 3), round(tilt_y, 3)], "contrast": round(contrast, 3), "brightness": round(brightness, 2),
            "blur_sigma": round(blur, 3), "noise_sigma": round(noise, 3)}
    return np.clip(np.round(photo), 0, 255).astype(np.uint8), done


def jpeg_bytes(pixels: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def photo_seed(seed: int, index: int) -> int:
    return seed * SEED_STRIDE + index


def rounded(points: np.ndarray) -> list[list[float]]:
    return [[round(float(x), 2), round(float(y), 2)] for x, y in np.asarray(points).reshape(-1, 2)]


def generate_photo(seed: int, index: int, backgrounds: Sequence[Path], data_root: Path) -> tuple[bytes, dict]:
    """Photo `index` of run `seed`: the JPEG bytes and its annotation (see the module docstring)."""
    own_seed = photo_seed(seed, index)
    rng, noise_rng = random.Random(own_seed), np.random.default_rng(own_seed)
    document = wrap_lines(build_document(rng, template_for(index)), REFERENCE_UNIT)
    reference = layout(document, REFERENCE_UNIT, draw=False)
    for _ in range(PLACEMENT_TRIES):
        placement = propose_placement(rng, reference)
        if placement is None:
            continue
        page = layout(document, REFERENCE_UNIT * placement.scale, draw=False)
        homography = cv2.getPerspectiveTransform(page_corners(page.width, page.height).astype(np.float32),
                                                 placement.quad.astype(np.float32))
        quads = word_quads(page, homography)
        if meets_targets(quads, placement):
            break
    else:
        raise RuntimeError(f"photo {index} of seed {seed} ({document.template}, {document.variant}): no placement met the "
                           f"size targets in {PLACEMENT_TRIES} tries; the template's text sizes spread too far")
    page = layout(document, REFERENCE_UNIT * placement.scale, draw=True)
    background = rng.choice(list(backgrounds))
    photo, shadow = composite(rng, page.pixels, homography, background_pixels(rng, background, placement.width, placement.height))
    pixels, degradations = degrade(rng, noise_rng, photo)
    degradations["shadow"] = shadow
    degradations["jpeg_quality"] = rng.randint(*JPEG_QUALITY)
    annotation = {
        "generator": GENERATOR_VERSION, "seed": own_seed, "run_seed": seed, "index": index,
        "template": document.template, "variant": document.variant, "size": [placement.height, placement.width],
        "document_quad": rounded(placement.quad),
        "document_share": round(polygon_area(placement.quad) / (placement.width * placement.height), 4),
        "background": background.relative_to(data_root).as_posix(), "fonts": dict(document.style.fonts),
        "degradations": degradations,
        "words": [{"text": word.text, "label": word.label, "quad": rounded(quad), "line": word.line, "template": document.template}
                  for word, quad in zip(page.words, quads)],
    }
    return jpeg_bytes(pixels, degradations["jpeg_quality"]), annotation


def generate(out: Path, count: int, seed: int, data_root: Path, command: str) -> dict:
    """Write `count` photos and their annotations into `out`, then index.json; returns the index."""
    out.mkdir(parents=True, exist_ok=True)
    backgrounds = train_backgrounds(data_root)
    entries, labels, templates = [], Counter(), Counter()
    for index in range(count):
        jpeg, annotation = generate_photo(seed, index, backgrounds, data_root)
        stem = f"{index:03d}"
        (out / f"{stem}.jpg").write_bytes(jpeg)
        (out / f"{stem}.json").write_text(json.dumps(annotation, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
        entries.append({"image": f"{stem}.jpg", "annotation": f"{stem}.json", "template": annotation["template"],
                        "variant": annotation["variant"], "words": len(annotation["words"]), "seed": annotation["seed"]})
        labels.update(word["label"] for word in annotation["words"])
        templates[annotation["template"]] += 1
    index = {"generator": GENERATOR_VERSION, "command": command, "seed": seed, "count": count,
             "backgrounds": f"{BACKGROUND_FOLDER.as_posix()}: the images PrivMini puts in its train split",
             "vispr_ids": VISPR_IDS, "label_counts": {label: labels[label] for label in LABELS},
             "template_counts": {template: templates[template] for template in TEMPLATES}, "photos": entries}
    (out / "index.json").write_text(json.dumps(index, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    return index


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Document photos with every word's quad and label (issue 18).")
    parser.add_argument("--out", type=Path, required=True, help="folder for NNN.jpg, NNN.json and index.json")
    parser.add_argument("--count", type=int, default=60, help="photos to write (default 60: 12 of each template)")
    parser.add_argument("--seed", type=int, default=0, help="run seed (default 0); photo i uses seed * 100000 + i")
    parser.add_argument("--data-root", type=Path, default=DEFAULT_DATA, help="data root with coco128/ (default $PRIVOBF_DATA or ../shared/data)")
    args = parser.parse_args(argv)
    if not 1 <= args.count <= SEED_STRIDE:
        parser.error(f"--count must be 1 to {SEED_STRIDE}")
    if args.seed < 0:
        parser.error("--seed must be 0 or more")
    command = shlex.join(["python", "benchmarks/document_photos.py", *(sys.argv[1:] if argv is None else argv)])
    started = time.perf_counter()
    index = generate(args.out, args.count, args.seed, args.data_root.resolve(), command)
    labels = ", ".join(f"{label} {count}" for label, count in index["label_counts"].items())
    print(f"wrote {args.count} photos to {args.out} in {time.perf_counter() - started:.1f} s; words: {labels}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

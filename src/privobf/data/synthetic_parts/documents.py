"""Identity documents, mail, receipts, tickets and screens, each a sprite whose whole surface is one layer
labelled with its VISPR document or screen attribute (issue 19).

What tells these apart in a photo is their structure, not their colour: every type draws its background
from the same random palette, and what differs is what a person recognises them by (a passport's
machine-readable zone under a large photo, a licence's numbered fields and vehicle categories, a student
card's barcode, a ticket's perforated stub, a receipt's long narrow paper, a chat's alternating bubbles, an
e-mail's From / To / Subject header). Names, numbers and dates on them are drawn but not labelled here:
these sprites are for the document types, the attributes on them come from reading.
"""

from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from . import words
from .canvas import Sprite
from .paint import random_colour
from .text import Writer
from .things import _panel, _paper_colour, draw_signature, envelope_sprite, receipt_sprite

ID_CARD = "a29_ausweis"
PASSPORT = "a31_passport"
LICENCE = "a32_drivers_license"
STUDENT_ID = "a33_student_id"
MAIL = "a35_mail"
RECEIPT = "a37_receipt"
TICKET = "a38_ticket"
CONVERSATION = "a97_online_conversation"
EMAIL = "a92_email_content"
CARD_RATIO = 1.586  # ISO/IEC 7810 ID-1: bank cards, identity cards, licences, student cards

ID_HEADINGS = ("IDENTITY CARD", "PERSONALAUSWEIS", "CARTE NATIONALE D'IDENTITE", "NATIONAL ID CARD",
               "DOWOD OSOBISTY", "CARTA D'IDENTITA", "IDENTITEITSKAART", "RESIDENCE PERMIT")
LICENCE_HEADINGS = ("DRIVER LICENSE", "DRIVING LICENCE", "FUHRERSCHEIN", "PERMIS DE CONDUIRE",
                    "PATENTE DI GUIDA", "RIJBEWIJS", "DRIVER'S LICENSE")
STATES = ("CALIFORNIA", "TEXAS", "NEW YORK", "OHIO", "FLORIDA", "OREGON", "UNITED KINGDOM", "EUROPEAN UNION")
UNIVERSITIES = ("UNIVERSITY OF LEEDS", "STATE UNIVERSITY", "TECHNICAL UNIVERSITY", "CITY COLLEGE",
                "NATIONAL UNIVERSITY", "INSTITUTE OF TECHNOLOGY", "UNIVERSITE DE LYON")
PASSPORT_HEADINGS = ("PASSPORT", "PASSEPORT", "REISEPASS", "PASAPORTE", "PASSAPORTO", "PASPOORT")
CARRIERS = ("SKYWAYS", "AIR NORTH", "EUROJET", "PACIFIC AIR", "RAIL EXPRESS", "NATIONAL RAIL", "CITY ARENA")
AIRPORTS = ("LHR", "JFK", "CDG", "FRA", "SIN", "KUL", "AMS", "LAX", "DXB", "HND", "SYD", "MAD")
CHAT_APPS = ("Messages", "Chats", "WhatsApp", "Messenger", "Signal", "Telegram")
MAIL_FOLDERS = ("Inbox", "Starred", "Sent", "Drafts", "Spam", "Trash", "Archive")
SUBJECTS = ("Meeting tomorrow", "Re: your order", "Invoice attached", "Holiday plans", "Fwd: tickets",
            "Project update", "Dinner on Friday?", "Your appointment")


def _ink(rng: np.random.Generator) -> tuple[int, int, int]:
    return (int(rng.integers(10, 50)),) * 3 if rng.random() < 0.7 else (20, 30, int(rng.integers(80, 130)))


def _pale(rng: np.random.Generator) -> np.ndarray:
    """The shared palette of cards and pages: pale tints of any hue, or paper white."""
    return _paper_colour(rng) if rng.random() < 0.35 else random_colour(rng, saturation=(0.05, 0.35), value=(0.8, 0.98))


def _card(rng: np.random.Generator, w: int, h: int, attribute: str) -> Sprite:
    sprite = _panel(rng, w, h, _pale(rng), radius=0.045 * min(w, h * CARD_RATIO), texture=0.04)
    if rng.random() < 0.6:
        _guilloche(sprite.rgb, rng)
    sprite.add(sprite.layers[0].mask, attribute=attribute, solid=True)
    return sprite


def _guilloche(rgb: np.ndarray, rng: np.random.Generator) -> None:
    """Fine wavy security lines across the surface (identity documents and some tickets have them)."""
    h, w = rgb.shape[:2]
    colour = tuple(int(c) for c in np.clip(rgb[h // 2, w // 2].astype(np.float32) * rng.uniform(0.8, 0.92), 0, 255))
    xs = np.linspace(0, w, 80)
    for k in range(int(rng.integers(6, 14))):
        phase, amplitude, period = rng.uniform(0, 6), rng.uniform(0.02, 0.08) * h, rng.uniform(0.2, 0.6) * w
        ys = (k + 0.5) * h / 12 + amplitude * np.sin(2 * np.pi * xs / period + phase)
        cv2.polylines(rgb, [np.stack([xs, ys], 1).round().astype(np.int32)], False, colour, 1, cv2.LINE_AA)


def portrait(rgb: np.ndarray, x: float, y: float, w: float, h: float, rng: np.random.Generator) -> None:
    """A head-and-shoulders photo as identity documents print it: plain backdrop, face, hair, clothes."""
    x0, y0, x1, y1 = int(x), int(y), int(x + w), int(y + h)
    backdrop = random_colour(rng, saturation=(0.0, 0.2), value=(0.7, 0.95))
    rgb[y0:y1, x0:x1] = backdrop.astype(np.uint8)
    patch = rgb[y0:y1, x0:x1]
    pw, ph = x1 - x0, y1 - y0
    skin = np.array(words.pick(rng, ((224, 180, 150), (198, 150, 110), (160, 110, 75), (110, 75, 50), (235, 200, 175))))
    clothes = tuple(int(c) for c in random_colour(rng, value=(0.1, 0.6)))
    hair = tuple(int(c) for c in random_colour(rng, saturation=(0.2, 0.6), value=(0.05, 0.45)))
    cv2.ellipse(patch, (pw // 2, int(1.02 * ph)), (int(0.48 * pw), int(0.3 * ph)), 0, 0, 360, clothes, -1, cv2.LINE_AA)
    cv2.rectangle(patch, (int(0.42 * pw), int(0.6 * ph)), (int(0.58 * pw), int(0.78 * ph)), tuple(int(c) for c in skin), -1)
    cv2.ellipse(patch, (pw // 2, int(0.4 * ph)), (int(0.27 * pw), int(0.31 * ph)), 0, 180, 360, hair, -1, cv2.LINE_AA)
    cv2.ellipse(patch, (pw // 2, int(0.45 * ph)), (int(0.22 * pw), int(0.27 * ph)), 0, 0, 360,
                tuple(int(c) for c in skin), -1, cv2.LINE_AA)
    for side in (-1, 1):
        cv2.circle(patch, (int(pw / 2 + side * 0.09 * pw), int(0.42 * ph)), max(1, int(0.025 * pw)), (40, 30, 30), -1)
    cv2.line(patch, (int(0.44 * pw), int(0.58 * ph)), (int(0.56 * pw), int(0.58 * ph)), (120, 60, 60), max(1, pw // 40))


def barcode(rgb: np.ndarray, x: float, y: float, w: float, h: float, rng: np.random.Generator) -> None:
    """A one-dimensional barcode: black bars of one to four module widths."""
    module = max(1.0, w / 95.0)
    cursor = x
    while cursor < x + w - module:
        bar = module * int(rng.integers(1, 4))
        if rng.random() < 0.55:
            cv2.rectangle(rgb, (int(cursor), int(y)), (int(cursor + bar) - 1, int(y + h)), (15, 15, 15), -1)
        cursor += bar + module * int(rng.integers(1, 3))


def qr_code(rgb: np.ndarray, x: float, y: float, side: float, rng: np.random.Generator) -> None:
    """A QR-like square: random modules and the three finder patterns."""
    cells = 25
    grid = rng.random((cells, cells)) < 0.5
    for r, c in ((0, 0), (0, cells - 7), (cells - 7, 0)):
        grid[r:r + 7, c:c + 7] = False
        grid[r, c:c + 7] = grid[r + 6, c:c + 7] = grid[r:r + 7, c] = grid[r:r + 7, c + 6] = True
        grid[r + 2:r + 5, c + 2:c + 5] = True
    image = np.where(grid, 15, 250).astype(np.uint8)
    size = max(cells, int(side))
    patch = cv2.resize(image, (size, size), interpolation=cv2.INTER_NEAREST)
    y0, x0 = int(y), int(x)
    target = rgb[y0:y0 + size, x0:x0 + size]
    target[:] = patch[:target.shape[0], :target.shape[1], None]


def mrz_lines(rng: np.random.Generator, kind: str) -> list[str]:
    """Machine-readable zone lines: two of 44 characters (passport, TD3) or three of 30 (identity card, TD1)."""
    surname, given = words.pick(rng, words.LAST_NAMES).upper(), words.pick(rng, words.FIRST_NAMES).upper()
    country = str(words.pick(rng, ("GBR", "DEU", "FRA", "USA", "NLD", "MYS", "ITA", "ESP")))
    number = words.letters(rng, 2) + words.digits(rng, 7)
    born, expires = words.digits(rng, 6), words.digits(rng, 6)
    sex = str(words.pick(rng, ("M", "F")))
    if kind == "passport":
        first = f"P<{country}{surname}<<{given}"
        second = f"{number}{words.digits(rng, 1)}{country}{born}{sex}{expires}{words.digits(rng, 8)}"
        return [first.ljust(44, "<")[:44], second.ljust(44, "<")[:44]]
    return [f"ID{country}{number}<<<".ljust(30, "<")[:30],
            f"{born}{sex}{expires}{country}".ljust(30, "<")[:30],
            f"{surname}<<{given}".ljust(30, "<")[:30]]


def _fields(writer: Writer, rng: np.random.Generator, x: float, y: float, labels: list[str], size: int,
            ink, step: float, numbered: bool = False) -> float:
    """Small labels with values beneath them (identity-document style); returns the y after the last."""
    for k, label in enumerate(labels):
        tag = f"{k + 1}. " if numbered else ""
        writer.line(x, y, [(tag + label, None)], "sans", max(4, int(0.6 * size)), (90, 90, 100))
        writer.line(x, y + 0.75 * size, [(_value(rng, label), None)], "bold", size, ink)
        y += step
    return y


def _value(rng: np.random.Generator, label: str) -> str:
    lowered = label.lower()
    if "name" in lowered or "surname" in lowered or "nom" in lowered:
        return words.full_name(rng, upper=True) if "given" not in lowered else str(words.pick(rng, words.FIRST_NAMES)).upper()
    if "birth" in lowered or "date" in lowered or "expir" in lowered or "valid" in lowered or "issue" in lowered:
        return f"{int(rng.integers(1, 29)):02d}.{int(rng.integers(1, 13)):02d}.{int(rng.integers(1950, 2035))}"
    if "nationality" in lowered:
        return str(words.pick(rng, ("BRITISH", "DEUTSCH", "FRANCAISE", "MALAYSIAN", "AMERICAN")))
    if "sex" in lowered:
        return str(words.pick(rng, ("M", "F")))
    if "address" in lowered:
        return words.address_lines(rng)[0].upper()
    return words.letters(rng, 1) + words.digits(rng, int(rng.integers(6, 9)))


def _heading(writer: Writer, w: float, y: float, text: str, size: int, ink, centred: bool = True) -> None:
    from .text import text_extent

    width = text_extent(text, "bold", size)[0]
    x = (w - width) / 2 if centred else 0.05 * w
    writer.line(max(0.02 * w, x), y, [(text, None)], "bold", size, ink)


def id_card_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """An identity card: emblem, heading, photo, labelled fields, signature, or its back with a 3-line MRZ."""
    w, h = int(width), int(round(width / CARD_RATIO))
    sprite = _card(rng, w, h, ID_CARD)
    ink, size = _ink(rng), max(4, int(0.055 * w))
    writer = Writer(sprite.rgb)
    if rng.random() < 0.3:  # the back: address, then the machine-readable zone
        _fields(writer, rng, 0.06 * w, 0.08 * h, ["Address", "Date of issue"], size, ink, 1.7 * size)
        band = 0.55 * h
        rgb = writer.rgb()
        rgb[int(band):h - 2, 2:w - 2] = np.clip(rgb[int(band):h - 2, 2:w - 2].astype(np.int16) + 12, 0, 255).astype(np.uint8)
        writer = Writer(rgb)
        for k, line in enumerate(mrz_lines(rng, "id")):
            writer.line(0.05 * w, band + 0.06 * h + k * 0.13 * h, [(line, None)], "mono", max(4, int(0.052 * w)), (20, 20, 20))
        sprite.rgb = writer.rgb()
        return sprite.finalize()
    _heading(writer, w, 0.05 * h, str(words.pick(rng, ID_HEADINGS)), int(size * 1.1), ink)
    rgb = writer.rgb()
    cv2.circle(rgb, (int(0.08 * w), int(0.1 * h)), int(0.05 * w), tuple(int(c) for c in random_colour(rng)), 2, cv2.LINE_AA)
    portrait(rgb, 0.05 * w, 0.25 * h, 0.28 * w, 0.6 * h, rng)
    writer = Writer(rgb)
    _fields(writer, rng, 0.38 * w, 0.24 * h, ["Surname / Nom", "Given names", "Date of birth", "Nationality"],
            size, ink, 1.55 * size)
    sprite.rgb = writer.rgb()
    if rng.random() < 0.6:
        draw_signature(sprite.rgb, 0.4 * w, 0.82 * h, 0.35 * w, 0.14 * h, rng)
    return sprite.finalize()


def _vehicle(rgb: np.ndarray, x: float, y: float, s: float, kind: int) -> None:
    """Pictograms of the licence categories: a car, a motorbike, a lorry."""
    ink = (30, 30, 30)
    if kind == 0:
        cv2.rectangle(rgb, (int(x), int(y + 0.35 * s)), (int(x + s), int(y + 0.7 * s)), ink, -1)
        cv2.rectangle(rgb, (int(x + 0.2 * s), int(y + 0.1 * s)), (int(x + 0.75 * s), int(y + 0.4 * s)), ink, -1)
    elif kind == 1:
        cv2.line(rgb, (int(x + 0.2 * s), int(y + 0.6 * s)), (int(x + 0.8 * s), int(y + 0.6 * s)), ink, max(1, int(s / 8)))
    else:
        cv2.rectangle(rgb, (int(x), int(y + 0.1 * s)), (int(x + 0.7 * s), int(y + 0.7 * s)), ink, -1)
        cv2.rectangle(rgb, (int(x + 0.7 * s), int(y + 0.35 * s)), (int(x + s), int(y + 0.7 * s)), ink, -1)
    for cx in (x + 0.2 * s, x + 0.8 * s):
        cv2.circle(rgb, (int(cx), int(y + 0.78 * s)), max(1, int(0.14 * s)), ink, -1, cv2.LINE_AA)


def licence_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A driving licence: state or country, heading, photo, numbered fields, vehicle categories, signature."""
    w, h = int(width), int(round(width / CARD_RATIO))
    sprite = _card(rng, w, h, LICENCE)
    ink, size = _ink(rng), max(4, int(0.05 * w))
    writer = Writer(sprite.rgb)
    if rng.random() < 0.5:
        _heading(writer, w, 0.03 * h, str(words.pick(rng, STATES)), int(size * 1.2), (150, 30, 30) if rng.random() < 0.5 else ink)
        _heading(writer, w, 0.03 * h + 1.5 * size, str(words.pick(rng, LICENCE_HEADINGS)), size, ink)
    else:
        _heading(writer, w, 0.05 * h, str(words.pick(rng, LICENCE_HEADINGS)), int(size * 1.2), ink)
    rgb = writer.rgb()
    portrait(rgb, 0.04 * w, 0.28 * h, 0.27 * w, 0.55 * h, rng)
    writer = Writer(rgb)
    bottom = _fields(writer, rng, 0.36 * w, 0.28 * h, ["Surname", "Given names", "Date of birth", "Licence no"],
                     int(size * 0.9), ink, 1.35 * size, numbered=True)
    writer.line(0.36 * w, min(bottom, 0.82 * h), [("9. " + " ".join(words.pick(rng, ("AM A1 A B", "B BE C1", "A B C D", "CLASS C"))), None)],
                "bold", int(size * 0.8), ink)
    rgb = writer.rgb()
    for k in range(3):
        _vehicle(rgb, 0.66 * w + k * 0.1 * w, 0.86 * h, 0.08 * w, int(rng.integers(0, 3)))
    draw_signature(rgb, 0.05 * w, 0.84 * h, 0.25 * w, 0.13 * h, rng)
    sprite.rgb = rgb
    return sprite.finalize()


def student_id_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A student card: the university, STUDENT, photo, name, number, validity and a barcode."""
    portrait_card = rng.random() < 0.3
    w, h = (int(width), int(round(width * CARD_RATIO))) if portrait_card else (int(width), int(round(width / CARD_RATIO)))
    sprite = _card(rng, w, h, STUDENT_ID)
    band = tuple(int(c) for c in random_colour(rng, value=(0.25, 0.7)))
    cv2.rectangle(sprite.rgb, (0, 0), (w - 1, int(0.2 * h)), band, -1)
    ink, size = _ink(rng), max(4, int(0.055 * w))
    writer = Writer(sprite.rgb)
    _heading(writer, w, 0.05 * h, str(words.pick(rng, UNIVERSITIES)), size, (250, 250, 250))
    rgb = writer.rgb()
    if portrait_card:
        portrait(rgb, 0.25 * w, 0.24 * h, 0.5 * w, 0.35 * h, rng)
        writer = Writer(rgb)
        _heading(writer, w, 0.61 * h, str(words.pick(rng, ("STUDENT", "STUDENT ID", "ETUDIANT"))), int(size * 1.3), ink)
        writer.line(0.1 * w, 0.7 * h, [(words.full_name(rng), None)], "bold", size, ink)
        writer.line(0.1 * w, 0.76 * h, [("ID " + words.digits(rng, 8), None)], "sans", size, ink)
        rgb = writer.rgb()
        barcode(rgb, 0.1 * w, 0.84 * h, 0.8 * w, 0.1 * h, rng)
    else:
        portrait(rgb, 0.05 * w, 0.26 * h, 0.26 * w, 0.55 * h, rng)
        writer = Writer(rgb)
        writer.line(0.36 * w, 0.26 * h, [(str(words.pick(rng, ("STUDENT", "STUDENT CARD", "ETUDIANT"))), None)], "bold", int(size * 1.3), ink)
        writer.line(0.36 * w, 0.42 * h, [(words.full_name(rng), None)], "bold", size, ink)
        writer.line(0.36 * w, 0.52 * h, [("Student no. " + words.digits(rng, 8), None)], "sans", int(size * 0.85), ink)
        writer.line(0.36 * w, 0.61 * h, [(f"Valid until {int(rng.integers(1, 13)):02d}/{int(rng.integers(2025, 2031))}", None)],
                    "sans", int(size * 0.85), ink)
        rgb = writer.rgb()
        barcode(rgb, 0.36 * w, 0.74 * h, 0.58 * w, 0.18 * h, rng)
    sprite.rgb = rgb
    return sprite.finalize()


def passport_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A passport: its data page (photo, two columns of fields, the two-line MRZ), the open booklet (a visa
    page above it), or the closed cover (a dark booklet with an emblem and PASSPORT)."""
    variant = rng.random()
    if variant < 0.15:
        w, h = int(width), int(round(width * 1.42))
        cover = random_colour(rng, saturation=(0.4, 0.8), value=(0.1, 0.35))
        sprite = _panel(rng, w, h, cover, radius=0.04 * w, texture=0.06)
        sprite.add(sprite.layers[0].mask, attribute=PASSPORT, solid=True)
        gold = (200, 170, 90)
        writer = Writer(sprite.rgb)
        _heading(writer, w, 0.12 * h, str(words.pick(rng, ("EUROPEAN UNION", "UNITED KINGDOM", "REPUBLIC", "MALAYSIA"))), max(4, int(0.07 * w)), gold)
        _heading(writer, w, 0.78 * h, str(words.pick(rng, PASSPORT_HEADINGS)), max(4, int(0.1 * w)), gold)
        rgb = writer.rgb()
        cv2.circle(rgb, (w // 2, int(0.5 * h)), int(0.18 * w), gold, max(2, w // 60), cv2.LINE_AA)
        cv2.circle(rgb, (w // 2, int(0.5 * h)), int(0.1 * w), gold, -1, cv2.LINE_AA)
        sprite.rgb = rgb
        return sprite.finalize()
    booklet = variant < 0.4
    w, page_h = int(width), int(round(width / 1.42))
    h = 2 * page_h if booklet else page_h
    sprite = _panel(rng, w, h, _pale(rng), radius=0.02 * w, texture=0.05)
    _guilloche(sprite.rgb, rng)
    sprite.add(sprite.layers[0].mask, attribute=PASSPORT, solid=True)
    top = page_h if booklet else 0
    if booklet:
        cv2.line(sprite.rgb, (0, page_h), (w - 1, page_h), (120, 120, 120), max(1, w // 200))
        stamp = tuple(int(c) for c in random_colour(rng, value=(0.3, 0.6)))
        cv2.ellipse(sprite.rgb, (int(rng.uniform(0.3, 0.7) * w), int(0.5 * page_h)), (int(0.15 * w), int(0.1 * w)),
                    float(rng.uniform(0, 180)), 0, 360, stamp, 2, cv2.LINE_AA)
    ink, size = _ink(rng), max(4, int(0.038 * w))
    writer = Writer(sprite.rgb)
    writer.line(0.04 * w, top + 0.04 * page_h, [(str(words.pick(rng, PASSPORT_HEADINGS)) + " / PASSPORT", None)], "bold", int(size * 1.2), ink)
    rgb = writer.rgb()
    portrait(rgb, 0.04 * w, top + 0.16 * page_h, 0.28 * w, 0.52 * page_h, rng)
    writer = Writer(rgb)
    _fields(writer, rng, 0.36 * w, top + 0.14 * page_h, ["Type / Code", "Surname", "Given names", "Nationality"], size, ink, 1.55 * size)
    _fields(writer, rng, 0.68 * w, top + 0.14 * page_h, ["Passport No", "Date of birth", "Sex", "Date of expiry"], size, ink, 1.55 * size)
    mrz_size = max(4, int(0.0215 * w))
    for k, line in enumerate(mrz_lines(rng, "passport")):
        writer.line(0.03 * w, top + 0.76 * page_h + k * 1.4 * mrz_size, [(line, None)], "mono", mrz_size, (20, 20, 20))
    sprite.rgb = writer.rgb()
    return sprite.finalize()


def ticket_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A boarding pass or a train / event ticket: a coloured band, big origin and destination codes, the
    flight / seat fields, a dashed perforation to the stub, and a barcode or QR code."""
    w = int(width)
    h = int(round(w / rng.uniform(2.3, 3.0)))
    sprite = _panel(rng, w, h, _pale(rng), radius=0.02 * w, texture=0.03)
    sprite.add(sprite.layers[0].mask, attribute=TICKET, solid=True)
    band = tuple(int(c) for c in random_colour(rng, value=(0.25, 0.7)))
    cv2.rectangle(sprite.rgb, (0, 0), (w - 1, int(0.22 * h)), band, -1)
    stub = int(rng.uniform(0.68, 0.76) * w)
    for y in range(0, h, max(4, h // 25)):
        cv2.line(sprite.rgb, (stub, y), (stub, y + max(2, h // 50)), (110, 110, 110), max(1, w // 300))
    ink, size = _ink(rng), max(4, int(0.04 * w))
    writer = Writer(sprite.rgb)
    air = rng.random() < 0.6
    writer.line(0.03 * w, 0.05 * h, [(str(words.pick(rng, CARRIERS)), None)], "bold", int(size * 1.1), (250, 250, 250))
    writer.line(0.35 * w, 0.05 * h, [("BOARDING PASS" if air else str(words.pick(rng, ("TICKET", "ADMIT ONE", "E-TICKET"))), None)],
                "bold", int(size * 1.1), (250, 250, 250))
    if air:
        origin, destination = rng.choice(len(AIRPORTS), size=2, replace=False)
        writer.line(0.04 * w, 0.3 * h, [(AIRPORTS[origin] + "  >  " + AIRPORTS[destination], None)], "bold", int(size * 2.0), ink)
        labels = [("FLIGHT", words.letters(rng, 2) + words.digits(rng, 3)), ("GATE", words.letters(rng, 1) + words.digits(rng, 2)),
                  ("SEAT", words.digits(rng, 2) + words.letters(rng, 1)), ("BOARDING", f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}")]
    else:
        writer.line(0.04 * w, 0.3 * h, [(str(words.pick(rng, ("FROM LEEDS TO YORK", "HALL B  ROW 12", "CENTRAL - AIRPORT"))), None)],
                    "bold", int(size * 1.4), ink)
        labels = [("DATE", f"{int(rng.integers(1, 29)):02d}/{int(rng.integers(1, 13)):02d}"), ("ROW", words.digits(rng, 2)),
                  ("SEAT", words.digits(rng, 2)), ("PRICE", f"{rng.uniform(5, 90):.2f}")]
    for k, (label, value) in enumerate(labels):
        x = 0.04 * w + k * 0.16 * w
        writer.line(x, 0.58 * h, [(label, None)], "sans", max(4, int(0.65 * size)), (90, 90, 100))
        writer.line(x, 0.68 * h, [(value, None)], "bold", size, ink)
    writer.line(stub + 0.03 * w, 0.3 * h, [(words.full_name(rng, upper=True)[:14], None)], "sans", max(4, int(0.7 * size)), ink)
    rgb = writer.rgb()
    if rng.random() < 0.5:
        qr_code(rgb, stub + 0.04 * w, 0.45 * h, min(0.5 * h, 0.2 * w), rng)
    else:
        barcode(rgb, stub + 0.03 * w, 0.5 * h, 0.22 * w, 0.4 * h, rng)
    sprite.rgb = rgb
    return sprite.finalize()


def letter_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A posted letter: the recipient's address block top left (under the sender's line, as a window
    envelope shows it), a date, a salutation, paragraphs and a signature."""
    w = int(width)
    h = int(round(w * 1.414))
    sprite = _panel(rng, w, h, _paper_colour(rng), radius=0.005 * w, texture=0.02)
    sprite.add(sprite.layers[0].mask, attribute=MAIL, solid=True)
    ink, size = _ink(rng), max(4, int(0.03 * w))
    writer = Writer(sprite.rgb)
    writer.line(0.1 * w, 0.06 * h, [(str(words.pick(rng, words.COMPANIES)) + " - " + words.address_lines(rng)[0], None)],
                "sans", max(4, int(0.6 * size)), (90, 90, 90))
    y = 0.1 * h
    for line in [words.full_name(rng)] + words.address_lines(rng):
        writer.line(0.1 * w, y, [(line, None)], "sans", size, ink)
        y += 1.35 * size
    writer.line(0.62 * w, y + 2 * size, [(words.date_time(rng).split(" ")[0], None)], "sans", size, ink)
    y += 4.5 * size
    writer.line(0.1 * w, y, [("Dear " + str(words.pick(rng, words.FIRST_NAMES)) + ",", None)], "serif", size, ink)
    y += 2 * size
    while y < 0.78 * h:
        for _ in range(int(rng.integers(2, 5))):
            writer.line(0.1 * w, y, [(words.filler_line(rng, int(rng.integers(6, 10))), None)], "serif", size, ink)
            y += 1.35 * size
        y += 0.8 * size
    sprite.rgb = writer.rgb()
    draw_signature(sprite.rgb, 0.1 * w, min(y, 0.84 * h), 0.3 * w, 0.08 * h, rng)
    return sprite.finalize()


def mail_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """An addressed envelope (stamp, postmark, address block) or a posted letter."""
    if rng.random() < 0.5:
        return letter_sprite(rng, width)
    sprite = envelope_sprite(rng, width, address_attribute=MAIL, name_attribute=None)
    for layer in sprite.layers:  # the envelope's address block is its mail layer here; the surface is the document
        layer.attribute = None
    sprite.add(sprite.layers[0].mask, attribute=MAIL, solid=True)
    return sprite.finalize()


def long_receipt_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A till receipt: the short one of the scenes, or a long one with a header, dashed rules, many items,
    tax lines, a total and a barcode."""
    if rng.random() < 0.35:
        sprite = receipt_sprite(rng, width, {})
        sprite.add(sprite.layers[0].mask, attribute=RECEIPT, solid=True)
        return sprite.finalize()
    w = int(width)
    size = max(4, int(0.058 * w))
    items = int(rng.integers(4, 14))
    line_h = 1.3 * size
    h = int((items + 14) * line_h + 0.25 * w)
    sprite = _panel(rng, w, h, _paper_colour(rng) * 1.02, 0.0, texture=0.02)
    sprite.add(sprite.layers[0].mask, attribute=RECEIPT, solid=True)
    ink = (int(rng.integers(30, 80)),) * 3
    writer = Writer(sprite.rgb)
    y = 0.06 * w
    _heading(writer, w, y, str(words.pick(rng, words.SIGN_WORDS[:20])).upper(), int(size * 1.2), ink)
    y += 1.8 * line_h
    for text in words.address_lines(rng)[:2] + ["TEL " + words.phone_number(rng)]:
        _heading(writer, w, y, text, max(4, int(0.85 * size)), ink)
        y += line_h
    rule = "-" * 32
    for _ in range(items):
        if rng.random() < 0.2:
            writer.line(0.06 * w, y, [(rule, None)], "mono", max(4, int(0.8 * size)), ink)
            y += line_h
        product = str(words.pick(rng, words.PRODUCT_WORDS))[:12]
        writer.line(0.06 * w, y, [(f"{product:<14}{rng.uniform(0.5, 40):>8.2f}", None)], "mono", size, ink)
        y += line_h
    writer.line(0.06 * w, y, [(rule, None)], "mono", max(4, int(0.8 * size)), ink)
    y += line_h
    for label in ("SUBTOTAL", "TAX", "TOTAL", "CASH", "CHANGE"):
        writer.line(0.06 * w, y, [(f"{label:<14}{rng.uniform(1, 200):>8.2f}", None)], "mono_bold" if label == "TOTAL" else "mono", size, ink)
        y += line_h
    writer.line(0.06 * w, y, [(words.date_time(rng), None)], "mono", size, ink)
    y += 1.5 * line_h
    rgb = writer.rgb()
    if rng.random() < 0.6:
        barcode(rgb, 0.15 * w, y, 0.7 * w, min(0.12 * w, h - y - 2), rng)
    sprite.rgb = rgb
    return sprite.finalize()


def _screen(rng: np.random.Generator, width: int, portrait_device: bool, attribute: str) -> tuple[Sprite, tuple[int, int, int, int]]:
    """A phone (portrait) or a monitor / laptop (landscape) with a light app screen; returns the sprite and
    the screen's box (x0, y0, x1, y1)."""
    w = int(width)
    h = int(round(w * (2.0 if portrait_device else rng.uniform(0.6, 0.7))))
    bare = rng.random() < 0.3  # a screenshot shown or printed on its own: the screen without the device
    bezel = random_colour(rng, saturation=(0.0, 0.2), value=(0.05, 0.3))
    sprite = _panel(rng, w, h, bezel, radius=0.0 if bare else (0.1 if portrait_device else 0.02) * w, texture=0.02)
    sprite.add(sprite.layers[0].mask, attribute=attribute, solid=True)
    margin = 0 if bare else 0.05 * w if portrait_device else 0.03 * w
    if bare:
        light = np.array((250, 250, 250)) if rng.random() < 0.8 else np.array((30, 32, 38))
        sprite.rgb[:] = light.astype(np.uint8)
        return sprite, (0, 0, w, h)
    screen = (int(margin), int(0.08 * h if portrait_device else margin), int(w - margin), int(0.92 * h if portrait_device else h - margin))
    light = np.array((250, 250, 250)) if rng.random() < 0.7 else np.array((30, 32, 38))
    sprite.rgb[screen[1]:screen[3], screen[0]:screen[2]] = light.astype(np.uint8)
    return sprite, screen


def conversation_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A messaging app on a phone or a computer: a header with the contact's avatar and name, then
    alternating incoming and outgoing bubbles with times."""
    phone = rng.random() < 0.65
    sprite, (x0, y0, x1, y1) = _screen(rng, width, phone, CONVERSATION)
    rgb = sprite.rgb
    sw, sh = x1 - x0, y1 - y0
    dark = rgb[y0 + 2, x0 + 2].mean() < 100
    accent = tuple(int(c) for c in random_colour(rng, saturation=(0.4, 0.8), value=(0.5, 0.85)))
    header = int(0.09 * sh if phone else 0.1 * sh)
    cv2.rectangle(rgb, (x0, y0), (x1 - 1, y0 + header), accent, -1)
    left = x0
    if not phone:  # the contact list of a desktop client
        left = x0 + int(0.28 * sw)
        cv2.rectangle(rgb, (x0, y0 + header), (left, y1 - 1), (235, 235, 238) if not dark else (45, 47, 55), -1)
    size = max(4, int(0.045 * (x1 - left)))
    writer = Writer(rgb)
    cv2.circle(rgb, (left + int(0.6 * header), y0 + header // 2), max(2, int(0.32 * header)), (200, 200, 210), -1, cv2.LINE_AA)
    writer = Writer(rgb)
    writer.line(left + 1.3 * header, y0 + 0.25 * header, [(words.full_name(rng), None)], "bold", size, (250, 250, 250))
    if not phone:
        for k in range(6):
            writer.line(x0 + 0.02 * sw, y0 + header + (k + 0.5) * 2.4 * size, [(str(words.pick(rng, words.FIRST_NAMES)), None)], "sans", size,
                        (60, 60, 60) if not dark else (220, 220, 220))
    rgb = writer.rgb()
    y = y0 + header + 0.6 * size
    area = x1 - left
    incoming = (235, 235, 240) if not dark else (60, 62, 70)
    outgoing = tuple(int(c) for c in np.clip(np.array(accent) * 0.5 + 127, 0, 255))
    while y < y1 - 4 * size:
        mine = rng.random() < 0.5
        lines = int(rng.integers(1, 4))
        bubble_w = rng.uniform(0.4, 0.75) * area
        bubble_h = lines * 1.35 * size + 1.4 * size
        bx = left + (area - bubble_w - 0.04 * area if mine else 0.04 * area)
        colour = outgoing if mine else incoming
        cv2.rectangle(rgb, (int(bx), int(y)), (int(bx + bubble_w), int(y + bubble_h)), colour, -1, cv2.LINE_AA)
        writer = Writer(rgb)
        for k in range(lines):
            text = words.filler_line(rng, int(rng.integers(2, 5)))
            writer.line(bx + 0.5 * size, y + 0.4 * size + k * 1.35 * size, [(text, None)], "sans", size, (25, 25, 25) if sum(colour) > 380 else (240, 240, 240))
        writer.line(bx + bubble_w - 3.2 * size, y + bubble_h - 1.0 * size, [(f"{int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}", None)],
                    "sans", max(4, int(0.6 * size)), (110, 110, 110))
        rgb = writer.rgb()
        y += bubble_h + 0.7 * size
    cv2.rectangle(rgb, (left + 4, y1 - int(2.2 * size)), (x1 - 4, y1 - 4), (215, 215, 220), 1, cv2.LINE_AA)
    sprite.rgb = rgb
    return sprite.finalize()


def email_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """An e-mail on a screen (a folder list, a toolbar, the From / To / Subject header, the body) or printed."""
    printed = rng.random() < 0.25
    if printed:
        w = int(width)
        h = int(round(w * 1.414))
        sprite = _panel(rng, w, h, _paper_colour(rng), radius=0.005 * w, texture=0.02)
        sprite.add(sprite.layers[0].mask, attribute=EMAIL, solid=True)
        x0, y0, x1, y1 = int(0.08 * w), int(0.05 * h), int(0.92 * w), int(0.95 * h)
        left = x0
    else:
        phone = rng.random() < 0.3
        sprite, (x0, y0, x1, y1) = _screen(rng, width, phone, EMAIL)
        left = x0
        if not phone:
            left = x0 + int(0.2 * (x1 - x0))
    rgb = sprite.rgb
    dark = rgb[(y0 + y1) // 2, (left + x1) // 2].mean() < 100
    ink = (25, 25, 30) if not dark else (230, 230, 235)
    size = max(4, int(0.032 * (x1 - left)))
    writer = Writer(rgb)
    if left > x0:
        for k, folder in enumerate(MAIL_FOLDERS):
            writer.line(x0 + 0.1 * (left - x0), y0 + (3 + 1.8 * k) * size, [(folder, None)], "sans", size, ink)
    rgb = writer.rgb()
    if not printed:
        cv2.rectangle(rgb, (left, y0), (x1 - 1, y0 + int(2.2 * size)), tuple(int(c) for c in random_colour(rng, value=(0.4, 0.8))), -1)
    writer = Writer(rgb)
    y = y0 + 3.0 * size
    writer.line(left + size, y, [(str(words.pick(rng, SUBJECTS)), None)], "bold", int(1.3 * size), ink)
    y += 2.2 * size
    person = words.full_name(rng)
    for label, value in (("From:", f"{person} <{person.split()[0].lower()}@mail.com>"),
                         ("To:", words.full_name(rng)), ("Date:", words.date_time(rng))):
        writer.line(left + size, y, [(label + " ", None), (value, None)], "sans", size, ink)
        y += 1.45 * size
    rgb = writer.rgb()
    cv2.line(rgb, (int(left + size), int(y + 0.3 * size)), (int(x1 - size), int(y + 0.3 * size)), (160, 160, 160), 1)
    writer = Writer(rgb)
    y += 1.2 * size
    writer.line(left + size, y, [("Hi " + str(words.pick(rng, words.FIRST_NAMES)) + ",", None)], "sans", size, ink)
    y += 1.8 * size
    while y < y1 - 3 * size:
        for _ in range(int(rng.integers(2, 5))):
            if y >= y1 - 3 * size:
                break
            writer.line(left + size, y, [(words.filler_line(rng, int(rng.integers(6, 11))), None)], "sans", size, ink)
            y += 1.35 * size
        y += 0.9 * size
    sprite.rgb = writer.rgb()
    return sprite.finalize()


def notice_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A public notice or a flyer (none of the document types): a coloured title, paragraphs with a date, a
    time and a contact line, an organisation's name at the foot."""
    w = int(width)
    h = int(round(w * rng.uniform(0.7, 1.45)))
    sprite = _panel(rng, w, h, _pale(rng), radius=0.01 * w, texture=0.02)
    ink, size = _ink(rng), max(4, int(0.035 * w))
    writer = Writer(sprite.rgb)
    title = str(words.pick(rng, ("ROAD CLOSURE", "LOST CAT", "NOTICE", "OPEN DAY", "GARAGE SALE", "MEETING",
                                 "WATER SUPPLY", "NEW HOURS", "CONCERT", "YOGA CLASS")))
    _heading(writer, w, 0.06 * h, title, int(size * 2.0), tuple(int(c) for c in random_colour(rng, value=(0.3, 0.7))))
    y = 0.06 * h + 3.2 * size
    while y < 0.8 * h:
        writer.line(0.08 * w, y, [(words.filler_line(rng, int(rng.integers(5, 9))), None)], "serif", size, ink)
        y += 1.4 * size * (2.0 if rng.random() < 0.2 else 1.0)
    writer.line(0.08 * w, 0.86 * h, [("For enquiries call " + words.phone_number(rng), None)], "sans", size, ink)
    _heading(writer, w, 0.92 * h, str(words.pick(rng, words.COMPANIES)), max(4, int(0.8 * size)), ink)
    sprite.rgb = writer.rgb()
    return sprite.finalize()


# The builders by attribute, and the width of each (a fraction of the scene's shorter side) so that a
# document's size in a photo is like a real close-up or a document among other things on a table.
DOCUMENT_BUILDERS: dict[str, Callable[[np.random.Generator, int], Sprite]] = {
    ID_CARD: id_card_sprite,
    PASSPORT: passport_sprite,
    LICENCE: licence_sprite,
    STUDENT_ID: student_id_sprite,
    MAIL: mail_sprite,
    RECEIPT: long_receipt_sprite,
    TICKET: ticket_sprite,
    CONVERSATION: conversation_sprite,
    EMAIL: email_sprite,
}
DOCUMENT_WIDTH = {ID_CARD: (0.35, 0.9), PASSPORT: (0.35, 0.85), LICENCE: (0.35, 0.9), STUDENT_ID: (0.3, 0.85),
                  MAIL: (0.35, 0.75), RECEIPT: (0.2, 0.4), TICKET: (0.5, 0.95), CONVERSATION: (0.22, 0.45),
                  EMAIL: (0.45, 0.95)}
DOCUMENT_IDS: tuple[str, ...] = tuple(DOCUMENT_BUILDERS)

__all__ = ["DOCUMENT_BUILDERS", "DOCUMENT_IDS", "DOCUMENT_WIDTH", "barcode", "mrz_lines",
           "notice_sprite", "portrait", "qr_code"]

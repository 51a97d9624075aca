"""Strings for synthetic scenes: private ones (names, addresses, dates, phones, plates) and harmless ones.

The harmless strings are deliberately close to the private ones where a model could cheat on
surface form: prices and room numbers are digits but not phone numbers, shop signs are
capitalised words but not names. Dates and times never appear in harmless text, so that a
date/time string on the image always means `a82_date_time`.
"""

from __future__ import annotations

from functools import partial

import numpy as np

FIRST_NAMES = (
    "James", "Maria", "Wei", "Aisha", "Lucas", "Sofia", "Omar", "Emma", "Hiroshi", "Fatima", "Noah", "Olga",
    "Carlos", "Priya", "Liam", "Chen", "Amara", "Ivan", "Nora", "Mateo", "Yuki", "Hannah", "Kwame", "Elena",
    "David", "Leila", "Tomasz", "Grace", "Rahul", "Ingrid", "Diego", "Mei", "Samuel", "Zoe", "Ahmed", "Clara",
)
LAST_NAMES = (
    "Smith", "Garcia", "Wang", "Khan", "Muller", "Rossi", "Hassan", "Johnson", "Tanaka", "Okafor", "Nowak",
    "Petrov", "Silva", "Patel", "Brown", "Kim", "Mensah", "Jensen", "Dubois", "Lopez", "Schmidt", "Novak",
    "Andersen", "Costa", "Yilmaz", "Murphy", "Fischer", "Moreau", "Sato", "Ivanova", "Walker", "Haddad",
)
STREETS = (
    "Oak", "Maple", "High", "Church", "Station", "Park", "Mill", "Victoria", "Elm", "Lake", "Hill", "Cedar",
    "King", "Queen", "Bridge", "Market", "Garden", "River", "Rose", "Chestnut", "Baker", "Willow",
)
STREET_KINDS = ("Street", "Road", "Avenue", "Lane", "Drive", "Way", "Close", "St.", "Rd.", "Ave.")
CITIES = (
    ("Springfield", "IL"), ("Portland", "OR"), ("Madison", "WI"), ("Austin", "TX"), ("Leeds", ""),
    ("Bristol", ""), ("Lyon", ""), ("Graz", ""), ("Dayton", "OH"), ("Salem", "MA"), ("Utrecht", ""),
    ("Bergen", ""), ("Toledo", "OH"), ("Aarhus", ""), ("Fresno", "CA"),
)
COUNTRIES = ("USA", "United Kingdom", "France", "Austria", "Netherlands", "Norway", "Denmark")
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTHS_LONG = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
    "November", "December",
)
SIGN_WORDS = (
    "EXIT", "OPEN", "SALE 50%", "CAFE", "PIZZA", "BAKERY", "PHARMACY", "PARKING", "NO SMOKING", "STOP",
    "FRESH FRUIT", "HOTEL", "BUS STOP", "WELCOME", "BOOKS", "MENU", "ORGANIC", "25% OFF", "3 FOR 2",
    "KEEP LEFT", "TAXI", "PUSH", "PULL", "GIFTS", "FLOWERS", "SUSHI BAR", "ONE WAY", "TICKETS", "BAR",
    "GELATO", "DENTAL CARE", "LAUNDRY", "FOOD COURT", "SUPERMARKET", "CLOSED", "ENTRANCE", "TOILETS",
)
PRODUCT_WORDS = (
    "Coffee", "Tea", "Milk 1L", "Butter", "Olive Oil", "Rice 2kg", "Pasta", "Apples", "Bread", "Cheese",
    "Soap", "Shampoo", "Orange Juice", "Cereal", "Chocolate", "Water 6x1.5L", "Tomatoes", "Honey",
)
FILLER_WORDS = (
    "the", "of", "and", "report", "meeting", "project", "please", "review", "attached", "summary",
    "budget", "quality", "results", "team", "office", "notes", "update", "item", "total", "order",
    "service", "delivery", "thank", "you", "for", "your", "request", "payment", "account", "plan",
)
TITLES = ("Sales Manager", "Engineer", "Designer", "Consultant", "Director", "Nurse", "Architect", "Analyst")
COMPANIES = ("ACME Corp", "Northwind", "Globex", "Initech", "Umbrella Ltd", "Stark & Co", "Bluebird Inc")
BANKS = ("GLOBAL BANK", "CITY CREDIT", "NORDIC BANK", "UNION BANK", "FIRST TRUST", "METRO BANK")
BRAND_WORDS = ("VISA", "PLATINUM", "GOLD", "DEBIT", "CREDIT")


def pick(rng: np.random.Generator, options: tuple) -> object:
    """One element of `options`, drawn with `rng` (keeps every choice on the scene's own generator)."""
    return options[int(rng.integers(len(options)))]


def digits(rng: np.random.Generator, count: int) -> str:
    return "".join(str(d) for d in rng.integers(0, 10, size=count))


def full_name(rng: np.random.Generator, upper: bool = False) -> str:
    """A first and last name, sometimes with a middle initial, as printed on cards and badges."""
    name = f"{pick(rng, FIRST_NAMES)} {pick(rng, LAST_NAMES)}"
    if rng.random() < 0.25:
        first, last = name.split(" ")
        name = f"{first} {chr(65 + int(rng.integers(26)))}. {last}"
    return name.upper() if upper else name


def address_lines(rng: np.random.Generator) -> list[str]:
    """A complete address as 2-3 lines (street, city with postcode, sometimes the country)."""
    street = f"{int(rng.integers(1, 400))} {pick(rng, STREETS)} {pick(rng, STREET_KINDS)}"
    if rng.random() < 0.2:
        street = f"Apt {int(rng.integers(1, 40))}, {street}"
    city, state = pick(rng, CITIES)
    city_line = f"{city}, {state} {digits(rng, 5)}" if state else f"{digits(rng, 4)} {city}"
    lines = [street, city_line]
    if rng.random() < 0.4:
        lines.append(str(pick(rng, COUNTRIES)))
    return lines


def date_time(rng: np.random.Generator) -> str:
    """A date and/or time in one of the formats cameras, receipts and letters use."""
    year, month, day = int(rng.integers(1995, 2025)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    hour, minute = int(rng.integers(0, 24)), int(rng.integers(0, 60))
    formats = (
        f"{year}-{month:02d}-{day:02d}",
        f"{day:02d}.{month:02d}.{year}",
        f"{month:02d}/{day:02d}/{year}",
        f"{MONTHS[month - 1]} {day}, {year}",
        f"{day} {MONTHS_LONG[month - 1]} {year}",
        f"{year}/{month:02d}/{day:02d} {hour:02d}:{minute:02d}",
        f"{day:02d} {MONTHS[month - 1].upper()} {year} {hour:02d}:{minute:02d}",
        f"{hour % 12 or 12}:{minute:02d} {'PM' if hour >= 12 else 'AM'}  {month}/{day}/{year % 100:02d}",
    )
    return str(pick(rng, formats))


def camera_timestamp(rng: np.random.Generator) -> str:
    """The date stamp a compact camera burns into the corner of a photo."""
    year, month, day = int(rng.integers(1995, 2012)), int(rng.integers(1, 13)), int(rng.integers(1, 29))
    if rng.random() < 0.5:
        return f"{year % 100:02d} {month:2d} {day:2d}"
    return f"{year}/{month:02d}/{day:02d} {int(rng.integers(0, 24)):02d}:{int(rng.integers(0, 60)):02d}"


PHONE_FORMATS = (
    lambda d: f"+1 {d(3)}-{d(3)}-{d(4)}",
    lambda d: f"({d(3)}) {d(3)}-{d(4)}",
    lambda d: f"+44 {d(2)} {d(4)} {d(4)}",
    lambda d: f"0{d(3)} {d(3)} {d(4)}",
    lambda d: f"{d(3)}.{d(3)}.{d(4)}",
    lambda d: f"+49 {d(3)} {d(7)}",
)


def phone_number(rng: np.random.Generator) -> str:
    """A phone number in a national or international format (always 9+ digits, unlike harmless numbers)."""
    return PHONE_FORMATS[int(rng.integers(len(PHONE_FORMATS)))](partial(digits, rng))


def letters(rng: np.random.Generator, count: int) -> str:
    return "".join(chr(65 + int(c)) for c in rng.integers(0, 26, size=count))


def plate_text(rng: np.random.Generator, european: bool) -> str:
    """Licence plate characters in a European (letters-digits-letters) or US (7 characters) style."""
    style = int(rng.integers(3))
    if european:
        if style == 0:
            return f"{letters(rng, 2)} {digits(rng, 3)} {letters(rng, 2)}"
        if style == 1:
            return f"{letters(rng, 1)}-{letters(rng, 2)} {digits(rng, 4)}"
        return f"{letters(rng, 2)}{digits(rng, 2)} {letters(rng, 3)}"
    if style == 0:
        return f"{digits(rng, 1)}{letters(rng, 3)}{digits(rng, 3)}"
    if style == 1:
        return f"{letters(rng, 3)} {digits(rng, 4)}"
    return f"{letters(rng, 3)}-{digits(rng, 3)}"


def card_number(rng: np.random.Generator) -> str:
    return " ".join(digits(rng, 4) for _ in range(4))


def card_expiry(rng: np.random.Generator) -> str:
    return f"{int(rng.integers(1, 13)):02d}/{int(rng.integers(24, 31))}"


HARMLESS_NUMBER_FORMATS = (
    lambda n: f"${n(1, 100)}.{n(0, 100):02d}",
    lambda n: f"{n(1, 100)},{n(0, 100):02d} EUR",
    lambda n: f"Room {n(100, 999)}",
    lambda n: f"Gate {chr(65 + n(0, 8))}{n(1, 40)}",
    lambda n: f"No. {n(1, 99)}",
    lambda n: f"{n(5, 80)}% OFF",
    lambda n: f"Aisle {n(1, 30)}",
    lambda n: f"Platform {n(1, 16)}",
)


def _integer(rng: np.random.Generator, low: int, high: int) -> int:
    return int(rng.integers(low, high))


def harmless_number(rng: np.random.Generator) -> str:
    """Digits that are not a phone number nor a date: prices, room and gate numbers, percentages."""
    return HARMLESS_NUMBER_FORMATS[int(rng.integers(len(HARMLESS_NUMBER_FORMATS)))](partial(_integer, rng))


def sign_text(rng: np.random.Generator) -> str:
    return str(pick(rng, SIGN_WORDS)) if rng.random() < 0.75 else harmless_number(rng)


def filler_line(rng: np.random.Generator, words: int) -> str:
    """Harmless prose for documents: the lines around the private fields."""
    text = " ".join(str(pick(rng, FILLER_WORDS)) for _ in range(words))
    return text[:1].upper() + text[1:]

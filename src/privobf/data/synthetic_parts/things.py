"""Objects that carry private text or are private themselves: cards, plates, documents, screens.

Every builder takes the attribute ids it may label (None = do not draw that private item at all),
so a scene never shows private content outside the requested attributes. Private text is drawn
at least `MIN_LEGIBLE_PX` tall; callers size objects accordingly (`min_width_for_text`).
"""

from __future__ import annotations

import cv2
import numpy as np

from . import words
from .canvas import Sprite, box_mask, crop_to_content
from .paint import Painter, fractal_noise, random_colour, rounded_rect, side_light
from .text import MIN_LEGIBLE_PX, LineBoxes, Writer, record_block, record_line, text_extent

INK_COLOURS = ((20, 20, 25), (25, 35, 110), (15, 15, 60), (60, 20, 20))

# Text size as a fraction of the object's width, per object kind: the planner needs it to know how
# wide an object must be for its private text to be legible.
TEXT_SCALE = {
    "card": 0.058, "plate": 0.13, "document": 0.042, "envelope": 0.045,
    "business_card": 0.06, "phone": 0.085, "sign": 0.07, "sticker": 0.13, "receipt": 0.07,
}


def min_width_for_text(kind: str) -> int:
    """The narrowest object of `kind` whose private text is still legible."""
    return int(np.ceil(MIN_LEGIBLE_PX / TEXT_SCALE[kind]))


def _panel(
    rng: np.random.Generator, w: int, h: int, colour: np.ndarray, radius: float, texture: float = 0.05
) -> Sprite:
    """A flat rounded rectangle with slight lighting and texture; layer 0 is its surface."""
    painter = Painter(h, w)
    painter.rectangle(0, 0, w - 1, h - 1, 1, 1, radius)
    surface = painter.parts > 0
    light = side_light(h, w, rng.uniform(0.03, 0.12), rng.uniform(0, 2 * np.pi))
    grain = 1.0 + texture * fractal_noise(rng, h, w, octaves=3)
    rgb = np.clip(colour[None, None, :] * (light * grain)[..., None], 0, 255).astype(np.uint8)
    sprite = Sprite(rgb, surface.astype(np.float32), shadow=float(rng.uniform(0.15, 0.35)))
    sprite.add(surface, solid=True)
    return sprite


def _gradient(w: int, h: int, first: np.ndarray, second: np.ndarray, angle: float) -> np.ndarray:
    ramp = (side_light(h, w, 0.5, angle) - 0.5)[..., None]
    return first[None, None, :] * (1 - ramp) + second[None, None, :] * ramp


def _contrast_ink(background: np.ndarray) -> tuple[int, int, int]:
    """Dark ink on light surfaces, light ink on dark ones."""
    return (20, 20, 20) if float(background.mean()) > 120 else (240, 240, 235)


def credit_card_sprite(rng: np.random.Generator, width: int, card_attribute: str, name_attribute: str | None) -> Sprite:
    """A payment card: chip, number, expiry, bank, brand and (when allowed) the holder's name inside it."""
    w, h = int(width), int(round(width / 1.586))
    first, second = random_colour(rng, value=(0.15, 0.9)), random_colour(rng, value=(0.15, 0.9))
    sprite = _panel(rng, w, h, first, radius=0.045 * w)
    base = _gradient(w, h, first, second, rng.uniform(0, np.pi))
    lighting = sprite.rgb.astype(np.float32) / np.maximum(first, 1.0)  # the panel's light and grain
    sprite.rgb = np.clip(base * lighting, 0, 255).astype(np.uint8)
    card = sprite.add(sprite.layers[0].mask, attribute=card_attribute, solid=True)
    _chip(sprite.rgb, 0.1 * w, 0.36 * h, 0.14 * w, 0.1 * w)
    ink = _contrast_ink(base.mean(axis=(0, 1)))
    writer = Writer(sprite.rgb)
    size = max(3, int(TEXT_SCALE["card"] * w))
    lines = [writer.line(0.07 * w, 0.07 * h, [(str(words.pick(rng, words.BANKS)), None)], "bold", int(size * 1.1), ink),
             writer.line(0.07 * w, 0.56 * h, [(words.card_number(rng), None)], "mono_bold", int(size * 1.25), ink),
             writer.line(0.45 * w, 0.72 * h, [("VALID THRU " + words.card_expiry(rng), None)], "mono",
                         int(size * 0.8), ink),
             _brand(writer, rng, w, h, int(size * 1.3), ink)]
    if name_attribute is not None:
        lines.append(writer.line(0.07 * w, 0.82 * h, [(words.full_name(rng, upper=True), name_attribute)], "mono",
                                 max(size, MIN_LEGIBLE_PX), ink))
    sprite.rgb = writer.rgb()
    for line in lines:
        record_line(sprite, line, parent=card, detect=0.85)
    return sprite.finalize()


def _brand(writer: Writer, rng: np.random.Generator, w: int, h: int, size: int, ink) -> LineBoxes:
    """The card brand, right-aligned in the bottom corner."""
    brand = str(words.pick(rng, words.BRAND_WORDS))
    text_w = text_extent(brand, "italic", size)[0]
    return writer.line(0.95 * w - text_w, 0.8 * h, [(brand, None)], "italic", size, ink)


def _chip(rgb: np.ndarray, x: float, y: float, w: float, h: float) -> None:
    """The gold contact chip: a rounded rectangle with contact lines."""
    points = np.round(rounded_rect(x, y, x + w, y + h, 0.15 * h)).astype(np.int32)
    cv2.fillPoly(rgb, [points], (212, 175, 90), cv2.LINE_AA)
    line = (150, 120, 60)
    thickness = max(1, int(0.05 * h))
    for k in (1, 2):
        yy = int(y + k * h / 3)
        cv2.line(rgb, (int(x), yy), (int(x + w), yy), line, thickness, cv2.LINE_AA)
    cv2.line(rgb, (int(x + w / 2), int(y)), (int(x + w / 2), int(y + h)), line, thickness, cv2.LINE_AA)


def plate_sprite(rng: np.random.Generator, width: int, plate_attribute: str, european: bool) -> Sprite:
    """A licence plate: border, characters, and a blue country strip on European plates."""
    w = int(width)
    h = int(round(w / (4.7 if european else 2.0)))
    colour = np.array((250, 250, 245) if european and rng.random() < 0.75 else (248, 214, 60) if european
                      else (245, 245, 245), dtype=np.float32)
    sprite = _panel(rng, w, h, colour, radius=0.06 * h, texture=0.03)
    sprite.shadow = 0.0
    plate = sprite.add(sprite.layers[0].mask, attribute=plate_attribute, solid=True)
    rgb = sprite.rgb
    cv2.polylines(rgb, [np.round(rounded_rect(1, 1, w - 2, h - 2, 0.06 * h)).astype(np.int32)], True, (20, 20, 20),
                  max(1, int(0.04 * h)), cv2.LINE_AA)
    left = 0.05 * w
    if european:
        strip = int(0.085 * w)
        cv2.rectangle(rgb, (2, 2), (strip, h - 3), (30, 60, 160), -1)
        left = strip + 0.03 * w
    text = words.plate_text(rng, european)
    size = int(0.7 * h) if european else int(0.5 * h)
    text_w, text_h = text_extent(text, "condensed", size)
    available = w - left - 0.04 * w
    if text_w > available:
        size = max(4, int(size * available / text_w))
        text_w, text_h = text_extent(text, "condensed", size)
    ink = (20, 20, 20) if european else tuple(int(c) for c in random_colour(rng, value=(0.2, 0.5)))
    writer = Writer(rgb)
    x = left + (available - text_w) / 2
    y = (h - text_h) / 2 + (0.08 * h if not european else 0.0)
    line = writer.line(x, y, [(text, None)], "condensed", size, ink)
    if not european:
        writer.line(0.3 * w, 0.06 * h, [(str(words.pick(rng, ("OHIO", "TEXAS", "OREGON", "MAINE"))), None)], "bold",
                    max(3, int(0.14 * h)), (40, 40, 120))
    sprite.rgb = writer.rgb()
    record_line(sprite, line, parent=plate, detect=0.9)
    return sprite.finalize()


def car_sprite(rng: np.random.Generator, width: int, plate_attribute: str | None, european: bool) -> Sprite:
    """A car seen from the front or back with its plate on the bumper; the car itself is not private."""
    w = int(width)
    h = int(round(0.78 * w))
    front = rng.random() < 0.5
    painter = Painter(h, w)
    body, glass, rubber, light, grille = 1, 2, 3, 4, 5
    for x0 in (0.05, 0.79):
        painter.rectangle(x0 * w, 0.7 * h, (x0 + 0.16) * w, h - 1, 1, rubber, 0.03 * w)
    painter.polygon([(0.2 * w, 0.04 * h), (0.8 * w, 0.04 * h), (0.93 * w, 0.46 * h), (0.07 * w, 0.46 * h)], 1, body)
    painter.rectangle(0, 0.4 * h, w - 1, 0.9 * h, 1, body, 0.07 * w)
    for side in (-1, 1):
        painter.ellipse((0.5 * w + side * 0.49 * w, 0.4 * h), (0.05 * w, 0.03 * h), 1, body)
    painter.polygon([(0.24 * w, 0.09 * h), (0.76 * w, 0.09 * h), (0.87 * w, 0.41 * h), (0.13 * w, 0.41 * h)], 1, glass)
    for x0 in (0.07, 0.72):
        painter.rectangle(x0 * w, 0.5 * h, (x0 + 0.21) * w, 0.6 * h, 1, light, 0.03 * w)
    if front:
        painter.rectangle(0.33 * w, 0.5 * h, 0.67 * w, 0.62 * h, 1, grille, 0.02 * w)
    painter.rectangle(0.02 * w, 0.78 * h, 0.98 * w, 0.88 * h, 1, grille, 0.03 * w)
    palette = np.array([(0, 0, 0), random_colour(rng, saturation=(0.0, 0.8), value=(0.15, 0.95)), (45, 60, 75),
                        (25, 25, 25), (250, 245, 220) if front else (200, 30, 30), (35, 35, 38)], dtype=np.float32)
    reflection = 1.0 + 0.25 * side_light(h, w, 1.0, -np.pi / 2.5)[..., None] * (painter.colours == glass)[..., None]
    shade = side_light(h, w, rng.uniform(0.05, 0.15), rng.uniform(0, 2 * np.pi))[..., None]
    rgb = np.clip(painter.apply(palette) * shade * reflection, 0, 255).astype(np.uint8)
    sprite = Sprite(rgb, (painter.parts > 0).astype(np.float32), shadow=0.35)
    car = sprite.add(painter.parts > 0, solid=True)
    if plate_attribute is not None:
        plate = plate_sprite(rng, int(0.3 * w), plate_attribute, european)
        _inset(sprite, plate, int(0.5 * w - plate.shape[1] / 2), int(0.71 * h - plate.shape[0] / 2), parent=car)
    return sprite.finalize()


def side_car_sprite(rng: np.random.Generator, width: int) -> Sprite:
    """A car in profile: no plate visible, a harmless look-alike of the plate-carrying cars."""
    w = int(width)
    h = int(round(0.42 * w))
    painter = Painter(h, w)
    painter.polygon([(0.02 * w, 0.45 * h), (0.25 * w, 0.42 * h), (0.35 * w, 0.05 * h), (0.72 * w, 0.05 * h),
                     (0.85 * w, 0.42 * h), (0.98 * w, 0.5 * h), (0.98 * w, 0.82 * h), (0.02 * w, 0.82 * h)], 1, 1)
    painter.polygon([(0.38 * w, 0.12 * h), (0.52 * w, 0.12 * h), (0.52 * w, 0.42 * h), (0.3 * w, 0.42 * h)], 1, 2)
    painter.polygon([(0.55 * w, 0.12 * h), (0.69 * w, 0.12 * h), (0.79 * w, 0.42 * h), (0.55 * w, 0.42 * h)], 1, 2)
    for cx in (0.2, 0.8):
        painter.ellipse((cx * w, 0.8 * h), (0.1 * w, 0.1 * w), 1, 3)
        painter.ellipse((cx * w, 0.8 * h), (0.05 * w, 0.05 * w), 1, 4)
    palette = np.array([(0, 0, 0), random_colour(rng, saturation=(0.0, 0.8)), (50, 65, 80), (25, 25, 25),
                        (160, 160, 165)], dtype=np.float32)
    shade = side_light(h, w, 0.15, -np.pi / 2)[..., None]
    rgb = np.clip(painter.apply(palette) * shade, 0, 255).astype(np.uint8)
    sprite = Sprite(rgb, (painter.parts > 0).astype(np.float32), shadow=0.35)
    sprite.add(painter.parts > 0, solid=True)
    return crop_to_content(sprite.finalize())


def _inset(host: Sprite, guest: Sprite, left: int, top: int, parent: int | None) -> None:
    """Paint `guest` onto `host` at (left, top) and move its layers over (children of `parent`)."""
    gh, gw = guest.shape
    hh, hw = host.shape
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + gh, hh), min(left + gw, hw)
    g = (slice(y0 - top, y1 - top), slice(x0 - left, x1 - left))
    window = (slice(y0, y1), slice(x0, x1))
    alpha = guest.alpha[g][..., None]
    host.rgb[window] = (host.rgb[window] * (1 - alpha) + guest.rgb[g] * alpha).astype(np.uint8)
    host.alpha[window] = np.maximum(host.alpha[window], guest.alpha[g])
    offset = len(host.layers)
    for layer in guest.layers:
        mask = np.zeros(host.shape, dtype=bool)
        mask[window] = layer.mask[g]
        new_parent = parent if layer.parent is None else layer.parent + offset
        host.add(mask, attribute=layer.attribute, parent=new_parent, solid=layer.solid, text=layer.text,
                 human=layer.human, limb=layer.limb, detect=layer.detect)


def scribble(rng: np.random.Generator, width: int, height: int) -> list[np.ndarray]:
    """Handwriting-like strokes: a looping line across the box, an initial loop, maybe a flourish."""
    t = np.linspace(0.0, 1.0, 160)
    loops = rng.uniform(4, 10)
    x = 0.12 * width + 0.8 * width * t + 0.05 * width * np.sin(2 * np.pi * loops * t + rng.uniform(0, 6))
    y = 0.55 * height + 0.25 * height * np.sin(2 * np.pi * loops * t * rng.uniform(0.9, 1.1))
    y += 0.12 * height * np.sin(2 * np.pi * rng.uniform(0.5, 1.5) * t + rng.uniform(0, 6))
    strokes = [np.stack([x, y], axis=1)]
    s = np.linspace(0, 2 * np.pi, 40)
    initial = np.stack([0.12 * width + 0.08 * width * np.sin(s), 0.45 * height - 0.34 * height * np.cos(s)], axis=1)
    strokes.append(initial)
    if rng.random() < 0.5:
        u = np.linspace(0, 1, 40)
        strokes.append(np.stack([0.1 * width + 0.85 * width * u, 0.85 * height + 0.06 * height * np.sin(np.pi * u)], 1))
    return strokes


def draw_signature(rgb: np.ndarray, x: float, y: float, w: float, h: float,
                   rng: np.random.Generator) -> tuple[float, float, float, float]:
    """Draw a scribble in the box (x, y, w, h); returns the box around its ink (the a8 region)."""
    colour = INK_COLOURS[int(rng.integers(len(INK_COLOURS)))]
    thickness = max(1, int(round(h / 18)))
    xs, ys = [], []
    for stroke in scribble(rng, int(w), int(h)):
        points = np.round(stroke + (x, y)).astype(np.int32)
        cv2.polylines(rgb, [points], False, colour, thickness, cv2.LINE_AA)
        xs.append(points[:, 0])
        ys.append(points[:, 1])
    xs, ys = np.concatenate(xs), np.concatenate(ys)
    pad = thickness + 1
    return float(xs.min() - pad), float(ys.min() - pad), float(xs.max() + pad), float(ys.max() + pad)


def _paper_colour(rng: np.random.Generator) -> np.ndarray:
    base = np.array((246, 244, 236), dtype=np.float32)
    return base * rng.uniform(0.88, 1.02) + rng.uniform(-6, 6, size=3).astype(np.float32)


def document_sprite(rng: np.random.Generator, width: int, private: dict[str, str]) -> Sprite:
    """A letter or form: filler lines around the private items requested in `private`.

    `private` maps a role ("date", "address", "name", "phone", "signature") to the attribute id.
    """
    w = int(width)
    size = max(int(TEXT_SCALE["document"] * w * rng.uniform(0.9, 1.2)), 4)
    blocks = _document_blocks(rng, private, size)
    signature_h = int(2.6 * size) if "signature" in private else 0
    line_h = 1.4 * size
    h = int(0.08 * w + sum(len(b[1]) for b in blocks) * line_h + len(blocks) * 0.5 * size + signature_h + 0.1 * w)
    sprite = _panel(rng, w, h, _paper_colour(rng), radius=0.01 * w, texture=0.03)
    paper = 0
    writer = Writer(sprite.rgb)
    ink = INK_COLOURS[int(rng.integers(len(INK_COLOURS)))] if rng.random() < 0.3 else (30, 30, 30)
    y, margin = 0.07 * w, 0.08 * w
    recorded: list[tuple[str, list[LineBoxes]]] = []
    for role, lines in blocks:
        done = [writer.line(margin, y + k * line_h, spans, "bold" if role == "header" else "serif", size, ink)
                for k, spans in enumerate(lines)]
        recorded.append((role, done))
        y += len(lines) * line_h + 0.5 * size
    sprite.rgb = writer.rgb()
    for role, done in recorded:
        if role == "address":
            record_block(sprite, done, private["address"], parent=paper)
        else:
            for line in done:
                record_line(sprite, line, parent=paper)
    if "signature" in private:
        _sign(sprite, rng, margin, y, 0.45 * w, signature_h, private["signature"], paper)
    return sprite.finalize()


def _document_blocks(rng: np.random.Generator, private: dict[str, str], size: int) -> list[tuple[str, list]]:
    """The document's content as (role, lines of spans), private items shuffled among filler."""
    blocks: list[tuple[str, list]] = [("header", [[(str(words.pick(rng, words.COMPANIES)), None)]])]
    items: list[tuple[str, list]] = [("filler", [[(words.filler_line(rng, int(rng.integers(3, 6))), None)]
                                                  for _ in range(int(rng.integers(1, 4)))]) for _ in range(2)]
    if "name" in private and "address" not in private:
        items.append(("name", [[("Name: ", None), (words.full_name(rng), private["name"])]]))
    if "address" in private:
        lines = [[(line, None)] for line in words.address_lines(rng)]
        if "name" in private:
            items.append(("name", [[(words.full_name(rng), private["name"])]]))
        items.append(("address", lines))
    if "date" in private:
        items.append(("date", [[(str(words.pick(rng, ("Date: ", "Issued: ", "Dated "))), None),
                                (words.date_time(rng), private["date"])]]))
    if "phone" in private:
        items.append(("phone", [[(str(words.pick(rng, ("Tel: ", "Phone: ", "Call "))), None),
                                 (words.phone_number(rng), private["phone"])]]))
    order = rng.permutation(len(items))
    blocks.extend(items[int(k)] for k in order)
    if "name" in private and "address" in private:  # keep the name right above its address
        names = [b for b in blocks if b[0] == "name"]
        blocks = [b for b in blocks if b[0] != "name"]
        at = next(i for i, b in enumerate(blocks) if b[0] == "address")
        blocks[at:at] = names
    return blocks


def _sign(sprite: Sprite, rng: np.random.Generator, x: float, y: float, w: float, h: float, attribute: str,
          parent: int) -> None:
    """A signature above a line; the box around the ink is both the label and an OCR line."""
    box = draw_signature(sprite.rgb, x, y, w, h * 0.8, rng)
    cv2.line(sprite.rgb, (int(x), int(y + 0.85 * h)), (int(x + w), int(y + 0.85 * h)), (90, 90, 90), 1, cv2.LINE_AA)
    sprite.add(box_mask(sprite.shape, box), text=True, parent=parent, detect=0.55)
    sprite.add(box_mask(sprite.shape, box), attribute=attribute, parent=parent)


def signature_sprite(rng: np.random.Generator, width: int, attribute: str) -> Sprite:
    """A signature on a slip of paper above a line and a caption.

    Always on paper: bare ink on a photo was tried and often vanished on dark backgrounds,
    giving labels for scribbles nobody could see.
    """
    w = int(width)
    h = int(w * rng.uniform(0.3, 0.45))
    colour = _paper_colour(rng) if rng.random() < 0.8 else random_colour(rng, saturation=(0.05, 0.3), value=(0.8, 1.0))
    sprite = _panel(rng, w, h, colour, radius=0.02 * w, texture=0.03)
    _sign(sprite, rng, 0.06 * w, 0.05 * h, 0.88 * w, 0.75 * h, attribute, 0)
    writer = Writer(sprite.rgb)
    caption = writer.line(0.06 * w, 0.82 * h, [(str(words.pick(rng, ("Signature", "Sign here", "Signed"))), None)],
                          "sans", max(4, int(0.1 * h)), (90, 90, 90))
    sprite.rgb = writer.rgb()
    record_line(sprite, caption, parent=0, detect=0.7)
    return sprite.finalize()


def envelope_sprite(rng: np.random.Generator, width: int, address_attribute: str, name_attribute: str | None) -> Sprite:
    """An envelope with a stamp, a postmark and the recipient's address block."""
    w = int(width)
    size = max(int(TEXT_SCALE["envelope"] * w), 4)
    lines = words.address_lines(rng)
    if name_attribute is not None:
        lines = [words.full_name(rng)] + lines
    text_w = max(text_extent(line, "sans", size)[0] for line in lines)
    h = int(max(w / rng.uniform(1.5, 2.0), (len(lines) * 1.35 + 4) * size))
    brown = rng.random() < 0.3
    sprite = _panel(rng, w, h, np.array((214, 180, 130), np.float32) if brown else _paper_colour(rng), 0.01 * w)
    rgb = sprite.rgb
    sx, sy, sw = int(0.8 * w), int(0.08 * h), int(0.12 * w)
    cv2.rectangle(rgb, (sx, sy), (sx + sw, sy + int(1.2 * sw)), tuple(int(c) for c in random_colour(rng)), -1)
    cv2.circle(rgb, (sx - sw // 3, sy + sw // 2), sw // 2, (70, 70, 90), 1, cv2.LINE_AA)
    writer = Writer(rgb)
    x0 = max(0.35 * w, w - text_w - 0.08 * w)
    y0 = max(0.42 * h, h - (len(lines) * 1.35 + 1) * size)
    done = [writer.line(x0, y0 + k * 1.35 * size, [(line, None)], "sans", size, (25, 25, 30))
            for k, line in enumerate(lines)]
    sprite.rgb = writer.rgb()
    if name_attribute is not None:
        record_line(sprite, LineBoxes(done[0].box, [(name_attribute, done[0].box)]), parent=0)
        done = done[1:]
    record_block(sprite, done, address_attribute, parent=0)
    return sprite.finalize()


def business_card_sprite(rng: np.random.Generator, width: int, private: dict[str, str]) -> Sprite:
    """A business card: a name, a title and company, a phone line, sometimes an address."""
    w = int(width)
    h = int(w / 1.75)
    colour = _paper_colour(rng) if rng.random() < 0.7 else random_colour(rng, value=(0.2, 0.9))
    sprite = _panel(rng, w, h, colour, 0.02 * w, texture=0.02)
    ink = _contrast_ink(colour)
    size = max(int(TEXT_SCALE["business_card"] * w), 4)
    writer = Writer(sprite.rgb)
    if "name" in private:
        headline = (words.full_name(rng), private["name"])
    else:
        headline = (str(words.pick(rng, words.COMPANIES)), None)
    top = writer.line(0.07 * w, 0.1 * h, [headline], "bold", int(size * 1.4), ink)
    lines = [top, writer.line(0.07 * w, 0.1 * h + 1.9 * size, [(str(words.pick(rng, words.TITLES)), None)], "oblique",
                              size, ink)]
    y = 0.1 * h + 3.6 * size
    address_lines: list[LineBoxes] = []
    if "phone" in private:
        phone = [("Tel ", None), (words.phone_number(rng), private["phone"])]
        lines.append(writer.line(0.07 * w, y, phone, "sans", size, ink))
        y += 1.35 * size
    if "address" in private:
        for text in words.address_lines(rng)[:2]:
            address_lines.append(writer.line(0.07 * w, y, [(text, None)], "sans", size, ink))
            y += 1.35 * size
    sprite.rgb = writer.rgb()
    for line in lines:
        record_line(sprite, line, parent=0)
    if address_lines:
        record_block(sprite, address_lines, private["address"], parent=0)
    return sprite.finalize()


def phone_sprite(rng: np.random.Generator, width: int, private: dict[str, str]) -> Sprite:
    """A smartphone showing a call: the contact's name and number, or app icons when neither is asked for."""
    w = int(width)
    h = int(2.0 * w)
    sprite = _panel(rng, w, h, random_colour(rng, saturation=(0.0, 0.3), value=(0.05, 0.3)), 0.12 * w, texture=0.02)
    rgb = sprite.rgb
    screen = (int(0.06 * w), int(0.1 * h), int(0.94 * w), int(0.9 * h))
    top = np.array((40, 60, 90), np.float32)
    rgb[screen[1]:screen[3], screen[0]:screen[2]] = np.clip(_gradient(screen[2] - screen[0], screen[3] - screen[1], top,
                                                                     top * 0.4, np.pi / 2), 0, 255).astype(np.uint8)
    size = max(int(TEXT_SCALE["phone"] * w), 4)
    writer = Writer(rgb)
    lines = [writer.line(0.12 * w, 0.2 * h, [(str(words.pick(rng, ("mobile", "Calling...", "Incoming call"))), None)],
                         "sans", int(size * 0.8), (200, 200, 210))]
    if "name" in private:
        name = [(words.full_name(rng), private["name"])]
        lines.append(writer.line(0.12 * w, 0.27 * h, name, "sans", size, (250, 250, 250)))
    if "phone" in private:
        lines.append(writer.line(0.12 * w, 0.36 * h, [(words.phone_number(rng), private["phone"])], "sans",
                                 max(int(size * 0.9), 4), (230, 230, 240)))
    rgb = writer.rgb()
    if private:
        for k, colour in enumerate(((40, 200, 80), (220, 50, 50))):
            cv2.circle(rgb, (int((0.3 + 0.4 * k) * w), int(0.78 * h)), max(2, int(0.1 * w)), colour, -1, cv2.LINE_AA)
    else:
        for row in range(3):
            for col in range(3):
                x, y = int((0.14 + 0.27 * col) * w), int(0.45 * h + row * 0.27 * w)
                cv2.rectangle(rgb, (x, y), (x + int(0.18 * w), y + int(0.18 * w)),
                              tuple(int(c) for c in random_colour(rng)), -1)
    sprite.rgb = rgb
    for line in lines:
        record_line(sprite, line, parent=0)
    return sprite.finalize()


def sign_sprite(rng: np.random.Generator, width: int, phone_attribute: str | None) -> Sprite:
    """A shop sign or poster: big harmless words, and a phone line when `phone_attribute` is given."""
    w = int(width)
    text = words.sign_text(rng)
    size = max(int(w / max(len(text), 4) * 1.3), 6)
    text_w, text_h = text_extent(text, "bold", size)
    if text_w > 0.9 * w:
        size = max(4, int(size * 0.9 * w / text_w))
        text_w, text_h = text_extent(text, "bold", size)
    phone_size = max(int(TEXT_SCALE["sign"] * w), 4)
    prefix, phone = str(words.pick(rng, ("CALL ", "Tel. ", "Info: ", "Bookings "))), words.phone_number(rng)
    if phone_attribute is not None:  # widen the sign rather than shrink the phone number below legibility
        w = max(w, int(text_extent(prefix + phone, "bold", phone_size)[0] + 0.14 * w))
    h = int(text_h + 0.3 * size + (2.2 * phone_size if phone_attribute else 0) + 0.2 * size)
    colour = random_colour(rng, saturation=(0.3, 1.0), value=(0.3, 1.0))
    sprite = _panel(rng, w, max(h, 8), colour, 0.04 * w, texture=0.04)
    ink = _contrast_ink(colour) if rng.random() < 0.7 else tuple(int(c) for c in random_colour(rng))
    writer = Writer(sprite.rgb)
    lines = [writer.line((w - text_w) / 2, 0.15 * size, [(text, None)], "bold", size, ink)]
    if phone_attribute is not None:
        lines.append(writer.line(0.06 * w, text_h + 0.5 * size, [(prefix, None), (phone, phone_attribute)],
                                 "bold", phone_size, ink))
    sprite.rgb = writer.rgb()
    for line in lines:
        record_line(sprite, line, parent=0)
    return sprite.finalize()


def timestamp_sprite(rng: np.random.Generator, size: int, attribute: str) -> Sprite:
    """The orange date a camera prints into a photo: bare glyphs, the photo shows between them."""
    text = words.camera_timestamp(rng) if rng.random() < 0.6 else words.date_time(rng)
    size = max(int(size), MIN_LEGIBLE_PX)
    text_w, text_h = text_extent(text, "mono_bold", size)
    w, h = text_w + 6, text_h + 6
    colour = (255, 150, 30) if rng.random() < 0.6 else (255, 230, 80)
    writer = Writer(np.zeros((h, w, 3), dtype=np.uint8))
    line = writer.line(3, 3, [(text, attribute)], "mono_bold", size, colour)
    sprite = Sprite(writer.rgb(), writer.alpha())
    record_line(sprite, line)
    return sprite.finalize()


def sticker_sprite(rng: np.random.Generator, width: int, name_attribute: str) -> Sprite:
    """A 'HELLO my name is' sticker with a first name (or full name) written on it."""
    w = int(width)
    h = int(0.68 * w)
    sprite = _panel(rng, w, h, np.array((250, 250, 250), np.float32), 0.06 * w, texture=0.02)
    band = tuple(int(c) for c in (random_colour(rng, saturation=(0.7, 1.0), value=(0.6, 0.95))))
    cv2.rectangle(sprite.rgb, (0, 0), (w, int(0.36 * h)), band, -1)
    cv2.rectangle(sprite.rgb, (0, int(0.9 * h)), (w, h), band, -1)
    sprite.rgb[~sprite.layers[0].mask] = 0
    writer = Writer(sprite.rgb)
    header = [writer.line(0.25 * w, 0.03 * h, [("HELLO", None)], "bold", int(0.17 * h), (255, 255, 255)),
              writer.line(0.3 * w, 0.23 * h, [("my name is", None)], "sans", max(4, int(0.08 * h)), (255, 255, 255))]
    name = words.full_name(rng) if rng.random() < 0.5 else str(words.pick(rng, words.FIRST_NAMES))
    size = int(TEXT_SCALE["sticker"] * w)
    text_w = text_extent(name, "oblique", size)[0]
    if text_w > 0.9 * w:
        size = int(size * 0.9 * w / text_w)
        text_w = text_extent(name, "oblique", size)[0]
    name_line = writer.line((w - text_w) / 2, 0.5 * h, [(name, name_attribute)], "oblique", max(size, 4), (15, 15, 40))
    sprite.rgb = writer.rgb()
    for line in (*header, name_line):
        record_line(sprite, line, parent=0)
    return sprite.finalize()


def receipt_sprite(rng: np.random.Generator, width: int, private: dict[str, str]) -> Sprite:
    """A till receipt: shop name, items with prices, total, and the purchase date / shop phone."""
    w = int(width)
    size = max(int(TEXT_SCALE["receipt"] * w), 4)
    count = int(rng.integers(2, 6))
    items = [(str(words.pick(rng, words.PRODUCT_WORDS)), f"{rng.uniform(0.5, 30):.2f}") for _ in range(count)]
    line_h = 1.35 * size
    rows = 3 + len(items) + ("date" in private) + ("phone" in private)
    h = int(rows * line_h + 0.6 * w)
    sprite = _panel(rng, w, h, _paper_colour(rng) * 1.02, 0.0, texture=0.02)
    writer = Writer(sprite.rgb)
    ink = (50, 50, 55)
    y = 0.15 * w
    lines = [writer.line(0.1 * w, y, [(str(words.pick(rng, words.SIGN_WORDS[:20])), None)], "mono_bold", size, ink)]
    y += 1.6 * line_h
    if "phone" in private:
        phone = [("T ", None), (words.phone_number(rng), private["phone"])]
        lines.append(writer.line(0.1 * w, y, phone, "mono", size, ink))
        y += line_h
    for product, price in items:
        lines.append(writer.line(0.1 * w, y, [(f"{product[:10]:<11}{price:>6}", None)], "mono", size, ink))
        y += line_h
    total = sum(float(p) for _, p in items)
    lines.append(writer.line(0.1 * w, y, [(f"{'TOTAL':<11}{total:>6.2f}", None)], "mono_bold", size, ink))
    y += 1.3 * line_h
    if "date" in private:
        lines.append(writer.line(0.1 * w, y, [(words.date_time(rng), private["date"])], "mono", size, ink))
    sprite.rgb = writer.rgb()
    for line in lines:
        record_line(sprite, line, parent=0, detect=0.9)
    return sprite.finalize()

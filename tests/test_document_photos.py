"""benchmarks/document_photos.py (the labelled document-photo generator) and benchmarks/reading_documents.py (its
scoring): determinism, geometry and labels of a few generated photos, valid personal values, and the ink metric on
tiny hand-made images."""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import phonenumbers
import pytest
from PIL import Image, ImageDraw, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
import document_photos as generator  # noqa: E402
import reading_documents as reading  # noqa: E402

DATA = Path(os.environ.get("PRIVOBF_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
FONT = generator.FONT_ROOT / "dejavu" / "DejaVuSans.ttf"


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Path]:
    """Seed 0 generated twice (2 photos each) and seed 1 once (1 photo)."""
    if not (DATA / generator.BACKGROUND_FOLDER).is_dir():
        pytest.skip(f"COCO128 not found under {DATA} (set PRIVOBF_DATA)")
    folders = {}
    for name, count, seed in (("first", 2, 0), ("again", 2, 0), ("other_seed", 1, 1)):
        folders[name] = tmp_path_factory.mktemp(name)
        generator.generate(folders[name], count, seed, DATA.resolve(), command="test")
    return folders


def annotations(folder: Path) -> list[dict]:
    return [json.loads((folder / entry["annotation"]).read_text(encoding="utf-8"))
            for entry in json.loads((folder / "index.json").read_text(encoding="utf-8"))["photos"]]


def documents(seeds=range(6)) -> list[tuple[generator.Document, generator.Page]]:
    """Every template laid out (no photo) for a handful of seeds."""
    built = []
    for seed in seeds:
        for template in generator.TEMPLATES:
            document = generator.wrap_lines(generator.build_document(random.Random(seed), template), generator.REFERENCE_UNIT)
            built.append((document, generator.layout(document, generator.REFERENCE_UNIT, draw=False)))
    return built


def runs_of(words, label: str) -> list[str]:
    """Consecutive words of `label` on one line, joined: the values as written (a phone number, a card number)."""
    values, previous = [], None
    for word in words:
        key = (word["line"], word["label"]) if isinstance(word, dict) else (word.line, word.label)
        text = word["text"] if isinstance(word, dict) else word.text
        if key[1] == label:
            if previous == key:
                values[-1] += " " + text
            else:
                values.append(text)
        previous = key
    return values


# ----------------------------------------------------------------------------------------------- generator


def test_same_seed_gives_the_same_bytes_and_another_seed_other_photos(runs):
    first, again, other = runs["first"], runs["again"], runs["other_seed"]
    for name in ("000.jpg", "000.json", "001.jpg", "001.json", "index.json"):
        assert (first / name).read_bytes() == (again / name).read_bytes(), name
    assert (first / "000.json").read_bytes() != (other / "000.json").read_bytes()
    with Image.open(first / "000.jpg") as a, Image.open(other / "000.jpg") as b:
        assert a.size != b.size or not np.array_equal(np.asarray(a), np.asarray(b))


def test_every_word_lies_inside_its_photo_with_a_known_label_and_the_promised_sizes(runs):
    from privobf.data.privmini import split_of

    for annotation in annotations(runs["first"]):
        height, width = annotation["size"]
        with Image.open(runs["first"] / f"{annotation['index']:03d}.jpg") as photo:
            assert photo.size == (width, height)
        assert generator.PHOTO_LONG_SIDE[0] <= max(height, width) <= generator.PHOTO_LONG_SIDE[1]
        assert generator.DOCUMENT_SHARE[0] <= annotation["document_share"] <= generator.DOCUMENT_SHARE[1]
        assert split_of("coco128", Path(annotation["background"]).stem) == "train"
        quads = np.array([word["quad"] for word in annotation["words"]])
        assert quads.shape[1:] == (4, 2) and len(quads) > 5
        assert quads[..., 0].min() >= -0.5 and quads[..., 0].max() <= width - 0.5
        assert quads[..., 1].min() >= -0.5 and quads[..., 1].max() <= height - 0.5
        heights = generator.quad_heights(quads)
        assert heights.min() >= 12 - 0.05 and heights.max() <= 40 + 0.05  # JSON rounds to 0.01 px
        for word in annotation["words"]:
            assert word["label"] in generator.LABELS
            assert word["text"] and word["text"] == word["text"].strip() and " " not in word["text"]
            assert word["template"] == annotation["template"]


def test_every_template_and_every_label_appear_over_a_handful_of_seeds():
    assert {generator.template_for(index) for index in range(5)} == set(generator.TEMPLATES)
    built = documents()
    labels = {word.label for _, page in built for word in page.words}
    assert labels == set(generator.LABELS)
    for template in generator.TEMPLATES:
        pages = [page for document, page in built if document.template == template]
        assert all(page.words for page in pages)
        assert any(word.label != "other" for page in pages for word in page.words), template
        assert any(word.label == "other" for page in pages for word in page.words), template
    assert set(generator.VISPR_IDS) == set(generator.PERSONAL_LABELS)


def test_phone_numbers_are_valid_for_phonenumbers():
    for country, region in generator.PHONE_REGIONS.items():
        for seed in range(25):
            text = generator.phone_number(random.Random(seed), country)
            assert phonenumbers.is_valid_number(phonenumbers.parse(text, region)), (country, text)
    written = [value for _, page in documents() for value in runs_of(page.words, "phone")]
    assert len(written) >= 10
    for text in written:
        assert any(phonenumbers.is_valid_number(phonenumbers.parse(text, region)) for region in generator.PHONE_REGIONS.values()), text


def test_card_numbers_pass_luhn_and_the_check_fails_on_a_changed_digit():
    assert generator.luhn_valid("7992 7398 713") and not generator.luhn_valid("7992 7398 714")
    assert generator.luhn_check_digit("7992739871") == "3"
    for seed in range(50):
        number = generator.card_number(random.Random(seed))
        groups = number.split(" ")
        assert [len(group) for group in groups] == [4, 4, 4, 4] and generator.luhn_valid(number), number
        changed = number[:-1] + str((int(number[-1]) + 1) % 10)
        assert not generator.luhn_valid(changed)
    written = [value for _, page in documents() for value in runs_of(page.words, "card_number")]
    assert written and all(generator.luhn_valid(value) for value in written)


# ----------------------------------------------------------------------------------------------- scoring


def rendered_word(text: str = "Hello") -> tuple[np.ndarray, list[list[float]]]:
    """A black word on white and a quad around it with a few pixels of paper on every side."""
    image = Image.new("RGB", (220, 70), "white")
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(str(FONT), 32)
    draw.text((30, 45), text, font=font, fill="black", anchor="ls")
    x0, y0, x1, y1 = draw.textbbox((30, 45), text, font=font, anchor="ls")
    quad = [[x0 - 4, y0 - 4], [x1 + 4, y0 - 4], [x1 + 4, y1 + 4], [x0 - 4, y1 + 4]]
    return np.asarray(image), quad


def test_word_ink_is_the_dark_pixels_of_the_word_inside_its_quad():
    pixels, quad = rendered_word()
    ink = reading.word_ink(pixels, quad)
    (x0, y0), (x1, y1) = quad[0], quad[2]
    assert ink.shape == pixels.shape[:2] and ink.sum() > 100
    assert not ink[: int(y0)].any() and not ink[int(y1) + 1:].any() and not ink[:, : int(x0)].any() and not ink[:, int(x1) + 1:].any()
    dark = pixels.mean(axis=2) < 128
    assert (ink & dark).sum() / (ink | dark).sum() > 0.8
    assert ink.sum() < 0.6 * (x1 - x0) * (y1 - y0)  # letters, not the whole box


def test_word_ink_of_a_blank_quad_is_the_whole_quad_and_of_an_empty_quad_nothing():
    blank = np.full((40, 60, 3), 230, np.uint8)
    ink = reading.word_ink(blank, [[10, 5], [30, 5], [30, 15], [10, 15]])
    assert ink[6:15, 11:30].all() and not ink[:, :9].any() and not ink[:, 32:].any() and not ink[17:].any()
    assert not reading.word_ink(blank, [[70, 50], [90, 50], [90, 60], [70, 60]]).any()  # outside the image
    assert not reading.word_ink(blank, [[10.2, 5.2]] * 4).any()  # no area
    assert reading.score_words(np.ones((40, 60), bool), blank, [{"label": "name", "quad": [[70, 50]] * 4}])[0]["ink_covered"] is None


def test_score_words_full_empty_and_half_hidden():
    pixels, quad = rendered_word("Hamburg")
    words = [{"label": "address", "quad": quad, "text": "Hamburg", "template": "letter"}]
    height, width = pixels.shape[:2]
    assert reading.score_words(np.ones((height, width), bool), pixels, words)[0]["ink_covered"] == 1.0
    assert reading.score_words(np.zeros((height, width), bool), pixels, words)[0]["ink_covered"] == 0.0
    middle = int(round((quad[0][0] + quad[1][0]) / 2))
    left_half = np.zeros((height, width), bool)
    left_half[:, :middle] = True
    ink = reading.word_ink(pixels, quad)
    covered = reading.score_words(left_half, pixels, words)[0]
    assert covered == {"label": "address", "ink_covered": pytest.approx(ink[:, :middle].sum() / ink.sum()), "text": "Hamburg",
                       "template": "letter"}
    assert reading.READABLE_BELOW < covered["ink_covered"] < reading.HIDDEN_AT  # neither hidden nor readable
    with pytest.raises(ValueError):
        reading.score_words(np.zeros((height, width + 1), bool), pixels, words)


def test_summarise_counts_shares_and_targets():
    per_word = [{"label": label, "ink_covered": covered} for label, covered in (
        ("name", 1.0), ("name", 0.5), ("phone", 0.9), ("email", 0.1),
        ("other", 0.0), ("other", 0.1), ("other", 0.3), ("other", 0.9), ("other", None))]
    summary = reading.summarise(per_word)
    assert summary["personal"] == {"count": 4, "hidden": 0.5, "readable": 0.25, "mean_ink_covered": 0.625}
    assert summary["other"] == {"count": 4, "hidden": 0.25, "readable": 0.5, "mean_ink_covered": 0.325}
    assert summary["overall"]["count"] == 8 and summary["unscored"] == 1
    assert list(summary["by_label"]) == ["name", "phone", "email", "other"]
    assert summary["by_label"]["name"] == {"count": 2, "hidden": 0.5, "readable": 0.0, "mean_ink_covered": 0.75}
    assert summary["targets"]["personal_hidden"] == {"target": 0.95, "value": 0.5, "met": False}
    assert summary["targets"]["other_readable"]["met"] is False
    assert reading.summarise([{"label": "other", "ink_covered": 0.0}])["targets"]["other_readable"]["met"] is True
    assert reading.summarise([])["personal"]["hidden"] is None


def test_default_hide_follows_the_labels_present_in_hide_ids_order():
    assert reading.default_hide(["phone", "other", "name", "phone"]) == "a19_name_full,a20_name_first,a21_name_last,a49_phone"
    assert reading.default_hide(["other"]) == ""
    assert set(reading.HIDE_IDS) == set(generator.VISPR_IDS)  # every personal label has what hides it
    assert all(generator.VISPR_IDS[label] in ids for label, ids in reading.HIDE_IDS.items())


def test_presidio_boxes_are_filled_with_both_edges_like_its_redactor():
    mask = reading.redacted_boxes_mask([SimpleNamespace(left=2, top=1, width=3, height=2)], 6, 8)
    assert mask.sum() == 4 * 3 and mask[1:4, 2:6].all()
    assert not reading.redacted_boxes_mask([SimpleNamespace(left=9, top=0, width=3, height=2)], 6, 8).any()

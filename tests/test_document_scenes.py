"""Synthetic photos of documents and screens (issue 19): what the model's document types learn from."""

from __future__ import annotations

import numpy as np
import pytest

from privobf.data.document_scenes import MIN_VISIBLE_FRACTION, DocumentScenes
from privobf.data.synthetic_parts.documents import DOCUMENT_BUILDERS, DOCUMENT_IDS, mrz_lines
from privobf.attributes.vocabulary import vispr_vocabulary


@pytest.mark.parametrize("attribute", DOCUMENT_IDS)
def test_every_document_is_a_sprite_whose_surface_is_its_attribute(attribute):
    for seed in range(3):
        sprite = DOCUMENT_BUILDERS[attribute](np.random.default_rng(seed), 200)
        surfaces = [layer for layer in sprite.layers if layer.attribute == attribute]
        assert len(surfaces) == 1, "one surface layer, the whole document"
        opaque = sprite.alpha >= 0.5
        assert surfaces[0].mask.sum() >= 0.9 * opaque.sum()
        assert not any(layer.attribute not in (None, attribute) for layer in sprite.layers)
        assert sprite.rgb.std() > 10, "something is drawn on it"


def test_document_types_are_vispr_attributes():
    assert set(DOCUMENT_IDS) <= set(vispr_vocabulary().ids)


def test_machine_readable_zones_have_their_standard_shape():
    rng = np.random.default_rng(0)
    passport = mrz_lines(rng, "passport")
    card = mrz_lines(rng, "id")
    assert [len(line) for line in passport] == [44, 44] and passport[0].startswith("P<")
    assert [len(line) for line in card] == [30, 30, 30] and card[0].startswith("ID")
    assert all(set(line) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789<") for line in passport + card)


def test_scenes_are_deterministic_and_labelled_by_what_stays_visible():
    scenes = DocumentScenes(12, seed=0, split="train", backgrounds=None)
    again = DocumentScenes(12, seed=0, split="train", backgrounds=None)
    counts = []
    for index in range(len(scenes)):
        scene = scenes[index]
        assert np.array_equal(scene.image, again[index].image) and scene.labels == again[index].labels
        assert set(scene.labels) <= set(DOCUMENT_IDS) and scene.labels == sorted(set(scene.labels))
        assert set(scene.masks) == set(scene.labels)
        for mask in scene.masks.values():
            assert mask.shape == scene.image.shape[:2] and mask.sum() > 0
        counts.append(len(scene.labels))
    assert 0 in counts and max(counts) >= 1, "scenes without any document are negatives for every type"


def test_other_seeds_give_other_scenes_and_bad_arguments_are_refused():
    first = DocumentScenes(2, seed=0, backgrounds=None)[0].image
    other = DocumentScenes(2, seed=1, backgrounds=None)[0].image
    assert first.shape != other.shape or not np.array_equal(first, other)
    with pytest.raises(ValueError, match="no synthetic document"):
        DocumentScenes(2, types=("a11_tattoo",))
    with pytest.raises(IndexError):
        DocumentScenes(2, backgrounds=None)[2]
    with pytest.raises(FileNotFoundError, match="no-such-folder"):
        DocumentScenes(2, backgrounds="/no-such-folder")
    assert 0 < MIN_VISIBLE_FRACTION < 1


def test_a_tilted_sprite_keeps_its_layers_on_its_surface():
    from privobf.data.synthetic_parts.canvas import tilt_sprite
    from privobf.data.synthetic_parts.documents import notice_sprite

    sprite = DOCUMENT_BUILDERS["a31_passport"](np.random.default_rng(0), 240)
    tilted = tilt_sprite(sprite, np.random.default_rng(1), 0.12)
    surface = next(layer for layer in tilted.layers if layer.attribute == "a31_passport")
    opaque = tilted.alpha >= 0.5
    assert tilted.shape == sprite.shape and 0.6 * opaque.size < opaque.sum() < sprite.alpha.sum()
    assert (surface.mask <= opaque).all() and surface.mask.sum() >= 0.95 * opaque.sum()
    assert not tilted.alpha[0, 0] and not tilted.alpha[-1, -1], "corners moved inwards"
    notice = notice_sprite(np.random.default_rng(2), 200)
    assert all(layer.attribute is None for layer in notice.layers), "a notice is none of the types"


def test_close_ups_show_one_page_filling_much_of_the_frame():
    scenes = DocumentScenes(40, seed=3, split="train", backgrounds=None)
    shares = [max(mask.mean() for mask in scene.masks.values()) for scene in (scenes[k] for k in range(40)) if scene.masks]
    assert max(shares) > 0.3 and min(shares) < 0.1, "both close-ups and documents among other things"

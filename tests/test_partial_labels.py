"""Mixing sources that annotate different attributes: unknown labels never become negatives."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from privobf.attributes import vispr_profiles, vocabulary_from_ids
from privobf.cli import main
from privobf.data.batching import TrainingCollator
from privobf.data.mixing import MixedSources, mark_unknown, union_ids
from privobf.train.losses import attribute_loss, cropped_loss, known_label_bce, privacy_loss
from privobf.train.run import parse_data_spec

FACE, PERSON, PLATE, NAME = "a9_face_complete", "x1_person_body", "a103_license_plate_complete", "a19_name_full"


@dataclass
class Item:
    labels: list
    image: np.ndarray = field(default_factory=lambda: np.zeros((16, 16, 3), np.uint8))


class Listed:
    def __init__(self, ids, labels):
        self.vocabulary_ids, self.items = ids, [Item(list(x)) for x in labels]

    def __len__(self):
        return len(self.items)

    def __getitem__(self, index):
        return self.items[index]


def test_bce_over_known_labels_is_plain_bce_when_all_are_known_and_ignores_the_rest():
    generator = torch.Generator().manual_seed(0)
    logits, labels = torch.randn(4, 5, generator=generator), (torch.rand(4, 5, generator=generator) > 0.5).float()
    torch.testing.assert_close(known_label_bce(logits, labels, torch.ones(4, 5)), F.binary_cross_entropy_with_logits(logits, labels))
    known = torch.ones(4, 5)
    known[:, 2] = 0
    expected = F.binary_cross_entropy_with_logits(logits[:, [0, 1, 3, 4]], labels[:, [0, 1, 3, 4]])
    torch.testing.assert_close(known_label_bce(logits, labels, known), expected)
    flipped = labels.clone()
    flipped[:, 2] = 1 - flipped[:, 2]
    assert known_label_bce(logits, flipped, known).item() == pytest.approx(expected.item())


def test_unknown_labels_get_no_gradient_in_attribute_and_crop_losses():
    logits = torch.zeros(2, 3, requires_grad=True)
    known = torch.tensor([[1.0, 0.0, 1.0], [1.0, 1.0, 1.0]])
    attribute_loss(logits, torch.zeros(2, 3), known).backward()
    assert logits.grad[0, 1] == 0 and (logits.grad[1] != 0).all()
    crops = torch.zeros(6, 3, requires_grad=True)  # 3 crops per image
    cropped_loss(crops, torch.zeros(2, 3), 3, known).backward()
    assert (crops.grad[:3, 1] == 0).all() and (crops.grad[3:, 1] != 0).all()


def test_privacy_loss_is_mse_for_exact_targets_and_distance_to_the_interval_otherwise():
    predicted = torch.tensor([[0.2, 0.9], [0.5, 0.1]])
    target = torch.tensor([[0.4, 0.6], [0.5, 0.3]])
    assert privacy_loss(predicted, target, target.clone()).item() == pytest.approx(F.mse_loss(predicted, target).item())
    upper = torch.tensor([[1.0, 0.8], [0.9, 0.3]])
    # below by 0.2, above by 0.1, inside, below by 0.2
    assert privacy_loss(predicted, target, upper).item() == pytest.approx((0.04 + 0.01 + 0.0 + 0.04) / 4)


def test_mark_unknown_keeps_known_labels_and_withdraws_safe_when_private_ids_are_unknown():
    shown = mark_unknown(Item([PERSON]), {FACE, "a0_safe"})
    assert shown.labels == [PERSON] and shown.unknown == [FACE]  # a person is shown, so "safe" is a known no
    nothing = mark_unknown(Item(["a0_safe"]), {FACE})
    assert nothing.labels == [] and nothing.unknown == ["a0_safe", FACE]  # no person, but a face may be there
    original = Item([PERSON])
    mark_unknown(original, {FACE})
    assert not hasattr(original, "unknown")  # the source's item is not modified
    assert mark_unknown(original, set()) is original


def test_mixed_sources_union_vocabulary_repeats_and_unknowns():
    scenes = Listed(["a0_safe", PERSON, FACE, NAME], [[FACE, PERSON], ["a0_safe"]])
    photos = Listed(["a0_safe", PERSON, PLATE], [[PERSON], [PLATE], ["a0_safe"]])
    mixed = MixedSources([("scenes", scenes, 1), ("photos", photos, 2)])
    assert mixed.vocabulary_ids == ["a0_safe", PERSON, FACE, NAME, PLATE]
    assert len(mixed) == 8 and mixed.counts() == {"scenes": 2, "photos": 6}
    assert mixed[0].unknown == [PLATE]
    assert mixed[1].labels == [] and sorted(mixed[1].unknown) == sorted(["a0_safe", PLATE])
    assert [mixed[i].labels for i in range(2, 8)] == [[PERSON], [PLATE], [], [PERSON], [PLATE], []]
    assert sorted(mixed[2].unknown) == sorted([FACE, NAME])
    with pytest.raises(IndexError):
        mixed[8]
    with pytest.raises(ValueError, match="empty"):
        MixedSources([("none", Listed([PERSON], []), 1)])
    assert union_ids([[PERSON, "a0_safe"], [FACE]]) == ["a0_safe", PERSON, FACE]


def test_collator_encodes_known_labels_and_the_privacy_interval():
    vocabulary = vocabulary_from_ids(["a0_safe", PERSON, FACE, PLATE])
    profiles = vispr_profiles(vocabulary)
    collate = TrainingCollator(vocabulary, profiles, 16, hflip=False)
    full = collate([Item([FACE]), Item(["a0_safe"])])
    assert full.label_known is None and full.privacy_upper is None
    partial = collate([Item([FACE]), mark_unknown(Item([PERSON]), {FACE})])
    assert partial.label_known.tolist() == [[1, 1, 1, 1], [1, 1, 0, 1]]
    assert torch.equal(partial.privacy_upper[0], partial.privacy_targets[0])
    face_score = profiles.scores(vocabulary.encode([PERSON, FACE]), "max")
    np.testing.assert_allclose(partial.privacy_upper[1].numpy(), face_score)
    assert (partial.privacy_upper[1] >= partial.privacy_targets[1]).all()


def test_data_spec_parsing():
    assert parse_data_spec("synthetic+privmini*2") == [("synthetic", 1), ("privmini", 2)]
    assert parse_data_spec("voc") == [("voc", 1)]
    for bad in ("privmini*0", "privmini*x", "+voc"):
        with pytest.raises(ValueError, match="NAME"):
            parse_data_spec(bad)


def test_train_on_synthetic_mixed_with_privmini(shared_data, tmp_path):
    out = tmp_path / "run"
    code = main(["train", "--preset", "tiny", "--data", "synthetic+privmini", "--data-root", str(shared_data),
                 "--train-size", "4", "--epochs", "1", "--max-steps", "2", "--batch-size", "4",
                 "--out", str(out), "--no-progress", "--no-priors"])
    assert code == 0
    record = json.loads((out / "metrics.jsonl").read_text().splitlines()[-1])
    assert record["steps"] == 2 and np.isfinite(record["loss"]) and "loss_privacy" in record
    assert main(["train", "--preset", "tiny", "--data", "synthetic+privmini*0", "--out", str(tmp_path / "x")]) == 2

"""W-OoD (digest §10): K-means, the two losses on hand-computed inputs, mining and the review file, and a
short fine-tuning of a tiny model that must lower its scores on the hard OoDs it was given."""

from __future__ import annotations

import copy
import dataclasses
import math

import pytest
import torch

from privobf.refine import wood
from privobf.refine.wood import HardOod, WoodConfig

torch.set_num_threads(1)


# --- k-means -------------------------------------------------------------------------------------

BLOB_CENTRES = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])


def _blobs(per_blob: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    offsets = torch.randn(per_blob * 3, 2, generator=generator) * 0.3
    blob = torch.arange(per_blob * 3) % 3  # interleaved: the first three points come from the three blobs
    return BLOB_CENTRES[blob] + offsets, blob


def _matches_blobs(centres: torch.Tensor, points: torch.Tensor, blob: torch.Tensor) -> None:
    expected = torch.stack([points[blob == b].mean(0) for b in range(3)])
    distances = torch.cdist(expected, centres)
    assert distances.min(dim=1).values.max() < 1e-5  # every blob's mean is a centre
    assert sorted(distances.argmin(dim=1).tolist()) == [0, 1, 2]


def test_kmeans_recovers_three_blobs_deterministically():
    points, blob = _blobs()
    centres = wood.kmeans(points, 3, iterations=10, seed=0)
    assert centres.shape == (3, 2)
    _matches_blobs(centres, points, blob)
    assert torch.equal(centres, wood.kmeans(points, 3, iterations=10, seed=0))


def test_kmeans_reseeds_an_empty_cluster_and_clamps_k():
    points, blob = _blobs()
    # The first two points coincide: first-k initialisation leaves one cluster empty, which is re-seeded.
    duplicated = torch.cat([points[:1], points])
    blob = torch.cat([blob[:1], blob])
    _matches_blobs(wood.kmeans(duplicated, 3, iterations=10, seed=0), duplicated, blob)
    few = points[:4]
    assert torch.allclose(wood.kmeans(few, 50, iterations=10, seed=0), few)  # k clamped to N = 4


# --- losses --------------------------------------------------------------------------------------


def test_distance_loss_matches_hand_computed_value():
    z = torch.tensor([[0.0, 0.0], [6.0, 8.0]])
    labels = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
    in_centres = torch.tensor([[3.0, 4.0], [0.0, 1.0], [float("nan"), float("nan")]])  # class 2: no image
    ood_centres = torch.tensor([[1.0, 0.0], [0.0, 2.0], [-3.0, 0.0], [0.0, -4.0], [6.0, 8.0]])
    # τ = 0.4 of 5 clusters: the 2 nearest per sample.
    # sample 0: attraction 5 (class 2 skipped); nearest OoD distances 1 and 2.
    # sample 1: attraction √85; nearest OoD distances 0 and √72 (not the sample-0 choice: per sample).
    expected = ((5.0 - 3.0) + (math.sqrt(85) - math.sqrt(72))) / 2
    loss = wood.distance_loss(z, labels, in_centres, ood_centres, nearest_fraction=0.4)
    assert loss.item() == pytest.approx(expected, abs=1e-5)
    z.requires_grad_(True)
    wood.distance_loss(z, labels, in_centres, ood_centres, 0.4).backward()
    assert torch.isfinite(z.grad).all()  # sample 1 sits exactly on an OoD centre
    assert wood.nearest_count(50, 0.2) == 10 and wood.nearest_count(3, 0.2) == 1


def test_classification_loss_penalises_only_positive_ood_logits():
    logits_in = torch.tensor([[0.0, 2.0]])
    labels = torch.tensor([[1.0, 0.0]])
    in_only = (math.log(2.0) + math.log1p(math.exp(2.0))) / 2
    empty = torch.zeros(0, 2)
    assert wood.classification_loss(logits_in, labels, empty).item() == pytest.approx(in_only, abs=1e-6)
    negative_ood = torch.full((2, 2), -30.0)
    assert wood.classification_loss(logits_in, labels, negative_ood, 0.25).item() == pytest.approx(in_only, abs=1e-6)
    positive_ood = torch.tensor([[-30.0, 3.0], [-30.0, -30.0]])
    with_ood = wood.classification_loss(logits_in, labels, positive_ood, 0.25).item()
    assert with_ood == pytest.approx(in_only + 0.25 * math.log1p(math.exp(3.0)) / 4, abs=1e-6)
    # OoD rows alone: the loss is the positive logit's softplus; a known-positive class is not penalised.
    no_in = torch.zeros(0, 2)
    assert wood.classification_loss(no_in, no_in, positive_ood).item() == pytest.approx(math.log1p(math.exp(3.0)) / 4, abs=1e-6)
    trusted = torch.tensor([[1.0, 0.0], [1.0, 1.0]])
    assert wood.classification_loss(no_in, no_in, positive_ood, 1.0, None, trusted).item() < 1e-10


# --- mining and review ---------------------------------------------------------------------------


def test_mining_review_file_round_trip_and_errors(tmp_path):
    class_ids = ["a0_safe", "a19_name_full", "a9_face_complete"]
    probabilities = torch.tensor([[0.9, 0.6, 0.1], [0.9, 0.8, 0.5], [0.9, 0.2, 0.7]])
    mined = wood.mine_hard_ood(probabilities, ["p0", "p1", "p2"], class_ids, threshold=0.5)
    # a0_safe is not mined; per class, most confident first; p >= threshold kept.
    assert [(h.candidate_id, h.class_id) for h in mined] == [
        ("p1", "a19_name_full"), ("p0", "a19_name_full"), ("p2", "a9_face_complete"), ("p1", "a9_face_complete"),
    ]
    assert mined[0].probability == pytest.approx(0.8)

    path = wood.write_review_file(tmp_path / "review.csv", mined)
    lines = path.read_text().splitlines()
    assert lines[0] == "candidate_id,class_id,probability,verified,verified_by"
    # The user answers: p1 shows no name (yes), p0 does (no), the rest unreviewed.
    lines[1] = lines[1].replace(",,", ",yes,", 1)
    lines[2] = lines[2].replace(",,", ",No,", 1)
    path.write_text("\n".join(lines) + "\n")
    back = wood.read_review_file(path)
    assert [(h.candidate_id, h.class_id, h.verified, h.verified_by) for h in back] == [
        ("p1", "a19_name_full", True, "human"), ("p0", "a19_name_full", False, "human"),
        ("p2", "a9_face_complete", None, ""), ("p1", "a9_face_complete", None, ""),
    ]
    assert back[0].probability == pytest.approx(0.8)
    assert wood.verified_candidate_ids(back) == ["p1"]

    lines[3] = lines[3].replace(",,", ",maybe,", 1)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ValueError, match=r"review\.csv: row 4: verified must be yes, no or empty"):
        wood.read_review_file(path)
    path.write_text(lines[0] + "\np0,a19_name_full\n")
    with pytest.raises(ValueError, match=r"review\.csv: row 2 has fewer fields"):
        wood.read_review_file(path)
    path.write_text(lines[0] + "\np0,a19_name_full,high,yes,\n")
    with pytest.raises(ValueError, match=r"review\.csv: row 2: probability 'high'"):
        wood.read_review_file(path)
    path.write_text("candidate_id,class_id\np0,a19_name_full\n")
    with pytest.raises(ValueError, match=r"review\.csv: the review file lacks the column\(s\) \['probability', 'verified'\]"):
        wood.read_review_file(path)


def test_verify_with_labels_keeps_only_proven_absences():
    mined = [HardOod("safe", "a19_name_full", 0.9), HardOod("named", "a19_name_full", 0.8),
             HardOod("coco", "a9_face_complete", 0.7), HardOod("coco", "x1_person_body", 0.6),
             HardOod("unlabelled", "a19_name_full", 0.95)]
    labels = {"safe": ["a0_safe"], "named": ["a19_name_full"], "coco": []}
    unknown = {"coco": ["a9_face_complete"]}  # COCO does not annotate faces: no proof
    verified = wood.verify_with_labels(mined, labels, unknown)
    assert [(h.candidate_id, h.class_id, h.verified, h.verified_by) for h in verified] == [
        ("safe", "a19_name_full", True, "labels"), ("coco", "x1_person_body", True, "labels"),
    ]


# --- training ------------------------------------------------------------------------------------


def _tiny_image_model(tmp_path_factory):
    from privobf.attributes import vocabulary_from_ids
    from privobf.data.sources import build_source
    from privobf.models.config import tiny_preset
    from privobf.models.loading import load_image_model
    from privobf.train.engine import train

    preset = tiny_preset()
    preset = dataclasses.replace(preset, train=dataclasses.replace(preset.train, epochs=4))
    data = build_source("synthetic", n=32, image_size=64, seed=0, difficulty="easy")
    result = train(preset, data, vocabulary_from_ids(data.vocabulary_ids), tmp_path_factory.mktemp("base"), progress=False)
    return load_image_model(result.image_checkpoint)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory):
    return _tiny_image_model(tmp_path_factory)


def test_trained_parameters_are_the_last_two_stages_and_the_classifier(base_model):
    model = wood.CamModel(base_model)
    stages, head = wood.trained_parameters(model, 2)
    backbone = model.branch.backbone
    expected = {id(p) for s in (2, 3) for p in backbone.stages[s].parameters()}
    assert {id(p) for p in stages} == expected
    assert {id(p) for p in head} == {id(p) for p in model.branch.classifier.parameters()}


def test_trained_parameters_when_the_preset_froze_everything_before_them(base_model):
    """The embedded preset freezes the early stages: the probe then has no graph, and every still
    trainable backbone parameter belongs to the trained stages."""
    model = wood.CamModel(copy.deepcopy(base_model))
    backbone = model.branch.backbone
    late = {id(p) for s in (2, 3) for p in backbone.stages[s].parameters()}
    for parameter in backbone.parameters():
        parameter.requires_grad_(id(parameter) in late)
    stages, _ = wood.trained_parameters(model, 2)
    assert {id(p) for p in stages} == late


def test_train_wood_lowers_hard_ood_scores_and_saves_a_loadable_checkpoint(base_model, tmp_path):
    from privobf.checkpoint import load_checkpoint
    from privobf.data.sources import build_source
    from privobf.models.loading import load_image_model

    pool = build_source("synthetic", n=48, image_size=64, seed=1, difficulty="easy")
    items = [pool[i] for i in range(len(pool))]
    safe = [item for item in items if item.labels == ["a0_safe"]]
    in_distribution = [item for item in items if item.labels != ["a0_safe"]]
    ids = base_model.attribute_ids
    candidate_ids = [str(i) for i in range(len(safe))]
    probabilities = wood.score_candidates(base_model, safe)
    mined = wood.mine_hard_ood(probabilities, candidate_ids, ids, threshold=0.5)
    # Safe scenes are labelled: their labels prove every mined class absent.
    verified = wood.verify_with_labels(mined, {c: item.labels for c, item in zip(candidate_ids, safe)})
    assert verified and len(verified) == len(mined)
    chosen = wood.verified_candidate_ids(verified)
    hard_ood = [safe[int(c)] for c in chosen]
    classes = sorted({h.class_id for h in verified})
    columns = [ids.index(c) for c in classes]
    before = probabilities[[int(c) for c in chosen]][:, columns].mean().item()
    original = {k: v.clone() for k, v in base_model.state_dict().items()}

    records = []
    config = WoodConfig(batch_in=8, batch_ood=8, epochs=5, seed=0)
    path = wood.train_wood(base_model, in_distribution, hard_ood, config, tmp_path, progress=records.append)

    assert [r["epoch"] for r in records] == [1, 2, 3, 4, 5]
    assert all(torch.equal(v, base_model.state_dict()[k]) for k, v in original.items())  # input model untouched
    tuned = load_image_model(path)
    assert tuned.attribute_ids == ids
    after = wood.score_candidates(tuned, hard_ood)[:, columns].mean().item()
    assert after < before - 0.1, (before, after)
    metadata = load_checkpoint(path).metadata
    assert metadata["kind"] == "image"
    assert metadata["trained"]["wood"]["n_ood_images"] == len(hard_ood)
    assert metadata["trained"]["wood"]["config"]["distance_weight"] == pytest.approx(0.007)
    # Stages 1-2 were not trained: their weights equal the base model's.
    first = "backbone.stages.0.0.0.weight"
    assert torch.equal(tuned.branch.state_dict()[first], base_model.branch.state_dict()[first])

"""`privobf mine-ood` and `privobf train-wood` end to end through the CLI, with the tiny model and tiny
synthetic scenes: the review file, the human's answers, refusals, and a model `privobf cam` can use."""

from __future__ import annotations

import csv
import json

import torch

from privobf.cli import main
from privobf.refine.wood import read_review_file

torch.set_num_threads(1)

# The 1-epoch tiny model scores every class near 0.5, so a 0.3 threshold mines every candidate for every class.
POOL = ["--candidates-data", "synthetic", "--candidates-size", "24", "--candidates-image-size", "64",
        "--candidates-seed", "1"]
SAFE_POOL = [*POOL, "--candidates-safe-only"]
IN_DATA = ["--size", "12", "--image-size", "64", "--no-progress"]
SHORT = ["--option", "epochs=1", "--option", "batch_in=4", "--option", "batch_ood=2"]


def _answer(path, answer_of) -> None:
    """Fill the `verified` column as a reviewer would: answer_of(candidate_id, class_id) -> yes / no / ''."""
    with open(path, newline="") as stream:
        rows = list(csv.DictReader(stream))
    with open(path, "w", newline="") as stream:
        writer = csv.DictWriter(stream, fieldnames=list(rows[0]))
        writer.writeheader()
        for row in rows:
            writer.writerow({**row, "verified": answer_of(row["candidate_id"], row["class_id"])})


def _mine(tmp_path, tiny_model, capsys, *extra: str):
    review = tmp_path / "review.csv"
    code = main(["mine-ood", "--model", str(tiny_model), *extra, "--option", "hard_threshold=0.3",
                 "--no-progress", "--out", str(review)])
    captured = capsys.readouterr()
    summary = json.loads(captured.out)["mine-ood"] if captured.out else None
    return code, review, summary, captured.err


def test_review_file_answers_decide_what_train_wood_uses(tmp_path, tiny_model, capsys):
    from privobf.checkpoint import load_checkpoint
    from privobf.models.loading import load_image_model

    code, review, summary, err = _mine(tmp_path, tiny_model, capsys, *SAFE_POOL, "--save-images", str(tmp_path / "photos"))
    assert code == 0
    rows = read_review_file(review)
    photos = sorted({row.candidate_id for row in rows})
    assert len(photos) == summary["n_photos"] >= 2 and len(rows) == summary["n_rows"]
    assert all(row.verified is None and row.class_id != "a0_safe" and row.probability >= 0.3 for row in rows)
    assert all(p.startswith("scene-1-") for p in photos)  # synthetic ids carry the pool's seed
    assert sorted(p.stem for p in (tmp_path / "photos").glob("*.png")) == photos
    assert "write `yes` in the `verified` column when the photo does NOT show class_id" in err

    out = tmp_path / "model-wood.safetensors"
    train = ["train-wood", "--model", str(tiny_model), "--review", str(review), *SAFE_POOL, *IN_DATA, *SHORT,
             "--out", str(out)]
    assert main(train) == 2  # not reviewed yet
    err = capsys.readouterr().err
    assert str(review) in err and "not reviewed" in err and "--accept-unreviewed" in err
    assert not out.exists()

    rejected = photos[0]  # the reviewer says this photo shows every class: it must not be trained on
    _answer(review, lambda candidate, _: "no" if candidate == rejected else "yes")
    assert main(train) == 0
    result = json.loads(capsys.readouterr().out)["train-wood"]
    assert result["n_hard_ood"] == len(photos) - 1
    assert result["n_in_distribution"] + result["safe_only_left_out"] == 12 and result["safe_only_left_out"] >= 1
    tuned = load_image_model(out)
    assert tuned.attribute_ids == load_image_model(tiny_model).attribute_ids
    wood = load_checkpoint(out).metadata["trained"]["wood"]
    assert wood["n_ood_images"] == len(photos) - 1 and wood["config"]["epochs"] == 1
    assert [json.loads(line)["epoch"] for line in (tmp_path / "model-wood.metrics.jsonl").read_text().splitlines()] == [1]
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp folder left

    seeds = tmp_path / "seeds"
    assert main(["cam", "--model", str(out), "--scales", "1.0", "--out", str(seeds), *IN_DATA]) == 0
    assert json.loads(capsys.readouterr().out)["cam"]["done"] == 12


def test_unreviewed_rows_only_with_accept_unreviewed_and_all_rejected_is_an_error(tmp_path, tiny_model, capsys):
    code, review, summary, _ = _mine(tmp_path, tiny_model, capsys, *SAFE_POOL)
    out = tmp_path / "wood.safetensors"
    train = ["train-wood", "--model", str(tiny_model), "--review", str(review), *SAFE_POOL, *IN_DATA, *SHORT,
             "--out", str(out)]
    assert main([*train, "--accept-unreviewed"]) == 0
    captured = capsys.readouterr()
    assert json.loads(captured.out)["train-wood"]["n_hard_ood"] == summary["n_photos"]
    assert f"{summary['n_rows']} unreviewed rows taken as yes" in captured.err

    _answer(review, lambda *_: "no")
    assert main(train) == 2
    assert f"{review}: no row is answered yes" in capsys.readouterr().err


def test_a_candidate_missing_from_the_pool_is_named(tmp_path, tiny_model, capsys):
    code, review, _, _ = _mine(tmp_path, tiny_model, capsys, *SAFE_POOL)
    _answer(review, lambda *_: "yes")
    with open(review, "a") as stream:
        stream.write("scene-1-000999,a19_name_full,0.9,yes,human\n")
    out = tmp_path / "wood.safetensors"
    assert main(["train-wood", "--model", str(tiny_model), "--review", str(review), *SAFE_POOL, *IN_DATA, *SHORT,
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{review}: candidate id 'scene-1-000999' is not in the candidate pool" in err
    # Another seed draws other scenes: every id of the file is missing, not silently other photos.
    other_seed = [*SAFE_POOL[:-2], "2", "--candidates-safe-only"]
    assert main(["train-wood", "--model", str(tiny_model), "--review", str(review), *other_seed, *IN_DATA, *SHORT,
                 "--out", str(out)]) == 2
    assert "ids missing" in capsys.readouterr().err and not out.exists()


def test_verify_with_labels_keeps_only_rows_the_labels_prove(tmp_path, tiny_model, capsys):
    from privobf.data.sources import build_source

    code, review, summary, err = _mine(tmp_path, tiny_model, capsys, *POOL, "--verify-with-labels")
    assert code == 0 and "rows to review" not in err
    rows = read_review_file(review)
    scenes = build_source("synthetic", n=24, image_size=64, seed=1, split="train")
    labels = {f"scene-1-{i:06d}": scenes[i].labels for i in range(len(scenes))}
    assert summary["n_candidates"] == 24 and summary["dropped_by_labels"] > 0 and rows
    assert all(row.verified is True and row.verified_by == "labels" for row in rows)
    assert all(row.class_id not in labels[row.candidate_id] for row in rows)
    # Every (candidate, class) the labels show was mined (threshold 0.3) and dropped.
    shown = sum(len([c for c in labels[i] if c != "a0_safe"]) for i in labels)
    assert summary["dropped_by_labels"] == shown
    # A label-verified file is reviewed: train-wood takes it without --accept-unreviewed.
    assert main(["train-wood", "--model", str(tiny_model), "--review", str(review), *POOL, *IN_DATA, *SHORT,
                 "--out", str(tmp_path / "wood.safetensors")]) == 0


def test_verify_with_labels_refuses_labels_of_another_vocabulary(tmp_path, tiny_model, capsys, shared_data):
    """COCO's `car` proves nothing about licence plates: such a pool must be reviewed by hand."""
    code, review, _, err = _mine(tmp_path, tiny_model, capsys, "--candidates-data", "yolo", "--candidates-root",
                                 str(shared_data / "coco128"), "--candidates-split", "train2017",
                                 "--candidates-limit", "4", "--verify-with-labels")
    assert code == 2
    assert "are not attributes of the model" in err and not review.exists()
    # COCO photos are never labelled a0_safe: a safe-only pool of them is empty, and the error says why.
    code, _, _, err = _mine(tmp_path, tiny_model, capsys, "--candidates-data", "yolo", "--candidates-root",
                            str(shared_data / "coco128"), "--candidates-split", "train2017",
                            "--candidates-limit", "4", "--candidates-safe-only")
    assert code == 2 and "no candidate photo to score (--candidates-safe-only keeps only" in err


def test_a_no_row_added_by_the_reviewer_keeps_that_class_from_the_zero_target(tmp_path):
    """The reviewer saw a licence plate on a photo mined for `a8_signature`: the photo is still a hard OoD
    for signatures, but its zero target (eq. 4.3) must leave plates out."""
    import numpy as np

    from privobf.refine.wood import ood_zero_targets
    from privobf.refine.wood_commands import Candidate, _ood_photo, review_decisions

    ids = ["a0_safe", "a8_signature", "a103_license_plate_complete", "x1_person_body"]
    review = tmp_path / "review.csv"
    review.write_text("candidate_id,class_id,probability,verified,verified_by\n"
                      "moto,a8_signature,0.51,yes,\n" "moto,a103_license_plate_complete,0,no,\n"
                      "dog,x1_person_body,0.54,no,\n")
    decisions, taken_as_yes = review_decisions(str(review), ids, accept_unreviewed=False)
    assert list(decisions) == ["moto"] and taken_as_yes == 0  # the dog photo has no yes row
    photo = _ood_photo(Candidate("moto", np.zeros((4, 4, 3), np.uint8), ["a0_safe"]), decisions["moto"], ids)
    assert ood_zero_targets([photo], ids).tolist() == [[0.0, 1.0, 0.0, 1.0]]
    # Labels in another vocabulary (COCO names) are not evidence either way.
    coco = _ood_photo(Candidate("moto", np.zeros((4, 4, 3), np.uint8), ["motorcycle"]), decisions["moto"], ids)
    assert coco.labels == [] and ood_zero_targets([coco], ids).tolist() == [[0.0, 1.0, 0.0, 1.0]]

"""Appearance attributes from VISPR's label statistics (issue 19, source 1): P(A) = P(A | face) x P(face), masks on
the face or the person as the attribute shows, and reports that say what a scanner does not detect."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest

from privobf.attributes import vocabulary_from_ids
from privobf.evidence import FusionConfig, Region, fuse
from privobf.evidence.appearance import SHOWN_ON, derived_attributes, given_face, statistics_document
from privobf.evidence.report import EvidenceReport
from privobf.report import not_detected

REPO = Path(__file__).resolve().parents[1]
FACE = "a9_face_complete"
MODEL_IDS = ["a0_safe", "x1_person_body", FACE, "a74_address_current_complete"]
Q = {"a4_gender": 0.9, "a5_eye_color": 0.6, "a2_weight_approx": 0.4}


def _config() -> FusionConfig:
    return FusionConfig(calibration={"face": [(0.0, 0.95)], "person": [(0.0, 0.8)]}, face_shape="box", face_grow=1.0,
                        face_height_grow=1.0, person_margin=0.0, draw_floor={})


def _regions() -> list[Region]:
    face = Region("face", "face", (40.0, 10.0, 60.0, 30.0), 0.9, "box")
    body = np.zeros((60, 40), bool)
    body[5:55, 5:35] = True
    person = Region("person", "person", (35.0, 5.0, 75.0, 65.0), 0.9, "mask", mask=body, origin=(35, 5))
    return [face, person]


def _report(probabilities, regions, derived=Q) -> EvidenceReport:
    vocabulary = vocabulary_from_ids(MODEL_IDS + sorted(derived))
    model = np.concatenate([np.asarray(probabilities, np.float32), np.zeros(len(derived), np.float32)])
    maps = np.zeros((len(vocabulary), 10, 10), np.float32)
    maps[2, 1:4, 4:7] = 1.0  # the model's face map
    fused = fuse(model, regions, vocabulary, _config(), derived=derived)
    return EvidenceReport(image_size=(100, 100), attribute_ids=list(vocabulary.ids), probabilities=fused.probabilities,
                          attention_maps=maps, privacy_score=0.5, regions=list(regions), fusion=_config(), fused=fused,
                          raw_maps=maps)


def test_an_appearance_attribute_is_its_share_of_faces_times_the_face_and_shows_where_it_shows():
    report = _report([0.1, 0.2, 0.3, 0.0], _regions())
    face = report.probability(FACE)
    assert face == pytest.approx(1 - 0.7 * 0.05)  # the detector decides the face (noisy-OR)
    for attribute, q in Q.items():
        assert report.probability(attribute) == pytest.approx(q * face, abs=1e-6)
    assert set(report.present()) >= {"a4_gender", "a5_eye_color"} and "a2_weight_approx" not in report.present()
    face_mask, person_mask = (region.raster((100, 100)) for region in _regions())
    assert np.array_equal(report.mask("a5_eye_color"), face_mask)  # eye colour shows on the face only
    assert np.array_equal(report.mask("a4_gender"), face_mask | person_mask)  # gender on the whole person
    assert report.mask_source("a4_gender") == "detector"
    entry = report.to_dict()["evidence"]["a4_gender"]
    assert entry["source"] == "label statistics" and entry["model"] == 0.0


def test_no_face_means_no_appearance_and_a_face_only_the_model_saw_lends_its_mask():
    nobody = _report([0.9, 0.0, 0.02, 0.0], [])
    assert all(nobody.probability(a) == pytest.approx(q * 0.02, abs=1e-6) for a, q in Q.items())
    assert "a4_gender" not in nobody.present()
    assert np.array_equal(nobody.mask("a4_gender"), nobody.mask(FACE))  # --force draws what --force --hide face would
    seen = _report([0.0, 0.0, 0.9, 0.0], [])  # the classifier alone is sure of a face: its map is the mask
    assert "a4_gender" in seen.present() and seen.mask_source("a4_gender") == seen.mask_source(FACE)
    assert seen.mask(FACE).any() and np.array_equal(seen.mask("a4_gender"), seen.mask(FACE))
    listed = seen.hidden_regions(["a4_gender"])
    assert listed and all(entry["attribute"] == "a4_gender" for entry in listed)


def test_the_paper_mode_and_models_that_know_the_attribute_keep_their_own_probabilities():
    vocabulary = vocabulary_from_ids(MODEL_IDS + ["a4_gender"])
    model = np.array([0.1, 0.2, 0.3, 0.0, 0.05], np.float32)
    fused = fuse(model, _regions(), vocabulary, FusionConfig(mode="paper"), derived=Q)
    assert np.array_equal(fused.probabilities, model) and not fused.derived
    assert derived_attributes(MODEL_IDS + ["a4_gender"]).keys() == given_face().keys() - {"a4_gender"}
    assert derived_attributes(["a0_safe", "a74_address_current_complete"]) == {}  # no face to derive from


def test_the_shipped_statistics_come_from_the_train_split_by_their_command():
    document = statistics_document()
    assert document["command"] == "python benchmarks/appearance_statistics.py" and "train" in document["data"]
    assert set(given_face()) == set(SHOWN_ON)
    for attribute, values in document["attributes"].items():
        assert 0.0 < values["given_no_face"] < values["given_face"] < 1.0, attribute
    assert given_face()["a4_gender"] > 0.9 and given_face()["a3_height_approx"] < 0.5


def test_statistics_and_the_val_check_are_recomputed_from_labels(tmp_path, monkeypatch):
    """The script on a tiny VISPR-layout folder: frequencies are counted, not copied."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    import appearance_statistics as script

    root = tmp_path / "vispr"
    root.mkdir()
    train = [["a9_face_complete", "a4_gender"], ["a10_face_partial", "a4_gender", "a1_age_approx"], ["a9_face_complete"],
             ["a0_safe"], ["a4_gender"]]
    val = [["a9_face_complete", "a4_gender"], ["a9_face_complete"], ["a4_gender"], ["a0_safe"]]
    for split, rows in (("train", train), ("val", val)):
        lines = [json.dumps({"id": f"{split}{k}", "image_path": f"images/{split}{k}.jpg", "labels": labels})
                 for k, labels in enumerate(rows)]
        (root / f"annotations_{split}2017.jsonl").write_text("\n".join(lines) + "\n")
    target, results = tmp_path / "appearance.json", tmp_path / "results"
    monkeypatch.setattr(script, "TARGET", target)
    monkeypatch.setattr(script, "RESULTS", results)
    monkeypatch.setattr(sys, "argv", ["appearance_statistics.py", "--data-root", str(tmp_path)])
    assert script.main() == 0
    gender = json.loads(target.read_text())["attributes"]["a4_gender"]
    assert gender == {"given_face": round(2 / 3, 4), "given_no_face": 0.5, "base_rate": 0.6}
    written = json.loads((results / "appearance_statistics.json").read_text())
    scores = written["privacy_score_val"]
    assert scores["+ label statistics"]["attributes"] == scores["model and recognisers"]["attributes"] + len(SHOWN_ON)
    assert scores["+ layouts and fields"]["attributes"] > scores["+ label statistics"]["attributes"]
    check = written["val"]["a4_gender"]
    assert check["rule_present"] and check["precision"] == 0.5 and check["recall"] == 0.5  # 1 of 2 faces, 1 of 2 genders


def test_reports_say_what_they_pool_over_and_what_the_model_does_not_detect():
    report = _report([0.1, 0.2, 0.3, 0.0], _regions())
    summary = report.to_dict()
    assert summary["privacy_score_over"] == report.attribute_ids
    assert "a11_tattoo" in summary["not_detected"] and "a4_gender" not in summary["not_detected"]
    assert len(summary["not_detected"]) + len([a for a in report.attribute_ids if a != "x1_person_body"]) == 68
    assert not_detected(["person", "car", "dog"]) is None  # a VOC-like vocabulary: VISPR's list says nothing


def test_what_the_scanner_only_reads_is_text_so_hiding_people_never_reads():
    from privobf.evidence.links import providers_for
    from privobf.protection import resolve_names
    from privobf.scanning import scanner_vocabulary

    vocabulary = scanner_vocabulary(MODEL_IDS, FusionConfig())
    assert vocabulary["a46_occupation"].mask_type.value == "text"  # VISPR: Human-type (uniforms); here: read
    people, text = resolve_names(vocabulary, ["people"]), resolve_names(vocabulary, ["text"])
    assert "a46_occupation" not in people and "a46_occupation" in text and "a4_gender" in people
    kinds = {"mediapipe-person": "person", "centerface": "face", "ppocr-v6": "text"}
    assert "ppocr-v6" not in providers_for(people, vocabulary, kinds)
    assert "ppocr-v6" in providers_for(text, vocabulary, kinds)
